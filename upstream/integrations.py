"""The vendor providers Phonetree knows, and each organisation's single integration.

``save_integration`` validates a config, checks changed credentials with the vendor before
anything is written (so bad credentials leave nothing half-saved), and stores the secret fields
encrypted. ``get_provider`` builds a provider from the decrypted config and caches it per process,
keyed by ``(org.id, integration.updated_at)``: every save moves ``updated_at`` forward, so every
worker notices the change on its next call and rebuilds.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from db_raw import RawStatement
from extensions import db
from models import Organization, UpstreamIntegration, utcnow
from upstream.errors import IntegrationConfigError, NotConnected, SecretsUnreadable, UnknownIntegrationType
from upstream.provider import Provider, ProviderSettings
from upstream.secrets import decrypt_secrets, encrypt_secrets
from upstream.twilio_provider import TwilioProvider

log = logging.getLogger("phonetree.upstream")
CACHE_KEY = "phonetree_upstream_providers"
WEBHOOK_CACHE_KEY = "phonetree_webhook_orgs"
WEBHOOK_CACHE_MAX = 10_000
MAX_NAME_LENGTH = 200


class UpstreamRegistry:
    """Provider classes by type name (``TwilioProvider`` ...)."""

    def __init__(self, providers: tuple[type[Provider], ...] = ()) -> None:
        self._types: dict[str, type[Provider]] = {}
        for cls in providers:
            self.register(cls)

    def register(self, cls: type[Provider]) -> type[Provider]:
        """Add a provider class under its ``type_name`` (usable as a class decorator)."""
        self._types[cls.type_name] = cls
        return cls

    def get(self, type_name: Any) -> type[Provider]:
        """The provider class for a type name; raises UnknownIntegrationType."""
        cls = self._types.get(type_name) if isinstance(type_name, str) else None
        if cls is None:
            raise UnknownIntegrationType(str(type_name), self.names())
        return cls

    def names(self) -> list[str]:
        """Registered type names."""
        return sorted(self._types)


registry = UpstreamRegistry((TwilioProvider,))


def get_integration(org: Organization) -> UpstreamIntegration | None:
    """The organisation's integration, or None when it has not connected one."""
    return db.session.scalar(UpstreamIntegration.for_org(org.id))


def public_summary(integration: UpstreamIntegration) -> dict[str, Any]:
    """The integration as the API shows it: public config and which secrets are set, never their values."""
    try:
        names = registry.get(integration.type).public_names()
    except UnknownIntegrationType:
        names = sorted(integration.config or {})
    return {
        "id": integration.id,
        "type": integration.type,
        "name": integration.name,
        "config": {name: (integration.config or {}).get(name) or None for name in names},
        "secrets_set": list(integration.secret_names or []),
    }


def _stored_secrets(integration: UpstreamIntegration) -> dict[str, str]:
    try:
        return decrypt_secrets(integration.secrets_encrypted)
    except SecretsUnreadable:
        log.warning("Integration %s: stored secrets are unreadable; they must be entered again.", integration.id)
        return {}


def _check_name(name: Any, default: str) -> str:
    if name is not None and not isinstance(name, str):
        raise IntegrationConfigError("name must be a string.", "name")
    name = (name or "").strip() or default
    if len(name) > MAX_NAME_LENGTH:
        raise IntegrationConfigError(f"name is too long (at most {MAX_NAME_LENGTH} characters).", "name")
    return name


def provider_settings() -> ProviderSettings:
    """The running app's vendor settings (base URL, timeout)."""
    return ProviderSettings.from_config(current_app.config)


def save_integration(org: Organization, type_name: Any, name: Any, config: Any, *,
                     verify: bool = True) -> UpstreamIntegration:
    """Create or replace the organisation's integration (flushed, not committed).

    Blank secret fields keep the stored values. When credentials changed and ``verify`` is on,
    the vendor checks them first; CredentialsRejected or UpstreamError then leave the database
    untouched. Raises UnknownIntegrationType and IntegrationConfigError for bad input.
    """
    cls = registry.get(type_name)
    existing = get_integration(org)
    same_vendor = existing is not None and existing.type == cls.type_name
    stored_public = dict(existing.config or {}) if same_vendor else {}
    stored_secrets = _stored_secrets(existing) if same_vendor else {}
    public, secrets = cls.normalise(config, stored_public, stored_secrets)
    name = _check_name(name, existing.name if same_vendor else f"{cls.label} account")
    changed = not same_vendor or public != stored_public or secrets != stored_secrets
    if verify and changed:
        cls(org.id, public, secrets, provider_settings()).verify()

    integration = existing or UpstreamIntegration(org_id=org.id)
    now = utcnow()
    if integration.updated_at is not None and now <= integration.updated_at:
        now = integration.updated_at + timedelta(microseconds=1)  # always move forward: caches key on it
    integration.type, integration.name, integration.config = cls.type_name, name, public
    integration.secrets_encrypted = encrypt_secrets(secrets)
    integration.secret_names = [n for n in cls.secret_names() if n in secrets]
    integration.updated_at = now
    if existing is None:
        db.session.add(integration)
    db.session.flush()
    log.info("Org %s saved its %s integration %r (secrets set: %s; credentials %s).", org.slug, cls.type_name,
             name, ", ".join(integration.secret_names) or "none", "changed" if changed else "unchanged")
    return integration


