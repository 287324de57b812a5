"""What the benchmarks share: the product's environment and a throwaway database + Redis prefix."""

from __future__ import annotations

import os
import secrets

PG_SERVER = os.environ.get("PERF_PG_SERVER", "postgres://postgres@127.0.0.1:5432")


def perf_environment(
    *, database: str, redis_url: str, prefix: str, state_dir: str, **extra: str
) -> dict[str, str]:
    """Point this process (and the children it starts) at the benchmark's own database, Redis
    database, queue/key prefix and state directory, with fresh secrets. ``extra`` adds settings."""
    from cryptography.fernet import Fernet

    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "pushpilot.settings",
            "DATABASE_URL": f"{PG_SERVER}/{database}",
            "REDIS_URL": redis_url,
            "PUSHPILOT_QUEUE_PREFIX": prefix,
            "PUSHPILOT_STATE_DIR": state_dir,
            # Shared with the servers and workers started from here: tokens made here verify there.
            "SECRET_KEY": secrets.token_hex(32),
            "PUSHPILOT_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
            "DEBUG": "false",
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **extra,
        }
    )
    return dict(os.environ)


class PerfDatabase:
    """A database dropped if left over, created, and dropped again at the end; Redis keys of the
    benchmark's prefix (and kombu's own) cleared before and after."""

    def __init__(self, name: str, *, redis_url: str, prefix: str):
        self.name, self.redis_url, self.prefix = name, redis_url, prefix
        self._admin = None

    @property
    def admin(self):
        import psycopg

        if self._admin is None:
            self._admin = psycopg.connect(f"{PG_SERVER}/postgres", autocommit=True)
        return self._admin

    def create(self) -> None:
        self.drop()
        self.admin.execute(f'CREATE DATABASE "{self.name}"')

    def drop(self) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')

    def clear_redis(self) -> None:
        import redis

        client = redis.Redis.from_url(self.redis_url)
        try:
            keys = list(client.scan_iter(match=f"{self.prefix}*", count=1000))
            keys += list(client.scan_iter(match="_kombu*", count=1000))
            if keys:
                client.delete(*keys)
        finally:
            client.close()

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
