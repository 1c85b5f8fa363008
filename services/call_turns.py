"""Turn bookkeeping for every call: one locked session row, steps, stored TwiML, retries.

A call's webhooks are processed one at a time: the session row is locked for the length of
the turn (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite a write to the row first takes
the database's write lock, which also serialises). A webhook whose ``turn`` is older than
the session's is a retry and gets the TwiML stored for that turn (`CallTurn`), so nothing
runs twice; a start webhook for a CallSid that already has a session is answered the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from extensions import db
from flows.twiml import goodbye_twiml
from models import CallSession, CallTurn, OrgRef, new_uid
from services import analytics_rollup
from services.call_scrub import scrub_json
from services.call_store import CallRow, insert_session, lock_row, persist_turn
from services.clock import now, simulating

log = logging.getLogger("phonetree.calls")


@dataclass
class TurnOutput:
    """What one turn of a call produced, ready to persist."""

    twiml: str
    state: dict[str, Any]
    turn: int
    steps: list[dict[str, Any]] = field(default_factory=list)
    done: bool = False
    end_reason: str | None = None
    current_node: str | None = None
    extras: list[Any] = field(default_factory=list)  # rows to add in the same transaction


Compute = Callable[[CallRow], TurnOutput]


@dataclass(frozen=True)
class StartPlan:
    """How to open a new call: the first turn's builder (run on the fresh session row) and the
    session's columns (number, flow, revision, from, to, direction)."""

    build: Compute
    fields: dict[str, Any]


def step(
    node_id: str,
    node_type: str,
    event: str | None,
    outcome: str | None,
    detail: dict[str, Any],
    at: datetime | None = None,
) -> dict[str, Any]:
    """A step record in the engine's `Step.to_dict()` shape."""
    return {
        "node_id": node_id,
        "node_type": node_type,
        "event": event,
        "outcome": outcome,
        "detail": detail,
        "at": (at or now()).isoformat(),
    }


def lock_session(org: OrgRef, session_id: str | None = None, call_sid: str | None = None) -> CallRow | None:
    """The org's call session by id (or CallSid), locked until the transaction ends; None if unknown.

    PostgreSQL: ``SELECT ... FOR UPDATE``. SQLite ignores FOR UPDATE, so a write to the row
    first takes the database's write lock (waiting for any other turn to commit) before the
    row is read, and the read sees the latest turn.
    """
    if session_id:
        return lock_row(org.id, "id", str(session_id)[:32])
    if call_sid:
        return lock_row(org.id, "sid", str(call_sid)[:64])
    return None


def stored_twiml(session_id: str, turn: int) -> str | None:
    """The TwiML answered for a turn of a call, if any."""
    return db.session.scalar(select(CallTurn.twiml).where(CallTurn.session_id == session_id, CallTurn.turn == turn))


def _replay(org: OrgRef, session: CallSession | CallRow | None, turn: int, why: str) -> str:
    twiml = stored_twiml(session.id, turn) if session is not None and session.org_id == org.id else None
    db.session.rollback()
    if twiml is None:
        log.warning("call webhook for org %s: %s; no stored answer, saying goodbye", org.slug, why)
        return goodbye_twiml()
    log.info("call webhook for org %s: %s; answering the stored TwiML of turn %s", org.slug, why, turn)
    return twiml


def start_call(
    org: OrgRef, call_sid: str, service_id: str, build: Callable[[CallRow], TurnOutput], **fields: Any
) -> str:
    """Create the session of a new call and run its first turn (turn 0); a repeated start replays.

    The INSERT comes first: the unique CallSid makes a repeated (or concurrent) start fail
    there, before anything runs, and it then gets the answer stored for the first.
    """
    at = now()
    values = {"id": new_uid(), "org_id": org.id, "call_sid": call_sid, "state": {}, "started_at": at, "updated_at": at}
    if simulating():  # `call simulate`: labelled, and counted in no analytics
        values["simulated"] = True
    try:
        row = insert_session({**values, **fields})
    except IntegrityError:  # this CallSid already has a session: a retried or concurrent start
        db.session.rollback()
        existing = db.session.scalar(select(CallSession).where(CallSession.call_sid == call_sid))
        return _replay(org, existing, 0, f"repeated start of call {call_sid}")
    out = build(row)
    apply_turn(row, out, 0, service_id, opens=True)
    return out.twiml


