"""Phone numbers: buy, import, route, push to Twilio and release, without half states.

Every change that touches Twilio follows one rule: Phonetree's record is written first (or right
after Twilio sold the number), marked ``needs_push``; then the webhook settings are pushed and the
record is marked ``ok``, or ``error`` with Twilio's answer in ``last_error``. So whatever fails,
the number is either absent everywhere (a purchase Twilio refused) or recorded with a status that
says what is missing, and one action, ``push_config``, repairs it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import selectinload

from extensions import db
from models import Organization, PhoneNumber, User, utcnow
from services.phone_routing import Routing, apply_routing, parse_routing
from services.phone_twilio import (
    PhoneError,
    field_of,
    provider_for,
    to_e164,
    twilio_params,
    upstream_failure,
    webhook_config,
)
from upstream.errors import UpstreamError

__all__ = ["PhoneError", "Routing", "parse_routing"]

log = logging.getLogger("phonetree.phone")


# -- reading ------------------------------------------------------------------------------------


def list_numbers(org: Organization) -> list[PhoneNumber]:
    """The org's numbers, in number order, with their flows and assigned users (no query per number)."""
    query = PhoneNumber.for_org(org.id).options(
        selectinload(PhoneNumber.flow), selectinload(PhoneNumber.assigned_users)
    )
    return list(db.session.scalars(query.order_by(PhoneNumber.phone_number)))


def get_number(org: Organization, phone_id: int) -> PhoneNumber:
    """One of the org's numbers; PhoneError(404) for anything else (another org's id included)."""
    phone = PhoneNumber.get_for_org(org.id, phone_id)
    if phone is None:
        raise PhoneError(404, "not_found", f"There is no phone number {phone_id} in this organisation.")
    return phone


def numbers_for_user(org: Organization, user: User) -> list[PhoneNumber]:
    """The org's numbers assigned to this user."""
    return [p for p in list_numbers(org) if any(u.id == user.id for u in p.assigned_users)]


# -- pushing ------------------------------------------------------------------------------------


def push_config(org: Organization, phone: PhoneNumber, provider=None) -> PhoneNumber:
    """Send the number's webhook settings to Twilio and record the outcome (the repair action).

    Raises PhoneError(502) after recording ``error`` and Twilio's answer on the number.
    """
    provider = provider or provider_for(org)
    config = webhook_config(org, phone.mode)
    try:
        record = provider.update_number(phone.sid, **twilio_params(config))
    except UpstreamError as err:
        failure = upstream_failure(err, "Twilio did not take the webhook settings", phone)
        failure.message += " Push the local config again to repair it."
        _record_status(phone, "error", failure.message)
        raise failure from err
    phone.capabilities = dict(field_of(record, "capabilities") or phone.capabilities or {})
    _record_status(phone, "ok", "")
    return phone


def _record_status(phone: PhoneNumber, status: str, message: str) -> None:
    phone.sync_status, phone.last_error = status, message
    if status == "ok":
        phone.drift, phone.checked_at = [], utcnow()
    db.session.commit()


# -- buying, importing, routing, releasing -----------------------------------------------------


def search_available(
    org: Organization, country: str = "US", area_code: str = "", contains: str = "", limit: int = 10
) -> list[dict[str, Any]]:
    """Numbers Twilio has for sale, as dicts (phoneNumber, friendlyName, locality, region, isoCountry)."""
    country = (country or "US").strip().upper()
    if len(country) != 2 or not country.isalpha():
        raise PhoneError(400, "invalid_country", "country is a two-letter ISO code such as US, CA or GB.")
    if area_code and not area_code.strip().isdigit():
        raise PhoneError(400, "invalid_area_code", "areaCode is digits only, such as 415.")
    provider = provider_for(org)
    try:
        found = provider.search_available_numbers(
            country, area_code.strip() or None, contains.strip() or None, max(1, min(int(limit), 30))
        )
    except UpstreamError as err:
        raise upstream_failure(err, "Twilio could not search for numbers") from err
    except ValueError as err:  # the provider's own parameter checks
        raise PhoneError(400, "invalid_request", str(err)) from err
    return [
        {
            "phoneNumber": field_of(n, "phone_number"),
            "friendlyName": field_of(n, "friendly_name"),
            "locality": field_of(n, "locality"),
            "region": field_of(n, "region"),
            "isoCountry": field_of(n, "iso_country"),
            "capabilities": field_of(n, "capabilities") or {},
        }
        for n in found
    ]


