"""Engine calls: start a call on its flow, resume it on each webhook, hold music.

The flow runs in the engine (`flows.run_turn`); this module finds the definition (the
published revision, compiled once per process, the draft frozen into the session for test
users, or the built-in flow of `flows.builtin` for voice-mode numbers, softphones and AI
calls), builds the turn context and turns the result into a `TurnOutput`.
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from sqlalchemy import select
from twilio.twiml.voice_response import VoiceResponse

from caches import COMPILED_DEFINITIONS
from db_raw import RawStatement
from extensions import db
from flows import (
    DefinitionError,
    Event,
    FlowDefinition,
    TurnContext,
    TurnResult,
    hand_over,
    load_definition,
    render_twiml,
    run_turn,
)
from flows import queue_music_twiml as engine_queue_music
from flows.builtin import builtin_definition
from flows.nodes.connect import DEFAULT_HOLD_MUSIC
from flows.state import end_of, ended_state, expects, turn_of, waiting_node
from flows.twiml import goodbye_twiml
from flows.webhooks import InboundWebhook
from models import CallSession, CallStep, Flow, FlowExecution, OrgRef, Payment, PhoneNumber, Recording
from services.call_capabilities import CallServices
from services.call_scrub import mask_card, scrub
from services.call_store import CallRow
from services.call_turns import Compute, StartPlan, TurnOutput, step
from services.clock import now
from services.flow_revisions import definition_for_caller, published_definition
from services.webhook_answers import org_fallback, org_fallback_twiml
from services.webhook_params import call_fields, flag, input_summary
from services.webhook_urls import url_builder
from upstream.provider import Provider

log = logging.getLogger("phonetree.calls")

THANKS = "Thank you for your message. Goodbye."


def compiled(definition: dict, revision_id: int | None) -> FlowDefinition | dict:
    """A published revision's loaded definition, cached by revision id (`caches.COMPILED_DEFINITIONS`:
    revisions never change)."""
    if revision_id is None:
        return definition
    hit = COMPILED_DEFINITIONS.get(revision_id)
    if hit is not None:
        return hit
    try:
        loaded = load_definition(definition)
    except DefinitionError:
        return definition  # run_turn answers the fallback for a malformed definition
    return COMPILED_DEFINITIONS.put(revision_id, loaded)


def find_number(org: OrgRef, number: str) -> PhoneNumber | None:
    """The org's phone number record for an E.164 number, or None."""
    if not number:
        return None
    return db.session.scalar(
        select(PhoneNumber).where(PhoneNumber.org_id == org.id, PhoneNumber.phone_number == number[:20])
    )


class NumberRoute(NamedTuple):
    """Where a call to one of an org's numbers goes: the number and its flow's routing columns."""

    id: int
    mode: str
    flow_id: int | None
    archived: bool | None  # None when the number has no flow (or its flow is gone)
    test_users: list | None
    published_revision_id: int | None


_NUMBERS, _FLOWS = PhoneNumber.__table__, Flow.__table__
# A number and the routing columns of its flow, in one query (the flow must be the org's own).
_ROUTE = RawStatement(
    "SELECT n.id, n.mode, n.flow_id, f.archived, f.test_users, f.published_revision_id "
    "FROM phone_number n LEFT OUTER JOIN flow f ON f.id = n.flow_id AND f.org_id = n.org_id "
    "WHERE n.org_id = :org AND n.phone_number = :number",
    columns=[None, None, None, _FLOWS.c.archived.type, _FLOWS.c.test_users.type, None],
)


def number_route(org: OrgRef, number: str) -> NumberRoute | None:
    """Where a call to one of the org's numbers goes (None if the number is not the org's)."""
    if not number:
        return None
    row = _ROUTE.first({"org": org.id, "number": number[:20]})
    return NumberRoute(*row) if row is not None else None


def session_definition(org: OrgRef, session: CallRow) -> FlowDefinition | dict | None:
    """The definition a call runs on: its built-in flow, its frozen draft, or its published revision."""
    if session.builtin_flow:
        return builtin_definition(session.builtin_flow, org_fallback(org))
    if session.uses_draft:
        return session.draft_definition
    if session.revision_id is None:
        return None
    try:
        return compiled(published_definition(session.revision_id), session.revision_id)
    except KeyError:
        return None


