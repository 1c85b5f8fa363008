"""Phone numbers: buy, import, route, push to Twilio and release, without half states.

Each change that touches Twilio is a saga (``services.phone_saga``): the intent is recorded first
and the number's row says ``pending``; then Twilio is called, and its answer, or when no answer comes
what a lookup on Twilio shows, is recorded before the caller is answered. What is still unknown
stays ``pending`` ("pending on Twilio") until a reconciliation run or the next drift check settles it.
A number is therefore never owned on Twilio and unknown here, nor released there and active here.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import selectinload

from extensions import db
from models import Organization, PhoneNumber, User
from services import phone_reconcile as reconcile
from services import phone_saga as saga
from services.phone_routing import Routing, apply_routing, parse_routing
from services.phone_twilio import (
    PhoneError,
    field_of,
    provider_for,
    to_e164,
    upstream_failure,
    webhook_config,
)
from upstream.errors import UpstreamError
from upstream.twilio_params import NUMBER_SID

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


def push_config(org: Organization, phone: PhoneNumber, provider=None, user: User | None = None) -> PhoneNumber:
    """Send the number's webhook settings to Twilio and record the outcome (the repair action).

    Raises PhoneError(502) after recording ``error`` and Twilio's answer on the number; when Twilio
    does not answer, the number comes back ``pending`` (see ``services.phone_saga``).
    """
    provider = provider or provider_for(org)
    if _settle_open(org, phone, provider, "route"):
        raise PhoneError(404, "not_found", "That number was released meanwhile.")
    intent = saga.begin(org, "route", phone, user)
    _commit_intent()
    return _run(org, intent, provider, phone)


def _run(org: Organization, intent, provider, phone: PhoneNumber) -> PhoneNumber:
    """Settle an import or route intent now; Twilio's refusal becomes PhoneError(502)."""
    refusal = saga.settle(org, intent, provider)
    if refusal is not None:
        failure = upstream_failure(refusal, "Twilio did not take the webhook settings", phone)
        failure.message += " Push the local config again to repair it."
        raise failure
    return phone


def _commit_intent() -> None:
    """Write the intent (step 1 of a saga) before Twilio is asked anything."""
    try:
        db.session.commit()
    except SQLAlchemyError as err:
        db.session.rollback()
        log.error("Could not record a number change before calling Twilio: %s", err)
        raise PhoneError(
            503,
            "not_recorded",
            "Phonetree could not record the change, so Twilio was not asked; nothing changed. Try again in a moment.",
        ) from err


def _settle_open(org: Organization, phone: PhoneNumber, provider, action: str) -> bool:
    """Before a new change to a number, settle what is still pending on it; True if that released it.

    A pending push is superseded by a newer push or a release; anything else is settled first.
    PhoneError(409) when the earlier change is still unknown (or another request is at it).
    """
    for intent_id in saga.pending_ids(phone):
        if not reconcile.claim(intent_id):
            raise PhoneError(
                409,
                "pending_on_twilio",
                f"Another change to {phone.phone_number} is under way on Twilio; try again in a moment.",
                phone,
            )
        intent = saga.reload(intent_id)
        if intent.action in ("route", "import") and action in ("route", "release"):
            saga.supersede(intent)
        else:
            saga.settle(org, intent, provider)
        if inspect(phone).was_deleted:
            return True
    pending = saga.open_intent(phone)
    if pending is not None:
        raise PhoneError(
            409,
            "pending_on_twilio",
            pending.detail or f"A change to {phone.phone_number} is still pending on Twilio; try again in a moment.",
            phone,
        )
    return False


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
    user: User | None = None,
) -> PhoneNumber:
    """Buy a number (a given one, or one for sale in an area code) with its webhooks set, and record it.

    The number is recorded, routed and ``pending`` before Twilio is asked, and Twilio configures the
    webhooks in the purchase itself. A purchase Twilio refuses leaves nothing; one Twilio did not
    answer is looked up, and stays ``pending`` (the returned number says so) only while unknown.
    """
    provider = provider_for(org)
    if phone_number:
        number = to_e164(phone_number, country)
    elif area_code:
        area_code = str(area_code).strip()
        if not area_code.isdigit():
            raise PhoneError(400, "invalid_area_code", "areaCode is digits only, such as 415.")
        # A number chosen before buying can be looked up on Twilio should its answer be lost.
        offers = search_available(org, country, area_code, contains or "", 1)
        if not offers:
            detail = f" containing {contains}" if contains else ""
            raise PhoneError(
                404, "no_numbers_available", f"Twilio has no number for sale in area code {area_code}{detail}."
            )
        number = offers[0]["phoneNumber"]
    else:
        raise PhoneError(400, "invalid_request", 'Send {"phoneNumber": "+1..."} or {"areaCode": "415"}.')
    _ensure_not_local(org, number, None)
    phone = PhoneNumber(org_id=org.id, sid=None, phone_number=number, friendly_name="", capabilities={}, drift=[])
    intent = _record_new(org, phone, routing, "buy", user)
    config = webhook_config(org, routing.mode)
    hooks = {k: v for k, v in config.items() if k in ("voice_url", "sms_url", "status_callback")}
    refusal = saga.purchase(org, intent, provider, hooks)
    if refusal is not None:
        raise upstream_failure(refusal, f"Twilio did not sell {number}; nothing was bought")
    if inspect(phone).was_deleted:  # looked up after the grace period: Twilio did not buy it
        raise PhoneError(502, "upstream_error", f"Twilio did not buy {number}; nothing was bought. Try again.")
    return phone


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
    org: Organization,
    routing: Routing,
    phone_number: str | None = None,
    sid: str | None = None,
    user: User | None = None,
) -> PhoneNumber:
    """Adopt a number the Twilio account already owns (by E.164 number or SID) and route it."""
    provider = provider_for(org)
    record = find_owned(org, provider, phone_number=phone_number, sid=sid)
    _ensure_not_local(org, field_of(record, "phone_number"), field_of(record, "sid"))
    phone = _new_phone(org, record)
    intent = _record_new(org, phone, routing, "import", user)
    return _run(org, intent, provider, phone)


