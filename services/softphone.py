"""Browser softphones: Twilio voice access tokens and presence (who can take a call right now).

A softphone is online while its presence row has not expired: the page heartbeats every
``HEARTBEAT_SECONDS`` and each heartbeat keeps it online for ``PRESENCE_SECONDS``, so a closed
laptop drops off within a minute and a half even when the unload beacon never arrived.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from extensions import db
from models import Organization, OrgRef, SoftphonePresence, User, utcnow
from services.phone_twilio import PhoneError, describe, provider_for
from upstream.errors import UpstreamError

MAX_TTL_SECONDS = 3600
MIN_TTL_SECONDS = 60
HEARTBEAT_SECONDS = 30
PRESENCE_SECONDS = 90
IDENTITY_RE = re.compile(r"^[A-Za-z0-9_.:@+\-]{1,121}$")


def own_identity(user: User) -> str:
    """The softphone identity of a user: ``user:<email>``."""
    return f"user:{user.email}"


def mint_token(
    org: Organization,
    user: User,
    identity: str | None = None,
    ttl: int = MAX_TTL_SECONDS,
    may_mint_for_others: bool = False,
) -> dict[str, Any]:
    """A Twilio voice access token for ``identity`` (default: the user's own).

    Only admins (``may_mint_for_others``) may mint for another identity, and only for a member of the
    same organisation (``user:<email>``); another org's user or an unknown identity is refused
    (403), so no token can listen as someone outside the org. The token is signed by the
    provider with the integration's API key secret; the auth token never leaves the server.
    Returns ``{"token", "identity", "expires_at"}``.
    """
    identity = (identity or "").strip() or own_identity(user)
    if not IDENTITY_RE.match(identity):
        raise PhoneError(400, "invalid_identity", "identity is 1-121 letters, digits or _ . : @ + - characters.")
    if identity != own_identity(user):
        if not may_mint_for_others:
            raise PhoneError(403, "forbidden", f"You may only get a token for your own identity, {own_identity(user)}.")
        if not _is_member_identity(org, identity):
            raise PhoneError(
                403, "forbidden", "An admin may only get a token for a member of this organisation (user:<email>)."
            )
    ttl = max(MIN_TTL_SECONDS, min(int(ttl), MAX_TTL_SECONDS))
    provider = provider_for(org)
    try:
        minted = provider.mint_voice_token(identity, ttl)
    except UpstreamError as err:
        raise PhoneError(502, "upstream_error", f"Could not mint a voice token. {describe(err)}") from err
    except ValueError as err:  # IntegrationConfigError: appSid, apiKey or its secret missing
        raise PhoneError(409, "voice_not_configured", getattr(err, "message", str(err))) from err
    return {"token": minted.token, "identity": minted.identity, "expires_at": _iso(minted.expires_at)}


def _is_member_identity(org: Organization, identity: str) -> bool:
    """Whether ``identity`` is the softphone identity of a member of ``org``."""
    prefix, _, email = identity.partition(":")
    if prefix != "user" or not email:
        return False
    member = User.by_email(email)
    return member is not None and own_identity(member) == identity and member.membership_in(org.id) is not None


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat().replace("+00:00", "Z")


def mark_present(org: Organization, user: User, identity: str | None = None) -> SoftphonePresence:
    """The user's softphone is registered: online for the next PRESENCE_SECONDS."""
    now = utcnow()
    for _attempt in range(2):  # a concurrent first registration wins the insert; then we update
        row = db.session.scalar(
            select(SoftphonePresence).where(SoftphonePresence.org_id == org.id, SoftphonePresence.user_id == user.id)
        )
        if row is None:
            row = SoftphonePresence(org_id=org.id, user_id=user.id)
            db.session.add(row)
        row.identity = identity or own_identity(user)
        row.expires_at = now + timedelta(seconds=PRESENCE_SECONDS)
        row.last_seen_at = now
        try:
            db.session.commit()
            return row
        except IntegrityError:
            db.session.rollback()
    raise RuntimeError("could not record softphone presence")


def mark_absent(org: Organization, user: User) -> None:
    """The user's softphone unregistered (page closed): offline now."""
    db.session.execute(
        delete(SoftphonePresence).where(SoftphonePresence.org_id == org.id, SoftphonePresence.user_id == user.id)
    )
    db.session.commit()


def is_online(org: Organization, user: User) -> bool:
    """Whether this user's softphone is online in the org."""
    return user.id in online_user_ids(org)


def online_user_ids(org: OrgRef) -> set[int]:
    """Ids of the org's users whose softphone is online."""
    return set(
        db.session.scalars(
            select(SoftphonePresence.user_id).where(
                SoftphonePresence.org_id == org.id, SoftphonePresence.expires_at > utcnow()
            )
        )
    )


def online_clients(org: OrgRef, users: Iterable[User | int] | None = None) -> list[str]:
    """Client identities (for ``<Dial><Client>``) of online softphones, limited to ``users`` if given."""
    query = select(SoftphonePresence).where(SoftphonePresence.org_id == org.id, SoftphonePresence.expires_at > utcnow())
    if users is not None:
        ids = [u if isinstance(u, int) else u.id for u in users]
        query = query.where(SoftphonePresence.user_id.in_(ids))
    return [row.identity for row in db.session.scalars(query.order_by(SoftphonePresence.identity))]
