"""AI voice calls: stream a call to ``VOICE_GATEWAY_URL`` and transfer it when the AI asks.

``ai-voice`` (an inbound call) and ``ivr-ai-outbound`` (a call Phonetree placed) answer
`<Connect><Stream>` with the call's details as stream parameters; when the stream ends,
Twilio posts the Connect action to ``voice?session=..`` and the call hangs up.
``ivr-ai-transfer?to=..`` hands a live call to a number, a softphone (``client:id``) or a
queue (``queue:name``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import current_app
from sqlalchemy import select
from twilio.twiml.voice_response import VoiceResponse

from extensions import db
from flows import stage_state
from models import CallSession, Organization
from services.call_flow import find_number
from services.call_store import CallRow
from services.call_turns import Compute, StartPlan, TurnOutput, step
from services.call_voice import dial_target, voice_output
from services.webhook_answers import org_fallback_twiml
from services.webhook_urls import url_builder

log = logging.getLogger("phonetree.calls")

RESERVED_QUERY = ("orgid", "session", "turn", "to")


def _gateway_connect(
    org: Organization,
    session: CallRow,
    response: VoiceResponse,
    form: Mapping[str, Any],
    query: Mapping[str, Any],
    direction: str,
) -> None:
    connect = response.connect(action=url_builder(org.slug, session.id)("voice", turn=1), method="POST")
    stream = connect.stream(url=current_app.config["VOICE_GATEWAY_URL"])
    params = {
        "org": org.slug,
        "session": session.id,
        "call_sid": str(form.get("CallSid") or ""),
        "from": str(form.get("From") or ""),
        "to": str(form.get("To") or ""),
        "direction": direction,
    }
    params.update({str(k): str(v)[:500] for k, v in query.items() if k not in RESERVED_QUERY})
    for key, value in params.items():
        stream.parameter(name=key, value=value)


def plan_ai(org: Organization, service_id: str, form: Mapping[str, Any], query: Mapping[str, Any]) -> StartPlan | str:
    """``ai-voice`` (an inbound call) and ``ivr-ai-outbound`` (a call Phonetree placed): stream to the gateway.

    A TwiML answer instead of a plan when the call cannot be streamed (no gateway, no CallSid).
    """
    if not current_app.config.get("VOICE_GATEWAY_URL"):
        log.warning("%s webhook for org %s but VOICE_GATEWAY_URL is not set", service_id, org.slug)
        return org_fallback_twiml(org, "no voice gateway")
    if not form.get("CallSid"):
        return org_fallback_twiml(org, "no CallSid")
    direction = "outbound" if service_id == "ivr-ai-outbound" else "inbound"
    number = find_number(org, str(form.get("From") if direction == "outbound" else form.get("To")) or "")

    def build(session: CallRow) -> TurnOutput:
        response = VoiceResponse()
        _gateway_connect(org, session, response, form, query, direction)
        return voice_output(response, "ai", 1, "ai", [step("ai", "ai_agent", None, None, {"direction": direction})])

    return StartPlan(
        build,
        {
            "phone_number_id": number.id if number else None,
            "from_number": str(form.get("From") or "")[:64],
            "to_number": str(form.get("To") or "")[:64],
            "direction": direction,
        },
    )


def transfer_turn(org: Organization, form: Mapping[str, Any], query: Mapping[str, Any]) -> Compute:
    """``ivr-ai-transfer``: the AI asked to hand the call to ``to`` (number, ``client:id`` or ``queue:name``).

    The turn runs on the call's session, or opens one for a call Phonetree does not know yet.
    """
    target = str(query.get("to") or form.get("TransferTo") or "").strip()

    def transfer(session: CallRow) -> TurnOutput:
        turn = session.turn + 1
        url_for = url_builder(org.slug, session.id)
        response = VoiceResponse()
        attrs: dict[str, Any] = {"action": url_for("voice", turn=turn), "method": "POST", "timeout": 30}
        own = session.from_number if session.direction == "outbound" else session.to_number
        if own and not own.startswith("client:"):
            attrs["caller_id"] = own
        if target.startswith("queue:") and target[6:].strip():
            response.enqueue(
                target[6:].strip()[:64],
                action=url_for("voice", turn=turn),
                method="POST",
                wait_url=url_for("ivr-queue-music", turn=turn),
                wait_url_method="POST",
            )
            dialed: str | None = target
        else:
            dialed = dial_target(response, target, attrs)
        if dialed is None:
            log.warning("ai transfer of call %s to %r: not a number, client or queue", session.call_sid, target)
            twiml = org_fallback_twiml(org, "invalid transfer target", session.id, turn)
            return TurnOutput(
                twiml,
                stage_state("transfer", turn, "transfer", True, "fallback"),
                turn,
                [step("transfer", "transfer", "continue", "failed", {"target": target[:64]})],
                True,
                "fallback",
                "transfer",
            )
        return voice_output(
            response, "transfer", turn, "transfer", [step("transfer", "transfer", "continue", None, {"target": dialed})]
        )

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