def _record_new(org: Organization, phone: PhoneNumber, routing: Routing, action: str, user: User | None):
    """Step 1 for a number new to Phonetree: its routed, pending row and the intent, committed together."""
    apply_routing(phone, routing)
    db.session.add(phone)
    intent = saga.begin(org, action, phone, user)
    try:
        _commit_intent()
    except PhoneError as err:
        if isinstance(err.__cause__, IntegrityError):  # someone added the number at the same moment
            _ensure_not_local(org, phone.phone_number, phone.sid)
        raise
    return intent


def find_owned(org: Organization, provider, phone_number: str | None = None, sid: str | None = None) -> Any:
    """Twilio's record of a number this account owns; PhoneError(404) when it owns no such number."""
    try:
        if sid:
            sid = str(sid).strip()
            if not NUMBER_SID.fullmatch(sid):
                raise PhoneError(400, "invalid_sid", "sid is Twilio's phone number SID: PN and 32 hexadecimal digits.")
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


def set_routing(org: Organization, phone: PhoneNumber, routing: Routing, user: User | None = None) -> PhoneNumber:
    """Save new routing, then push the webhook settings to Twilio (which also repairs drift)."""
    provider = provider_for(org)
    if _settle_open(org, phone, provider, "route"):
        raise PhoneError(404, "not_found", "That number was released meanwhile.")
    apply_routing(phone, routing)
    intent = saga.begin(org, "route", phone, user)
    _commit_intent()
    return _run(org, intent, provider, phone)


def release_number(org: Organization, phone: PhoneNumber, user: User | None = None) -> bool:
    """Release the number on Twilio, then forget it here: True when done, False while pending on Twilio.

    If Twilio refuses, nothing changes (PhoneError 502). A number Twilio no longer has is simply
    forgotten; one whose release went unanswered is looked up by SID, and stays ``pending`` only
    while Twilio's answer is unknown.
    """
    provider = provider_for(org)
    number = phone.phone_number
    if _settle_open(org, phone, provider, "release"):
        return True
    before = (phone.sync_status, phone.last_error)
    intent = saga.begin(org, "release", phone, user)
    _commit_intent()
    refusal = saga.settle(org, intent, provider)
    if refusal is not None:
        phone.sync_status, phone.last_error = before
        db.session.commit()
        raise upstream_failure(refusal, f"Twilio did not release {number}; nothing changed", phone)
    return inspect(phone).was_deleted


def importable_numbers(org: Organization) -> list[dict[str, Any]]:
    """Numbers the Twilio account owns that this org has not added yet: [{"sid", "phoneNumber", "friendlyName"}]."""
    provider = provider_for(org)
    try:
        remote = provider.list_phone_numbers()
    except UpstreamError as err:
        raise upstream_failure(err, "Twilio could not list the account's numbers") from err
    local = list_numbers(org)
    known = {p.sid for p in local} | {p.phone_number for p in local}  # a number being bought has no SID yet
    return [
        {"sid": r["sid"], "phoneNumber": r["phone_number"], "friendlyName": r.get("friendly_name") or ""}
        for r in remote
        if r["sid"] not in known and r["phone_number"] not in known
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
        "messagingFlowId": phone.messaging_flow_id,
        "messagingFlowName": phone.messaging_flow.name if phone.messaging_flow else None,
        "status": "pending" if phone.sync_status == "pending" else "active",
        "syncStatus": phone.sync_status,
        "lastError": phone.last_error,
        "drift": list(phone.drift or []),
        "checkedAt": phone.checked_at.isoformat().replace("+00:00", "Z") if phone.checked_at else None,
        "capabilities": dict(phone.capabilities or {}),
    }


def serialize_all(phones: Iterable[PhoneNumber]) -> list[dict[str, Any]]:
    """Several numbers, serialised."""
    return [serialize(p) for p in phones]
