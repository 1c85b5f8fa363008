"""The organisation (and its provider) a Twilio webhook names by slug, read without the ORM.

The entries are `caches.WEBHOOK_ORGS`, keyed by slug and checked against a stamp row; a commit
of this process that wrote an organisation or an integration clears them (the session
listeners below), other workers notice within ``WEBHOOK_ORG_RECHECK_SECONDS``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from caches import WEBHOOK_ORGS
from db_raw import RawStatement
from models import Organization, UpstreamIntegration
from upstream.integrations import org_with_integration
from upstream.provider import Provider
from upstream.provider_cache import provider_for

# What a webhook's organisation and provider are built from, read in one small query. A cached
# entry holds while this row is unchanged: every save of the integration moves updated_at
# forward, a change of the org's settings changes their text, a new org has a new id.
_WEBHOOK_STAMP = RawStatement(
    "SELECT o.id, o.name, o.timezone, CAST(o.settings AS TEXT), i.id, i.type, i.updated_at "
    "FROM organization o LEFT JOIN upstream_integration i ON i.org_id = o.id WHERE o.slug = :slug"
)


@dataclass(frozen=True)
class WebhookOrg:
    """An organisation as Twilio's webhooks read it: its columns, not an ORM instance.

    Shared by every request of a worker while its stamp holds, so it is read-only (settings
    included). The call runtime needs no more than this of an org: its id (every query is
    scoped by it), slug and settings. It satisfies `models.OrgRef`, as `Organization` does.
    """

    id: int
    slug: str
    name: str
    timezone: str
    settings: Mapping[str, Any]


@dataclass
class _WebhookEntry:
    stamp: tuple
    org: WebhookOrg
    provider: Provider | None
    checked: float  # time.monotonic() when the stamp was last read and matched


def webhook_org(slug: str | None, fresh: bool = False) -> tuple[WebhookOrg | None, Provider | None]:
    """The organisation a webhook names by slug, and its provider (None when nothing is connected).

    The front door's lookup on every Twilio request. A per-process cache holds the org and its
    provider (no ORM instance, no decryption) with the stamp row above; the stamp is read again
    when the entry is older than ``WEBHOOK_ORG_RECHECK_SECONDS`` (or ``fresh``), and a changed
    stamp loads both afresh. Changes committed in this process clear the cache at once; other
    workers see them within the recheck interval, and the front door asks for ``fresh`` before
    rejecting a signature, so a new auth token is honoured at once everywhere. ``(None, None)``
    for an unknown slug; raises SecretsUnreadable.
    """
    if not slug:
        return None, None
    hit: _WebhookEntry | None = WEBHOOK_ORGS.get(slug)
    now = time.monotonic()
    if hit is not None and not fresh and now - hit.checked < current_app.config["WEBHOOK_ORG_RECHECK_SECONDS"]:
        return hit.org, hit.provider
    stamp = _WEBHOOK_STAMP.first({"slug": slug})
    if stamp is None:
        WEBHOOK_ORGS.pop(slug)
        return None, None
    if hit is not None and hit.stamp == stamp:
        hit.checked = now
        return hit.org, hit.provider
    org, integration = org_with_integration(slug)
    if org is None:
        return None, None
    provider = provider_for(org, integration)
    settings = json.loads(stamp[3]) if stamp[3] is not None else None
    view = WebhookOrg(org.id, org.slug, org.name, org.timezone, MappingProxyType(settings or {}))
    WEBHOOK_ORGS.put(slug, _WebhookEntry(stamp, view, provider, now))
    return view, provider


_ORG_CHANGED = "phonetree_webhook_org_changed"


@event.listens_for(Session, "after_flush")
def _note_org_changes(session: Session, _context: Any) -> None:
    """An org or integration written in this transaction: its webhook cache entry must go."""
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, Organization | UpstreamIntegration):
            session.info[_ORG_CHANGED] = True
            return


@event.listens_for(Session, "after_commit")
def _clear_webhook_cache(session: Session) -> None:
    if session.info.pop(_ORG_CHANGED, False) and has_app_context():
        WEBHOOK_ORGS.clear()


@event.listens_for(Session, "after_soft_rollback")
def _forget_org_changes(session: Session, previous: Any) -> None:
    if previous.parent is None:  # the whole transaction, not a savepoint within it
        session.info.pop(_ORG_CHANGED, None)
