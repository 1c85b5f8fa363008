"""Flow executions: a published flow started by a request, on an outbound call Phonetree places,
or in a text conversation it opens (`services.messaging.start_conversation`: it texts the contact
first; 409 ``conversation_live`` while the contact has a live conversation with the number, as
Studio refuses a new execution while one is active). The request's ``channel`` decides which, else
the flow's drawing (`flows.executions.request_channel`); 422 ``channel_not_served`` or
``wrong_channel`` (with ``channels``: those its executions can run on) when the flow cannot run
there (`flows.executions.channel_refusal`).

``start_execution`` (``POST /api/flows/<id>/executions``) checks the numbers, opens the call session
(direction ``outbound-api``, the published revision, the request's parameters kept beside it in a
`FlowExecution` row as the flow's ``flow.data``) and has the org's provider place the call:

- ``Url``: the ``voice`` webhook with the session, ``turn=0`` and ``execution=1``;
- ``StatusCallback``: ``status`` with the session and ``execution=1``;
- the options the flow's request start asks for (`flows.executions.call_options`: ring time,
  ``MachineDetection``; with ``AsyncAmd``, ``AsyncAmdStatusCallback`` = ``status`` with ``amd=1``).

A refusal (an invalid number, an unverified caller ID) marks the execution failed, with the
provider's error as its one step. The call's webhooks carry the ``execution`` marker and come to
`handle_execution`: the answer runs the flow from its request start (`flows.executions`), a call
never answered runs it from the final status callback when the request path reaches an
``outbound_call`` node before anything waits (it routes ``busy``/``no_answer``/``failed``), and
an asynchronous machine detection result resumes that node. Every later turn is an ordinary call turn; the
execution's id, status and timeline are its session's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from extensions import db
from flows import DefinitionError, Event, run_turn
from flows.executions import (
    call_options,
    channel_refusal,
    execution_channels,
    for_request,
    places_call,
    request_channel,
)
from flows.formats import to_e164
from flows.nodes.outbound import NOT_CONNECTED
from flows.nodes.outbound import TYPE_NAME as OUTBOUND_CALL
from flows.state import end_of, waiting_node
from flows.webhooks import InboundWebhook
from models import CallSession, CallStep, Flow, FlowExecution, Message, Organization, OrgRef, PhoneNumber, new_uid
from services.call_events import call_status
from services.call_flow import EXECUTION_DIRECTION, find_number, from_result, session_definition, turn_context
from services.call_scrub import scrub
from services.call_store import SESSION_COLUMNS, CallRow, update_session
from services.call_turns import TurnOutput, continue_call
from services.clock import now
from services.flow_revisions import published_definition
from services.messaging import ConversationLive, start_conversation
from services.webhook_answers import WebhookAnswer, answer_twiml, empty_answer
from services.webhook_params import flag, parse_turn
from services.webhook_urls import webhook_url
from upstream.errors import SecretsUnreadable, UpstreamError
from upstream.provider_cache import get_provider
from upstream.twilio_errors import HUMAN

log = logging.getLogger("phonetree.executions")

MAX_PARAMETERS_BYTES = 16_000
PAGE_SIZE = 50


@dataclass
class ExecutionError(Exception):
    """Why an execution cannot start: an HTTP status, a code and a sentence (plus extra JSON fields)."""

    status: int
    code: str
    message: str
    extra: dict[str, Any] = field(default_factory=dict)


def e164(value: str, name: str) -> str:
    """`value` as an E.164 number, or ExecutionError 422 naming the field."""
    text = str(value or "").strip()
    number = to_e164(text, None) if text.startswith("+") else None  # no region: international form only
    if number is None:
        message = f"{name} must be a phone number in E.164 form, such as +14155550123."
        raise ExecutionError(422, "invalid_number", message, {"field": name})
    return number


def _check(org: Organization, flow: Flow, to: str, from_: str, parameters: Mapping[str, Any]):
    if flow.archived:
        raise ExecutionError(409, "flow_archived", "This flow is archived; restore it to start executions.")
    if flow.published_revision_id is None:
        raise ExecutionError(409, "not_published", "Publish the flow before starting executions of it.")
    to, from_ = e164(to, "to"), e164(from_, "from")
    number = find_number(org, from_)
    if number is None:
        raise ExecutionError(
            422, "unknown_from", f"{from_} is not one of this organisation's numbers.", {"field": "from"}
        )
    if len(json.dumps(dict(parameters), default=str)) > MAX_PARAMETERS_BYTES:
        message = f"parameters is too large: at most {MAX_PARAMETERS_BYTES:,} characters of JSON."
        raise ExecutionError(400, "invalid_request", message, {"field": "parameters"})
    try:
        provider = get_provider(org)
    except SecretsUnreadable:
        provider = None
    if provider is None or not hasattr(provider, "create_call"):
        raise ExecutionError(409, "not_connected", "Twilio is not connected for this organisation yet.")
    return to, from_, number, provider


def start_execution(
    org: Organization,
    flow: Flow,
    to: str,
    from_: str,
    parameters: Mapping[str, Any] | None = None,
    channel: str | None = None,
) -> CallSession:
    """Start an execution of the flow's published revision on `channel` (None: the one the flow's
    drawing implies): open its session, place its call or text the contact.

    Raises ExecutionError for bad numbers, a flow that cannot run (or not on `channel`), no
    provider, or the provider refusing the call (then the execution is kept, failed, and named in
    the error).
    """
    parameters = dict(parameters or {})
    to, from_, number, provider = _check(org, flow, to, from_, parameters)
    revision_id = flow.published_revision_id
    definition = published_definition(revision_id)
    if _channel(definition, channel) == "messaging":
        return _start_conversation(org, flow, to, number, parameters)
    options = call_options(definition)
    session_id = new_uid()
    at = now()
    session = CallSession(
        id=session_id,
        org_id=org.id,
        call_sid=f"pending-{session_id}",
        phone_number_id=number.id,
        flow_id=flow.id,
        revision_id=revision_id,
        from_number=from_,
        to_number=to,
        direction=EXECUTION_DIRECTION,
        status="in_progress",
        state={},
        started_at=at,
        updated_at=at,
    )
    execution = FlowExecution(
        session_id=session_id, org_id=org.id, flow_id=flow.id, parameters=parameters, options=options, created_at=at
    )
    db.session.add(session)
    db.session.flush()
    db.session.add(execution)
    db.session.commit()  # the session exists before Twilio can post its first webhook
    if options.get("AsyncAmd") == "true":
        options = {
            **options,
            "AsyncAmdStatusCallback": webhook_url(org.slug, "status", session_id, execution=1, amd=1),
            "AsyncAmdStatusCallbackMethod": "POST",
        }
    try:
        placed = provider.create_call(
            to,
            from_,
            webhook_url(org.slug, "voice", session_id, turn=0, execution=1),
            webhook_url(org.slug, "status", session_id, execution=1),
            options=options,
        )
    except UpstreamError as err:
        _failed(session, execution, err)
        raise ExecutionError(
            502,
            "upstream_error",
            f"Twilio refused the call: {err.message}",
            {
                "upstream": {"code": err.code, "status": err.status, "message": err.vendor_message},
                "execution": execution_summary(session),
            },
        ) from None
    db.session.refresh(session)
    if session.call_sid.startswith("pending-"):
        session.call_sid = str(placed.get("sid") or session.call_sid)[:64]
        db.session.commit()
    log.info("execution %s of flow %s for org %s: call %s placed", session_id, flow.id, org.slug, session.call_sid)
    return session


def _channel(definition: dict | None, asked: str | None) -> str:
    """The execution's channel: `asked`, or the one the flow implies (`flows.executions`); 422 when
    the flow does not serve it, or its request path reaches a node that does not work on it."""
    if definition is None:
        return asked or "voice"
    try:
        channel = asked or request_channel(definition)
        refused = channel_refusal(definition, channel)
        served = execution_channels(definition) if refused is not None else []
    except DefinitionError:
        return asked or "voice"
    if refused is None:
        return channel
    message = refused.message
    if served:
        message += f' Its executions run on {" or ".join(served)}: name one in "channel".'
    extra: dict[str, Any] = {"field": "channel", "channels": served}
    if refused.node_id:
        extra["node_id"] = refused.node_id
    raise ExecutionError(422, refused.code, message, extra)


def _start_conversation(
    org: Organization, flow: Flow, to: str, number: PhoneNumber, parameters: dict[str, Any]
) -> CallSession:
    """An execution of a flow whose request start is on its text side: it texts the contact first."""
    try:
        session_id = start_conversation(org, number, to, flow, parameters)
    except ConversationLive:
        message = (
            f"{to} already has a live conversation with {number.phone_number}; a new execution can start when it ends."
        )
        raise ExecutionError(409, "conversation_live", message, {"field": "to"}) from None
    log.info("execution %s of flow %s for org %s: a text conversation with %s", session_id, flow.id, org.slug, to)
    session = db.session.get(CallSession, session_id)
    db.session.refresh(session)
    summary = execution_summary(session)
    if summary["status"] == "failed":  # its first text refused, as a refused call is: 502, the execution kept
        error = summary["error"]
        log.warning("execution %s for org %s: Twilio refused its first text (%s)", session_id, org.slug, error["code"])
        raise ExecutionError(
            502,
            "upstream_error",
            f"Twilio refused the execution's first text: {error['message']}",
            {
                "upstream": {"code": error["code"], "status": None, "message": error["message"]},
                "execution": summary,
            },
        )
    return session


def _failed(session: CallSession, execution: FlowExecution, err: UpstreamError) -> None:
    at = now()
    execution.error = err.to_dict()
    detail = {"error": err.message, "code": err.code}
    db.session.add(
        CallStep(
            org_id=session.org_id,
            session_id=session.id,
            seq=session.step_count or 0,
            turn=0,
            node_id="",
            node_type="",
            event="start",
            outcome=None,
            detail=detail,
            at=at,
        )
    )
    session.step_count = (session.step_count or 0) + 1
    session.status, session.end_reason, session.ended_at, session.updated_at = "failed", "provider_error", at, at
    db.session.commit()
    log.warning("execution %s for org %s: the provider refused the call (%s)", session.id, session.org_id, err.code)


# ---------------------------------------------------------------- webhooks


def handle_execution(org: OrgRef, hook: InboundWebhook) -> WebhookAnswer:
    """A webhook of an execution's call (its URL carries ``execution=1``)."""
    if hook.service_id == "voice":
        return answer_twiml(_answered(org, hook))
    if hook.service_id == "status" and flag(hook.query, "amd"):
        return _machine_detected(org, hook)
    if hook.service_id == "status":
        _not_answered(org, hook)
        return call_status(org, hook.form, hook.query)
    log.warning("%s webhook with an execution marker for org %s; ignored", hook.service_id, org.slug)
    return empty_answer() if hook.webhook.kind == "callback" else answer_twiml(_empty_twiml())


