"""The rate-limit counters: the database storage (SQLite and PostgreSQL) and the Redis path."""

from __future__ import annotations

import threading
import time

from limits import parse
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import create_engine

import db_ratelimit
from extensions import db
from tests.plugins.factories import PASSWORD


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
