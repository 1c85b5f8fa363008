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
