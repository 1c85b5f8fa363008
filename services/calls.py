"""The call runtime's entry point: every Twilio webhook of an org, by serviceId.

`handle_twilio_webhook(org, service_id, form, query)` answers ``(status, content_type, body)``.
Voice services always answer 200 TwiML, whatever goes wrong (then the org's apology and
fallback); callbacks answer 204; ``sms`` answers TwiML with the auto-reply, if any.
The pieces: `call_runtime` (locking, retries, persistence), `call_flow` (IVR flows),
`call_voice` (softphones, AI), `call_events` (callbacks, SMS), `call_log` (pages, analytics).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from extensions import db
from models import Organization
from services.call_ai import ai_connect, ai_transfer
from services.call_events import call_status, inbound_sms, recording_status, transcription_status
from services.call_flow import queue_music, resume_flow, start_flow
from services.call_log import node_counts
from services.call_support import (
    CALLBACK_SERVICES,
    SERVICE_IDS,
    TWIML,
    VOICE_SERVICES,
    WebhookAnswer,
    answer_twiml,
    empty_answer,
    goodbye_twiml,
    log,
    org_fallback_twiml,
)
from services.call_voice import voice

__all__ = ["SERVICE_IDS", "VOICE_SERVICES", "handle_twilio_webhook", "node_counts"]

VoiceHandler = Callable[[Organization, str, Mapping[str, Any], Mapping[str, Any]], str]
CallbackHandler = Callable[[Organization, Mapping[str, Any], Mapping[str, Any]], WebhookAnswer]

VOICE_HANDLERS: dict[str, VoiceHandler] = {
    "ivr-menu": start_flow,
    "voice": voice,
    "ivr-menu-input": resume_flow,
    "ivr-input": resume_flow,
    "ivr-recording": resume_flow,
    "ivr-payment-status": resume_flow,
    "ivr-continue": resume_flow,
    "ivr-queue-music": queue_music,
    "ai-voice": ai_connect,
    "ivr-ai-outbound": ai_connect,
    "ivr-ai-transfer": ai_transfer,
}
CALLBACK_HANDLERS: dict[str, CallbackHandler] = {
    "status": call_status,
    "recording-status": recording_status,
    "transcription-status": transcription_status,
    "sms": inbound_sms,
}


def handle_twilio_webhook(
    org: Organization, service_id: str, form: Mapping[str, Any], query: Mapping[str, Any]
) -> WebhookAnswer:
    """Handle one (already authenticated) Twilio webhook for `org`; never raises."""
    try:
        if service_id in VOICE_HANDLERS:
            return answer_twiml(VOICE_HANDLERS[service_id](org, service_id, form, query))
        if service_id in CALLBACK_HANDLERS:
            return CALLBACK_HANDLERS[service_id](org, form, query)
    except Exception:  # noqa: BLE001  Twilio must get TwiML, never a 5xx read out as "an application error"
        db.session.rollback()
        log.exception("%s webhook for org %s (CallSid %r) failed", service_id, org.slug, form.get("CallSid"))
        return _failure_answer(org, service_id)
    log.warning("webhook for org %s names unknown service %r", org.slug, service_id)
    return answer_twiml(goodbye_twiml()) if service_id not in CALLBACK_SERVICES else empty_answer()


def _failure_answer(org: Organization, service_id: str) -> WebhookAnswer:
    if service_id in CALLBACK_SERVICES:
        return empty_answer()
    if service_id == "sms":
        return 200, TWIML, '<?xml version="1.0" encoding="UTF-8"?><Response />'
    try:
        return answer_twiml(org_fallback_twiml(org, "internal error"))
    except Exception:  # noqa: BLE001
        log.exception("fallback TwiML for org %s failed", org.slug)
        return answer_twiml(goodbye_twiml())
