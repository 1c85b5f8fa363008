"""The SQL of the webhook hot path, prepared once: lock a call session, persist a turn.

Each statement is a `db_raw.RawStatement`: run on the session's DBAPI connection inside its
transaction, with the columns' own type processors. On PostgreSQL a turn is persisted in one
round trip: the session UPDATE and the CallTurn INSERT ride as data-modifying CTEs on the
INSERT of the turn's steps, which arrive as one JSON array. SQLite runs three statements one
after the other (no DML in its CTEs).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from db_raw import RawStatement
from extensions import db
from models import CallSession, CallStep, CallTurn, Message
from models.calls import INBOUND_SID
from services import analytics_rollup
from services.analytics_rollup import PG_CALL_UPSERT, PG_NODE_UPSERT, Deltas

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
    builtin_flow: str | None
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
    channel: str
    live_key: str | None
    # Not a column: where the call is, its last ``enter`` step (node, at), read with the lock
    # when analytics rollups are on (the dwell there ends with the turn's first step).
    visit: tuple[str, datetime] | None = None


SESSION_COLUMNS = tuple(f.name for f in fields(CallRow) if f.name != "visit")
if set(SESSION_COLUMNS) != set(SESSIONS.c.keys()):
    raise RuntimeError("CallRow must mirror the call_session table")
_SESSION_TYPES = {name: SESSIONS.c[name].type for name in SESSION_COLUMNS}
# By the unique key alone, the org compared on the row read: with `AND org_id = :org` in the SQL, a
# generic plan made while the table had no statistics walked the org's whole org_id index (every
# call the org ever had) on each lock, seen here growing PostgreSQL's time per turn with the table.
_SELECT = f"SELECT {', '.join(SESSION_COLUMNS)}{{extra}} FROM call_session WHERE {{key}} = :key"
# With the rollups, the call's last `enter` step rides on the lock's row (two scalar subqueries).
_LAST_ENTER = (
    "(SELECT {column} FROM call_step WHERE session_id = call_session.id AND event = 'enter' ORDER BY seq DESC LIMIT 1)"
)
_VISIT = ", " + ", ".join(_LAST_ENTER.format(column=c) for c in ("node_id", "at"))
_SESSION_RESULT = [_SESSION_TYPES[name] for name in SESSION_COLUMNS]


def _lock_statement(column: str, extra: str, types: list) -> RawStatement:
    sql = _SELECT.format(key=column, extra=extra)
    return RawStatement({"postgresql": sql + " FOR UPDATE", "default": sql}, columns=types)


_KEYS = (("id", "id"), ("sid", "call_sid"), ("live", "live_key"))
_LOCK = {kind: _lock_statement(column, "", _SESSION_RESULT) for kind, column in _KEYS}
_LOCK_VISIT = {
    kind: _lock_statement(column, _VISIT, [*_SESSION_RESULT, None, STEPS.c.at.type]) for kind, column in _KEYS
}
# SQLite has no row locks: this write takes the database write lock before the row is read.
_TOUCH = {
    kind: RawStatement(f"UPDATE call_session SET updated_at = updated_at WHERE {column} = :key")
    for kind, column in _KEYS
}


def is_sqlite() -> bool:
    """Whether the session's database is SQLite."""
    return db.session.get_bind().dialect.name == "sqlite"


def lock_row(org_id: int, kind: str, key: str) -> CallRow | None:
    """The org's session by ``id``, ``sid`` (CallSid) or ``live`` (a live messaging session's key),
    locked until the transaction ends (with its `CallRow.visit` when analytics rollups are on)."""
    if is_sqlite():
        _TOUCH[kind].execute({"key": key})
    if analytics_rollup.enabled():
        row = _LOCK_VISIT[kind].first({"key": key})
        if row is None:
            return None
        session = CallRow(*row[:-2], visit=(row[-2], row[-1]) if row[-2] is not None else None)
    else:
        row = _LOCK[kind].first({"key": key})
        if row is None:
            return None
        session = CallRow(*row)
    return session if session.org_id == org_id else None  # another org's call is not found


