"""Shapes in and out of TwilioProvider: resource dicts, updatable fields, test-operation parameters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from upstream.errors import IntegrationConfigError

# An IncomingPhoneNumber SID as Twilio issues it. Checked before a SID is put in a REST path, so that
# a value such as "../../Accounts" can never reach another resource of the account.
NUMBER_SID = re.compile(r"PN[0-9a-f]{32}")


def number_sid(sid: Any) -> str:
    """``sid`` when it is a phone number SID (``PN`` + 32 lowercase hex digits); IntegrationConfigError otherwise."""
    if not isinstance(sid, str) or not NUMBER_SID.fullmatch(sid):
        raise IntegrationConfigError("sid must be a phone number SID: PN followed by 32 hexadecimal digits.", "sid")
    return sid


# The IncomingPhoneNumber fields Phonetree reads (Twilio's JSON names).
NUMBER_FIELDS = (
    "sid", "phone_number", "friendly_name", "voice_url", "voice_method", "voice_fallback_url",
    "voice_fallback_method", "voice_application_sid", "sms_url", "sms_method", "sms_fallback_url",
    "sms_application_sid", "status_callback", "status_callback_method", "capabilities", "origin",
    "date_created", "date_updated",
)
# The ones update_number may change.
WEBHOOK_FIELDS = (
    "friendly_name", "voice_url", "voice_method", "voice_fallback_url", "voice_fallback_method",
    "voice_application_sid", "sms_url", "sms_method", "sms_fallback_url", "sms_fallback_method",
    "sms_application_sid", "status_callback", "status_callback_method",
)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def pick(instance: Any, names: Iterable[str]) -> dict[str, Any]:
    """A dict of some attributes of a twilio resource instance, datetimes as ISO-8601."""
    return {name: _plain(getattr(instance, name, None)) for name in names}


def number_dict(instance: Any) -> dict[str, Any]:
    """An IncomingPhoneNumber as a plain dict."""
    return pick(instance, NUMBER_FIELDS)


# Test operation -> {JSON param: (keyword, kind)}; kinds: str, int.
_TEST_PARAMS: dict[str, dict[str, tuple[str, type]]] = {
    "listPhoneNumbers": {"limit": ("limit", int)},
    "searchAvailableNumbers": {
        "country": ("country", str), "areaCode": ("area_code", str), "contains": ("contains", str),
        "limit": ("limit", int), "type": ("number_type", str),
    },
    "fetchAccount": {},
    "fetchNumber": {"sid": ("sid", str)},
}
_REQUIRED = {"fetchNumber": ("sid",)}


def test_params(operation: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Keyword arguments for a test operation, checked, from its JSON parameters (camelCase)."""
    spec = _TEST_PARAMS.get(operation, {})
    unknown = sorted(str(k)[:40] for k in params if k not in spec)
    if unknown:
        accepted = ", ".join(spec) or "none"
        raise IntegrationConfigError(f"{operation} does not take {', '.join(unknown)}; it accepts: {accepted}.",
                                     unknown[0])
    kwargs: dict[str, Any] = {}
    for name, value in params.items():
        keyword, kind = spec[name]
        if value is None or value == "":
            continue
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).isdigit() \
                    or not 1 <= int(value) <= 1000:
                raise IntegrationConfigError(f"{name} must be a whole number from 1 to 1000.", name)
            value = int(value)
        elif not isinstance(value, str | int) or isinstance(value, bool) or len(str(value)) > 64:
            raise IntegrationConfigError(f"{name} must be a short string.", name)
        kwargs[keyword] = str(value) if kind is str else value
    for name in _REQUIRED.get(operation, ()):
        if spec[name][0] not in kwargs:
            raise IntegrationConfigError(f"{operation} needs {name}.", name)
    return kwargs