def delete_integration(org: Organization) -> bool:
    """Remove the organisation's integration and its secrets (flushed, not committed). False if none."""
    integration = get_integration(org)
    if integration is None:
        return False
    db.session.delete(integration)
    db.session.flush()
    _cache().pop(org.id, None)
    log.info("Org %s disconnected its %s integration.", org.slug, integration.type)
    return True


_cache_lock = threading.Lock()


def _cache() -> dict[int, tuple[Any, Provider]]:
    return current_app.extensions.setdefault(CACHE_KEY, {})


def get_provider(org: Organization) -> Provider | None:
    """The organisation's provider, or None when nothing is connected.

    Cached per process by ``(org.id, integration.updated_at)``; one small query per call tells
    whether another worker saved a newer config. Raises SecretsUnreadable when no configured key
    opens the stored secrets.
    """
    return provider_for(org, get_integration(org))


def org_with_integration(slug: str | None) -> tuple[Organization | None, UpstreamIntegration | None]:
    """The organisation with this slug and its integration (or None), read in one query."""
    if not slug:
        return None, None
    row = db.session.execute(
        select(Organization, UpstreamIntegration)
        .outerjoin(UpstreamIntegration, UpstreamIntegration.org_id == Organization.id)
        .where(Organization.slug == slug)
    ).first()
    return (row[0], row[1]) if row is not None else (None, None)


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
    scoped by it), slug and settings.
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
    cache: dict[str, _WebhookEntry] = current_app.extensions.setdefault(WEBHOOK_CACHE_KEY, {})
    hit = cache.get(slug)
    now = time.monotonic()
    if hit is not None and not fresh and now - hit.checked < current_app.config["WEBHOOK_ORG_RECHECK_SECONDS"]:
        return hit.org, hit.provider
    stamp = _WEBHOOK_STAMP.first({"slug": slug})
    if stamp is None:
        cache.pop(slug, None)
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
    if len(cache) >= WEBHOOK_CACHE_MAX:
        cache.clear()
    cache[slug] = _WebhookEntry(stamp, view, provider, now)
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
        current_app.extensions.get(WEBHOOK_CACHE_KEY, {}).clear()


@event.listens_for(Session, "after_soft_rollback")
def _forget_org_changes(session: Session, previous: Any) -> None:
    if previous.parent is None:  # the whole transaction, not a savepoint within it
        session.info.pop(_ORG_CHANGED, None)


def provider_for(org: Organization, integration: UpstreamIntegration | None) -> Provider | None:
    """The provider of `org` for its integration row as just read (see `get_provider`).

    The cache hit needs no decryption: the provider built for this ``updated_at`` is reused, so
    a save in any worker (which moves ``updated_at`` forward) is noticed on the next request.
    """
    if integration is None:
        return None
    if integration.org_id != org.id:
        raise ValueError("integration of another organisation")
    cache = _cache()
    with _cache_lock:
        hit = cache.get(org.id)
        if hit is not None and hit[0] == integration.updated_at:
            return hit[1]
    try:
        cls = registry.get(integration.type)
    except UnknownIntegrationType:
        log.error("Org %s has an integration of unknown type %r.", org.slug, integration.type)
        return None
    provider = cls(org.id, integration.config or {}, decrypt_secrets(integration.secrets_encrypted),
                   provider_settings())
    with _cache_lock:
        cache[org.id] = (integration.updated_at, provider)
    return provider


def get_provider_for(org: Organization, type_name: str) -> Provider:
    """The organisation's provider of this type; raises UnknownIntegrationType or NotConnected."""
    cls = registry.get(type_name)
    provider = get_provider(org)
    if provider is None or not isinstance(provider, cls):
        raise NotConnected(f"No {cls.type_name} integration is connected for this organisation; "
                           "connect one with POST /upstream/save-integration or under Settings → Twilio.")
    return provider
