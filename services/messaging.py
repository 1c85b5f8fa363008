"""Text conversations: messaging sessions on the call runtime (the same engine, rows and turns).

An inbound text (``sms`` webhook) to a number whose messaging route is a flow
(`PhoneNumber.messaging_flow_id`) is one turn of a **messaging session**: a `CallSession` with
``channel = "messaging"``, keyed by (org, number, contact address).

- **One live session per contact and number.** The first message starts one at the flow's
  messaging start (`Settings.start_for`); every later message goes to the live session as an
  ``input`` event for the node that waits (a wait_for_reply, a menu, a collect_input): as in
  Studio, a new message while a session is live never starts a second one. ``live_key`` (unique,
  NULL once the session ends) makes this hold even when two first messages race.
- **Idempotency.** A retried webhook with a MessageSid already stored changes nothing: the
  inbound `Message` row is the record (as `CallTurn` is for calls), unique per org and MessageSid
  (a partial unique index), and the turn's first write is its ``INSERT ... ON CONFLICT DO
  NOTHING``: a retry inserts nothing, and its turn is rolled back before the flow runs. The first
  message's sid is also the session's ``call_sid``, so a retried first message racing the
  original cannot start a second session.
- **Timeouts.** A wait_for_reply that waits sets ``waiting.until``; a ``reply-timeout`` timer
  (`services.timers`, durable) then resumes the session with a ``timeout`` event, but only while
  it still waits on that same wait (its turn is the wait token): a reply that came first cancels
  it, and a late one is a no-op. It is scheduled by the turn that starts the wait only.
- **Expiry.** A session with no message either way for the flow's ``inactivity_timeout``
  (default 24 h) ends with reason ``expired`` (counted from the end of a reply timeout it waits
  on when that is later: a 3-day wait still ends on its ``timeout`` branch): one
  ``session-expiry`` timer per session, set by its first turn; when it fires on a session that
  saw a message since, it re-arms itself for the last message's time plus the limit (so a text
  turn writes no timer row), and the limit is checked again when the next message arrives,
  which then starts a new session. A session that ends drops its expiry timer.
- **One transaction.** Timers are scheduled and cancelled in the turn's own transaction, before
  its commit: the session's new state and the timers that wait on it commit together.

A number without a messaging flow keeps the auto-reply (`call_events.inbound_sms`). The messages
in and out are `Message` rows on the session; outbound delivery comes back on ``message-status``.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.exc import IntegrityError
from twilio.twiml.messaging_response import MessagingResponse

from db_raw import RawStatement
from extensions import db
from flows import (
    DefinitionError,
    Event,
    FlowDefinition,
    TurnContext,
    TurnResult,
    load_definition,
    render_twiml,
    run_turn,
)
from flows.executions import for_request
from flows.state import end_of, end_session, waiting_node, waiting_turn, waiting_until
from models import Flow, FlowExecution, Message, Organization, OrgRef, PhoneNumber, Timer, new_uid
from services import analytics_rollup, timers
from services.call_events import inbound_sms
from services.call_flow import EXECUTION_DIRECTION, compiled, from_result, session_definition, turn_context
from services.call_scrub import scrub
from services.call_store import CallRow, insert_inbound_message, insert_session, lock_row, update_session
from services.call_turns import TurnOutput, apply_turn
from services.clock import now, simulating
from services.flow_revisions import definition_for_caller, published_definition
from services.webhook_answers import TWIML, WebhookAnswer, empty_answer
from upstream.provider import Provider

log = logging.getLogger("phonetree.messaging")

REPLY_TIMEOUT = "reply-timeout"
SESSION_EXPIRY = "session-expiry"
MESSAGE_FIELDS = (
    "MessageSid", "AccountSid", "From", "To", "Body", "NumMedia", "NumSegments", "MessagingServiceSid", "OptOutType"
)


EMPTY_TWIML = render_twiml(MessagingResponse())  # rendered once: every text handled by a flow answers it


def empty_messaging() -> WebhookAnswer:
    """The answer to an inbound text handled by a flow: empty TwiML (the flow sends through the API)."""
    return 200, TWIML, EMPTY_TWIML


def live_key(org_id: int, number: str, contact: str) -> str:
    """The key of a contact's live conversation with one of an org's numbers."""
    return f"{org_id}:{number}:{contact}"[:160]


def message_params(form: Mapping[str, Any]) -> dict[str, str]:
    """Twilio's fields of an inbound message the flow sees (scrubbed), media URLs included."""
    params = {k: str(form[k]) for k in MESSAGE_FIELDS if form.get(k) not in (None, "")}
    params.setdefault("MessageSid", str(form.get("SmsSid") or ""))
    params.setdefault("Body", "")
    for i in range(10):
        url = form.get(f"MediaUrl{i}")
        if not url:
            break
        params[f"MediaUrl{i}"] = str(url)
    return scrub(params)