# Column values of a new session that no caller gave (the model's defaults, as the ORM would set them).
_NEW_SESSION_DEFAULTS: dict[str, Any] = {
    **dict.fromkeys(SESSION_COLUMNS),
    "uses_draft": False,
    "simulated": False,
    "from_number": "",
    "to_number": "",
    "direction": "inbound",
    "status": "in_progress",
    "turn": 0,
    "step_count": 0,
    "channel": "voice",
}
_SESSION_INSERT = RawStatement(
    f"INSERT INTO call_session ({', '.join(SESSION_COLUMNS)}) VALUES ({', '.join(':' + n for n in SESSION_COLUMNS)})",
    _SESSION_TYPES,
)


def insert_session(values: dict[str, Any]) -> CallRow:
    """INSERT a new call session (no unit of work) and answer its row; IntegrityError on a known CallSid."""
    row = {**_NEW_SESSION_DEFAULTS, **values}
    _SESSION_INSERT.execute(row)
    return CallRow(**row)


MESSAGES = Message.__table__
MESSAGE_COLUMNS = tuple(c.name for c in MESSAGES.c if c.name != "id")
_MESSAGE_INSERT_SQL = (
    f"INSERT INTO message ({', '.join(MESSAGE_COLUMNS)}) VALUES ({', '.join(':' + c for c in MESSAGE_COLUMNS)})"
)
_MESSAGE_TYPES = {name: MESSAGES.c[name].type for name in ("created_at", "media")}
_MESSAGE_INSERT = RawStatement(_MESSAGE_INSERT_SQL, _MESSAGE_TYPES)
# The partial unique index uq_message_inbound_sid: a MessageSid already stored inserts nothing.
_INBOUND_INSERT = RawStatement(
    f"{_MESSAGE_INSERT_SQL} ON CONFLICT (org_id, sid) WHERE {INBOUND_SID} DO NOTHING", _MESSAGE_TYPES
)


def insert_message(**values: Any) -> None:
    """INSERT a `Message` row (a text in or out of a call or conversation) in the turn's transaction."""
    _MESSAGE_INSERT.execute({**dict.fromkeys(MESSAGE_COLUMNS), **values})


def insert_inbound_message(**values: Any) -> bool:
    """INSERT an inbound `Message` row unless the org already has its MessageSid (unique per org
    for inbound rows): whether it was inserted. False means Twilio retried a webhook already
    handled (or being handled by a transaction that commits first): the caller changes nothing."""
    return _INBOUND_INSERT.execute({**dict.fromkeys(MESSAGE_COLUMNS), **values, "direction": "inbound"}) == 1


_UPDATES: dict[tuple[str, ...], RawStatement] = {}


def update_session(session_id: str, **values: Any) -> None:
    """Set columns of a (locked) session row (one prepared statement per set of columns)."""
    names = tuple(sorted(values))
    statement = _UPDATES.get(names)
    if statement is None:
        if not names or not set(names) <= set(SESSION_COLUMNS):
            raise ValueError(f"not columns of call_session: {names}")
        assignments = ", ".join(f"{name} = :{name}" for name in names)
        statement = _UPDATES[names] = RawStatement(
            f"UPDATE call_session SET {assignments} WHERE id = :session_id",
            {name: _SESSION_TYPES[name] for name in names},
        )
    statement.execute({**values, "session_id": session_id})


_SESSION_UPDATE_SQL = (
    "UPDATE call_session SET state = :s_state, turn = :s_turn, step_count = :s_count, current_node = :s_node, "
    "updated_at = :s_at, end_reason = COALESCE(end_reason, :s_end) WHERE id = :s_id"
)
_SESSION_UPDATE_TYPES = {"s_at": SESSIONS.c.updated_at.type}  # s_state arrives as JSON text
_TURN_INSERT_SQL = (
    f"INSERT INTO call_turn ({', '.join(TURN_COLUMNS)}) VALUES ({', '.join(':t_' + c for c in TURN_COLUMNS)})"
)
_TURN_INSERT_TYPES = {"t_created_at": TURNS.c.created_at.type}
STEP_COLUMNS = ("org_id", "session_id", "seq", "turn", "node_id", "node_type", "event", "outcome", "detail", "at")
_STEP_LIST = ", ".join(STEP_COLUMNS)

