"""The front door for Twilio: ``POST /connect/webhook/{vendor}/{serviceId}?orgid=<org>``.

Every request must carry a valid ``X-Twilio-Signature`` for the org's auth token, computed
over ``{PUBLIC_BASE_URL}{path}?{query}`` (or the URL as received when PUBLIC_BASE_URL is not
set) and the form body. Otherwise: 403 and nothing is read or stored beyond the org lookup.
A verified request goes three steps: the org's provider parses Twilio's fields into an
`InboundWebhook` (with its engine event), the call runtime (`services.call_webhooks.handle_webhook`)
runs it, and the provider renders the answer (always 200 TwiML for a voice webhook).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Request, Response, abort, current_app, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.datastructures import MultiDict

from db_pool import retry_on_disconnect
from extensions import csrf, db
from flows.twiml import goodbye_twiml
from flows.webhooks import MESSAGING_SERVICES, SERVICE_IDS, VENDOR, VOICE_SERVICES, WEBHOOK_PREFIX
from services.call_webhooks import handle_webhook
from services.messaging import unavailable
from upstream.errors import SecretsUnreadable
from upstream.twilio_fields import clean_webhook_fields
from upstream.webhook_orgs import webhook_org
from web.errors import json_error

log = logging.getLogger("phonetree.connect")

bp = Blueprint("connect", __name__, url_prefix="/connect")
csrf.exempt(bp)

VENDORS = (VENDOR,)
WEBHOOK_PATH = WEBHOOK_PREFIX.removesuffix(f"{VENDOR}/")


class WebhookAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, but none for Twilio's webhooks: no browser, no cookie.

    Their requests get Flask's null session (read as empty, never saved, no Set-Cookie), so
    the hot path does not build the cookie serializer on every request.
    """

    def open_session(self, app: Flask, req: Request) -> Any:
        """Flask's cookie session, or the null session for a webhook."""
        if req.path.startswith(WEBHOOK_PATH):
            return self.make_null_session(app)
        return super().open_session(app, req)


def webhook_form() -> MultiDict:
    """The webhook's form fields. Twilio posts them url-encoded (UTF-8): read straight from the
    body, without werkzeug's general form parser; anything else goes through ``request.form``.
    """
    content_type = request.headers.get("Content-Type", "")
    if content_type.split(";", 1)[0].strip().lower() != "application/x-www-form-urlencoded":
        return request.form
    body = request.get_data(cache=True).decode("utf-8", "replace")
    return MultiDict(parse_qsl(body, keep_blank_values=True))


def signed_url() -> str:
    """The URL Twilio signed: PUBLIC_BASE_URL + path + query, else the URL as received."""
    public = (current_app.config.get("PUBLIC_BASE_URL") or "").rstrip("/")
    if not public:
        return request.url
    query = request.query_string.decode("latin-1")
    return f"{public}{request.path}" + (f"?{query}" if query else "")


def _forbidden(reason: str, service_id: str, slug: str | None):
    log.warning("rejected %s webhook for org %r: %s", service_id, slug, reason)
    return json_error(403, "forbidden", "This request is not signed by Twilio for this organisation.")


def _verified(service_id: str, slug: str | None, fields: MultiDict) -> tuple[Any, Any, Any]:
    """``(org, provider, None)`` when the request is signed by Twilio for this org, else
    ``(None, None, answer)`` with the answer to give.

    A cached org may be a moment old: before a known org's request is rejected, the database
    has its say (an unknown org was just read from it).
    """
    signature = request.headers.get("X-Twilio-Signature", "")
    reason = ""
    for fresh in (False, True):
        try:
            org, provider = retry_on_disconnect(lambda fresh=fresh: webhook_org(slug, fresh), db.session.rollback)
        except SecretsUnreadable:
            log.exception("%s webhook for org %r: the stored Twilio secrets cannot be read", service_id, slug)
            return None, None, _forbidden("unreadable Twilio secrets", service_id, slug)
        except Exception:  # noqa: BLE001  the database is unreachable: nothing can be read or stored
            log.exception("%s webhook for org %r: the database is unavailable", service_id, slug)
            if service_id in VOICE_SERVICES:  # Twilio would read a 5xx to the caller as "an application error"
                return None, None, Response(goodbye_twiml(), status=200, content_type="text/xml; charset=utf-8")
            if service_id in MESSAGING_SERVICES:  # a 503 sends the text to the number's fallback URL (or a retry)
                status, content_type, body = unavailable()
                return None, None, Response(body, status=status, content_type=content_type)
            return None, None, json_error(503, "unavailable", "Phonetree cannot reach its database; Twilio will retry.")
        if org is None:
            return None, None, _forbidden("unknown org", service_id, slug)
        if provider is None or not hasattr(provider, "validate_webhook"):
            reason = "no Twilio integration"
        elif not provider.validate_webhook(signed_url(), fields, signature):
            reason = "missing or invalid signature"
        else:
            return org, provider, None
    return None, None, _forbidden(reason, service_id, slug)


@bp.post("/webhook/<vendor>/<service_id>")
def webhook(vendor: str, service_id: str):
    """Authenticate a Twilio webhook for the org named by ``orgid`` and dispatch it."""
    if vendor not in VENDORS or service_id not in SERVICE_IDS:
        abort(404)
    slug = request.args.get("orgid")
    fields = webhook_form()
    org, provider, refusal = _verified(service_id, slug, fields)
    if refusal is not None:
        return refusal
    form, query = clean_webhook_fields(fields, service_id), clean_webhook_fields(request.args, service_id)
    answer = None
    try:
        hook = provider.parse_webhook(service_id, form, query)
        answer = handle_webhook(org, hook, provider)
    except Exception:  # noqa: BLE001  the runtime never raises, but Twilio must never see a 5xx from a voice URL
        log.exception("%s webhook for org %s failed", service_id, org.slug)
    result = provider.render_answer(service_id, answer)
    return Response(result.body, status=result.status, content_type=result.content_type)
