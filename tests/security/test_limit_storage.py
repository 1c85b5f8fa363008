"""The rate-limit counters: the database storage (SQLite and PostgreSQL) and the Redis path."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import create_engine

import db_ratelimit
from extensions import db
from tests.plugins.db import TEST_KEYS
from tests.plugins.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def test_database_storage_counts_windows(app):
    storage = storage_from_string("phonetree-db://")
    assert isinstance(storage, db_ratelimit.DatabaseStorage) and storage.check()
    assert storage.incr("k", 2) == 1 and storage.incr("k", 2, amount=3) == 4
    assert storage.get("k") == 4 and storage.get("missing") == 0
    assert time.time() < storage.get_expiry("k") <= time.time() + 2
    storage.clear("k")
    assert storage.get("k") == 0
    storage.incr("short", 1)
    time.sleep(1.1)
    assert storage.get("short") == 0 and storage.incr("short", 1) == 1  # a new window starts at 1
    assert storage.reset() == 1 and storage.get("short") == 0


def test_database_storage_is_shared_by_workers(app):
    """Two engines (as two gunicorn workers have) hitting concurrently count in one place."""
    url = db.engine.url.render_as_string(hide_password=False)
    engines = [create_engine(url, connect_args={"timeout": 15} if url.startswith("sqlite") else {}) for _ in range(2)]
    workers = [db_ratelimit.DatabaseStorage(engine=engine) for engine in engines]
    limit = parse("30 per minute")
    results: list[bool] = []
    lock = threading.Lock()

    def attempt(storage):
        for _ in range(20):
            ok = FixedWindowRateLimiter(storage).hit(limit, "probe")
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=attempt, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for engine in engines:
        engine.dispose()
    assert len(results) == 40 and results.count(True) == 30 and workers[0].get(limit.key_for("probe")) == 40


def test_redis_storage_when_configured(app_with, redis_url):
    from models import RateLimitCounter
    from services.accounts import ensure_user

    url, prefix, conn = redis_url
    app = app_with(RATELIMIT_STORAGE_URI=url, LOGIN_LIMIT_NAMESPACE=prefix, LOGIN_LIMIT_PER_ACCOUNT="3 per 15 minutes")
    ensure_user("alice@example.com", PASSWORD)
    db.session.commit()
    client = app.test_client()
    wrong = {"email": "alice@example.com", "password": "wrong"}
    statuses = [client.post("/auth/token", json=wrong).status_code for _ in range(3)]
    last = client.post("/auth/token", json={"email": "alice@example.com", "password": PASSWORD})
    assert statuses == [401] * 3 and last.status_code == 429 and int(last.headers["Retry-After"]) > 0
    assert list(conn.scan_iter(match=f"*{prefix}*")), "the counters should be in Redis"
    assert db.session.query(RateLimitCounter).count() == 0, "and not in the database"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def gunicorn_app(app, tmp_path):
    """The app under gunicorn with 2 sync workers on the test's database; yields (base URL, access log)."""
    import requests

    port, log = _free_port(), tmp_path / "access.log"
    env = {
        **os.environ,
        "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "SECRET_KEY": app.config["SECRET_KEY"],
        "PHONETREE_ENCRYPTION_KEYS": ",".join(TEST_KEYS),
        "PHONETREE_INSTANCE_PATH": str(tmp_path),
        "PHONETREE_LOGIN_LIMIT_PER_ACCOUNT": "5 per 15 minutes",
        "PHONETREE_LOGIN_LIMIT_PER_ADDRESS": "1000 per 15 minutes",
        "LOG_LEVEL": "ERROR",
    }
    env.pop("RATELIMIT_STORAGE_URI", None)
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [gunicorn, "-w", "2", "-b", f"127.0.0.1:{port}", "--access-logfile", str(log)]
        + ["--access-logformat", "%(p)s %(s)s", "--log-level", "error", "app:create_app()"],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            assert proc.poll() is None, f"gunicorn exited with {proc.returncode}"
            try:
                requests.get(base + "/login", timeout=1)
                break
            except requests.RequestException:
                assert time.time() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        yield base, log
    finally:
        proc.terminate()
        proc.wait(10)


def test_database_counters_hold_across_gunicorn_workers(app, gunicorn_app):
    import requests

    from models import RateLimitCounter
    from services.accounts import ensure_user

    ensure_user("alice@example.com", PASSWORD)
    db.session.commit()
    base, log = gunicorn_app

    def attempt(password: str) -> int:
        body = {"email": "alice@example.com", "password": password}
        return requests.post(base + "/auth/token", json=body, timeout=30).status_code

    with ThreadPoolExecutor(2) as pool:  # two at a time: each sync worker takes one
        statuses = list(pool.map(attempt, ["wrong"] * 14))
    right = [attempt(PASSWORD) for _ in range(4)]
    # Each failure is counted after its answer, so a failure still in flight in the other worker
    # may pass the check once: 5 allowed, at most one more.
    assert statuses.count(401) in (5, 6) and statuses.count(429) == 14 - statuses.count(401), statuses
    assert right == [429] * 4
    db.session.expire_all()
    counters = db.session.query(RateLimitCounter).all()
    assert sum(c.count for c in counters if "acct:" in c.key) == statuses.count(401)
    pids = {line.split()[0] for line in log.read_text().splitlines() if line.strip()}
    assert len(pids) == 2, f"both workers should have answered: {pids}"
