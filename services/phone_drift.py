"""Drift: comparing Twilio's view of every number with Phonetree's record of it.

Someone may change a number in Twilio's console, release it there, or buy one there; the check
names each difference field by field, and records what it found on each number (``drift``,
``checked_at``, ``sync_status``) so the numbers page can show it without asking Twilio again.
Pushing the local config (``services.phone_numbers.push_config``) repairs drift.
"""

from __future__ import annotations

from typing import Any

from extensions import db
from models import Organization, PhoneNumber, utcnow
from services.phone_numbers import list_numbers
from services.phone_twilio import field_of, provider_for, upstream_failure, webhook_config
from upstream.errors import UpstreamError

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


def verify(org: Organization) -> dict[str, list[dict[str, Any]]]:
    """Compare every number with Twilio and record the findings on each number.

    Returns ``{"in_sync", "drift", "missing_on_twilio", "unknown_locally"}`` where drift has one
    entry per differing field: ``{"phoneId", "phoneNumber", "field", "local", "twilio"}``.
    """
    provider = provider_for(org)
    try:
        remote = list(provider.list_phone_numbers())
    except UpstreamError as err:
        raise upstream_failure(err, "Twilio could not list the account's numbers") from err
    by_sid = {field_of(r, "sid"): r for r in remote}
    by_number = {field_of(r, "phone_number"): r for r in remote}
    report: dict[str, list[dict[str, Any]]] = {
        "in_sync": [],
        "drift": [],
        "missing_on_twilio": [],
        "unknown_locally": [],
    }
    matched: set[str] = set()
    now = utcnow()
    for phone in list_numbers(org):
        ident = {"phoneId": phone.id, "phoneNumber": phone.phone_number}
        record = by_sid.get(phone.sid) if phone.sid else by_number.get(phone.phone_number)
        phone.checked_at = now
        if record is None:
            report["missing_on_twilio"].append({**ident, "sid": phone.sid})
            phone.drift = [{"field": "sid", "local": phone.sid, "twilio": None}]
            phone.sync_status = "error"
            phone.last_error = "Twilio no longer has this number (released in Twilio's console?). Release it here."
            continue
        matched.add(field_of(record, "sid"))
        phone.sid = phone.sid or field_of(record, "sid")
        phone.capabilities = dict(field_of(record, "capabilities") or phone.capabilities or {})
        found = differences(org, phone, record)
        phone.drift = found
        if found:
            report["drift"].extend({**ident, **diff} for diff in found)
            phone.sync_status = "needs_push"
            phone.last_error = "Twilio's settings differ from Phonetree's: " + ", ".join(d["field"] for d in found)
        else:
            report["in_sync"].append(ident)
            phone.sync_status, phone.last_error = "ok", ""
    report["unknown_locally"] = [
        {
            "sid": field_of(r, "sid"),
            "phoneNumber": field_of(r, "phone_number"),
            "friendlyName": field_of(r, "friendly_name") or "",
        }
        for r in remote
        if field_of(r, "sid") not in matched
    ]
    db.session.commit()
    return report