def buy_number(
    org: Organization,
    routing: Routing,
    phone_number: str | None = None,
    area_code: str | None = None,
    contains: str | None = None,
    country: str = "US",
) -> PhoneNumber:
    """Buy a number (a given one, or one for sale in an area code) with its webhooks set, and record it.

    Twilio configures the webhooks in the purchase itself, so a bought number never rings
    unconfigured. A purchase Twilio refuses stores nothing; once Twilio sold the number it is
    always recorded (see ``_record_purchase``).
    """
    provider = provider_for(org)
    if phone_number:
        wanted: dict[str, str] = {"phone_number": to_e164(phone_number, country)}
        _ensure_not_local(org, wanted["phone_number"], None)
    elif area_code:
        area_code = str(area_code).strip()
        if not area_code.isdigit():
            raise PhoneError(400, "invalid_area_code", "areaCode is digits only, such as 415.")
        wanted = {"area_code": area_code}
        if contains or (country or "US").upper() not in ("US", "CA"):
            offers = search_available(org, country, area_code, contains or "", 1)
            if not offers:
                detail = f" containing {contains}" if contains else ""
                raise PhoneError(
                    404, "no_numbers_available", f"Twilio has no number for sale in area code {area_code}{detail}."
                )
            wanted = {"phone_number": offers[0]["phoneNumber"]}
    else:
        raise PhoneError(400, "invalid_request", 'Send {"phoneNumber": "+1..."} or {"areaCode": "415"}.')
    config = webhook_config(org, routing.mode)
    hooks = {k: v for k, v in config.items() if k in ("voice_url", "sms_url", "status_callback")}
    try:
        record = provider.purchase_number(**wanted, **hooks)
    except UpstreamError as err:
        what = wanted.get("phone_number") or f"a number in area code {area_code}"
        doing = f"Twilio did not sell {what}; nothing was bought"
        if err.status is None:  # no answer: the purchase may have happened all the same
            doing = f"Twilio did not confirm buying {what}; if it did, adopt it under 'Check drift'"
        raise upstream_failure(err, doing) from err
    return _record_purchase(org, record, routing)


def _record_purchase(org: Organization, record: Any, routing: Routing) -> PhoneNumber:
    """Save a number Twilio just sold, routed; if that fails, save it bare and say so.

    The bare record (mode voice, no flow, status ``error``) tells the admin what happened; setting
    its routing again repairs it. Should even that fail, the error names the SID to adopt.
    """
    sid, number = field_of(record, "sid"), field_of(record, "phone_number")
    try:
        phone = _new_phone(org, record)
        apply_routing(phone, routing)
        phone.sync_status, phone.checked_at = "ok", utcnow()
        db.session.add(phone)
        db.session.commit()
        return phone
    except SQLAlchemyError as err:
        db.session.rollback()
        log.error("Bought %s (%s) for org %s but saving it failed: %s", number, sid, org.slug, err)
        reason = f"Twilio sold {number} ({sid}), but saving its routing in Phonetree failed"
    try:
        phone = _new_phone(org, record)
        phone.mode = "voice"
        phone.sync_status, phone.last_error = "error", f"{reason}. Set its routing again to repair it."
        db.session.add(phone)
        db.session.commit()
    except SQLAlchemyError as err:
        db.session.rollback()
        log.error("Could not record bought number %s (%s) for org %s: %s", number, sid, org.slug, err)
        raise PhoneError(
            500,
            "not_recorded",
            f"{reason}, and recording it failed too. It is on your Twilio "
            f"account: adopt it from 'Check drift' or POST /phone/numbers/add with its sid {sid}.",
        ) from err
    raise PhoneError(500, "partially_saved", phone.last_error, phone)


def _new_phone(org: Organization, record: Any) -> PhoneNumber:
    return PhoneNumber(
        org_id=org.id,
        sid=field_of(record, "sid"),
        phone_number=field_of(record, "phone_number"),
        friendly_name=field_of(record, "friendly_name") or "",
        capabilities=dict(field_of(record, "capabilities") or {}),
        sync_status="needs_push",
        last_error="",
        drift=[],
    )


def _ensure_not_local(org: Organization, number: str, sid: str | None) -> None:
    same = PhoneNumber.phone_number == number
    if sid:
        same = same | (PhoneNumber.sid == sid)
    existing = db.session.scalars(PhoneNumber.for_org(org.id).where(same)).first()
    if existing is not None:
        raise PhoneError(409, "already_added", f"{existing.phone_number} is already in Phonetree.", existing)
    # A number routes calls for one organisation only: adopting it here would silently take its calls
    # from another org sharing the Twilio account (which org is not revealed).
    elsewhere = db.session.scalar(select(PhoneNumber.id).where(same, PhoneNumber.org_id != org.id).limit(1))
    if elsewhere is not None:
        raise PhoneError(409, "number_in_use", f"{number} is already used by another organisation in Phonetree.")