def _media(params: Mapping[str, Any]) -> list[str]:
    return [str(params[f"MediaUrl{i}"]) for i in range(10) if params.get(f"MediaUrl{i}")]


def schedule_timer(kind: str, key: str, payload: dict[str, Any], fire_at: datetime) -> None:
    """The one place the messaging runtime asks for a timer (in the caller's transaction). An
    expiry, hours away, queues no wake-up: the worker's sweep fires it (seconds late at most)."""
    timers.schedule(kind, key, payload, fire_at, wake=kind != SESSION_EXPIRY)


def session_timers(session_ids: Collection[str]) -> ColumnElement[bool]:
    """The durable timers of these conversations: their expiry (keyed by the session's id) and their
    reply timeouts (``{id}:{wait turn}``); for firing one simulation's timers only."""
    keys = [or_(Timer.key == sid, Timer.key.startswith(f"{sid}:", autoescape=True)) for sid in session_ids]
    return and_(Timer.kind.in_((REPLY_TIMEOUT, SESSION_EXPIRY)), or_(false(), *keys))


def unavailable() -> WebhookAnswer:
    """The answer to a text that could not be handled (the database is down, the turn failed): a
    503, so Twilio posts it to the number's fallback URL (or retries it, which changes nothing
    twice: the inbound MessageSid is the retry record), its body still empty TwiML."""
    return 503, TWIML, EMPTY_TWIML


def cancel_timer(kind: str, key: str) -> None:
    """The one place the messaging runtime drops a timer it no longer needs (a late one is a no-op anyway)."""
    timers.cancel(kind, key)


# -------------------------------------------------------------------- inbound


class MessagingRoute(NamedTuple):
    """A number's messaging route: the number, and its messaging flow's routing columns."""

    number_id: int
    flow_id: int | None
    archived: bool | None  # None when the number has no messaging flow (or it is not the org's)
    test_users: list | None
    published_revision_id: int | None


_FLOWS = Flow.__table__
# The number and its messaging flow in one query (the flow must be the org's own).
_ROUTE = RawStatement(
    "SELECT n.id, n.messaging_flow_id, f.archived, f.test_users, f.published_revision_id "
    "FROM phone_number n LEFT OUTER JOIN flow f ON f.id = n.messaging_flow_id AND f.org_id = n.org_id "
    "WHERE n.org_id = :org AND n.phone_number = :number",
    columns=[None, None, _FLOWS.c.archived.type, _FLOWS.c.test_users.type, None],
)
_STARTED = RawStatement("SELECT 1 FROM call_session WHERE call_sid = :sid")


def messaging_route(org: OrgRef, number: str) -> MessagingRoute | None:
    """Where texts to one of the org's numbers go (None: not the org's number)."""
    row = _ROUTE.first({"org": org.id, "number": number[:20]}) if number else None
    return MessagingRoute(*row) if row is not None else None


