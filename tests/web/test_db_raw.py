"""RawStatement: the hot path's SQL reads and writes exactly what the ORM does, in its transaction."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import exc, select

from db_raw import RawStatement
from extensions import db
from models import CallSession, Organization
from services.call_store import SESSION_COLUMNS, insert_session, lock_row, update_session


@pytest.fixture
def org(app):
    org = Organization(slug="rawco", name="Raw Co")
    db.session.add(org)
    db.session.commit()
    return org


def test_rows_written_raw_read_back_through_the_orm_and_raw(org):
    at = datetime(2026, 12, 1, 7, 30, 15, 123456, tzinfo=UTC)
    state = {"vars": {"account": "0042", "note": "été"}, "turn": 2, "waiting": {"node": "main"}}
    insert_session({"id": "s" * 32, "org_id": org.id, "call_sid": "CA1", "state": state, "started_at": at,
                    "updated_at": at, "uses_draft": True, "draft_definition": {"start": "main"}})
    db.session.commit()

    orm = db.session.scalar(select(CallSession).where(CallSession.call_sid == "CA1"))
    assert orm.state == state and orm.started_at == at and orm.uses_draft is True and orm.simulated is False
    assert orm.draft_definition == {"start": "main"} and orm.status == "in_progress" and orm.turn == 0

    raw = lock_row(org.id, "sid", "CA1")
    assert raw is not None and raw.state == state and raw.started_at == at and raw.uses_draft is True
    assert {name: getattr(raw, name) for name in SESSION_COLUMNS} == {
        name: getattr(orm, name) for name in SESSION_COLUMNS
    }
    assert lock_row(org.id + 1, "sid", "CA1") is None  # another org's call is not found
    db.session.rollback()


def test_writes_belong_to_the_session_transaction(org):
    at = datetime(2026, 12, 1, tzinfo=UTC)
    insert_session({"id": "r" * 32, "org_id": org.id, "call_sid": "CA2", "state": {}, "started_at": at,
                    "updated_at": at})
    update_session("r" * 32, status="completed", duration=7)
    db.session.rollback()
    assert db.session.scalar(select(CallSession).where(CallSession.call_sid == "CA2")) is None


def test_driver_errors_come_out_as_sqlalchemy_errors(org):
    at = datetime(2026, 12, 1, tzinfo=UTC)
    values = {"id": "t" * 32, "org_id": org.id, "call_sid": "CA3", "state": {}, "started_at": at, "updated_at": at}
    insert_session(values)
    db.session.commit()
    with pytest.raises(exc.IntegrityError):
        insert_session({**values, "id": "u" * 32})  # the same CallSid
    db.session.rollback()
    with pytest.raises(exc.DBAPIError) as caught:
        RawStatement("SELECT no_such_column FROM call_session").first({})
    assert not caught.value.connection_invalidated
    db.session.rollback()
    with pytest.raises(ValueError, match="not columns"):
        update_session("t" * 32, no_such_column=1)


@pytest.mark.postgres
def test_a_dead_connection_is_invalidated_so_the_work_can_be_retried(org):
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    from db_pool import retry_on_disconnect

    stamp = RawStatement("SELECT pg_backend_pid()")
    victim = stamp.first({})[0]
    db.session.commit()  # the connection goes back to the pool, where it dies
    outsider = create_engine(db.engine.url, poolclass=NullPool)
    with outsider.begin() as killer:
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": victim})
    outsider.dispose()
    with pytest.raises(exc.DBAPIError) as caught:
        stamp.first({})
    assert caught.value.connection_invalidated
    db.session.rollback()

    second = stamp.first({})[0]  # a fresh connection, which dies in the pool too
    db.session.commit()
    with outsider.begin() as killer:
        killer.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": second})
    outsider.dispose()
    assert retry_on_disconnect(lambda: stamp.first({})[0], db.session.rollback) not in (victim, second)



@pytest.mark.postgres
def test_the_session_lock_reads_by_its_unique_key_whatever_the_statistics(org):
    """A generic plan made before any ANALYZE must not walk the org's index (every call it ever had)."""
    from sqlalchemy import text

    from services.call_store import _LOCK

    conn = db.session.connection()
    conn.execute(text("SET LOCAL plan_cache_mode = force_generic_plan"))
    for kind, index in (("id", "pk_call_session"), ("sid", "uq_call_session_call_sid")):
        sql = _LOCK[kind].sql["postgresql"].replace(":key", "$1")
        conn.execute(text(f"PREPARE lock_{kind}(varchar) AS {sql}"))
        plan = "\n".join(row[0] for row in conn.execute(text(f"EXPLAIN EXECUTE lock_{kind}('x')")))
        assert f"Index Scan using {index}" in plan and "org_id" not in plan, plan
    db.session.rollback()
