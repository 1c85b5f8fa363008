"""Login throttling with Flask-Limiter: failed sign-ins are counted per account and per address.

Only failures count (`deduct_when`), so a person who signs in right is never slowed down; once an
account or an address has used up its failures in the window, every attempt, right or wrong, is
answered 429 with Retry-After until the window ends. The counters live in the app's database
(``db_ratelimit``) unless RATELIMIT_STORAGE_URI names another store (Redis for several servers).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time

from flask import Flask, current_app, render_template, request
from flask_limiter.errors import RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits import parse_many

from extensions import limiter
from models import normalize_email
from web.errors import ApiError, json_error, wants_json
from web.json_input import json_document

log = logging.getLogger("phonetree.security")

RETRY_MESSAGE = "Too many failed sign-in attempts. Try again in {wait}."


def init_throttling(app: Flask) -> None:
    """Attach Flask-Limiter with the database storage unless RATELIMIT_STORAGE_URI names another."""
    import db_ratelimit  # noqa: F401  (registers the phonetree-db:// storage scheme)

    for name in ("LOGIN_LIMIT_PER_ACCOUNT", "LOGIN_LIMIT_PER_ADDRESS"):
        try:
            parse_many(app.config[name])
        except ValueError as err:
            raise ValueError(f"{name} = {app.config[name]!r} is not a rate limit like '10 per 15 minutes'") from err

    if not app.config.get("RATELIMIT_STORAGE_URI"):
        app.config["RATELIMIT_STORAGE_URI"] = f"{db_ratelimit.SCHEME}://"
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _too_many)


@limiter.request_filter
def _is_webhook() -> bool:
    """Only the sign-in views carry limits (their decorators check them): Twilio's webhooks, the
    hot path, skip the limiter's per-request evaluation."""
    return request.blueprint == "connect"


def _account_key() -> str:
    """The account being tried (the posted e-mail, hashed so counters hold no addresses)."""
    email = request.form.get("email")
    if email is None and request.is_json:
        try:  # the app's one strict reader: a hostile body (5,000 levels deep, NaN ...) is no account
            body = json_document()
        except ApiError:
            body = None
        email = body.get("email") if isinstance(body, dict) else None
    email = normalize_email(email if isinstance(email, str) else "")
    return _namespaced("acct:" + hashlib.sha256(email.encode()).hexdigest()[:32]) if email else ""


def _invitation_key() -> str:
    """The invitation being tried (its token, hashed)."""
    token = (request.view_args or {}).get("token", "")
    return _namespaced("invite:" + hashlib.sha256(token.encode()).hexdigest()[:32]) if token else ""


def _address_key() -> str:
    return _namespaced("addr:" + (get_remote_address() or "unknown"))


def _namespaced(key: str) -> str:
    """Keys carry the deployment's namespace, so apps sharing one Redis keep their counters apart."""
    return f"{current_app.config['LOGIN_LIMIT_NAMESPACE']}/{key}"


def _failed(response) -> bool:
    """A sign-in that did not succeed: wrong credentials or a refused form."""
    return response.status_code in (400, 401)


def _per_account() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]


def _per_address() -> str:
    return current_app.config["LOGIN_LIMIT_PER_ADDRESS"]


def _limits(account_key):
    """Decorators: the per-account and per-address failure limits on a sign-in view's POST."""
    shared = {"methods": ["POST"], "deduct_when": _failed}
    by_account = limiter.limit(_per_account, key_func=account_key, **shared)
    by_address = limiter.limit(_per_address, key_func=_address_key, **shared)

    def decorate(view):
        return by_account(by_address(view))

    return decorate


throttle_login = _limits(_account_key)
throttle_invitation = _limits(_invitation_key)


def log_failed_login(email: str, reason: str) -> None:
    """Record a failed attempt with the account and the client address (never the password)."""
    account = normalize_email(email)[:254]
    log.warning("sign-in failed (%s) for account %r from %s", reason, account, get_remote_address())


def _retry_after() -> int:
    current = limiter.current_limit
    if current is None:
        return 60
    # Flask-Limiter's reset_at is int(window end + 1): up to a second past the window, never past its length
    return max(1, min(current.limit.get_expiry(), math.ceil(current.reset_at - time.time())))


def _wait_words(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def _too_many(err: RateLimitExceeded):
    """429 with Retry-After: JSON for the API, the sign-in page (or an error page) for people."""
    wait = _retry_after()
    message = RETRY_MESSAGE.format(wait=_wait_words(wait))
    log.warning("sign-in throttled on %s for %s (%s)", request.path, get_remote_address(), err.description)
    if wants_json():
        response = current_app.make_response(json_error(429, "rate_limited", message, retry_after=wait))
    else:
        if request.endpoint == "auth.login":
            body = render_template("auth/login.html", email=request.form.get("email", ""), throttled=message)
        else:
            body = render_template("error.html", status=429, title="Too many attempts", message=message)
        response = current_app.make_response((body, 429))
    response.headers["Retry-After"] = str(wait)
    return response
