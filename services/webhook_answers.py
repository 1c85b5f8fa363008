"""What a webhook answers: TwiML or an empty 204, and the org's fallback (apology, voicemail or hang-up)."""

from __future__ import annotations

from typing import Any

from flows import fallback_twiml
from models import OrgRef
from services.webhook_urls import url_builder

TWIML = "text/xml; charset=utf-8"
# (HTTP status, content type, body): what a webhook answers.
WebhookAnswer = tuple[int, str, str]

DEFAULT_APOLOGY = "Sorry, we cannot take your call right now."


def answer_twiml(body: str) -> WebhookAnswer:
    """A 200 TwiML answer."""
    return 200, TWIML, body


def empty_answer() -> WebhookAnswer:
    """204 for callbacks."""
    return 204, "text/plain", ""


def org_fallback(org: OrgRef) -> dict[str, Any]:
    """The org's call fallback as flow settings: ``{"fallback": {"action", "message"}}``.

    Set in ``org.settings["call_fallback"]`` (action ``voicemail`` or ``hangup``); hang-up by default.
    """
    conf = (org.settings or {}).get("call_fallback") or {}
    action = conf.get("action") if conf.get("action") in ("voicemail", "hangup") else "hangup"
    message = str(conf.get("message") or DEFAULT_APOLOGY)
    settings: dict[str, Any] = {"fallback": {"action": action, "message": message}}
    for key in ("voice", "language"):
        if conf.get(key):
            settings[key] = conf[key]
    return settings


def org_fallback_twiml(org: OrgRef, reason: str, session_id: str | None = None, turn: int | None = None) -> str:
    """The org's apology and fallback (voicemail or hang-up) as a TwiML document."""
    builder = url_builder(org.slug, session_id)

    def url_for(service_id: str, **params: Any) -> str:
        return builder(service_id, turn=turn, **params)

    return fallback_twiml(org_fallback(org), reason, url_for)
