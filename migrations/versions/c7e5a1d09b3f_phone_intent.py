"""phone intents: buy, import, release and route recorded before Twilio is asked (number sagas)

Revision ID: c7e5a1d09b3f
Revises: f3a9c2d41b77
Create Date: 2026-12-06 22:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c7e5a1d09b3f'
down_revision = 'f3a9c2d41b77'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'phone_intent',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('phone_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=8), nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('phone_number', sa.String(length=20), nullable=False),
        sa.Column('sid', sa.String(length=34), nullable=True),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('detail', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('settled_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('org_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['org_id'], ['organization.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['phone_id'], ['phone_number.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['user_account.id'], ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('phone_intent', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_phone_intent_org_id'), ['org_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_phone_intent_phone_id'), ['phone_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_phone_intent_state'), ['state'], unique=False)


def downgrade():
    with op.batch_alter_table('phone_intent', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_phone_intent_state'))
        batch_op.drop_index(batch_op.f('ix_phone_intent_phone_id'))
        batch_op.drop_index(batch_op.f('ix_phone_intent_org_id'))
    op.drop_table('phone_intent')