EXECUTION_DIRECTION = "outbound-api"  # a call placed by a flow execution (services.call_executions)


def execution_parameters(session_id: str) -> dict[str, Any]:
    """The parameters of the request that started an execution (its ``flow.data``)."""
    return dict(db.session.scalar(select(FlowExecution.parameters).where(FlowExecution.session_id == session_id)) or {})


def turn_context(
    org: OrgRef,
    session: CallRow,
    form: Mapping[str, Any],
    data: Mapping[str, Any] | None = None,
    provider: Provider | None = None,
) -> TurnContext:
    """The engine context of one turn of this call; ``flow.data`` holds the org's voicemail
    greeting (read by the built-in voicemail) and a built-in flow's per-call `data`. `provider`:
    the one the webhook's front door validated the request with (see `CallServices`)."""
    call = call_fields(form)
    call.setdefault("CallSid", session.call_sid)
    call.setdefault("From", session.from_number)
    call.setdefault("To", session.to_number)
    services = CallServices(org, session.id, session.phone_number_id, session.to_number, provider=provider)
    if session.direction == EXECUTION_DIRECTION:  # a flow execution: its request's parameters
        data = {**execution_parameters(session.id), **(data or {})}
        call.setdefault("Direction", EXECUTION_DIRECTION)  # a text conversation's webhooks carry none
    greeting = (org.settings or {}).get("voicemail_greeting")
    flow_data = {"voicemail_greeting": greeting, **(data or {})} if greeting else dict(data or {})
    return TurnContext(
        call=call, now=now(), url_for=url_builder(org.slug, session.id), services=services, flow_data=flow_data
    )


def from_result(result: TurnResult, params: Mapping[str, Any]) -> TurnOutput:
    """An engine TurnResult as a TurnOutput; the caller's input is summarised on the step it answered."""
    steps = [s.to_dict() for s in result.steps]
    summary = input_summary(params)
    for item in steps:
        if item["event"] is not None and summary:
            item["detail"] = {**item["detail"], "input": summary}
            break
    state = result.state
    end = end_of(state)
    current = waiting_node(state) or end.get("node") or (steps[-1]["node_id"] if steps else None)
    return TurnOutput(
        result.twiml,
        state,
        turn_of(state),
        steps,
        result.done,
        end.get("reason") if result.done else None,
        current,
    )


def _ended(twiml: str, turn: int, reason: str, steps: list[dict[str, Any]]) -> TurnOutput:
    return TurnOutput(twiml, ended_state(turn, reason), turn, steps, True, reason, None)


def plan_flow(org: OrgRef, route: NumberRoute, form: Mapping[str, Any]) -> StartPlan:
    """A new call to a number with a flow: its first turn (the draft for test users)."""
    call_sid, to, from_ = str(form.get("CallSid") or ""), str(form.get("To") or ""), str(form.get("From") or "")
    definition, revision_id, uses_draft = (None, None, False)
    if route.flow_id is not None and route.archived is False:
        definition, revision_id, uses_draft = definition_for_caller(
            route.flow_id, route.test_users, route.published_revision_id, from_
        )
    params = scrub(dict(form))

    def build(session: CallRow) -> TurnOutput:
        if definition is None:
            log.warning("call %s to %s: no published flow; answering the org's fallback", call_sid, to)
            twiml = org_fallback_twiml(org, "no published flow", session.id, 1)
            return _ended(twiml, 1, "no_flow", [step("", "", "start", None, {"fallback": "no published flow"})])
        ctx = turn_context(org, session, form)
        result = run_turn(compiled(definition, revision_id), None, Event("start", params), ctx)
        return from_result(result, params)

    return StartPlan(
        build,
        {
            "phone_number_id": route.id,
            "flow_id": route.flow_id if route.archived is not None else None,
            "revision_id": revision_id,
            "uses_draft": uses_draft,
            "draft_definition": definition if uses_draft else None,
            "from_number": from_[:64],
            "to_number": to[:64],
            "direction": str(form.get("Direction") or "inbound")[:32],
        },
    )


