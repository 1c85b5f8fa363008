"""The engine's `flows.Services` for real calls: HTTP, messages, subflows, online softphones and
Twilio request signatures (made by the org's provider: the auth token stays there).

HTTP requests go out with `requests` (timeout at most 5 s, no redirects) and, unless
``app.config["PHONETREE_HTTP_ALLOW_PRIVATE"]`` is set, never to loopback, private or
link-local addresses (a flow author must not reach Phonetree's own network).
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app
from sqlalchemy import or_, select

from extensions import db
from models import Flow, OrgRef, SoftphonePresence, User, phone_number_user
from services.call_store import insert_message
from services.clock import now
from services.flow_revisions import published_definition
from services.webhook_urls import webhook_url
from upstream.provider import Provider
from upstream.provider_cache import get_provider

log = logging.getLogger("phonetree.calls")

MAX_HTTP_TIMEOUT = 5.0
MAX_RESPONSE_CHARS = 100_000


class BlockedRequest(RuntimeError):
    """An HTTP request a flow may not make (scheme or address not allowed)."""


def _check_public(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BlockedRequest(f"only http(s) URLs may be requested, not {url[:80]!r}")
    if current_app.config.get("PHONETREE_HTTP_ALLOW_PRIVATE"):
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise BlockedRequest(f"cannot resolve {parts.hostname}: {exc}") from exc
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise BlockedRequest(f"{parts.hostname} resolves to a non-public address")


class CallServices:
    """Side effects of one call's turn, scoped to its organisation.

    `provider`: the org's provider as the webhook's front door (`upstream.webhook_orgs.webhook_org`)
    returned it and validated this very request's signature with; sends and signatures of the
    turn use it, as they are. Without it (a timer's turn, an execution, the test console) each
    asks `get_provider`, which reads the integration's ``updated_at`` first.

    The front door's copy may be up to ``WEBHOOK_ORG_RECHECK_SECONDS`` (1 s by default) older
    than a change saved by another worker (this worker's own saves clear it at once). That is
    acceptable for a send: it is the window in which the front door already accepts requests
    with those credentials; the request was just signed with the auth token this provider holds,
    so it belongs to that Twilio account; and a send refused by Twilio after a rotation in that
    second takes the node's ``failed`` outcome, as any Twilio error does. The turn saves a query
    per send.
    """

    def __init__(
        self,
        org: OrgRef,
        session_id: str | None = None,
        phone_number_id: int | None = None,
        default_from: str = "",
        provider: Provider | None = None,
    ) -> None:
        self.org = org
        self.session_id = session_id
        self.phone_number_id = phone_number_id
        self.default_from = default_from
        self.provider = provider

    def _provider(self) -> Provider | None:
        return self.provider if self.provider is not None else get_provider(self.org)

    def http_request(
        self, method: str, url: str, headers: Mapping[str, str], body: str | None, timeout: float
    ) -> tuple[int, str]:
        """Make the request (at most 5 s); (status, text). Raises on network errors and blocked URLs."""
        _check_public(url)
        response = requests.request(
            method.upper(),
            url,
            headers=dict(headers),
            data=body.encode() if body else None,
            timeout=min(float(timeout or MAX_HTTP_TIMEOUT), MAX_HTTP_TIMEOUT),
            allow_redirects=False,
            stream=True,
        )
        with response:
            # Read no more than the engine will look at, so a huge answer cannot exhaust memory.
            raw = response.raw.read(MAX_RESPONSE_CHARS * 4, decode_content=True) or b""
        text = raw.decode(response.encoding or "utf-8", errors="replace")
        return response.status_code, text[:MAX_RESPONSE_CHARS]

    def twilio_signature(self, url: str, params: Mapping[str, str]) -> str:
        """The org's Twilio signature for a form POST (the provider keeps the auth token)."""
        provider = self._provider()
        sign = getattr(provider, "sign_request", None)
        if sign is None:
            raise RuntimeError("this organisation has no Twilio integration to sign with")
        return sign(url, params)

    def send_message(self, to: str, from_: str, body: str, media: list[str]) -> str:
        """Send through the org's Twilio provider (delivery reported to ``message-status``) and log the
        message on the session, failed ones too (with Twilio's code); the message sid. Raises what
        the provider raised: the node takes ``failed``."""
        sender = from_ or self.default_from
        row = {
            "org_id": self.org.id,
            "phone_number_id": self.phone_number_id,
            "session_id": self.session_id,
            "direction": "outbound",
            "from_number": sender[:64],
            "to_number": to[:64],
            "body": body,
            "media": list(media) or None,
            "created_at": now(),
        }
        if current_app.config.get("PHONETREE_MESSAGES_DRY_RUN"):  # `flask message simulate`: record, send nothing
            sid = "SM" + uuid.uuid4().hex
            insert_message(**row, sid=sid, status="simulated")
            return sid
        try:
            provider = self._provider()
            if provider is None:
                raise RuntimeError("this organisation has no Twilio integration")
            callback = webhook_url(self.org.slug, "message-status", self.session_id)
            result = provider.send_message(to=to, from_=sender, body=body, media=media, status_callback=callback)
        except Exception as exc:
            insert_message(**row, status="failed", error_code=str(getattr(exc, "code", "") or "")[:16] or None)
            raise
        sid = str(getattr(result, "sid", None) or (result.get("sid") if isinstance(result, dict) else result) or "")
        status = result.get("status") if isinstance(result, dict) else None
        insert_message(**row, sid=sid[:64] or None, status=str(status or "sent")[:32])
        return sid

    def load_flow(self, flow_id: str) -> dict[str, Any] | None:
        """The published definition of another flow of this org (subflows), or None."""
        if not str(flow_id).isdigit():
            return None
        flow = db.session.get(Flow, int(flow_id))
        if flow is None or flow.org_id != self.org.id or flow.published_revision_id is None:
            return None
        return published_definition(flow.published_revision_id)

    def online_clients(self, users: list[str]) -> list[str]:
        """Client identities of the named users (e-mail, ``user:<email>`` or id) with an online softphone."""
        return online_identities(self.org, users)

    def number_users(self) -> list[str]:
        """The e-mails of the users assigned to the call's number (none without a number)."""
        if self.phone_number_id is None:
            return []
        return list(
            db.session.scalars(
                select(User.email)
                .join(phone_number_user, phone_number_user.c.user_id == User.id)
                .where(phone_number_user.c.phone_number_id == self.phone_number_id)
            )
        )


def online_identities(org: OrgRef, users: list[str] | None = None) -> list[str]:
    """Softphone identities online now, for the given users (all of the org's when None), in that order."""
    query = (
        select(SoftphonePresence.identity, User.email, User.id)
        .join(User, User.id == SoftphonePresence.user_id)
        .where(SoftphonePresence.org_id == org.id, SoftphonePresence.expires_at > now())
    )
    keys: list[str] = []
    if users is not None:
        keys = [str(u).strip().lower().removeprefix("user:") for u in users if str(u).strip()]
        emails = [k for k in keys if "@" in k]
        ids = [int(k) for k in keys if k.isdigit()]
        if not emails and not ids:
            return []
        query = query.where(or_(User.email.in_(emails), User.id.in_(ids)))
    rows = db.session.execute(query.order_by(User.email)).all()
    if users is None:
        return [r.identity for r in rows]
    rank = {key: i for i, key in reversed(list(enumerate(keys)))}
    ordered = sorted(rows, key=lambda r: min(rank.get(r.email, len(keys)), rank.get(str(r.id), len(keys))))
    return [r.identity for r in ordered]
