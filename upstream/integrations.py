"""Each organisation's single integration with a vendor: read, saved and deleted.

``save_integration`` validates a config, checks changed credentials with the vendor before
anything is written (so bad credentials leave nothing half-saved), and stores the secret fields
encrypted. Every save moves ``updated_at`` forward: the provider and webhook caches key on it
(see caches.py).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from caches import PROVIDERS
from extensions import db
from models import Organization, OrgRef, UpstreamIntegration, utcnow
from upstream.errors import IntegrationConfigError, SecretsUnreadable, UnknownIntegrationType
from upstream.providers import provider_settings, provider_types
from upstream.secrets import decrypt_secrets, encrypt_secrets

log = logging.getLogger("phonetree.upstream")
MAX_NAME_LENGTH = 200


def get_integration(org: OrgRef) -> UpstreamIntegration | None:
    """The organisation's integration, or None when it has not connected one."""
    return db.session.scalar(UpstreamIntegration.for_org(org.id))


def public_summary(integration: UpstreamIntegration) -> dict[str, Any]:
    """The integration as the API shows it: public config and which secrets are set, never their values."""
    try:
        names = provider_types.get(integration.type).public_names()
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


def save_integration(org: Organization, type_name: Any, name: Any, config: Any, *,
                     verify: bool = True) -> UpstreamIntegration:
    """Create or replace the organisation's integration (flushed, not committed).

    Blank secret fields keep the stored values. When credentials changed and ``verify`` is on,
    the vendor checks them first; CredentialsRejected or UpstreamError then leave the database
    untouched. Raises UnknownIntegrationType and IntegrationConfigError for bad input.
    """
    cls = provider_types.get(type_name)
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
    PROVIDERS.pop(org.id)
    log.info("Org %s disconnected its %s integration.", org.slug, integration.type)
    return True


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