def _empty_twiml() -> str:
    return '<?xml version="1.0" encoding="UTF-8"?><Response />'


def _first_turn(org: OrgRef, form: Mapping[str, Any]):
    """The execution's first turn: its flow from the request start, with the request's parameters."""
    params = scrub(dict(form))

    def compute(session: CallRow) -> TurnOutput:
        definition = session_definition(org, session)
        ctx = turn_context(org, session, form)
        return from_result(run_turn(for_request(definition), None, Event("start", params), ctx), params)

    return compute


def _answered(org: OrgRef, hook: InboundWebhook) -> str:
    """The call was answered: the flow's first turn (a retried webhook gets the stored answer)."""
    query, form = hook.query, hook.form
    session = _session(org, query.get("session"))
    if session is not None and session.call_sid.startswith("pending-") and form.get("CallSid"):
        # answered before the provider's answer to the create was stored: Twilio names the call here
        update_session(session.id, call_sid=str(form["CallSid"])[:64])
        db.session.commit()
    return continue_call(
        org, query.get("session"), form.get("CallSid"), "voice", parse_turn(query) or 0, _first_turn(org, form)
    )


def _not_answered(org: OrgRef, hook: InboundWebhook) -> None:
    """A final status of a call never answered: the request path's outbound_call routes it."""
    status = str(hook.form.get("CallStatus") or "")
    session = _session(org, hook.query.get("session"))
    if status not in NOT_CONNECTED or session is None or session.turn != 0:
        return
    definition = session_definition(org, _row(session))
    if definition is None or not places_call(definition):
        return
    continue_call(org, session.id, hook.form.get("CallSid"), "status", 0, _first_turn(org, hook.form))


