"""AI voice calls: which built-in flow they run, and what it streams.

``ai-voice`` (an inbound call) and ``ivr-ai-outbound`` (a call Phonetree placed) run the
``ai-call`` built-in flow: `<Connect><Stream>` to ``VOICE_GATEWAY_URL`` with the call's details
as stream parameters; when the stream ends, Twilio posts the Connect action to ``voice?session=..``
and the call hangs up. ``ivr-ai-transfer?to=..`` hands a live call to a number, a softphone
(``client:id``) or a queue (``queue:name``): the ``ai-transfer`` flow, started on the call's
session (which then runs it), or on a new one for a call Phonetree does not know yet.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import select

from extensions import db
from flows.builtin import BUILTIN_FLOWS
from models import CallSession, Organization
from services.call_flow import find_number, plan_builtin, run_builtin
from services.call_scrub import scrub
from services.call_store import CallRow, update_session
from services.call_turns import Compute, StartPlan, TurnOutput
from services.webhook_answers import org_fallback_twiml

log = logging.getLogger("phonetree.calls")

RESERVED_QUERY = ("orgid", "session", "turn", "to")
AI_CALL, AI_TRANSFER = BUILTIN_FLOWS["ai-call"].ref, BUILTIN_FLOWS["ai-transfer"].ref


def plan_ai(org: Organization, service_id: str, form: Mapping[str, Any], query: Mapping[str, Any]) -> StartPlan | str:
    """``ai-voice`` (an inbound call) and ``ivr-ai-outbound`` (a call Phonetree placed): the ``ai-call`` flow.

    A TwiML answer instead of a plan when the call cannot be streamed (no gateway, no CallSid).
    """
    gateway = current_app.config.get("VOICE_GATEWAY_URL")
    if not gateway:
        log.warning("%s webhook for org %s but VOICE_GATEWAY_URL is not set", service_id, org.slug)
        return org_fallback_twiml(org, "no voice gateway")
    if not form.get("CallSid"):
        return org_fallback_twiml(org, "no CallSid")
    direction = "outbound" if service_id == "ivr-ai-outbound" else "inbound"
    number = find_number(org, str(form.get("From") if direction == "outbound" else form.get("To")) or "")

    def data(session: CallRow) -> dict[str, Any]:
        params = {
            "org": org.slug,
            "session": session.id,
            "call_sid": str(form.get("CallSid") or ""),
            "from": str(form.get("From") or ""),
            "to": str(form.get("To") or ""),
            "direction": direction,
        }
        params.update({str(k): str(v)[:500] for k, v in query.items() if k not in RESERVED_QUERY})
        return {"gateway_url": gateway, "stream_parameters": params}

    fields = {
        "phone_number_id": number.id if number else None,
        "from_number": str(form.get("From") or "")[:64],
        "to_number": str(form.get("To") or "")[:64],
        "direction": direction,
    }
    return plan_builtin(org, AI_CALL, form, fields, data)


def _transfer_data(form: Mapping[str, Any], query: Mapping[str, Any]):
    target = str(query.get("to") or form.get("TransferTo") or "").strip()

    def data(session: CallRow) -> dict[str, Any]:
        own = session.from_number if session.direction == "outbound" else session.to_number
        return {"target": target, "caller_id": own if own and not own.startswith("client:") else ""}

    return data


def transfer_plan(org: Organization, form: Mapping[str, Any], query: Mapping[str, Any]) -> StartPlan:
    """``ivr-ai-transfer`` for a call Phonetree does not know yet: a new session on ``ai-transfer``."""
    return plan_builtin(org, AI_TRANSFER, form, transfer_fields(form), _transfer_data(form, query))


def transfer_turn(org: Organization, form: Mapping[str, Any], query: Mapping[str, Any]) -> Compute:
    """``ivr-ai-transfer`` on a known call: the session now runs ``ai-transfer``, from its start."""
    params, data = scrub(dict(form)), _transfer_data(form, query)

    def transfer(session: CallRow) -> TurnOutput:
        update_session(session.id, builtin_flow=AI_TRANSFER)
        session.builtin_flow = AI_TRANSFER
        return run_builtin(org, session, AI_TRANSFER, session.state or {}, params, form, data)

    return transfer


def transfer_opens(org: Organization, form: Mapping[str, Any], query: Mapping[str, Any]) -> bool:
    """Whether an ``ivr-ai-transfer`` opens a session: no session named and none for its CallSid."""
    if query.get("session"):
        return False
    owner = db.session.scalar(select(CallSession.org_id).where(CallSession.call_sid == str(form["CallSid"])[:64]))
    return owner != org.id  # by the unique CallSid alone, the org compared here (see call_store._SELECT)


def transfer_fields(form: Mapping[str, Any]) -> dict[str, Any]:
    """The session columns of a call that an ``ivr-ai-transfer`` opens."""
    return {
        "from_number": str(form.get("From") or "")[:64],
        "to_number": str(form.get("To") or "")[:64],
        "direction": str(form.get("Direction") or "inbound")[:32],
    }
