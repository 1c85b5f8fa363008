"""The SQL of the webhook hot path, built once: lock a call session, persist a turn.

Statements are module constants with bound parameters, so SQLAlchemy compiles each once per
process. On PostgreSQL a turn is persisted in one round trip: the session UPDATE and the
CallTurn INSERT ride as data-modifying CTEs on the INSERT of the turn's steps, which arrive
as one JSON array. SQLite runs three statements one after the other (no DML in its CTEs).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, bindparam, func, insert, select, text, update

from extensions import db
from models import CallSession, CallStep, CallTurn

SESSIONS = CallSession.__table__
STEPS = CallStep.__table__
TURNS = CallTurn.__table__
TURN_COLUMNS = ("session_id", "turn", "service", "twiml", "created_at")


@dataclass
class CallRow:
    """A call session as the webhook path reads it: a plain copy of the row, not tracked by the ORM."""

    id: str
    org_id: int
    call_sid: str
    phone_number_id: int | None
    flow_id: int | None
    revision_id: int | None
    uses_draft: bool
    simulated: bool
    from_number: str
    to_number: str
    direction: str
    status: str
    current_node: str | None
    state: dict
    turn: int
    step_count: int
    end_reason: str | None
    draft_definition: dict | None
    started_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    duration: int | None

    @classmethod
    def of(cls, source: Any) -> CallRow:
        """A copy of a CallSession (or of a row with its columns)."""
        return cls(**{f.name: getattr(source, f.name) for f in fields(cls)})


_LOCK = {
    kind: select(SESSIONS).where(column == bindparam("key"), SESSIONS.c.org_id == bindparam("org")).with_for_update()
    for kind, column in (("id", SESSIONS.c.id), ("sid", SESSIONS.c.call_sid))
}
# SQLite has no row locks: this write takes the database write lock before the row is read.
_TOUCH = {
    kind: update(SESSIONS).where(column == bindparam("key")).values(updated_at=SESSIONS.c.updated_at)
    for kind, column in (("id", SESSIONS.c.id), ("sid", SESSIONS.c.call_sid))
}
_SESSION_UPDATE = (
    update(SESSIONS)
    .where(SESSIONS.c.id == bindparam("s_id"))
    .values(
        state=bindparam("s_state", type_=SESSIONS.c.state.type),
        turn=bindparam("s_turn", type_=SESSIONS.c.turn.type),
        step_count=bindparam("s_count", type_=SESSIONS.c.step_count.type),
        current_node=bindparam("s_node", type_=SESSIONS.c.current_node.type),
        updated_at=bindparam("s_at", type_=SESSIONS.c.updated_at.type),
        end_reason=func.coalesce(SESSIONS.c.end_reason, bindparam("s_end", type_=SESSIONS.c.end_reason.type)),
    )
)
_TURN_INSERT = insert(TURNS).values({c: bindparam(f"t_{c}", type_=TURNS.c[c].type) for c in TURN_COLUMNS})
_STEP_INSERT = insert(STEPS)


def is_sqlite() -> bool:
    """Whether the session's database is SQLite."""
    return db.session.get_bind().dialect.name == "sqlite"


def lock_row(org_id: int, kind: str, key: str) -> CallRow | None:
    """The org's session by ``id`` or ``sid`` (CallSid), locked until the transaction ends."""
    conn = db.session.connection()
    if is_sqlite():
        conn.execute(_TOUCH[kind], {"key": key})
    row = conn.execute(_LOCK[kind], {"key": key, "org": org_id}).first()
    return CallRow.of(row) if row is not None else None


# Column values of a new session that no caller gave (the model's defaults, as the ORM would set them).
_NEW_SESSION_DEFAULTS: dict[str, Any] = {
    "phone_number_id": None,
    "flow_id": None,
    "revision_id": None,
    "uses_draft": False,
    "simulated": False,
    "from_number": "",
    "to_number": "",
    "direction": "inbound",
    "status": "in_progress",
    "turn": 0,
    "step_count": 0,
}
_SESSION_INSERT = insert(SESSIONS)


def insert_session(values: dict[str, Any]) -> CallRow:
    """INSERT a new call session (no unit of work) and answer its row; IntegrityError on a known CallSid."""
    row = {**_NEW_SESSION_DEFAULTS, **values}
    db.session.connection().execute(_SESSION_INSERT, row)
    unset = {"current_node": None, "end_reason": None, "draft_definition": None, "ended_at": None, "duration": None}
    return CallRow(**{**unset, **row})


def update_session(session_id: str, **values: Any) -> None:
    """Set columns of a (locked) session row."""
    db.session.connection().execute(update(SESSIONS).where(SESSIONS.c.id == session_id).values(**values))


# PostgreSQL: one statement, one round trip; the steps travel as one JSON array.
_PG_PERSIST = text(
    """
    WITH upd AS (
        UPDATE call_session SET state = :s_state, turn = :s_turn, step_count = :s_count, current_node = :s_node,
               updated_at = :s_at, end_reason = COALESCE(end_reason, :s_end)
        WHERE id = :s_id
    ), ins_turn AS (
        INSERT INTO call_turn (session_id, turn, service, twiml, created_at)
        VALUES (:t_session_id, :t_turn, :t_service, :t_twiml, :t_created_at)
    )
    INSERT INTO call_step (org_id, session_id, seq, turn, node_id, node_type, event, outcome, detail, at)
    SELECT org_id, session_id, seq, turn, node_id, node_type, event, outcome, detail, at
    FROM json_to_recordset(:steps) AS x(org_id integer, session_id varchar, seq integer, turn integer,
                                        node_id varchar, node_type varchar, event varchar, outcome varchar,
                                        detail json, at timestamptz)
    """
).bindparams(
    bindparam("s_state", type_=SESSIONS.c.state.type),
    bindparam("s_at", type_=SESSIONS.c.updated_at.type),
    bindparam("t_created_at", type_=TURNS.c.created_at.type),
    bindparam("steps", type_=JSON),
)


def persist_turn(session_values: dict[str, Any], turn_row: dict[str, Any], step_rows: list[dict[str, Any]]) -> None:
    """Write a turn: the session's new values (``s_*`` keys), its CallTurn row and its CallStep rows."""
    conn = db.session.connection()
    turn_params = {f"t_{c}": turn_row[c] for c in TURN_COLUMNS}
    if not is_sqlite():
        steps = [{**row, "at": row["at"].isoformat()} for row in step_rows]
        conn.execute(_PG_PERSIST, {**session_values, **turn_params, "steps": steps})
        return
    if step_rows:
        conn.execute(_STEP_INSERT, step_rows)
    conn.execute(_TURN_INSERT, turn_params)
    conn.execute(_SESSION_UPDATE, session_values)
