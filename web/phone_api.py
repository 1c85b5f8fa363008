"""The Phone JSON API (API.md, "Phone"): numbers, routing, drift, voice tokens. Bearer JWT + orgid."""

from __future__ import annotations

from functools import wraps
from typing import Any

from flask import Blueprint, g, jsonify, request

from extensions import csrf
from services import phone_numbers, phone_saga, softphone
from services.phone_drift import verify as verify_numbers
from services.phone_routing import routing_warnings
from services.phone_twilio import PhoneError
from web.api_auth import api_auth
from web.errors import ApiError
from web.json_input import NoBody, json_body, json_document
from web.schemas import BuyNumber, ImportNumber, RoutingBody

bp = Blueprint("phone_api", __name__, url_prefix="/phone")
csrf.exempt(bp)

ROUTING_KEYS = ("mode", "flowId", "messagingFlowId", "assignedUsers", "smsAutoReply", "friendlyName")


def _body() -> dict[str, Any]:
    """The request's JSON object (an empty one for an empty body); 400 for anything else."""
    body = json_document(empty={})
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_request", "Send a JSON object with Content-Type: application/json.", field="")
    return body


def _checked(schema) -> dict[str, Any]:
    """The body checked against ``schema``, as the plain dict of the fields sent."""
    return json_body(schema, optional=True).model_dump(exclude_unset=True)