def _machine_detected(org: OrgRef, hook: InboundWebhook) -> WebhookAnswer:
    """An asynchronous machine detection result: resume the outbound_call node waiting for it."""
    session = _session(org, hook.query.get("session"))
    if session is None or session.turn == 0:
        db.session.rollback()
        return empty_answer()
    definition = session_definition(org, _row(session))
    waiting = waiting_node(session.state or {})
    node = definition.node(waiting) if definition is not None and hasattr(definition, "node") else None
    if node is None or node.type != OUTBOUND_CALL:
        db.session.rollback()
        log.info("machine detection result for execution %s after it moved on; ignored", session.id)
        return empty_answer()
    params = scrub(dict(hook.form))

    def compute(row: CallRow) -> TurnOutput:
        state = row.state or {}
        if waiting_node(state) != node.id:  # moved on since it was read: nothing to resume
            raise _MovedOn
        current = session_definition(org, row)
        result = run_turn(current, state, Event("continue", params), turn_context(org, row, hook.form))
        return from_result(result, params)

    try:
        continue_call(org, session.id, hook.form.get("CallSid"), "status", None, compute)
    except _MovedOn:
        db.session.rollback()
    return empty_answer()


class _MovedOn(Exception):
    """The outbound_call node stopped waiting between the read and the lock."""