FlowData = Callable[[CallRow], Mapping[str, Any]]


def plan_builtin(
    org: OrgRef, ref: str, form: Mapping[str, Any], fields: dict[str, Any], data: FlowData | None = None
) -> StartPlan:
    """A new call on a built-in flow (`flows.builtin`); `data(session)` gives its ``flow.data``."""
    params = scrub(dict(form))

    def build(session: CallRow) -> TurnOutput:
        return run_builtin(org, session, ref, None, params, form, data)

    return StartPlan(build, {**fields, "builtin_flow": ref})


def run_builtin(
    org: OrgRef,
    session: CallRow,
    ref: str,
    state: Mapping[str, Any] | None,
    params: Mapping[str, Any],
    form: Mapping[str, Any],
    data: FlowData | None = None,
) -> TurnOutput:
    """Start the built-in flow `ref` on `session`: a new call (`state` None), or a live one
    handed over to it (`flows.hand_over`: its turns keep counting)."""
    definition = builtin_definition(ref, org_fallback(org))
    ctx = turn_context(org, session, form, data(session) if data else None)
    run = run_turn if state is None else hand_over
    return from_result(run(definition, state, Event("start", params), ctx), params)


def voice_event(params: Mapping[str, Any], state: Mapping[str, Any] | None) -> Event:
    """The event a follow-up on the ``voice`` webhook brings: a Dial or Enqueue action, else what
    the waiting node waits for (a Record action, or a Connect action)."""
    waits = expects(state)
    if params.get("DialCallStatus") and "dial" in waits:
        return Event("dial", params)
    if params.get("QueueResult") and "queue" in waits:
        return Event("queue", params)
    return Event("continue" if "continue" in waits or not waits else waits[0], params)


def plan_resume(org: OrgRef, hook: InboundWebhook) -> Compute | str:
    """An ivr-* (or ``voice``) webhook of a running call: resume the waiting node with the event
    it brings (its params scrubbed of card data; a ``voice`` follow-up's kind read by
    `voice_event`); a fallback voicemail with no session answers at once."""
    params = scrub(dict(hook.event.params) if hook.event is not None else hook.form)
    event = Event(hook.event.kind, params) if hook.event is not None else None
    voice = hook.service_id == "voice"
    fallback_voicemail = hook.service_id == "ivr-recording" and flag(hook.query, "fallback")
    if fallback_voicemail and not hook.query.get("session"):
        return sessionless_voicemail(org, params)

    def compute(session: CallRow) -> TurnOutput:
        state = session.state or {}
        if fallback_voicemail:
            return voicemail_left(session, params, session.turn + 1)
        definition = session_definition(org, session)
        event_ = voice_event(params, state) if voice else event
        if definition is None or event_ is None:
            twiml = org_fallback_twiml(org, "flow no longer available", session.id, session.turn + 1)
            return _ended(
                twiml,
                session.turn + 1,
                "fallback",
                [step("", "", event_.kind if event_ else hook.service_id, None, {"fallback": "no definition"})],
            )
        waiting_at = waiting_node(state)
        result = run_turn(definition, state, event_, turn_context(org, session, hook.form))
        out = from_result(result, params)
        out.extras.extend(artefacts(session, event_, waiting_at, params))
        return out

    return compute