def inbound_message(
    org: OrgRef, form: Mapping[str, Any], query: Mapping[str, Any], provider: Provider | None = None
) -> WebhookAnswer:
    """``sms``: a turn of the contact's conversation when the number routes texts to a flow, else
    the auto-reply. `provider`: the org's provider as the front door validated this request with
    (the turn's sends go through it; see `CallServices`).

    The live conversation is locked first: a text to it needs nothing of the number's route (a
    live conversation keeps going whatever the number's route became); the route is read only to
    start one (none live, or the live one expired)."""
    to, contact = str(form.get("To") or "")[:64], str(form.get("From") or "")[:64]
    if not contact:  # no one to answer (Twilio always sends From): stored by the auto-reply path, no conversation
        return inbound_sms(org, form, query)
    params = message_params(form)
    sid = params["MessageSid"]
    key = live_key(org.id, to, contact)
    for _ in range(2):  # a race lost to another first message: the second pass resumes its session
        session = lock_row(org.id, "live", key)  # the contact's live conversation, locked
        if session is not None and (session.ended_at is not None or session.channel != "messaging"):
            session = None
        if session is not None and not _expired(org, session):
            _resume(org, session, Event("input", params), params, "sms", provider)
            return empty_messaging()
        route = messaging_route(org, to)
        if session is not None:
            expire(org, session)
        if not _routed(route, contact):
            db.session.rollback()
            return inbound_sms(org, form, query)
        try:
            _start(org, route, key, params, provider)
            return empty_messaging()
        except IntegrityError:
            db.session.rollback()
            if sid and _STARTED.first({"sid": sid}):
                return empty_messaging()  # a concurrent retry of the first message started it
    log.warning("sms for org %s from %s: no live session after a lost race", org.slug, contact)
    return empty_messaging()


def _routed(route: MessagingRoute | None, contact: str) -> bool:
    """Whether the number routes the contact's texts to a live flow (its test users text its
    draft before it is published); else the auto-reply answers (when no conversation is live)."""
    if route is None or route.flow_id is None or route.archived is not False:
        return False
    return route.published_revision_id is not None or contact in (route.test_users or [])


def _definition(org: OrgRef, session: CallRow) -> FlowDefinition | None:
    definition = session_definition(org, session)
    if definition is None:
        return None
    try:
        return load_definition(definition)
    except DefinitionError:
        return None


def _inactivity(org: OrgRef, session: CallRow) -> timedelta:
    return timedelta(seconds=_inactivity_seconds(_definition(org, session)))


def _expiry(org: OrgRef, session: CallRow) -> datetime:
    """When the session expires: the flow's inactivity limit after its last message, or after the
    reply timeout it waits on when that comes later (a session waiting on its own timer is not
    inactive: a wait longer than the limit still ends on its `timeout` branch)."""
    until = waiting_until(session.state)
    last = max(session.updated_at, _at(until)) if until else session.updated_at
    return last + _inactivity(org, session)


def _expired(org: OrgRef, session: CallRow) -> bool:
    return _expiry(org, session) <= now()


def expire(org: OrgRef, session: CallRow, reason: str = "expired") -> None:
    """End a live session that saw no message for the flow's inactivity limit (reason ``expired``;
    ``simulation_ended``: `message simulate` closes the one its script left waiting)."""
    at = now()
    ended = end_session(session.state, reason, turn=session.turn)
    update_session(
        session.id, state=ended, live_key=None, ended_at=at, status="completed", end_reason=reason, updated_at=at
    )
    _drop_timers(session.id, session.state)
    if analytics_rollup.enabled() and session.end_reason is None:  # counted as `analytics rebuild` counts it
        analytics_rollup.write(analytics_rollup.status_deltas(session, None, reason, ended))
    db.session.commit()
    log.info("messaging session %s of org %s ended: %s", session.id, org.slug, reason)