def _api_errors(view):
    """Turn PhoneError into the API's JSON error, with the number's state when one was recorded."""

    @wraps(view)
    def wrapper(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except PhoneError as err:
            extra = dict(err.extra)
            if err.phone is not None and err.phone.id is not None:
                extra["phone"] = phone_numbers.serialize(err.phone)
            raise ApiError(err.status, err.code, err.message, **extra) from None

    return wrapper


def _routing_data(body: dict[str, Any]) -> dict[str, Any]:
    """Routing fields at the top level of the body, or under "routing"."""
    nested = body.get("routing")
    data = {k: body[k] for k in ROUTING_KEYS if k in body}
    if isinstance(nested, dict):
        data.update({k: nested[k] for k in ROUTING_KEYS if k in nested})
    return data


def _routed(phone) -> dict[str, Any]:
    """The number as the API shows it, plus `warnings` about routing that works but misleads (an unpublished flow)."""
    return {**phone_numbers.serialize(phone), "warnings": routing_warnings(phone)}


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ApiError(400, "invalid_request", f"{key} must be a string.")
    return str(value).strip()


def _answer(phone, status: int = 200):
    """A number as the API shows it (with routing `warnings`); 202 with its intent while Twilio's answer is pending."""
    body = _routed(phone)
    if phone.sync_status != "pending":
        return jsonify(body), status
    intent = phone_saga.open_intent(phone)
    body["intent"] = phone_saga.to_dict(intent) if intent is not None else None
    return jsonify(body), 202


@bp.get("/numbers")
@api_auth("viewer")
def list_numbers():
    """The org's numbers with their routing and sync status."""
    return jsonify({"numbers": phone_numbers.serialize_all(phone_numbers.list_numbers(g.org))})


@bp.post("/numbers")
@api_auth("admin")
@_api_errors
def buy():
    """Buy a number by phoneNumber, or by areaCode (+ contains, country), and route it."""
    body = _checked(BuyNumber)
    routing = phone_numbers.parse_routing(g.org, _routing_data(body))
    phone = phone_numbers.buy_number(
        g.org,
        routing,
        phone_number=_text(body, "phoneNumber"),
        area_code=_text(body, "areaCode"),
        contains=_text(body, "contains"),
        country=_text(body, "country") or "US",
        user=g.user,
    )
    return _answer(phone, 201)


@bp.post("/numbers/add")
@api_auth("admin")
@_api_errors
def add():
    """Import a number the Twilio account already owns, by phoneNumber or sid, and route it."""
    body = _checked(ImportNumber)
    routing = phone_numbers.parse_routing(g.org, _routing_data(body))
    phone = phone_numbers.import_number(
        g.org, routing, phone_number=_text(body, "phoneNumber"), sid=_text(body, "sid"), user=g.user
    )
    return _answer(phone, 201)


@bp.get("/numbers/<int:phone_id>")
@api_auth("viewer")
@_api_errors
def show(phone_id: int):
    """One number with its routing."""
    return jsonify(phone_numbers.serialize(phone_numbers.get_number(g.org, phone_id)))


@bp.post("/numbers/<int:phone_id>/routing")
@api_auth("admin")
@_api_errors
def routing(phone_id: int):
    """Change routing and push the local config to Twilio."""
    body = _checked(RoutingBody)
    phone = phone_numbers.get_number(g.org, phone_id)
    new = phone_numbers.parse_routing(g.org, _routing_data(body), current=phone)
    return _answer(phone_numbers.set_routing(g.org, phone, new, user=g.user))


@bp.post("/numbers/<int:phone_id>/push")
@api_auth("admin")
@_api_errors
def push(phone_id: int):
    """Push the local config to Twilio again (repairs drift and failed pushes)."""
    phone = phone_numbers.get_number(g.org, phone_id)
    json_body(NoBody, optional=True)
    return _answer(phone_numbers.push_config(g.org, phone, user=g.user))


@bp.post("/numbers/<int:phone_id>/release")
@bp.delete("/numbers/<int:phone_id>")
@api_auth("admin")
@_api_errors
def release(phone_id: int):
    """Release the number on Twilio and forget it (202 while Twilio's answer is pending)."""
    phone = phone_numbers.get_number(g.org, phone_id)
    json_body(NoBody, optional=True)
    number = phone.phone_number
    if phone_numbers.release_number(g.org, phone, user=g.user):
        return jsonify({"released": True, "phoneId": phone_id, "phoneNumber": number})
    intent = phone_saga.open_intent(phone)
    pending = {"released": False, "status": "pending", "phoneId": phone_id, "phoneNumber": number}
    return jsonify({**pending, "intent": phone_saga.to_dict(intent) if intent is not None else None}), 202


@bp.get("/available")
@api_auth("admin")
@_api_errors
def available():
    """Numbers for sale: query areaCode, contains, country (default US), limit."""
    args = request.args
    found = phone_numbers.search_available(
        g.org, args.get("country", "US"), args.get("areaCode", ""), args.get("contains", ""), _limit(args.get("limit"))
    )
    return jsonify({"available": found})


def _limit(raw: str | None) -> int:
    return int(raw) if raw and raw.isdigit() else 10


@bp.route("/verify", methods=["GET", "POST"])
@api_auth("viewer")
@_api_errors
def verify():
    """Compare Twilio's view of every number with the local record."""
    return jsonify(verify_numbers(g.org))


def _token_request() -> dict[str, Any]:
    body = _body()
    identity = body.get("identity")
    if identity is not None and not isinstance(identity, str):
        raise ApiError(400, "invalid_identity", "identity must be a string such as user:alice@example.com.")
    ttl = body.get("ttl", softphone.MAX_TTL_SECONDS)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
        raise ApiError(400, "invalid_ttl", f"ttl is a whole number of seconds, at most {softphone.MAX_TTL_SECONDS}.")
    return softphone.mint_token(g.org, g.user, identity, ttl, may_mint_for_others=g.membership.has_role("admin"))


@bp.post("/token")
@api_auth("viewer")
@_api_errors
def token():
    """A Twilio voice access token for the caller's identity (admins: any identity)."""
    return jsonify(_token_request())


@bp.post("/voice/register-device")
@api_auth("viewer")
@_api_errors
def register_device():
    """A voice token plus the caller's assigned numbers; marks the caller's softphone online."""
    minted = _token_request()
    if minted["identity"] == softphone.own_identity(g.user):
        # Presence is the caller's own; a token an admin mints for someone else must not make
        # calls for the admin's numbers ring that other identity.
        softphone.mark_present(g.org, g.user, minted["identity"])
    phones_of_user = phone_numbers.numbers_for_user(g.org, g.user)
    return jsonify({**minted, "phones": [phone_numbers.brief(p) for p in phones_of_user]})


@bp.post("/voice/unregister-device")
@api_auth("viewer")
def unregister_device():
    """The caller's softphone went away: offline now."""
    json_body(NoBody, optional=True)
    softphone.mark_absent(g.org, g.user)
    return jsonify({"online": False})
