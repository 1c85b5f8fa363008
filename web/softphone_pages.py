"""The browser softphone (/softphone): a Twilio Voice SDK device for the signed-in user.

The page fetches its voice token from ``POST /softphone/token`` (session + CSRF, the same minting
code as the JSON API), registers a ``Twilio.Device``, heartbeats presence while registered and
unregisters with a beacon when the page goes away.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, render_template
from flask_login import current_user

from services import phone_numbers, softphone
from services.phone_twilio import PhoneError, webhook_config
from web.context import page_auth

bp = Blueprint("softphone", __name__, url_prefix="/softphone")
SDK_VERSION = "2.18.5"


@bp.get("")
@bp.get("/")
@page_auth("viewer")
def index():
    """The softphone page with the user's assigned numbers."""
    return render_template(
        "softphone/index.html",
        phones=phone_numbers.numbers_for_user(g.org, current_user),
        identity=softphone.own_identity(current_user),
        sdk_version=SDK_VERSION,
        heartbeat_seconds=softphone.HEARTBEAT_SECONDS,
        voice_url=webhook_config(g.org, "voice")["voice_url"],
    )


@bp.post("/token")
@page_auth("viewer")
def token():
    """A voice token for the signed-in user's own identity, with their numbers."""
    try:
        minted = softphone.mint_token(g.org, current_user)
    except PhoneError as err:
        return jsonify({"error": {"code": err.code, "message": err.message}}), err.status
    numbers = phone_numbers.numbers_for_user(g.org, current_user)
    return jsonify({**minted, "phones": [phone_numbers.brief(p) for p in numbers]})


@bp.post("/heartbeat")
@page_auth("viewer")
def heartbeat():
    """The device is registered: keep the user online for another PRESENCE_SECONDS."""
    row = softphone.mark_present(g.org, current_user)
    return jsonify({"online": True, "expires_at": row.expires_at.isoformat().replace("+00:00", "Z")})


@bp.post("/unregister")
@page_auth("viewer")
def unregister():
    """The device went away (page closed, or registration lost): offline now."""
    softphone.mark_absent(g.org, current_user)
    return jsonify({"online": False})