def _insert_conversation(
    org: OrgRef,
    key: str,
    *,
    session_id: str,
    call_sid: str,
    number_id: int | None,
    number: str,
    contact: str,
    flow_id: int | None,
    revision_id: int | None,
    direction: str,
    draft_definition: dict | None = None,
) -> CallRow:
    """INSERT a messaging session (its `live_key` unique: IntegrityError while the contact has a live
    one). From is always the contact and To the number, whoever opened the conversation."""
    at = now()
    return insert_session(
        {
            "id": session_id,
            "org_id": org.id,
            "call_sid": call_sid[:64],
            "state": {},
            "started_at": at,
            "updated_at": at,
            "channel": "messaging",
            "live_key": key,
            "phone_number_id": number_id,
            "flow_id": flow_id,
            "revision_id": revision_id,
            "uses_draft": draft_definition is not None,
            "draft_definition": draft_definition,
            "from_number": contact[:64],
            "to_number": number[:64],
            "direction": direction,
            "simulated": simulating(),  # `message simulate`: labelled, and counted in no analytics
        }
    )


def _start(
    org: OrgRef, route: MessagingRoute, key: str, params: dict[str, str], provider: Provider | None = None
) -> None:
    contact = params.get("From", "")
    definition, revision_id, uses_draft = definition_for_caller(
        route.flow_id, route.test_users, route.published_revision_id, contact
    )
    row = _insert_conversation(
        org,
        key,
        session_id=new_uid(),
        call_sid=params["MessageSid"] or new_uid(),
        number_id=route.number_id,
        number=params.get("To", ""),
        contact=contact,
        flow_id=route.flow_id,
        revision_id=revision_id,
        direction="inbound",
        draft_definition=definition if uses_draft else None,
    )
    loaded = compiled(definition, revision_id) if definition is not None else None
    _turn(org, row, loaded, Event("start", params), params, "sms", 0, opens=True, provider=provider)


class ConversationLive(Exception):
    """The contact already has a live conversation with the number (a new one cannot start)."""


def start_conversation(
    org: OrgRef, number: PhoneNumber, contact: str, flow: Flow, parameters: Mapping[str, Any]
) -> str:
    """Start a conversation the flow opens (a flow execution, `services.call_executions`): a
    messaging session with `contact` on `number`, its request's `parameters` as ``flow.data`` (its
    `FlowExecution` row), and its first turn from the flow's request start, the texts it sends
    going out through the provider. Its id; `ConversationLive` while the contact has a live one."""
    key = live_key(org.id, number.phone_number, contact)
    live = lock_row(org.id, "live", key)
    if live is not None and live.ended_at is None and live.channel == "messaging":
        if not _expired(org, live):
            db.session.rollback()
            raise ConversationLive(live.id)
        expire(org, live)
    revision_id = flow.published_revision_id
    definition = published_definition(revision_id)
    session_id = new_uid()
    try:
        row = _insert_conversation(
            org,
            key,
            session_id=session_id,
            call_sid=f"text-{session_id}",
            number_id=number.id,
            number=number.phone_number,
            contact=contact,
            flow_id=flow.id,
            revision_id=revision_id,
            direction=EXECUTION_DIRECTION,
        )
    except IntegrityError:  # a conversation started between the look and the insert
        db.session.rollback()
        raise ConversationLive(key) from None
    db.session.add(
        FlowExecution(
            session_id=session_id,
            org_id=org.id,
            flow_id=flow.id,
            parameters=dict(parameters),
            created_at=row.started_at,
        )
    )
    db.session.flush()
    loaded = compiled(definition, revision_id) if definition is not None else None
    if isinstance(loaded, FlowDefinition):
        loaded = for_request(loaded, "messaging")
    params = {"From": contact[:64], "To": number.phone_number[:64], "Body": ""}
    _turn(org, row, loaded, Event("start", params), params, "execution", 0, opens=True, inbound=False)
    return session_id


def _resume(
    org: OrgRef, session: CallRow, event: Event, params: dict[str, str], service: str, provider: Provider | None = None
) -> None:
    _turn(org, session, session_definition(org, session), event, params, service, session.turn, provider=provider)