def continue_call(
    org: OrgRef,
    session_id: str | None,
    call_sid: str | None,
    service_id: str,
    request_turn: int | None,
    compute: Callable[[CallRow], TurnOutput],
) -> str:
    """Run one turn of a known call under its row lock, or replay a retried turn."""
    session = lock_session(org, session_id, call_sid)
    if session is None or (call_sid and session.call_sid != call_sid):
        db.session.rollback()
        log.warning(
            "%s webhook for org %s: unknown call session %r (CallSid %r); saying goodbye",
            service_id,
            org.slug,
            session_id,
            call_sid,
        )
        return goodbye_twiml()
    turn = session.turn if request_turn is None else request_turn
    if turn < session.turn:
        return _replay(org, session, turn, f"retried {service_id} webhook of turn {turn} (call at {session.turn})")
    if turn > session.turn:
        db.session.rollback()
        log.warning(
            "%s webhook for call %s names turn %s but the call is at turn %s; saying goodbye",
            service_id,
            session.id,
            turn,
            session.turn,
        )
        return goodbye_twiml()
    out = compute(session)
    apply_turn(session, out, turn, service_id)
    return out.twiml


def _at(value: Any, default: datetime) -> datetime:
    if isinstance(value, datetime):
        return value
    try:
        return datetime.fromisoformat(str(value))
    except ValueError:
        return default


def apply_turn(
    session: CallRow, out: TurnOutput, request_turn: int, service_id: str, opens: bool = False, record: bool = True
) -> None:
    """Persist and commit a turn: steps (in order), the TwiML for retries (unless not `record`: a
    text conversation's turn is recorded by its inbound Message), artefacts, the new state, and
    the turn's analytics rollups (`services.analytics_rollup`; `opens`: the call's first turn).

    Plain prebuilt statements rather than the unit of work (see `services.call_store`): this is
    the hot path of every webhook, and the session row is already locked by this transaction.
    """
    at = now()
    base = session.step_count or 0
    rows = [
        {
            "org_id": session.org_id,
            "session_id": session.id,
            "seq": base + i,
            "turn": out.turn,
            "node_id": str(s.get("node_id") or "")[:64],
            "node_type": str(s.get("node_type") or "")[:32],
            "event": str(s.get("event") or "enter")[:32],
            "outcome": str(s["outcome"])[:64] if s.get("outcome") is not None else None,
            "detail": s.get("detail") or {},
            "at": _at(s.get("at"), at).isoformat(),
        }
        for i, s in enumerate(out.steps)
    ]
    rows, steps_json = scrub_json(rows)  # one pass over all the steps, JSON text for the database
    _, state_json = scrub_json(out.state)
    values = {
        "s_id": session.id,
        "s_state": state_json,
        "s_turn": out.turn,
        "s_count": base + len(rows),
        "s_node": (out.current_node or None) and out.current_node[:64],
        "s_at": at,
        "s_end": out.end_reason[:32] if out.done and out.end_reason else None,
    }
    turn_row = (
        {
            "session_id": session.id,
            "turn": request_turn,
            "service": service_id[:40],
            "twiml": out.twiml,
            "created_at": at,
        }
        if record
        else None
    )
    rollups = None
    if analytics_rollup.enabled():
        ends = values["s_end"] if session.end_reason is None else None  # the end is counted once
        rollups = analytics_rollup.turn_deltas(session, rows, opens=opens, end_reason=ends, state=out.state)
    db.session.add_all(out.extras)
    persist_turn(values, turn_row, rows, steps_json, rollups)
