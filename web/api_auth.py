"""JSON API authentication: `POST /auth/token` issues a JWT; `api_auth` guards API views."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta
from functools import wraps

import jwt
from flask import Blueprint, current_app, g, jsonify, request

from extensions import csrf, db
from models import Organization, User
from models.accounts import ROLE_RANK
from services.accounts import authenticate
from web.errors import ApiError
from web.json_input import json_body
from web.schemas import TokenRequest
from web.throttle import log_failed_login, throttle_login

bp = Blueprint("api_auth", __name__)
csrf.exempt(bp)

ISSUER = "phonetree"
AUDIENCE = "phonetree-api"


def _signing_key() -> bytes:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, b"phonetree-jwt-v1", hashlib.sha256).digest()


def issue_token(user: User) -> tuple[str, datetime]:
    """A signed JWT for this user and its expiry time."""
    now = datetime.now(UTC)
    expires = now + timedelta(seconds=current_app.config["JWT_TTL_SECONDS"])
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(user.id),
        "iat": now,
        "nbf": now,
        "exp": expires,
        # The session generation: logout, a new password, a role change or removal from an org
        # rotate it (User.end_sessions), and every token minted before stops working.
        "sst": user.session_stamp,
    }
    return jwt.encode(claims, _signing_key(), algorithm="HS256"), expires


def user_from_token(token: str) -> User:
    """The active user a valid token names; raises ApiError(401) otherwise."""
    try:
        claims = jwt.decode(
            token,
            _signing_key(),
            algorithms=["HS256"],
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["exp", "iat", "sub"]},
        )
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "token_expired", "Your token has expired. Request a new one from /auth/token.") from None
    except jwt.InvalidTokenError:
        raise ApiError(401, "invalid_token", "The bearer token is not valid.") from None
    user = db.session.get(User, int(claims["sub"])) if str(claims["sub"]).isdigit() else None
    if user is None or not user.is_active or not hmac.compare_digest(str(claims.get("sst", "")), user.session_stamp):
        raise ApiError(401, "invalid_token", "The bearer token is not valid.")
    return user


@bp.post("/auth/token")
@throttle_login
def token():
    """Exchange an e-mail address and password for a JWT."""
    body = json_body(TokenRequest)
    if not body.email or not body.password:
        raise ApiError(400, "invalid_request", 'Send JSON {"email": ..., "password": ...}.')
    user = authenticate(body.email, body.password)
    if user is None:
        log_failed_login(body.email, "wrong e-mail or password (API)")
        raise ApiError(401, "invalid_credentials", "The e-mail address or password is wrong.")
    value, expires = issue_token(user)
    return jsonify({"token": value, "expires_at": expires.isoformat().replace("+00:00", "Z")})


def api_auth(role: str | None = None):
    """Decorator for JSON API views: bearer JWT + `orgid` header + membership (+ minimum role).

    Sets g.user, g.org and g.membership. 401 for a missing or bad token, 403 when the user is no
    member of the named org (whether or not it exists, so nothing about other orgs leaks) or
    lacks the role.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            header = request.headers.get("Authorization", "")
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise ApiError(401, "missing_token", "Send 'Authorization: Bearer <token>' from POST /auth/token.")
            user = user_from_token(value.strip())
            slug = request.headers.get("orgid", "").strip()
            if not slug:
                raise ApiError(400, "missing_orgid", "Send the organisation's slug in the 'orgid' header.")
            org = Organization.by_slug(slug)
            membership = user.membership_in(org.id) if org else None
            if membership is None:
                raise ApiError(403, "forbidden", "You are not a member of that organisation.")
            if role and ROLE_RANK[membership.role] < ROLE_RANK[role]:
                raise ApiError(403, "forbidden", f"This needs the {role} role; you are {membership.role}.")
            g.user, g.org, g.membership = user, org, membership
            return view(*args, **kwargs)

        return wrapper

    return decorator