def _turn(
    org: OrgRef,
    session: CallRow,
    definition: FlowDefinition | dict | None,
    event: Event,
    params: dict[str, str],
    service: str,
    request_turn: int,
    opens: bool = False,
    inbound: bool = True,
    provider: Provider | None = None,
) -> None:
    """Run one turn of a messaging session and persist it with its messages and its timers (one
    commit); `inbound`: the turn answers a text (not a timeout, nor the turn an execution opens).

    The text's inbound `Message` row is the turn's first write and its idempotency record: when
    the org already has its MessageSid (Twilio retried the webhook), the insert inserts nothing,
    and the turn stops there, rolled back, before the flow runs (nothing is sent twice)."""
    at = now()
    if inbound and event.kind != "timeout":  # written first: the messages of a turn keep their order (in, then out)
        stored = insert_inbound_message(
            org_id=org.id,
            phone_number_id=session.phone_number_id,
            session_id=session.id,
            sid=params.get("MessageSid") or None,
            from_number=session.from_number,
            to_number=session.to_number,
            body=params.get("Body", "")[:1600],
            media=_media(params) or None,
            node_id=waiting_node(session.state),
            status="received",
            created_at=at,
        )
        if not stored:
            db.session.rollback()
            log.info("sms %s for org %s: a retried webhook; nothing changes", params.get("MessageSid"), org.slug)
            return
    if definition is None:
        log.warning("messaging session %s of org %s: the flow is not published", session.id, org.slug)
        out = TurnOutput(EMPTY_TWIML, end_session(session.state, "no_flow"), session.turn + 1)
        out.done, out.end_reason = True, "no_flow"
    else:
        ctx = turn_context(org, session, params, provider=provider)
        result = message_turn(definition, session.state, event, ctx, params)
        out = from_result(result, params)
        out.twiml = EMPTY_TWIML
        if event.kind == "input":
            for step in out.steps:
                if step["event"] is not None:
                    step["detail"] = {**step["detail"], "input": {"Body": params.get("Body", "")[:200]}}
                    break
    if out.done:
        update_session(session.id, live_key=None, ended_at=at, status="completed")
        _drop_timers(session.id, session.state)
    else:
        if event.kind == "input" and waiting_until(session.state):  # the reply came first
            cancel_timer(REPLY_TIMEOUT, f"{session.id}:{waiting_turn(session.state)}")
        _set_timers(org, session.id, session.state, out.state, at, definition if opens else None)
    # the inbound Message is the record; the timers above commit with the turn
    apply_turn(session, out, request_turn, service, opens=opens, record=False)


def message_turn(
    definition: FlowDefinition | dict,
    state: dict[str, Any] | None,
    event: Event,
    ctx: TurnContext,
    params: Mapping[str, Any],
) -> TurnResult:
    """One turn of a text conversation on the engine, for the sms webhook and the designer's test
    console alike: the channel is ``messaging``, the message's fields are on the call, a ``start``
    begins a new session, and a session that ends in the fallback texts the fallback message."""
    call = {**ctx.call, **{k: params[k] for k in MESSAGE_FIELDS if params.get(k)}}
    ctx = replace(ctx, channel="messaging", call=call)
    result = run_turn(definition, None if event.kind == "start" else state, event, ctx)
    if result.done and end_of(result.state).get("reason") == "fallback":
        _apologise(ctx, definition)
    return result


def _apologise(ctx: Any, definition: FlowDefinition | dict) -> None:
    """A messaging session that ended in the fallback texts the fallback message (best effort)."""
    try:
        text = str(load_definition(definition).settings.fallback.get("message") or "")
        if text:
            ctx.services.send_message(str(ctx.call.get("From") or ""), str(ctx.call.get("To") or ""), text, [])
    except Exception:  # noqa: BLE001  the apology must not fail the turn
        log.info("could not send the fallback message", exc_info=True)


