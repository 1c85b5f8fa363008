"""Fixtures for the timer tests: an app on a given task queue (SQLite file or Redis), a test
clock, and worker processes to start, kill and restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.plugins.db import IsolatedClient, base_config, skip_or_fail

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = "redis://127.0.0.1:6379/0"
# The PostgreSQL pass also runs the queue on Huey's PostgreSQL storage, in the test database.
QUEUES = ("sqlite", "redis") + (("postgres",) if os.environ.get("TEST_DATABASE_URL") else ())


class Clock:
    """A settable clock for ``PHONETREE_CLOCK``."""

    def __init__(self):
        self.at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def queue_settings(kind: str, tmp_path: Path, database_url: str) -> dict:
    """Task-queue settings of one kind with a queue of its own (a file, or a name in Redis or PostgreSQL)."""
    if kind == "sqlite":
        return {"TASKS_URL": f"sqlite:///{tmp_path / 'tasks.db'}", "TASKS_NAME": "phonetree"}
    if kind == "postgres":
        return {"TASKS_URL": database_url, "TASKS_NAME": f"test_{uuid.uuid4().hex[:10]}"}
    import redis

    conn = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        conn.ping()
    except redis.RedisError as err:
        skip_or_fail(f"Redis is not answering at {REDIS_URL} ({err})")
    finally:
        conn.close()
    return {"TASKS_URL": REDIS_URL, "TASKS_NAME": f"phonetree-test-{uuid.uuid4().hex[:10]}"}


def _drop_redis_queue(settings: dict) -> None:
    if settings["TASKS_URL"].startswith("redis"):
        import redis

        conn = redis.Redis.from_url(settings["TASKS_URL"])
        for key in conn.scan_iter(match=f"*{settings['TASKS_NAME']}*"):
            conn.delete(key)
        conn.close()


@pytest.fixture(params=QUEUES)
def queue_kind(request) -> str:
    return request.param


@pytest.fixture
def timer_app(databases, tmp_path):
    """Build an app on a fresh database with a queue of its own: ``timer_app("redis", **config)``."""
    from app import create_app
    from extensions import db

    built, queues = [], []

    def build(kind: str = "sqlite", **config):
        url = databases.fresh()
        settings = queue_settings(kind, tmp_path, url)
        queues.append(settings)
        app = create_app({**base_config(url, databases.instance), **settings, **config})
        app.test_client_class = IsolatedClient
        ctx = app.app_context()
        ctx.push()
        built.append(ctx)
        return app

    yield build
    for ctx in reversed(built):
        huey = ctx.app.extensions.get("phonetree_tasks")
        if huey is not None and hasattr(huey.storage, "close"):
            huey.storage.close()
        db.session.remove()
        db.engine.dispose()
        ctx.pop()
    for settings in queues:
        _drop_redis_queue(settings)


@pytest.fixture
def clock():
    return Clock()


class Workers:
    """Worker processes (tests/timers/worker_main.py) on one app's database and queue."""

    def __init__(self, app, tmp_path: Path):
        keys = ("SQLALCHEMY_DATABASE_URI", "TASKS_URL", "TASKS_NAME", "TASKS_WORKERS", "TIMER_LEASE_SECONDS")
        self.config = {**base_config(app.config["SQLALCHEMY_DATABASE_URI"], Path(app.instance_path))}
        self.config.update({key: app.config[key] for key in keys})
        self.tmp = tmp_path
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        out = self.tmp / f"worker-{len(self.procs)}.log"
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.timers.worker_main", json.dumps(self.config)],
            cwd=ROOT,
            stdout=out.open("w"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "LOG_LEVEL": "WARNING"},
        )
        self.procs.append(proc)
        deadline = time.monotonic() + 60
        while "Phonetree worker:" not in out.read_text():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"the worker did not start:\n{out.read_text()}")
            time.sleep(0.1)
        return proc

    def kill(self, proc: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
        proc.send_signal(sig)
        proc.wait(30)

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp.glob("worker-*.log")))

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


@pytest.fixture
def workers(tmp_path):
    made: list[Workers] = []

    def make(app) -> Workers:
        made.append(Workers(app, tmp_path))
        return made[-1]

    yield make
    for w in made:
        w.close()
