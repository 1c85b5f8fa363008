"""call session builtin flow

Revision ID: b7e1f4c0a9d2
Revises: f3a9c2d41b77
Create Date: 2026-12-06 22:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e1f4c0a9d2'
down_revision = 'f3a9c2d41b77'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('call_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('builtin_flow', sa.String(length=64), nullable=True))


def downgrade():
    with op.batch_alter_table('call_session', schema=None) as batch_op:
        batch_op.drop_column('builtin_flow')
