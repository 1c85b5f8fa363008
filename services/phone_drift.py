"""Drift: comparing Twilio's view of every number with Phonetree's record of it.

Someone may change a number in Twilio's console, release it there, or buy one there; the check
names each difference field by field, and records what it found on each number (``drift``,
``checked_at``, ``sync_status``) so the numbers page can show it without asking Twilio again.
Pushing the local config (``services.phone_numbers.push_config``) repairs drift.
"""

from __future__ import annotations

from typing import Any

from extensions import db
from models import Organization, utcnow
from services.phone_numbers import list_numbers
from services.phone_reconcile import settle_org
from services.phone_twilio import differences, field_of, provider_for, upstream_failure
from upstream.errors import UpstreamError


def verify(org: Organization) -> dict[str, list[dict[str, Any]]]:
    """Compare every number with Twilio and record the findings on each number.

    Pending number changes are settled first. Returns ``{"in_sync", "drift", "missing_on_twilio",
    "unknown_locally"}`` where drift has one entry per differing field: ``{"phoneId", "phoneNumber",
    "field", "local", "twilio"}``; while a change is still unconfirmed, ``"pending"`` lists those numbers
    as ``{"phoneId", "phoneNumber", "sid", "detail"}``.
    """
    provider = provider_for(org)
    settle_org(org, provider)  # a pending buy, release or push is settled first, as far as Twilio can tell
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
        "pending": [],
    }
    matched: set[str] = set()
    now = utcnow()
    for phone in list_numbers(org):
        ident = {"phoneId": phone.id, "phoneNumber": phone.phone_number}
        record = by_sid.get(phone.sid) if phone.sid else by_number.get(phone.phone_number)
        phone.checked_at = now
        if phone.sync_status == "pending":  # still unknown on Twilio: neither missing nor drifted yet
            report["pending"].append({**ident, "sid": phone.sid, "detail": phone.last_error})
            if record is not None:
                matched.add(field_of(record, "sid"))
            continue
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
    if not report["pending"]:
        del report["pending"]  # the key appears only when a change is pending, keeping API.md's shape
    return report
