"""revocable sessions and login throttling

- user_account.session_token: Flask-Login's alternative id, rotated to end every session of a
  user at once. Existing users get a random one each (so every cookie issued before is void).
- rate_limit_counter: Flask-Limiter's fixed-window counters in the app's own database, shared by
  every worker.

Revision ID: a7e5c0de5e55
Revises: c7e5a1d09b3f
Create Date: 2026-12-06 22:00:00.000000

"""
import secrets

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'a7e5c0de5e55'
down_revision = 'c7e5a1d09b3f'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user_account') as batch:
        batch.add_column(sa.Column('session_token', sa.String(length=64), nullable=True))
    users = sa.table('user_account', sa.column('id', sa.Integer), sa.column('session_token', sa.String))
    conn = op.get_bind()
    for (user_id,) in conn.execute(sa.select(users.c.id)).all():
        conn.execute(
            users.update().where(users.c.id == user_id).values(session_token=secrets.token_urlsafe(32))
        )
    with op.batch_alter_table('user_account') as batch:
        batch.alter_column('session_token', existing_type=sa.String(length=64), nullable=False)
        batch.create_unique_constraint(batch.f('uq_user_account_session_token'), ['session_token'])

    op.create_table(
        'rate_limit_counter',
        sa.Column('key', sa.String(length=255), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('expires_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('key', name=op.f('pk_rate_limit_counter')),
    )
    op.create_index(op.f('ix_rate_limit_counter_expires_at'), 'rate_limit_counter', ['expires_at'])


def downgrade():
    op.drop_index(op.f('ix_rate_limit_counter_expires_at'), table_name='rate_limit_counter')
    op.drop_table('rate_limit_counter')
    with op.batch_alter_table('user_account') as batch:
        batch.drop_constraint(batch.f('uq_user_account_session_token'), type_='unique')
        batch.drop_column('session_token')
