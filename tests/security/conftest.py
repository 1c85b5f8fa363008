"""Fixtures for the security probes: an app built with extra settings, and the machine's Redis."""

from __future__ import annotations

import uuid

import pytest

from tests.plugins.db import IsolatedClient, base_config, skip_or_fail

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def app_with(databases):
    """Build a Phonetree app on a fresh database with settings added to the test defaults."""
    from app import create_app
    from extensions import db

    built = []

    def build(**config):
        app = create_app({**base_config(databases.fresh(), databases.instance), **config})
        app.test_client_class = IsolatedClient
        ctx = app.app_context()
        ctx.push()
        built.append(ctx)
        return app

    yield build
    for ctx in reversed(built):
        db.session.remove()
        db.engine.dispose()
        ctx.pop()


@pytest.fixture
def redis_url():
    """The machine's Redis (127.0.0.1:6379); a key prefix of its own is left behind by no test."""
    import redis

    conn = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        conn.ping()
    except redis.RedisError as err:
        skip_or_fail(f"Redis is not answering at {REDIS_URL} ({err})")
    prefix = f"phonetree-test-{uuid.uuid4().hex[:10]}"
    yield REDIS_URL, prefix, conn
    for key in conn.scan_iter(match=f"*{prefix}*"):
        conn.delete(key)
    conn.close()
