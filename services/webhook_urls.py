"""The absolute URLs of Phonetree's Twilio webhooks (API.md's serviceIds) for an org and a call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import current_app, has_request_context, request

from flows.webhooks import webhook_path


def base_url() -> str:
    """Where Twilio reaches Phonetree: PUBLIC_BASE_URL, else the URL of the current request."""
    public = current_app.config.get("PUBLIC_BASE_URL") or ""
    if public:
        return public.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return "http://localhost"


def webhook_url(org_slug: str, service_id: str, session_id: str | None = None, **params: Any) -> str:
    """The absolute URL of one of Phonetree's Twilio webhooks for an org (and a call session)."""
    query: dict[str, Any] = {"orgid": org_slug}
    if session_id:
        query["session"] = session_id
    query.update({k: v for k, v in params.items() if v is not None})
    return f"{base_url()}{webhook_path(service_id)}?{urlencode(query)}"


def url_builder(org_slug: str, session_id: str | None) -> Callable[..., str]:
    """`url_for(service_id, **params)` for the engine's TurnContext."""

    def url_for(service_id: str, **params: Any) -> str:
        return webhook_url(org_slug, service_id, session_id, **params)

    return url_for
