"""Number sagas: buying, importing, releasing and routing a number with a recorded intent.

Every change that touches Twilio runs the same three steps:

1. the intent is written first (``PhoneIntent``: number, action, ``pending``, org, who, when) with the
   number's row marked ``pending``; a number being bought is recorded before Twilio is asked;
2. Twilio is called;
3. Twilio's answer settles the intent (``done``, or ``failed`` when Twilio refused). When no answer
   comes (a timeout, a dropped connection), Twilio is asked what is true (the number looked up by
   phone number for a buy, by SID otherwise) and that is recorded before answering; only what is
   still unknown stays ``pending``.

Pending intents are settled by ``services.phone_reconcile`` (the ``flask worker`` command, and every
drift check). A crash
between the steps leaves a pending intent whose lease runs out; the next run settles it. Settling is
idempotent (releases and webhook pushes are repeated; a buy is only looked up, never repeated), and a
lease taken with one conditional UPDATE keeps two workers from settling one intent at once.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from extensions import db
from models import Organization, PhoneIntent, PhoneNumber, User, utcnow
from services.phone_twilio import (
    describe,
    differences,
    field_of,
    public_base_url,
    twilio_params,
    webhook_config,
)
from upstream.errors import UpstreamError

log = logging.getLogger("phonetree.phone.saga")

ACTIONS = ("buy", "import", "release", "route")
# Outside a request (the worker) the webhook URLs come from PUBLIC_BASE_URL alone.
_NO_BASE_URL = (
    "The webhook settings wait for a drift check or a push from the numbers page (PUBLIC_BASE_URL is not set, "
    "so the background worker cannot tell Twilio where to send calls)."
)
DOING = {"buy": "Buying", "import": "Adding", "release": "Releasing", "route": "Sending the routing of"}


def now() -> datetime:
    """The current time, or the test clock in ``app.config["PHONETREE_CLOCK"]``."""
    clock = current_app.config.get("PHONETREE_CLOCK")
    return clock() if clock else utcnow()


def grace_seconds() -> float:
    """How long after a purchase was sent Twilio may still complete it: until then, "not found" proves nothing."""
    return float(current_app.config.get("PHONE_SAGA_GRACE_SECONDS", 120))


def lease() -> timedelta:
    """How long a claim on an intent holds: long enough for its Twilio call and one lookup."""
    return timedelta(seconds=3 * float(current_app.config.get("TWILIO_TIMEOUT_SECONDS", 10)) + 10)


# -- the intent ----------------------------------------------------------------------------------


def begin(org: Organization, action: str, phone: PhoneNumber, user: User | None) -> PhoneIntent:
    """A pending intent for ``phone``, leased to the caller; the number's row says what is pending.

    Not committed: the caller commits it together with the row, before Twilio is called.
    """
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    at = now()
    intent = PhoneIntent(
        org_id=org.id,
        action=action,
        state="pending",
        phone_number=phone.phone_number,
        sid=phone.sid,
        user_id=user.id if user is not None else None,
        detail="",
        attempts=1,
        claimed_until=at + lease(),
        created_at=at,
        updated_at=at,
    )
    intent.phone = phone
    db.session.add(intent)
    phone.sync_status = "pending"
    phone.last_error = f"{DOING[action]} {phone.phone_number} on Twilio…"
    return intent


def _finish(intent: PhoneIntent, state: str, detail: str) -> None:
    intent.state, intent.detail = state, detail
    intent.claimed_until, intent.updated_at = None, now()
    intent.settled_at = intent.updated_at


def _leave_pending(intent: PhoneIntent, phone: PhoneNumber | None, detail: str) -> None:
    """Still unknown: say so on the number, and give the intent up to the next reconciliation."""
    intent.detail, intent.claimed_until, intent.updated_at = detail, None, now()
    if phone is not None:
        phone.sync_status, phone.last_error = "pending", detail
    log.warning("Intent %s (%s %s) still pending: %s", intent.id, intent.action, intent.phone_number, detail)


def open_intent(phone: PhoneNumber) -> PhoneIntent | None:
    """The number's newest pending intent, if any."""
    query = select(PhoneIntent).where(PhoneIntent.phone_id == phone.id, PhoneIntent.state == "pending")
    return db.session.scalars(query.order_by(PhoneIntent.id.desc())).first()


def pending_ids(phone: PhoneNumber) -> list[int]:
    """The ids of the number's pending intents, oldest first."""
    query = select(PhoneIntent.id).where(PhoneIntent.phone_id == phone.id, PhoneIntent.state == "pending")
    return list(db.session.scalars(query.order_by(PhoneIntent.id)))


def reload(intent_id: int) -> PhoneIntent:
    """An intent as the database has it now (after a claim)."""
    intent = db.session.get(PhoneIntent, intent_id)
    db.session.refresh(intent)
    return intent