def _inactivity_seconds(definition: FlowDefinition | dict | None) -> int:
    try:
        return load_definition(definition).settings.inactivity_timeout if definition is not None else 24 * 3600
    except DefinitionError:
        return 24 * 3600


def _set_timers(
    org: OrgRef,
    session_id: str,
    before: Mapping[str, Any] | None,
    state: Mapping[str, Any],
    at: datetime,
    opening: FlowDefinition | dict | None,
) -> None:
    """The timers a turn sets: the reply timeout of a wait it started (a wait still pending keeps
    its timer), and on the session's first turn (`opening`: its definition) the expiry timer."""
    token, until = waiting_turn(state), waiting_until(state)
    base = {"org_id": org.id, "session_id": session_id}
    if until and token is not None and (token, until) != (waiting_turn(before), waiting_until(before)):
        schedule_timer(REPLY_TIMEOUT, f"{session_id}:{token}", {**base, "wait_token": token}, _at(until))
    if opening is not None:
        schedule_timer(SESSION_EXPIRY, session_id, base, at + timedelta(seconds=_inactivity_seconds(opening)))


def _drop_timers(session_id: str, state: Mapping[str, Any] | None) -> None:
    """A session that ends drops its expiry timer and the reply timeout it waited on."""
    cancel_timer(SESSION_EXPIRY, session_id)
    if waiting_until(state) and waiting_turn(state) is not None:
        cancel_timer(REPLY_TIMEOUT, f"{session_id}:{waiting_turn(state)}")


def _at(iso: str) -> datetime:
    moment = datetime.fromisoformat(iso)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# -------------------------------------------------------------------- timers


def _timer_session(payload: Mapping[str, Any]) -> tuple[OrgRef, CallRow] | None:
    org = db.session.get(Organization, int(payload.get("org_id") or 0))
    if org is None:
        return None
    session = lock_row(org.id, "id", str(payload.get("session_id") or "")[:32])
    if session is None or session.channel != "messaging" or session.ended_at is not None:
        db.session.rollback()
        return None
    return org, session


def on_reply_timeout(payload: dict[str, Any]) -> None:
    """``reply-timeout``: resume the session with ``timeout`` if it still waits on that wait, else nothing."""
    found = _timer_session(payload)
    if found is None:
        return
    org, session = found
    if waiting_turn(session.state) != payload.get("wait_token") or not waiting_until(session.state):
        db.session.rollback()  # a reply came first (or the wait moved on): stale
        return
    _resume(org, session, Event("timeout"), {}, REPLY_TIMEOUT)


def on_session_expiry(payload: dict[str, Any]) -> None:
    """``session-expiry``: end the session when it saw no message for the limit; else re-arm for
    the last message's time (or the end of the wait it is in) plus the limit (turns do not move
    the timer: this does)."""
    found = _timer_session(payload)
    if found is None:
        return
    org, session = found
    if not _expired(org, session):
        schedule_timer(SESSION_EXPIRY, session.id, dict(payload), _expiry(org, session))
        db.session.commit()
        return
    expire(org, session)


timers.register(REPLY_TIMEOUT, on_reply_timeout)
timers.register(SESSION_EXPIRY, on_session_expiry)


# -------------------------------------------------------------------- delivery


def message_status(org: OrgRef, form: Mapping[str, Any], query: Mapping[str, Any]) -> WebhookAnswer:
    """``message-status``: record an outbound message's delivery (status, Twilio's error code)."""
    sid = str(form.get("MessageSid") or form.get("SmsSid") or "")[:64]
    status = str(form.get("MessageStatus") or form.get("SmsStatus") or "")[:32]
    row = db.session.scalar(
        select(Message).where(Message.org_id == org.id, Message.sid == sid, Message.direction == "outbound")
    )
    if row is None or not status:
        db.session.rollback()
        return empty_answer()
    row.status = status
    if form.get("ErrorCode"):
        row.error_code = str(form["ErrorCode"])[:16]
    db.session.commit()
    return empty_answer()
