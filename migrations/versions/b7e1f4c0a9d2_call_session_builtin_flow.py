"""call session builtin flow

Revision ID: b7e1f4c0a9d2
Revises: a7e5c0de5e55
Create Date: 2026-12-06 22:40:00.000000

Voice-mode, softphone and AI calls now run built-in flows (flows/builtin.py) and record which one
in ``call_session.builtin_flow``. A call of that kind still waiting when this runs kept the old
``stage`` state; it is carried over to the built-in flow's node of the same id, so its next
webhook resumes there (the built-in flows kept the stage machine's node ids).
"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e1f4c0a9d2'
down_revision = 'a7e5c0de5e55'
branch_labels = None
depends_on = None

_DIAL_ENDS = ["dial", "queue", "continue"]
# stage -> (built-in flow, node, the event kinds its node waits for), as of version 1 of each flow
_STAGES = {
    "ringing": ("voice-number@1", "softphones", _DIAL_ENDS),
    "voicemail": ("voice-number@1", "voicemail", ["recording"]),
    "outbound": ("softphone-outbound@1", "dial", _DIAL_ENDS),
    "internal": ("softphone-inbound@1", "dial", _DIAL_ENDS),
    "ai": ("ai-call@1", "ai", ["continue", "dial", "queue"]),
    "transfer": ("ai-transfer@1", "transfer", _DIAL_ENDS),
}


def upgrade():
    with op.batch_alter_table('call_session', schema=None) as batch_op:
        batch_op.add_column(sa.Column('builtin_flow', sa.String(length=64), nullable=True))
    sessions = sa.table(
        'call_session', sa.column('id', sa.String), sa.column('state', sa.JSON), sa.column('status', sa.String),
        sa.column('end_reason', sa.String), sa.column('builtin_flow', sa.String),
    )
    conn = op.get_bind()
    waiting = conn.execute(
        sa.select(sessions.c.id, sessions.c.state)
        .where(sessions.c.status == 'in_progress', sessions.c.end_reason.is_(None))
    ).all()
    for session_id, state in waiting:
        carried = carry_over(json.loads(state) if isinstance(state, str) else state)
        if carried is not None:
            conn.execute(
                sessions.update().where(sessions.c.id == session_id).values(builtin_flow=carried[0], state=carried[1])
            )


def carry_over(state):
    """(built-in flow, engine state) for a call waiting in an old stage, else None."""
    state = state or {}
    stage = _STAGES.get(state.get('stage')) if state.get('mode') == 'voice' else None
    if stage is None or state.get('status') != 'waiting':
        return None
    ref, node, expects = stage
    turn = int(state.get('turn') or 0)
    return ref, {
        "v": 1, "turn": turn, "status": "waiting", "flow": None,
        "waiting": {"node": node, "expects": expects, "turn": turn},
        "vars": {}, "results": {}, "attempts": {}, "visits": {node: 1}, "stack": [], "end": None,
    }


def downgrade():
    with op.batch_alter_table('call_session', schema=None) as batch_op:
        batch_op.drop_column('builtin_flow')
