"""Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from extensions import db
from models.base import owned_by_migrations


def test_migrations_match_models(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": owned_by_migrations})
        diff = compare_metadata(context, db.metadata)
    assert diff == [], f"models and migrations differ; run 'flask --app app db migrate': {diff}"


def test_migration_head_is_applied(app):
    from alembic.script import ScriptDirectory
    from flask_migrate import Migrate  # noqa: F401  (Flask-Migrate configured the script location)
    from sqlalchemy import text

    script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
    with db.engine.connect() as conn:
        current = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert current == script.get_current_head()


@pytest.mark.postgres
def test_call_sessions_leave_room_for_in_place_updates(app):
    from sqlalchemy import text

    with db.engine.connect() as conn:
        options = conn.execute(text("SELECT reloptions FROM pg_class WHERE relname = 'call_session'")).scalar()
    assert "fillfactor=70" in (options or [])


def test_another_librarys_tables_in_the_database_are_not_the_migrations(app):
    # Huey's PostgreSQL queue (PHONETREE_TASKS_URL at the app's database) keeps huey_* tables beside ours:
    # autogenerate must neither drop them nor report them as drift
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(
            text("CREATE TABLE huey_kv_probe (queue TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (queue, key))")
        )
        conn.execute(text("CREATE INDEX huey_kv_probe_queue ON huey_kv_probe (queue)"))
    try:
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": owned_by_migrations}
            )
            assert compare_metadata(context, db.metadata) == []
            bare = MigrationContext.configure(conn, opts={"compare_type": True})
            dropped = [d[1].name for d in compare_metadata(bare, db.metadata) if d[0] == "remove_table"]
            assert "huey_kv_probe" in dropped  # what autogenerate would have dropped without the filter
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE huey_kv_probe"))


def test_the_inbound_sid_index_migration_keeps_the_first_of_duplicate_inbound_messages(app):
    # Before the unique index, a retried sms webhook could be stored twice; the migration keeps the
    # first (lowest id) inbound row of each org and MessageSid, and no other row
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text
    from sqlalchemy.exc import IntegrityError

    from models import Organization

    orgs = [Organization(name=n, slug=n) for n in ("one", "two")]
    db.session.add_all(orgs)
    db.session.commit()
    one, two = (o.id for o in orgs)
    db.session.remove()
    downgrade(revision="979ab68b06e5")
    try:
        rows = [
            (one, "inbound", "SMa", "first"),
            (one, "inbound", "SMa", "retry"),  # dropped
            (one, "inbound", "SMa", "retry again"),  # dropped
            (two, "inbound", "SMa", "another org's"),
            (one, "outbound", "SMa", "an outbound row"),
            (one, "outbound", "SMa", "an outbound row"),
            (one, "inbound", None, "no sid"),
            (one, "inbound", None, "no sid"),
            (one, "inbound", "SMb", "another text"),
        ]
        insert = text(
            "INSERT INTO message (org_id, direction, sid, from_number, to_number, body, status, created_at) "
            "VALUES (:org, :direction, :sid, '', '', :body, '', CURRENT_TIMESTAMP)"
        )
        with db.engine.begin() as conn:
            for org_id, direction, sid, body in rows:
                conn.execute(insert, {"org": org_id, "direction": direction, "sid": sid, "body": body})
    finally:
        upgrade()
    with db.engine.connect() as conn:
        left = conn.execute(text("SELECT org_id, direction, sid, body FROM message ORDER BY id")).all()
    assert [tuple(r) for r in left] == [r for i, r in enumerate(rows) if i not in (1, 2)]
    with pytest.raises(IntegrityError), db.engine.begin() as conn:  # the index holds now
        conn.execute(insert, {"org": one, "direction": "inbound", "sid": "SMb", "body": "a retry"})
