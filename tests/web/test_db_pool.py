"""Connection liveness without pool_pre_ping: idle connections pinged, one retry on a disconnect."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from db_pool import retry_on_disconnect


class _Dead(DBAPIError):
    def __init__(self, invalidated: bool) -> None:
        super().__init__("SELECT 1", {}, Exception("server closed the connection"), connection_invalidated=invalidated)


def test_retry_on_disconnect_runs_again_after_a_rollback():
    calls, rollbacks = [], []

    def work() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise _Dead(invalidated=True)
        return "ok"

    assert retry_on_disconnect(work, lambda: rollbacks.append(1)) == "ok"
    assert len(calls) == 2 and len(rollbacks) == 1


def test_other_database_errors_are_not_retried():
    calls = []

    def work() -> None:
        calls.append(1)
        raise _Dead(invalidated=False)

    with pytest.raises(DBAPIError):
        retry_on_disconnect(work, lambda: None)
    assert len(calls) == 1


@pytest.mark.postgres
def test_an_idle_connection_that_died_is_replaced_before_use(app):
    """Only a server connection can die while idle, so this runs in the PostgreSQL pass."""
    from db_pool import watch_pool
    from extensions import db

    assert db.engine.dialect.name == "postgresql"
    watch_pool(db.engine, 0)  # every checkout counts as idle
    db.session.remove()
    with db.engine.connect() as conn:
        victim = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    outsider = create_engine(db.engine.url, poolclass=NullPool)  # the victim sits idle in the pool
    with outsider.begin() as killer:
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
    outsider.dispose()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT pg_backend_pid()")).scalar() != victim
