"""Calls that are not IVR flows: voice-mode numbers and softphones (the ``voice`` webhook).

A call to a number in voice mode rings the assigned users' online softphones
(`<Dial><Client>`), then takes a voicemail; a softphone's outgoing call (From ``client:...``)
dials the number it asks for with the org's caller ID; ``To: client:...`` rings that softphone.
`services.call_webhooks` opens these calls with the plans here (`plan_ring`, `plan_outbound`,
`plan_ring_client`) and resumes them with `next_turn`. They (and the AI ones of `services.call_ai`)
keep a small state made by `flows.stage_state` (``mode: voice``, ``stage``); their follow-up
webhooks come back to ``voice?session=..&turn=..``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from twilio.twiml.voice_response import VoiceResponse

from extensions import db
from flows import render_twiml, stage_state
from flows.formats import to_e164
from flows.state import stage_of, waiting_node
from models import Organization, PhoneNumber, User, phone_number_user
from services.call_capabilities import online_identities
from services.call_flow import find_number, upsert_recording
from services.call_store import CallRow
from services.call_turns import StartPlan, TurnOutput, step
from services.webhook_params import input_summary
from services.webhook_urls import url_builder

VOICEMAIL_GREETING = "Nobody is available to take your call. Please leave a message after the beep."
NO_MESSAGE = "We did not receive a message. Goodbye."
THANKS = "Thank you for your message. Goodbye."
ANSWERED = ("completed", "answered")


def voice_output(
    response: VoiceResponse,
    stage: str,
    turn: int,
    node: str,
    steps: list[dict[str, Any]],
    done: bool = False,
    reason: str | None = None,
) -> TurnOutput:
    """A turn of a call that does not run a flow, in its `stage` (see `flows.stage_state`)."""
    state = stage_state(stage, turn, node, done, reason)
    return TurnOutput(render_twiml(response), state, turn, steps, done, reason, node)


def _voicemail(
    org: Organization, session: CallRow, turn: int, response: VoiceResponse | None = None, why: str = ""
) -> TurnOutput:
    url_for = url_builder(org.slug, session.id)
    response = response or VoiceResponse()
    response.say((org.settings or {}).get("voicemail_greeting") or VOICEMAIL_GREETING)
    response.record(
        action=url_for("voice", turn=turn),
        method="POST",
        max_length=120,
        finish_on_key="#",
        play_beep=True,
        transcribe=True,
        transcribe_callback=url_for("transcription-status", turn=turn),
        recording_status_callback=url_for("recording-status", turn=turn),
        recording_status_callback_method="POST",
    )
    response.say(NO_MESSAGE)
    response.hangup()
    return voice_output(
        response,
        "voicemail",
        turn,
        "voicemail",
        [step("voicemail", "voicemail", None, None, {"wait": "recording", "why": why})],
    )


def plan_ring(org: Organization, number: PhoneNumber, form: Mapping[str, Any]) -> StartPlan:
    """A call to a voice-mode number: ring its users' online softphones, else voicemail."""
    users = list(
        db.session.scalars(
            select(User.email)
            .join(phone_number_user, phone_number_user.c.user_id == User.id)
            .where(phone_number_user.c.phone_number_id == number.id)
        )
    )

    def build(session: CallRow) -> TurnOutput:
        clients = online_identities(org, users) if users else []
        if not clients:
            return _voicemail(org, session, 1, why="no softphone online")
        response = VoiceResponse()
        dial = response.dial(action=url_builder(org.slug, session.id)("voice", turn=1), method="POST", timeout=25)
        for identity in clients:
            dial.client(identity)
        return voice_output(
            response,
            "ringing",
            1,
            "softphones",
            [step("softphones", "ring", None, None, {"clients": len(clients), "users": len(users)})],
        )

    return StartPlan(
        build,
        {
            "phone_number_id": number.id,
            "from_number": str(form.get("From") or "")[:64],
            "to_number": number.phone_number,
            "direction": str(form.get("Direction") or "inbound")[:32],
        },
    )


def caller_id_for(org: Organization, email: str, wanted: str = "") -> PhoneNumber | None:
    """The number a softphone user calls out from: the one asked for if the org owns it, else
    the first number assigned to the user, else the org's first number."""
    if wanted:
        number = find_number(org, wanted)
        if number is not None:
            return number
    if email:
        number = db.session.scalar(
            select(PhoneNumber)
            .join(phone_number_user, phone_number_user.c.phone_number_id == PhoneNumber.id)
            .join(User, User.id == phone_number_user.c.user_id)
            .where(PhoneNumber.org_id == org.id, User.email == email)
            .order_by(PhoneNumber.id)
            .limit(1)
        )
        if number is not None:
            return number
    return db.session.scalar(select(PhoneNumber).where(PhoneNumber.org_id == org.id).order_by(PhoneNumber.id).limit(1))


