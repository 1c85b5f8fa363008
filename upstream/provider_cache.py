"""Each organisation's provider, built from its decrypted integration once per ``updated_at``.

The entries are `caches.PROVIDERS`, keyed by org id and valid for one ``integration.updated_at``:
every save moves ``updated_at`` forward, so every worker notices the change on its next call
and rebuilds; a hit needs no decryption.
"""

from __future__ import annotations

import logging

from caches import PROVIDERS
from db_raw import RawStatement
from extensions import db
from models import OrgRef, UpstreamIntegration
from upstream.errors import NotConnected, UnknownIntegrationType
from upstream.integrations import get_integration
from upstream.provider import Provider
from upstream.providers import provider_settings, provider_types
from upstream.secrets import decrypt_secrets

log = logging.getLogger("phonetree.upstream")
_STAMP = RawStatement(
    "SELECT updated_at FROM upstream_integration WHERE org_id = :org",
    columns=[UpstreamIntegration.__table__.c.updated_at.type],
)


def get_provider(org: OrgRef) -> Provider | None:
    """The organisation's provider, or None when nothing is connected.

    Cached per process by ``(org.id, integration.updated_at)``; one small query per call tells
    whether another worker saved a newer config (on a hit, only ``updated_at`` is read, with a
    fixed statement: a send in a webhook's turn pays no ORM query). Raises SecretsUnreadable
    when no configured key opens the stored secrets.
    """
    hit = PROVIDERS.get(org.id)
    if hit is not None and not db.session.dirty:  # a config changed in this session: the ORM reads it
        found = _STAMP.first({"org": org.id})
        if found is not None and found[0] == hit[0]:
            return hit[1]
    return provider_for(org, get_integration(org))


def provider_for(org: OrgRef, integration: UpstreamIntegration | None) -> Provider | None:
    """The provider of `org` for its integration row as just read (see `get_provider`)."""
    if integration is None:
        return None
    if integration.org_id != org.id:
        raise ValueError("integration of another organisation")
    hit = PROVIDERS.get(org.id)
    if hit is not None and hit[0] == integration.updated_at:
        return hit[1]
    try:
        cls = provider_types.get(integration.type)
    except UnknownIntegrationType:
        log.error("Org %s has an integration of unknown type %r.", org.slug, integration.type)
        return None
    provider = cls(
        org.id, integration.config or {}, decrypt_secrets(integration.secrets_encrypted), provider_settings()
    )
    PROVIDERS.put(org.id, (integration.updated_at, provider))
    return provider


def get_provider_for(org: OrgRef, type_name: str) -> Provider:
    """The organisation's provider of this type; raises UnknownIntegrationType or NotConnected."""
    cls = provider_types.get(type_name)
    provider = get_provider(org)
    if provider is None or not isinstance(provider, cls):
        raise NotConnected(
            f"No {cls.type_name} integration is connected for this organisation; "
            "connect one with POST /upstream/save-integration or under Settings → Twilio."
        )
    return provider