def artefacts(session: CallRow, event: Event, node_id: str | None, params: Mapping[str, Any]) -> list[Any]:
    """Recording and Payment rows a turn's event brings (card data already masked or dropped)."""
    if event.kind == "recording" and params.get("RecordingSid"):
        return [upsert_recording(session.org_id, session, params, node_id)]
    if event.kind == "payment":
        amount = (
            db.session.scalar(
                select(CallStep.detail)
                .where(
                    CallStep.session_id == session.id, CallStep.node_id == (node_id or ""), CallStep.event == "enter"
                )
                .order_by(CallStep.seq.desc())
                .limit(1)
            )
            or {}
        )
        return [
            Payment(
                org_id=session.org_id,
                session_id=session.id,
                node_id=node_id,
                created_at=now(),
                result=str(params.get("Result") or "no-result")[:64],
                confirmation_code=(str(params.get("PaymentConfirmationCode") or "")[:128] or None),
                card_masked=mask_card(str(params["PaymentCardNumber"]))[:32]
                if params.get("PaymentCardNumber")
                else None,
                card_type=(str(params.get("PaymentCardType") or "")[:32] or None),
                amount=(str(amount.get("amount") or "")[:32] or None),
                error=(str(params.get("PaymentError") or "") or None),
            )
        ]
    return []


def upsert_recording(org_id: int, session: CallRow | None, params: Mapping[str, Any], node_id: str | None) -> Recording:
    """The Recording for ``params["RecordingSid"]``, created or updated from Twilio's fields."""
    sid = str(params.get("RecordingSid") or "")[:64]
    rec = db.session.scalar(select(Recording).where(Recording.org_id == org_id, Recording.recording_sid == sid))
    if rec is None:
        rec = Recording(
            org_id=org_id,
            recording_sid=sid,
            session_id=session.id if session else None,
            call_sid=str(params.get("CallSid") or (session.call_sid if session else ""))[:64],
            node_id=node_id,
            created_at=now(),
        )
        db.session.add(rec)
    if params.get("RecordingUrl"):
        rec.url = str(params["RecordingUrl"])
    duration = str(params.get("RecordingDuration") or "")
    if duration.isdigit():
        rec.duration = int(duration)
    rec.status = str(params.get("RecordingStatus") or rec.status or "completed")[:32]
    if rec.node_id is None and node_id:
        rec.node_id = node_id
    return rec


def voicemail_left(session: CallRow, params: Mapping[str, Any], turn: int) -> TurnOutput:
    """The action of a fallback voicemail: keep the recording, thank the caller, hang up."""
    rows = [upsert_recording(session.org_id, session, params, None)] if params.get("RecordingSid") else []
    twiml = goodbye_twiml(THANKS)
    detail = {"voicemail": bool(rows), "input": input_summary(params)}
    out = _ended(
        twiml,
        turn,
        session.end_reason or "voicemail",
        [step("voicemail", "voicemail", "recording", "recorded" if rows else "no_audio", detail)],
    )
    out.extras.extend(rows)
    return out


def sessionless_voicemail(org: OrgRef, params: Mapping[str, Any]) -> str:
    """A fallback voicemail left on a call that has no session (an unknown number)."""
    if params.get("RecordingSid"):
        upsert_recording(org.id, None, params, None)
        db.session.commit()
    return goodbye_twiml(THANKS)


def queue_music(org: OrgRef, service_id: str, form: Mapping[str, Any], query: Mapping[str, Any]) -> str:
    """An Enqueue's waitUrl: the caller's place in the queue, then the node's hold message and music."""
    session = db.session.get(CallSession, str(query["session"])[:32]) if query.get("session") else None
    if session is not None and session.org_id != org.id:  # by the key alone (see call_store._SELECT)
        session = None
    definition = session_definition(org, session) if session is not None else None
    if session is None or definition is None:
        response = VoiceResponse()
        response.play(DEFAULT_HOLD_MUSIC)
        body, settings = render_twiml(response), {}
    else:
        body = engine_queue_music(definition, session.state, turn_context(org, session, form))
        settings = (
            definition.settings.to_dict()
            if isinstance(definition, FlowDefinition)
            else definition.get("settings") or {}
        )
    db.session.rollback()
    position = str(form.get("QueuePosition") or "")
    if not position.isdigit():
        return body
    root = ET.fromstring(body)
    say = ET.Element("Say", {k: str(settings[k]) for k in ("voice", "language") if settings.get(k)})
    say.text = f"You are number {int(position)} in line. Thank you for waiting."
    root.insert(0, say)
    return '<?xml version="1.0" encoding="UTF-8"?>' + ET.tostring(root, encoding="unicode")