def dial_target(response: VoiceResponse, target: str, attrs: dict[str, Any]) -> str | None:
    """Add `<Dial>` for a number or ``client:identity``; the E.164 number or identity, or None."""
    if target.startswith("client:"):
        identity = target[len("client:") :].strip()
        if not identity:
            return None
        response.dial(**attrs).client(identity)
        return identity
    number = to_e164(target) if target else None
    if number is None:
        return None
    response.dial(**attrs).number(number)
    return number


def plan_outbound(org: Organization, form: Mapping[str, Any]) -> StartPlan:
    """A softphone's call (From ``client:...``): dial the number it asks for with the org's caller ID."""
    identity = str(form.get("From") or "")[len("client:") :]
    email = identity.removeprefix("user:").lower()
    target = str(form.get("To") or form.get("PhoneNumber") or "").strip()
    caller = caller_id_for(org, email, str(form.get("CallerId") or ""))

    def build(session: CallRow) -> TurnOutput:
        response = VoiceResponse()
        if caller is None and not target.startswith("client:"):
            response.say("This organisation has no phone number to call from. Goodbye.")
            response.hangup()
            return voice_output(
                response,
                "outbound",
                1,
                "dial",
                [step("dial", "dial", None, "failed", {"reason": "no_caller_id"})],
                True,
                "no_caller_id",
            )
        attrs: dict[str, Any] = {
            "action": url_builder(org.slug, session.id)("voice", turn=1),
            "method": "POST",
            "timeout": 30,
            "answer_on_bridge": True,
        }
        if caller is not None:
            attrs["caller_id"] = caller.phone_number
        dialed = dial_target(response, target, attrs)
        if dialed is None:
            response.say("Sorry, that number is not valid. Goodbye.")
            response.hangup()
            return voice_output(
                response,
                "outbound",
                1,
                "dial",
                [step("dial", "dial", None, "failed", {"reason": "invalid_number"})],
                True,
                "invalid_number",
            )
        return voice_output(response, "outbound", 1, "dial", [step("dial", "dial", None, None, {"target": dialed})])

    return StartPlan(
        build,
        {
            "phone_number_id": caller.id if caller is not None else None,
            "from_number": identity[:64],
            "to_number": target[:64],
            "direction": "outbound",
        },
    )


def plan_ring_client(org: Organization, form: Mapping[str, Any]) -> StartPlan:
    """A call to a softphone (To ``client:...``): ring it."""
    to = str(form.get("To") or "")

    def build(session: CallRow) -> TurnOutput:
        response = VoiceResponse()
        attrs = {"action": url_builder(org.slug, session.id)("voice", turn=1), "method": "POST", "timeout": 25}
        identity = dial_target(response, to, attrs)
        return voice_output(response, "internal", 1, "dial", [step("dial", "dial", None, None, {"target": identity})])

    return StartPlan(
        build,
        {"from_number": str(form.get("From") or "")[:64], "to_number": to[:64], "direction": "inbound"},
    )


def next_turn(org: Organization, session: CallRow, params: Mapping[str, Any]) -> TurnOutput:
    """A follow-up of a non-flow call: a Dial/Connect/Enqueue ended, or a voicemail was left."""
    state = session.state or {}
    stage, turn = stage_of(state), session.turn + 1
    summary = input_summary(params)
    response = VoiceResponse()
    if stage == "voicemail":
        recorded = bool(params.get("RecordingSid"))
        if recorded:
            response.say(THANKS)
        response.hangup()
        out = voice_output(
            response,
            stage,
            turn,
            "voicemail",
            [step("voicemail", "voicemail", "recording", "recorded" if recorded else "no_audio", {"input": summary})],
            True,
            "voicemail" if recorded else "no_message",
        )
        if recorded:
            out.extras.append(upsert_recording(session.org_id, session, params, "voicemail"))
        return out
    status = str(params.get("DialCallStatus") or params.get("QueueResult") or params.get("CallStatus") or "")
    answered = status in ANSWERED or status in ("bridged", "bridging-in-process")
    node = str(waiting_node(state) or stage or "dial")
    if stage == "ringing" and not answered:
        result = _voicemail(org, session, turn, why=f"softphones: {status or 'no answer'}")
        result.steps.insert(0, step(node, "ring", "dial", status.replace("-", "_") or "no_answer", {"input": summary}))
        return result
    response.hangup()
    return voice_output(
        response,
        str(stage),
        turn,
        node,
        [step(node, "dial", "dial", status.replace("-", "_") or "ended", {"input": summary})],
        True,
        "answered" if answered else status,
    )
