"""call session fillfactor: room on each page for the updates of a call's turns

Every turn of a call updates its session row (state, turn, step count, current node), none of
them indexed columns, so PostgreSQL can update it in place on the same page (a HOT update, no
new index entries) when the page has room. At the default fillfactor of 100 a fresh page has
none, and about a fifth of these updates were moving rows and writing all six indexes.
SQLite has no fillfactor: nothing to do there.

Revision ID: f3a9c2d41b77
Revises: e1b26f249238
Create Date: 2026-12-01 10:30:00.000000

"""
from alembic import op


# revision identifiers, used by Alembic.
revision = 'f3a9c2d41b77'
down_revision = 'e1b26f249238'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE call_session SET (fillfactor = 70)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE call_session RESET (fillfactor)")
