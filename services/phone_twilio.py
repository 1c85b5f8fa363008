"""What Phonetree asks of Twilio for a number: webhook settings, provider access, errors, E.164."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flask import current_app, has_request_context, request

from flows import formats
from flows.webhooks import webhook_path
from models import Organization, PhoneNumber
from upstream.errors import SecretsUnreadable, UpstreamError

WEBHOOK_METHOD = "POST"


class PhoneError(Exception):
    """A phone operation that cannot be carried out; ``phone`` is the record when one exists."""

    def __init__(self, status: int, code: str, message: str, phone: PhoneNumber | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.code, self.message, self.phone, self.extra = status, code, message, phone, extra


def provider_for(org: Organization):
    """The org's Twilio provider; PhoneError(409) when Twilio is not connected yet."""
    from upstream.provider_cache import get_provider

    try:
        provider = get_provider(org)
    except SecretsUnreadable:
        raise PhoneError(
            409, "twilio_credentials_unreadable", "The stored Twilio credentials cannot be read; connect Twilio again."
        ) from None
    if provider is None:
        raise PhoneError(409, "twilio_not_connected", "Connect a Twilio account under Settings (Twilio) first.")
    return provider


def upstream_failure(err: UpstreamError, doing: str, phone: PhoneNumber | None = None) -> PhoneError:
    """A PhoneError (502) that carries Twilio's code and message."""
    return PhoneError(502, "upstream_error", f"{doing}. {describe(err)}", phone, upstream=err.to_dict())


def describe(err: UpstreamError) -> str:
    """Twilio's answer for people: the upstream layer's sentence, which quotes Twilio's code and message."""
    message = err.message.strip()
    return message if str(err.code) in message else f"{message} (Twilio error {err.code})"


def field_of(record: Any, name: str, default: Any = None) -> Any:
    """A field of a Twilio record, whether the provider returned a dict or a resource object."""
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def to_e164(raw: str, country: str = "US") -> str:
    """``raw`` as an E.164 number (the engine's parse, national numbers read in ``country``);
    PhoneError(400) when it is not a possible phone number."""
    text = (raw or "").strip()
    number = formats.to_e164(text, (country or "US").upper())
    if number is None:
        raise PhoneError(
            400, "invalid_phone_number", f"'{text[:40]}' is not a phone number; use E.164 like +14155550100."
        )
    return number


def public_base_url() -> str:
    """PUBLIC_BASE_URL, or the URL this request came in on when none is configured."""
    base = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if not base and has_request_context():
        base = request.host_url.rstrip("/")
    return base


def webhook_config(org: Organization, mode: str) -> dict[str, str | None]:
    """The settings Twilio must hold for a number of this org in this mode (Twilio's field names)."""
    base = public_base_url()
    query = f"?orgid={quote(org.slug)}"
    voice = "ivr-menu" if mode == "ivr" else "voice"
    return {
        "voice_url": f"{base}{webhook_path(voice)}{query}",
        "voice_method": WEBHOOK_METHOD,
        "voice_application_sid": None,
        "sms_url": f"{base}{webhook_path('sms')}{query}",
        "sms_method": WEBHOOK_METHOD,
        "sms_application_sid": None,
        "status_callback": f"{base}{webhook_path('status')}{query}",
        "status_callback_method": WEBHOOK_METHOD,
    }


def twilio_params(config: dict[str, str | None]) -> dict[str, str]:
    """Webhook settings as update parameters: an empty string clears a field (an application SID)."""
    return {name: value or "" for name, value in config.items()}


# Fields Phonetree owns on each number. An application SID on Twilio overrides the URL, so it counts too.
COMPARED = (
    "voice_url",
    "voice_method",
    "voice_application_sid",
    "sms_url",
    "sms_method",
    "sms_application_sid",
    "status_callback",
    "status_callback_method",
)
_METHODS = {"voice_method", "sms_method", "status_callback_method"}


def _normal(name: str, value: Any) -> str | None:
    """Twilio sends "" or null for an unset field, and methods in any case."""
    if value in (None, ""):
        return None
    return str(value).upper() if name in _METHODS else str(value)


def differences(org: Organization, phone: PhoneNumber, record: Any) -> list[dict[str, Any]]:
    """How Twilio's record differs from what Phonetree configures: [{"field", "local", "twilio"}]."""
    wanted = webhook_config(org, phone.mode)
    found = []
    for name in COMPARED:
        local, remote = _normal(name, wanted[name]), _normal(name, field_of(record, name))
        if local != remote:
            found.append({"field": name, "local": local, "twilio": remote})
    return found
