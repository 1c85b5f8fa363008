"""The call runtime's entry point: every verified Twilio webhook of an org.

The front door (web/connect.py) checks the signature and has the provider parse the request
into an `InboundWebhook` (serviceId, Twilio's fields, the engine event); `handle_webhook` runs
it and answers ``(status, content_type, body)``, which the provider renders for Twilio.

A voice webhook either opens a call (`start`: one new session row, then its first turn) or
resumes one (`resume`: the session row locked, a retried turn replayed, else the next turn);
both go through `call_turns`, which persists the turn. Callbacks are `call_events`; an inbound text
is a turn of a messaging session (`services.messaging`) or the number's auto-reply.
Voice services always answer 200 TwiML, whatever goes wrong (then the org's apology and
fallback); callbacks answer 204; ``sms`` answers TwiML with the auto-reply, if any.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from extensions import db
from flows.twiml import goodbye_twiml
from flows.webhooks import InboundWebhook
from models import OrgRef
from services.call_ai import plan_ai, transfer_opens, transfer_plan, transfer_turn
from services.call_events import call_status, recording_status, transcription_status
from services.call_executions import handle_execution
from services.call_flow import find_number, number_route, plan_flow, plan_resume, queue_music
from services.call_log import node_counts
from services.call_turns import Compute, StartPlan, continue_call, start_call
from services.call_voice import plan_outbound, plan_ring, plan_ring_client
from services.messaging import inbound_message, message_status, unavailable
from services.webhook_answers import WebhookAnswer, answer_twiml, empty_answer, org_fallback_twiml
from services.webhook_params import parse_turn
from upstream.provider import Provider

log = logging.getLogger("phonetree.calls")

__all__ = ["handle_webhook", "node_counts", "resume", "start"]

CallbackHandler = Callable[[OrgRef, Mapping[str, Any], Mapping[str, Any]], WebhookAnswer]
CALLBACK_HANDLERS: dict[str, CallbackHandler] = {
    "status": call_status,
    "recording-status": recording_status,
    "transcription-status": transcription_status,
    "message-status": message_status,
}


def handle_webhook(org: OrgRef, hook: InboundWebhook, provider: Provider | None = None) -> WebhookAnswer:
    """Run one (already authenticated) Twilio webhook for `org`; never raises. `provider`: the one
    the front door validated the request with (a text's turn sends through it)."""
    try:
        if hook.query.get("execution"):  # a call placed by a flow execution
            return handle_execution(org, hook)
        if hook.service_id == "sms":
            return inbound_message(org, hook.form, hook.query, provider)
        if hook.webhook.kind != "voice":
            return CALLBACK_HANDLERS[hook.service_id](org, hook.form, hook.query)
        if hook.service_id == "ivr-queue-music":  # hold music: not a turn, the call's state is only read
            return answer_twiml(queue_music(org, hook.service_id, hook.form, hook.query))
        return answer_twiml(start(org, hook) if _opens(org, hook) else resume(org, hook))
    except Exception:  # noqa: BLE001  Twilio must get TwiML, never a 5xx read out as "an application error"
        db.session.rollback()
        log.exception("%s webhook for org %s (CallSid %r) failed", hook.service_id, org.slug, hook.form.get("CallSid"))
        return _failure_answer(org, hook)


def _opens(org: OrgRef, hook: InboundWebhook) -> bool:
    """Whether a voice webhook opens a call (else it resumes the session it names)."""
    if not hook.webhook.opens:
        return False
    if hook.service_id == "voice":
        return not hook.query.get("session")
    if hook.service_id == "ivr-ai-transfer":
        return bool(hook.form.get("CallSid")) and transfer_opens(org, hook.form, hook.query)
    return True


def start(org: OrgRef, hook: InboundWebhook) -> str:
    """Open a call: plan it by serviceId and number, insert its session, run its first turn.

    A repeated start of the same CallSid replays the stored first answer (`call_turns.start_call`).
    """
    plan = _plan_start(org, hook)
    if isinstance(plan, str):
        return plan
    return start_call(org, str(hook.form["CallSid"]), hook.service_id, plan.build, **plan.fields)


def resume(org: OrgRef, hook: InboundWebhook) -> str:
    """The next turn of a known call, under its row lock; a retried turn gets its stored TwiML."""
    compute = _plan_resume(org, hook)
    if isinstance(compute, str):
        return compute
    query, form = hook.query, hook.form
    return continue_call(org, query.get("session"), form.get("CallSid"), hook.service_id, parse_turn(query), compute)


def _plan_start(org: OrgRef, hook: InboundWebhook) -> StartPlan | str:
    form, service_id = hook.form, hook.service_id
    if service_id in ("ai-voice", "ivr-ai-outbound"):
        return plan_ai(org, service_id, form, hook.query)
    if service_id == "ivr-ai-transfer":
        return transfer_plan(org, form, hook.query)
    if service_id == "ivr-menu":
        return _plan_number_call(org, hook)
    if not form.get("CallSid"):  # voice
        log.warning("voice webhook for org %s without a CallSid", org.slug)
        return org_fallback_twiml(org, "no CallSid")
    if str(form.get("From") or "").startswith("client:"):
        return plan_outbound(org, form)
    to = str(form.get("To") or "")
    if to.startswith("client:"):
        return plan_ring_client(org, form)
    number = find_number(org, to)
    if number is None:
        log.warning("voice call %s for org %s to %r, not one of its numbers", form.get("CallSid"), org.slug, to)
        return org_fallback_twiml(org, "unknown number")
    if number.mode == "ivr":
        return _plan_number_call(org, hook)
    return plan_ring(org, number, form)


def _plan_number_call(org: OrgRef, hook: InboundWebhook) -> StartPlan | str:
    """A call to one of the org's numbers: its flow, or its softphones when it has none in voice mode."""
    form = hook.form
    call_sid, to = str(form.get("CallSid") or ""), str(form.get("To") or "")
    if not call_sid:
        log.warning("%s webhook for org %s without a CallSid; saying goodbye", hook.service_id, org.slug)
        return goodbye_twiml()
    route = number_route(org, to)
    if route is None:
        log.warning("call %s for org %s to %r, which is not one of its numbers", call_sid, org.slug, to)
        return org_fallback_twiml(org, "unknown number")
    if route.flow_id is None and route.mode == "voice":
        return plan_ring(org, find_number(org, to), form)
    return plan_flow(org, route, form)


def _plan_resume(org: OrgRef, hook: InboundWebhook) -> Compute | str:
    if hook.service_id == "ivr-ai-transfer":
        if not hook.form.get("CallSid"):
            return org_fallback_twiml(org, "no CallSid")
        return transfer_turn(org, hook.form, hook.query)
    return plan_resume(org, hook)


def _failure_answer(org: OrgRef, hook: InboundWebhook) -> WebhookAnswer:
    if hook.webhook.kind == "callback":
        return empty_answer()
    if hook.webhook.kind == "messaging":
        return unavailable()
    try:
        return answer_twiml(org_fallback_twiml(org, "internal error"))
    except Exception:  # noqa: BLE001
        log.exception("fallback TwiML for org %s failed", org.slug)
        return answer_twiml(goodbye_twiml())