def _session(org: OrgRef, session_id: Any) -> CallSession | None:
    if not session_id:
        return None
    session = db.session.get(CallSession, str(session_id)[:32])
    return session if session is not None and session.org_id == org.id else None


def _row(session: CallSession) -> CallRow:
    return CallRow(**{name: getattr(session, name) for name in SESSION_COLUMNS})


# ---------------------------------------------------------------- reading


def _iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


NOT_DELIVERED = ("failed", "undelivered")  # an outbound Message refused by Twilio, or reported not delivered


@dataclass
class Texts:
    """What became of a conversation's outbound texts: how many Twilio took, and the last one it
    refused (or reported undelivered), with its code and node."""

    accepted: int = 0
    refused: int = 0
    code: str | None = None
    node_id: str | None = None


def _texts(session_ids: list[str]) -> dict[str, Texts]:
    """The outbound texts of these conversations (one query), by session id."""
    found: dict[str, Texts] = {}
    if not session_ids:
        return found
    rows = db.session.execute(
        select(Message.session_id, Message.status, Message.error_code, Message.node_id)
        .where(Message.session_id.in_(session_ids), Message.direction == "outbound")
        .order_by(Message.id)
    )
    for session_id, status, code, node_id in rows:
        texts = found.setdefault(session_id, Texts())
        if status in NOT_DELIVERED:
            texts.refused, texts.code, texts.node_id = texts.refused + 1, code, node_id
        else:
            texts.accepted += 1
    return found


def _refusal(code: str | None, node_id: str | None) -> dict[str, Any]:
    """A refused text as an execution's ``error``: the shape of a refused call's (Twilio's code, a sentence)."""
    number = int(code) if code and code.isdigit() else None  # else not Twilio's: an error of ours, said as it is
    human = HUMAN.get(number) if number is not None else None
    message = human or "The text could not be sent."
    if number is not None:
        message += f" (Twilio error {number})"
    elif code:
        message += f" ({code})"
    return {"code": number, "status": None, "message": message, "vendor_message": None, "node_id": node_id or None}


