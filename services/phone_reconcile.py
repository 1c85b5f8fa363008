"""Reconciliation runs: settling the number changes still pending on Twilio (see ``services.phone_saga``).

``settle_due`` is one pass over every org (the ``flask worker`` command runs it); ``settle_org`` one
org's (every drift check runs it first). Each intent is leased with one conditional UPDATE
(``claim``) before it is settled, so two workers, or a worker and a request, never settle one intent
at once, and a crash mid-way only delays it until the lease runs out.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import or_, select, update

from extensions import db
from models import Organization, PhoneIntent
from services.phone_saga import lease, now, reload, settle
from services.phone_twilio import PhoneError, provider_for

log = logging.getLogger("phonetree.phone.saga")


def claim(intent_id: int) -> bool:
    """Take the lease of a pending intent nobody holds; False when someone else holds it or it is settled."""
    at = now()
    taken = db.session.execute(
        update(PhoneIntent)
        .where(
            PhoneIntent.id == intent_id,
            PhoneIntent.state == "pending",
            or_(PhoneIntent.claimed_until.is_(None), PhoneIntent.claimed_until < at),
        )
        .values(claimed_until=at + lease(), attempts=PhoneIntent.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    return taken.rowcount == 1


def _due(org_id: int | None, phone_id: int | None = None) -> list[int]:
    at = now()
    query = select(PhoneIntent.id).where(
        PhoneIntent.state == "pending", or_(PhoneIntent.claimed_until.is_(None), PhoneIntent.claimed_until < at)
    )
    if org_id is not None:
        query = query.where(PhoneIntent.org_id == org_id)
    if phone_id is not None:
        query = query.where(PhoneIntent.phone_id == phone_id)
    return list(db.session.scalars(query.order_by(PhoneIntent.id).limit(500)))


def settle_org(org: Organization, provider: Any, phone_id: int | None = None) -> int:
    """Settle the org's pending intents nobody holds (all, or one number's); returns how many were tried."""
    tried = 0
    for intent_id in _due(org.id, phone_id):
        if not claim(intent_id):
            continue  # another worker or request holds it
        tried += 1
        settle(org, reload(intent_id), provider)
    return tried


def settle_due() -> dict[str, int]:
    """One reconciliation run over every org: {"tried", "pending"} (what is still pending afterwards)."""
    tried = 0
    org_ids = sorted(set(db.session.scalars(select(PhoneIntent.org_id).where(PhoneIntent.state == "pending"))))
    for org_id in org_ids:
        org = db.session.get(Organization, org_id)
        try:
            provider = provider_for(org)
        except PhoneError as err:
            log.warning("Cannot settle the pending number changes of org %s: %s", org.slug, err.message)
            continue
        try:
            tried += settle_org(org, provider)
        except Exception:  # one org's fault must not stop the others; its leases run out
            db.session.rollback()
            log.exception("Settling the pending number changes of org %s failed", org.slug)
    pending = db.session.scalar(select(db.func.count(PhoneIntent.id)).where(PhoneIntent.state == "pending"))
    return {"tried": tried, "pending": int(pending or 0)}
