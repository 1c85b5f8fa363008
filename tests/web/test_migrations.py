"""Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from extensions import db


def test_migrations_match_models(app):
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
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