def import_number(
    org: Organization, routing: Routing, phone_number: str | None = None, sid: str | None = None
) -> PhoneNumber:
    """Adopt a number the Twilio account already owns (by E.164 number or SID) and route it."""
    provider = provider_for(org)
    record = find_owned(org, provider, phone_number=phone_number, sid=sid)
    _ensure_not_local(org, field_of(record, "phone_number"), field_of(record, "sid"))
    phone = _new_phone(org, record)
    apply_routing(phone, routing)
    db.session.add(phone)
    try:
        db.session.commit()
    except IntegrityError:  # someone added it at the same moment
        db.session.rollback()
        _ensure_not_local(org, field_of(record, "phone_number"), field_of(record, "sid"))
        raise
    return push_config(org, phone, provider)


def find_owned(org: Organization, provider, phone_number: str | None = None, sid: str | None = None) -> Any:
    """Twilio's record of a number this account owns; PhoneError(404) when it owns no such number."""
    try:
        if sid:
            sid = str(sid).strip()
            if not (sid.startswith("PN") and len(sid) == 34 and sid.isalnum()):
                raise PhoneError(400, "invalid_sid", "sid is Twilio's PN… phone number SID (34 characters).")
            return provider.fetch_number(sid)
        if not phone_number:
            raise PhoneError(400, "invalid_request", 'Send {"phoneNumber": "+1..."} or {"sid": "PN..."}.')
        wanted = to_e164(phone_number)
        match = provider.find_phone_number(wanted)
    except UpstreamError as err:
        if err.status == 404:
            raise PhoneError(404, "not_on_twilio", f"Your Twilio account has no number {sid}.") from err
        raise upstream_failure(err, "Twilio could not look the number up") from err
    if match is None:
        raise PhoneError(404, "not_on_twilio", f"Your Twilio account does not own {wanted}.")
    return match


def set_routing(org: Organization, phone: PhoneNumber, routing: Routing) -> PhoneNumber:
    """Save new routing, then push the webhook settings to Twilio (which also repairs drift)."""
    apply_routing(phone, routing)
    phone.sync_status = "needs_push"
    db.session.commit()
    return push_config(org, phone)


def release_number(org: Organization, phone: PhoneNumber) -> str:
    """Release the number on Twilio, then forget it here; returns its E.164 number.

    If Twilio refuses, nothing changes. A number Twilio no longer has is simply forgotten.
    """
    provider = provider_for(org)
    number = phone.phone_number
    if phone.sid:
        try:
            provider.release_number(phone.sid)
        except UpstreamError as err:
            if err.status != 404:
                raise upstream_failure(err, f"Twilio did not release {number}; nothing changed", phone) from err
    try:
        db.session.delete(phone)
        db.session.commit()
    except SQLAlchemyError as err:
        db.session.rollback()
        log.error("Released %s on Twilio but could not delete it for org %s: %s", number, org.slug, err)
        _record_status(phone, "error", "Released on Twilio, but removing it here failed. Release it again to finish.")
        raise PhoneError(500, "partially_released", phone.last_error, phone) from err
    return number


def importable_numbers(org: Organization) -> list[dict[str, Any]]:
    """Numbers the Twilio account owns that this org has not added yet: [{"sid", "phoneNumber", "friendlyName"}]."""
    provider = provider_for(org)
    try:
        remote = provider.list_phone_numbers()
    except UpstreamError as err:
        raise upstream_failure(err, "Twilio could not list the account's numbers") from err
    known = {p.sid for p in list_numbers(org)}
    return [
        {"sid": r["sid"], "phoneNumber": r["phone_number"], "friendlyName": r.get("friendly_name") or ""}
        for r in remote
        if r["sid"] not in known
    ]


def brief(phone: PhoneNumber) -> dict[str, Any]:
    """A number in a few fields, for softphones: phoneId, phoneNumber, friendlyName, mode."""
    return {
        "phoneId": phone.id,
        "phoneNumber": phone.phone_number,
        "friendlyName": phone.friendly_name,
        "mode": phone.mode,
    }


def serialize(phone: PhoneNumber) -> dict[str, Any]:
    """A number with its routing, as the JSON API shows it."""
    return {
        "phoneId": phone.id,
        "phoneNumber": phone.phone_number,
        "sid": phone.sid,
        "friendlyName": phone.friendly_name,
        "mode": phone.mode,
        "flowId": phone.flow_id,
        "flowName": phone.flow.name if phone.flow else None,
        "assignedUsers": [{"id": u.id, "email": u.email} for u in phone.assigned_users],
        "smsAutoReply": phone.sms_auto_reply,
        "syncStatus": phone.sync_status,
        "lastError": phone.last_error,
        "drift": list(phone.drift or []),
        "checkedAt": phone.checked_at.isoformat().replace("+00:00", "Z") if phone.checked_at else None,
        "capabilities": dict(phone.capabilities or {}),
    }


def serialize_all(phones: Iterable[PhoneNumber]) -> list[dict[str, Any]]:
    """Several numbers, serialised."""
    return [serialize(p) for p in phones]