def supersede(intent: PhoneIntent) -> None:
    """A pending push made moot by a newer push or a release of the same number (committed)."""
    _finish(intent, "done", "Superseded by a newer change to the number.")
    db.session.commit()


def to_dict(intent: PhoneIntent) -> dict[str, Any]:
    """An intent as the API shows it."""
    return {
        "id": intent.id,
        "action": intent.action,
        "state": intent.state,
        "phoneNumber": intent.phone_number,
        "sid": intent.sid,
        "detail": intent.detail,
        "createdAt": intent.created_at.isoformat().replace("+00:00", "Z"),
    }


def _commit(intent: PhoneIntent, what: str) -> bool:
    """Commit what Twilio's answer settled; on failure the intent stays pending in the database."""
    try:
        db.session.commit()
        return True
    except SQLAlchemyError as err:
        db.session.rollback()
        log.error("Recording %s failed (intent %s): %s", what, intent.id, err)
        try:
            _leave_pending(
                intent, intent.phone, f"{what}, but recording it here failed; Phonetree finishes it shortly."
            )
            db.session.commit()
        except SQLAlchemyError:
            db.session.rollback()  # the lease runs out and the next reconciliation settles it
        return False


# -- settling, one action at a time -------------------------------------------------------------


def settle(
    org: Organization, intent: PhoneIntent, provider: Any, cause: UpstreamError | None = None
) -> UpstreamError | None:
    """Carry the intent as far as Twilio lets it and record the outcome (committed).

    Returns Twilio's refusal when Twilio said no (the intent is then ``failed``), else None: the
    intent is ``done``, or still ``pending`` when Twilio's answer is still unknown.
    """
    phone = intent.phone
    if intent.action == "buy":
        _settle_buy(org, intent, phone, provider, cause)
        return None
    if intent.action == "release":
        return _release(intent, phone, provider)
    return _push(org, intent, phone, provider)


def purchase(org: Organization, intent: PhoneIntent, provider: Any, hooks: dict[str, str]) -> UpstreamError | None:
    """Step 2 and 3 of a buy: ask Twilio for the number, then record what is true (see ``settle``)."""
    phone = intent.phone
    try:
        record = provider.purchase_number(phone_number=intent.phone_number, **hooks)
    except UpstreamError as err:
        if err.status is None:  # no answer: Twilio may have sold it all the same
            _settle_buy(org, intent, phone, provider, err)
            return None
        intent.phone = None
        db.session.delete(phone)
        _finish(intent, "failed", f"Twilio did not sell {intent.phone_number}: {describe(err)}")
        _commit(intent, "Twilio's refusal")
        return err
    _adopt(org, intent, phone, record, provider)
    return None


def _settle_buy(
    org: Organization, intent: PhoneIntent, phone: PhoneNumber | None, provider: Any, cause: UpstreamError | None
) -> None:
    number = intent.phone_number
    why = f" ({describe(cause)})" if cause is not None else ""
    try:
        record = provider.find_phone_number(number)
    except UpstreamError as err:
        _leave_pending(
            intent,
            phone,
            f"Buying {number} is pending on Twilio: Twilio has not confirmed it{why}, "
            f"and looking it up failed ({describe(err)}). Phonetree checks again shortly.",
        )
        _commit(intent, "a pending purchase")
        return
    if record is not None:
        _adopt(org, intent, phone, record, provider)
        return
    if (now() - intent.created_at).total_seconds() >= grace_seconds():
        if phone is not None and phone.sid is None:
            intent.phone = None
            db.session.delete(phone)
        _finish(intent, "failed", f"Twilio did not buy {number}; nothing was bought.")
        _commit(intent, "a purchase that did not happen")
        return
    _leave_pending(
        intent,
        phone,
        f"Buying {number} is pending on Twilio: it has not confirmed the purchase yet{why}. "
        "Phonetree checks again shortly.",
    )
    _commit(intent, "a pending purchase")


def _adopt(org: Organization, intent: PhoneIntent, phone: PhoneNumber | None, record: Any, provider: Any) -> None:
    """Twilio owns the number: record it (routed as asked), with Phonetree's webhooks on Twilio."""
    sid = field_of(record, "sid")
    if phone is None:  # the pending row went away (a crash, a clean-up): keep the number known, unrouted
        phone = PhoneNumber(
            org_id=org.id,
            phone_number=field_of(record, "phone_number"),
            mode="voice",
            sms_auto_reply="",
            drift=[],
            capabilities={},
        )
        db.session.add(phone)
        intent.phone = phone
    if phone.friendly_name in (None, "", phone.phone_number):
        phone.friendly_name = field_of(record, "friendly_name") or ""
    phone.sid, intent.sid = sid, sid
    phone.capabilities = dict(field_of(record, "capabilities") or {})
    phone.sync_status, phone.last_error, phone.drift, phone.checked_at = "ok", "", [], now()
    if differences(org, phone, record) and not public_base_url():
        phone.sync_status, phone.last_error = "needs_push", f"Bought. {_NO_BASE_URL}"
    elif differences(org, phone, record):  # bought without its webhooks (a lost answer, a crash)
        try:
            provider.update_number(sid, **twilio_params(webhook_config(org, phone.mode)))
        except UpstreamError as err:
            phone.sync_status = "needs_push"
            phone.last_error = (
                f"Bought, but Twilio did not take the webhook settings yet ({describe(err)}). "
                "Push the local config to repair it."
            )
    _finish(intent, "done", f"Bought {phone.phone_number} ({sid}).")
    _commit(intent, f"Twilio sold {phone.phone_number} ({sid})")