_SESSION_UPDATE = RawStatement(_SESSION_UPDATE_SQL, _SESSION_UPDATE_TYPES)
_TURN_INSERT = RawStatement(_TURN_INSERT_SQL, _TURN_INSERT_TYPES)
_STEP_INSERT = RawStatement(
    f"INSERT INTO call_step ({_STEP_LIST}) VALUES ({', '.join(':' + c for c in STEP_COLUMNS)})",
    {"detail": STEPS.c.detail.type, "at": STEPS.c.at.type},
)
# PostgreSQL: the same UPDATE and INSERT as data-modifying CTEs of the steps' INSERT, one round
# trip; the steps travel as one JSON array. With the analytics rollups (services.analytics_rollup),
# their two upserts ride along as two more CTEs, their rows as two more JSON arrays.
_PG_STEPS_SQL = f"""
    INSERT INTO call_step ({_STEP_LIST})
    SELECT {_STEP_LIST}
    FROM json_to_recordset(:steps) AS x(org_id integer, session_id varchar, seq integer, turn integer,
                                        node_id varchar, node_type varchar, event varchar, outcome varchar,
                                        detail json, at timestamptz)
    """
_PG_PERSIST_TYPES = {**_SESSION_UPDATE_TYPES, **_TURN_INSERT_TYPES}


def _pg_persist(turn: bool, rollups: bool) -> RawStatement:
    """The steps' INSERT with the session's UPDATE, and the CallTurn INSERT (unless a text
    conversation's turn, whose inbound Message is its record) and the rollups' upserts if any."""
    ctes = [f"upd AS ({_SESSION_UPDATE_SQL})"]
    if turn:
        ctes.append(f"ins_turn AS ({_TURN_INSERT_SQL})")
    if rollups:
        ctes += [f"nr AS ({PG_NODE_UPSERT})", f"cr AS ({PG_CALL_UPSERT})"]
    return RawStatement({"postgresql": f"WITH {', '.join(ctes)} {_PG_STEPS_SQL}"}, _PG_PERSIST_TYPES)


_PG_PERSIST = {(turn, rollups): _pg_persist(turn, rollups) for turn in (True, False) for rollups in (True, False)}


def persist_turn(
    session_values: dict[str, Any],
    turn_row: dict[str, Any] | None,
    step_rows: list[dict[str, Any]],
    steps_json: str,
    rollups: Deltas | None = None,
) -> None:
    """Write a turn and commit: the session's new values (``s_*`` keys), its CallTurn (unless
    `turn_row` is None) and CallStep rows, and the turn's analytics `rollups` (upserted by key;
    None: none).

    ``s_state`` is the state's JSON text; the steps come as rows (``at`` in ISO format) and as
    the JSON text of that list. Anything the ORM holds for the turn (recordings, payments) is
    committed with it.

    (Sending the COMMIT in the same message as the persist saves a round trip but needs the
    simple query protocol, which plans the statement afresh each time: measured slower here
    than psycopg's prepared statement and a separate COMMIT.)
    """
    turn_params = {f"t_{c}": turn_row[c] for c in TURN_COLUMNS} if turn_row is not None else None
    if is_sqlite():
        for row in step_rows:
            _STEP_INSERT.execute({**row, "at": datetime.fromisoformat(row["at"])})
        if turn_params is not None:
            _TURN_INSERT.execute(turn_params)
        _SESSION_UPDATE.execute(session_values)
        analytics_rollup.write(rollups)
    else:
        params = {**session_values, **(turn_params or {}), "steps": steps_json}
        if rollups:
            params.update(analytics_rollup.pg_params(rollups))
        _PG_PERSIST[turn_params is not None, bool(rollups)].execute(params)
    db.session.commit()
