"""Small shared pieces of the call runtime: service ids, the clock, webhook URLs, TwiML, scrubbing.

Nothing here touches the database; the modules that do (`call_runtime`, `call_flow`,
`call_voice`, `call_events`) build on these.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from flask import current_app, has_request_context, request

from flows import fallback_twiml
from flows.nodes.pay import mask_card_number
from flows.webhooks import webhook_path
from models import Organization, utcnow

log = logging.getLogger("phonetree.calls")

TWIML = "text/xml; charset=utf-8"
# (HTTP status, content type, body): what a webhook answers.
WebhookAnswer = tuple[int, str, str]

DEFAULT_APOLOGY = "Sorry, we cannot take your call right now."

# The standard call fields templates may see; everything else Twilio posts stays out of the state.
CALL_FIELDS = (
    "CallSid",
    "AccountSid",
    "From",
    "To",
    "Caller",
    "Called",
    "Direction",
    "CallStatus",
    "CallerName",
    "ForwardedFrom",
    "ParentCallSid",
    "FromCity",
    "FromState",
    "FromZip",
    "FromCountry",
    "ToCity",
    "ToState",
    "ToZip",
    "ToCountry",
)

# Card data that must never be stored: dropped wherever it appears (keys compared case-insensitively).
_DROPPED_KEYS = frozenset(
    {
        "securitycode",
        "expirationdate",
        "paymentcardpostalcode",
        "cvv",
        "cvc",
        "cardexpiry",
        "card_expiry",
        "cardsecuritycode",
        "expiry",
        "expiration",
    }
)
_CARD_KEYS = frozenset({"paymentcardnumber", "cardnumber", "card_number", "pan"})
# A card-number-like run of digits standing alone (not inside a SID, URL token or phone number).
_PAN_RE = re.compile(r"(?<![\w+])(?:\d[ -]?){12,18}\d(?!\w)")
# Cheap pre-checks on the JSON text (lowercased for the keys): a sensitive key, or a run of 13 or
# more digits and separators, which every card-number match contains. Two plain patterns scan
# far faster than one case-insensitive alternation.
_SUSPECT_KEY_RE = re.compile(r'"(?:' + "|".join(sorted(_DROPPED_KEYS | _CARD_KEYS)) + r')"\s*:')
_DIGIT_RUN_RE = re.compile(r"[\d -]{13,}")


def answer_twiml(body: str) -> WebhookAnswer:
    """A 200 TwiML answer."""
    return 200, TWIML, body


def empty_answer() -> WebhookAnswer:
    """204 for callbacks."""
    return 204, "text/plain", ""


def now() -> datetime:
    """The current time, or the test clock in ``app.config["PHONETREE_CLOCK"]`` (a callable)."""
    clock: Callable[[], datetime] | None = current_app.config.get("PHONETREE_CLOCK")
    return clock() if clock else utcnow()


def base_url() -> str:
    """Where Twilio reaches Phonetree: PUBLIC_BASE_URL, else the URL of the current request."""
    public = current_app.config.get("PUBLIC_BASE_URL") or ""
    if public:
        return public.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return "http://localhost"


def webhook_url(org_slug: str, service_id: str, session_id: str | None = None, **params: Any) -> str:
    """The absolute URL of one of Phonetree's Twilio webhooks for an org (and a call session)."""
    query: dict[str, Any] = {"orgid": org_slug}
    if session_id:
        query["session"] = session_id
    query.update({k: v for k, v in params.items() if v is not None})
    return f"{base_url()}{webhook_path(service_id)}?{urlencode(query)}"


def url_builder(org_slug: str, session_id: str | None) -> Callable[..., str]:
    """`url_for(service_id, **params)` for the engine's TurnContext."""

    def url_for(service_id: str, **params: Any) -> str:
        return webhook_url(org_slug, service_id, session_id, **params)

    return url_for


def org_fallback(org: Organization) -> dict[str, Any]:
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


def org_fallback_twiml(org: Organization, reason: str, session_id: str | None = None, turn: int | None = None) -> str:
    """The org's apology and fallback (voicemail or hang-up) as a TwiML document."""
    builder = url_builder(org.slug, session_id)

    def url_for(service_id: str, **params: Any) -> str:
        return builder(service_id, turn=turn, **params)

    return fallback_twiml(org_fallback(org), reason, url_for)


def call_fields(form: Mapping[str, Any]) -> dict[str, str]:
    """The call as the engine's templates see it (standard fields only)."""
    return {key: str(form[key]) for key in CALL_FIELDS if form.get(key) not in (None, "")}


mask_card = mask_card_number  # one masking rule for the engine and everything stored


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _mask_pans(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return mask_card(match.group(0)) if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)

    return _PAN_RE.sub(repl, text) if any(c.isdigit() for c in text) else text


def scrub(value: Any) -> Any:
    """`value` made safe to store: no security code or expiry, card numbers masked.

    Keys naming card secrets are dropped wherever they appear; card-number keys are masked,
    and any card-number-like digit run (Luhn-valid, 13-19 digits) in a string is masked too.
    Values with nothing suspicious in their JSON text are returned as they are (the hot path).
    """
    if isinstance(value, Mapping | list):
        try:
            text = json.dumps(value, separators=(",", ":"))
        except (TypeError, ValueError):
            return _scrub(value)
        if not _suspect(text):
            return value
    return _scrub(value)


def _suspect(json_text: str) -> bool:
    """Whether a value's JSON text could hold anything `scrub` changes."""
    return bool(_DIGIT_RUN_RE.search(json_text) or _SUSPECT_KEY_RE.search(json_text.lower()))


def scrub_json(value: Mapping | list) -> tuple[Any, str]:
    """`scrub(value)` and its JSON text, from one serialisation when nothing needed scrubbing."""
    text = json.dumps(value, separators=(",", ":"))
    if not _suspect(text):
        return value, text
    clean = _scrub(value)
    return clean, json.dumps(clean, separators=(",", ":"))


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        clean: dict[str, Any] = {}
        for key, item in value.items():
            lowered = str(key).lower()
            if lowered in _DROPPED_KEYS:
                continue
            if lowered in _CARD_KEYS and item not in (None, ""):
                clean[key] = mask_card(str(item))
            else:
                clean[key] = _scrub(item)
        return clean
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    if isinstance(value, str):
        return _mask_pans(value)
    return value


def input_summary(params: Mapping[str, Any]) -> dict[str, str]:
    """What the caller did in one webhook, for the step log (already scrubbed params)."""
    keys = (
        "Digits",
        "SpeechResult",
        "RecordingDuration",
        "Result",
        "PaymentCardType",
        "PaymentCardNumber",
        "DialCallStatus",
        "DialCallDuration",
        "QueueResult",
        "QueueTime",
    )
    return {k: str(params[k])[:200] for k in keys if params.get(k) not in (None, "")}


def flag(query: Mapping[str, Any], name: str) -> bool:
    """A query flag such as ``timeout=1``."""
    return str(query.get(name, "")) in ("1", "true", "yes")


def parse_turn(query: Mapping[str, Any]) -> int | None:
    """The ``turn`` query parameter, or None when absent or malformed."""
    raw = str(query.get("turn", "") or "")
    return int(raw) if raw.isdigit() else None