def _push(org: Organization, intent: PhoneIntent, phone: PhoneNumber | None, provider: Any) -> UpstreamError | None:
    """Import and route: send the webhook settings (repeating is harmless), then compare when unsure."""
    if phone is None or phone.sid is None:
        _finish(intent, "failed", "The number is no longer in Phonetree.")
        _commit(intent, "a settled change")
        return None
    if not public_base_url():
        _leave_pending(intent, phone, _NO_BASE_URL)
        _commit(intent, "a pending change")
        return None
    try:
        record = provider.update_number(phone.sid, **twilio_params(webhook_config(org, phone.mode)))
    except UpstreamError as err:
        if err.status is not None:
            return _refused(intent, phone, err, "Twilio did not take the webhook settings")
        try:
            record = provider.fetch_number(phone.sid)
        except UpstreamError as lookup:
            if lookup.status is not None and lookup.status != 404:
                lookup = err
            return _unconfirmed(intent, phone, err, lookup)
        if differences(org, phone, record):
            _leave_pending(
                intent,
                phone,
                f"Sending the routing of {phone.phone_number} is pending on Twilio: "
                f"it did not answer ({describe(err)}). Phonetree sends it again shortly.",
            )
            _commit(intent, "a pending change")
            return None
    phone.capabilities = dict(field_of(record, "capabilities") or phone.capabilities or {})
    phone.sync_status, phone.last_error, phone.drift, phone.checked_at = "ok", "", [], now()
    _finish(intent, "done", f"Twilio has the routing of {phone.phone_number}.")
    _commit(intent, "a change Twilio took")
    return None


def _refused(intent: PhoneIntent, phone: PhoneNumber, err: UpstreamError, doing: str) -> UpstreamError:
    phone.sync_status = "error"
    phone.last_error = f"{doing}. {describe(err)} Push the local config again to repair it."
    _finish(intent, "failed", phone.last_error)
    _commit(intent, "Twilio's refusal")
    return err


def _unconfirmed(intent: PhoneIntent, phone: PhoneNumber, err: UpstreamError, lookup: UpstreamError) -> None:
    if lookup.status == 404:
        phone.sync_status = "error"
        phone.drift = [{"field": "sid", "local": phone.sid, "twilio": None}]
        phone.last_error = "Twilio no longer has this number (released in Twilio's console?). Release it here."
        _finish(intent, "failed", phone.last_error)
        _commit(intent, "a number Twilio no longer has")
        return None
    _leave_pending(
        intent,
        phone,
        f"{DOING[intent.action]} {phone.phone_number} is pending on Twilio: it did not "
        f"answer ({describe(err)}). Phonetree tries again shortly.",
    )
    _commit(intent, "a pending change")
    return None


def _release(intent: PhoneIntent, phone: PhoneNumber | None, provider: Any) -> UpstreamError | None:
    """Release on Twilio (repeating is harmless: a number Twilio no longer has counts as released)."""
    sid = intent.sid or (phone.sid if phone is not None else None)
    if sid:
        try:
            provider.release_number(sid)
        except UpstreamError as err:
            if err.status is not None and err.status != 404:
                _finish(intent, "failed", f"Twilio did not release {intent.phone_number}: {describe(err)}")
                _commit(intent, "Twilio's refusal")
                return err
            if err.status is None and _still_owned(provider, sid, intent, phone, err):
                return None
    if phone is not None:
        intent.phone = None
        db.session.delete(phone)
    _finish(intent, "done", f"Released {intent.phone_number}.")
    _commit(intent, f"Twilio released {intent.phone_number}")
    return None


def _still_owned(provider: Any, sid: str, intent: PhoneIntent, phone: PhoneNumber | None, cause: UpstreamError) -> bool:
    """After a release went unanswered: False when Twilio no longer has the number, else leave it pending."""
    try:
        provider.fetch_number(sid)
        known = "Twilio still has it"
    except UpstreamError as err:
        if err.status == 404:
            return False
        known = f"looking it up failed ({describe(err)})"
    _leave_pending(
        intent,
        phone,
        f"Releasing {intent.phone_number} is pending on Twilio: it did not answer "
        f"({describe(cause)}) and {known}. Phonetree tries again shortly.",
    )
    _commit(intent, "a pending release")
    return True