def conversation_status(session: CallSession, texts: Texts | None) -> tuple[str, dict[str, Any] | None]:
    """A text conversation's execution status and error: ``in_progress`` while it is live;
    ``failed`` when it ended because a text was refused (``not_sent``) or ended with none of its
    texts taken by Twilio (the contact opted out earlier, an invalid number: its ``error`` says
    which); else ``completed`` (``end_reason`` says how: the flow ended, ``expired``,
    ``opted_out`` ...)."""
    if session.ended_at is None:
        return "in_progress", None
    texts = texts or Texts()
    if session.end_reason == "not_sent" or (texts.refused and not texts.accepted):
        code = texts.code or str(end_of(session.state).get("detail") or "") or None
        return "failed", _refusal(code, texts.node_id or end_of(session.state).get("node"))
    return "completed", None


def execution_status(session: CallSession) -> str:
    """``queued`` until the call is answered (or ends), then the session's status."""
    if session.status == "in_progress" and session.turn == 0 and session.ended_at is None:
        return "queued"
    return session.status


def execution_summary(
    session: CallSession, execution: FlowExecution | None = None, texts: Texts | None = None
) -> dict[str, Any]:
    """An execution as the API lists it (`texts`: its conversation's, when the caller read them)."""
    execution = execution or db.session.get(FlowExecution, session.id)
    messaging = session.channel == "messaging"  # a conversation's session is from its contact
    status, error = execution_status(session), execution.error if execution else None
    if messaging:
        texts = texts if texts is not None else _texts([session.id]).get(session.id)
        status, refused = conversation_status(session, texts)
        error = error or refused
    return {
        "id": session.id,
        "flow_id": session.flow_id,
        "channel": "messaging" if messaging else "voice",
        "status": status,
        "to": session.from_number if messaging else session.to_number,
        "from": session.to_number if messaging else session.from_number,
        "call_sid": None if messaging or session.call_sid.startswith("pending-") else session.call_sid,
        "parameters": execution.parameters if execution else {},
        "started_at": _iso(session.started_at),
        "ended_at": _iso(session.ended_at),
        "end_reason": session.end_reason,
        "current_node": session.current_node,
        "error": error,
    }


def list_executions(org: OrgRef, flow_id: int, limit: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """The flow's executions, newest first."""
    rows = db.session.execute(
        select(CallSession, FlowExecution)
        .join(FlowExecution, FlowExecution.session_id == CallSession.id)
        .where(CallSession.org_id == org.id, FlowExecution.org_id == org.id, FlowExecution.flow_id == flow_id)
        .order_by(CallSession.started_at.desc(), CallSession.id.desc())
        .limit(max(1, min(limit, 200)))
    ).all()
    texts = _texts([session.id for session, _ in rows if session.channel == "messaging"])
    return [execution_summary(session, execution, texts.get(session.id, Texts())) for session, execution in rows]


def execution_detail(org: OrgRef, execution_id: str) -> dict[str, Any] | None:
    """One execution with its steps (the call's timeline); None when it is not the org's."""
    execution = db.session.get(FlowExecution, str(execution_id)[:32])
    if execution is None or execution.org_id != org.id:
        return None
    session = db.session.get(CallSession, execution.session_id)
    if session is None:
        return None
    steps = db.session.scalars(select(CallStep).where(CallStep.session_id == session.id).order_by(CallStep.seq))
    messages = db.session.scalars(select(Message).where(Message.session_id == session.id).order_by(Message.id))
    return {
        **execution_summary(session, execution),
        "steps": [
            {
                "seq": s.seq,
                "turn": s.turn,
                "node_id": s.node_id,
                "node_type": s.node_type,
                "event": s.event,
                "outcome": s.outcome,
                "detail": s.detail,
                "at": _iso(s.at),
            }
            for s in steps
        ],
        "messages": [
            {
                "direction": m.direction,
                "from": m.from_number,
                "to": m.to_number,
                "body": m.body,
                "status": m.status,
                "node_id": m.node_id,
                "at": _iso(m.created_at),
            }
            for m in messages
        ],
    }
