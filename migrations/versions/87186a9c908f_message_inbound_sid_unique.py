"""inbound message sid unique per org: the inbound Message row is the sms webhook's idempotency record

Revision ID: 87186a9c908f
Revises: 979ab68b06e5
Create Date: 2026-12-07 03:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '87186a9c908f'
down_revision = '979ab68b06e5'
branch_labels = None
depends_on = None

INBOUND_SID = "direction = 'inbound' AND sid IS NOT NULL"


def upgrade():
    # A retried webhook stored twice before this index (two racing retries could both pass the old
    # look-up): keep the first row of each (org, MessageSid), so the unique index can be built.
    # (EXISTS, by the sid index: a NOT IN over every inbound row would not scale on PostgreSQL.)
    op.execute(
        sa.text(
            "DELETE FROM message WHERE direction = 'inbound' AND sid IS NOT NULL AND EXISTS ("
            "SELECT 1 FROM message earlier WHERE earlier.sid = message.sid AND earlier.org_id = message.org_id "
            "AND earlier.direction = 'inbound' AND earlier.id < message.id)"
        )
    )
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.create_index(
            'uq_message_inbound_sid',
            ['org_id', 'sid'],
            unique=True,
            sqlite_where=sa.text(INBOUND_SID),
            postgresql_where=sa.text(INBOUND_SID),
        )


def downgrade():
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_index('uq_message_inbound_sid')
