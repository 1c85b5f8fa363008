"""The phone numbers page (/numbers): list, buy, import, route, release, and check drift with htmx.

Every action answers with the `numbers/_list.html` partial (the page includes it), carrying a
notice or an error; a failure at Twilio is shown in place with what was recorded and the one
button that repairs it. Without JavaScript the same forms post and get the whole page back.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, g, render_template, request, url_for
from flask_login import current_user

from extensions import db
from models import Flow
from services import flow_revisions, phone_numbers
from services.phone_drift import verify
from services.phone_routing import member_choices, routing_warnings
from services.phone_twilio import PhoneError
from services.softphone import online_user_ids
from web.context import page_auth

bp = Blueprint("phone_pages", __name__, url_prefix="/numbers")
COUNTRIES = (("US", "United States"), ("CA", "Canada"), ("GB", "United Kingdom"))
SWAPPED = (400, 403, 404, 409, 422)  # statuses htmx swaps in place (see base.html)


def _htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def _flows() -> list[Flow]:
    query = Flow.for_org(g.org.id).where(Flow.archived.is_(False)).order_by(Flow.name)
    return list(db.session.scalars(query))


def _context(**extra: Any) -> dict[str, Any]:
    return {
        "htmx": _htmx(),
        "numbers": phone_numbers.list_numbers(g.org),
        "flows": _flows(),
        "members": member_choices(g.org),
        "online": online_user_ids(g.org),
        "countries": COUNTRIES,
        **extra,
    }


def _page(partial: str, status: int = 200, **extra: Any):
    """The partial for htmx, else the whole page with the partial's data."""
    context = _context(panel=partial, **extra)
    template = partial if _htmx() else "numbers/index.html"
    return render_template(template, **context), status


def _list(status: int = 200, **extra: Any):
    return _page("numbers/_list.html", status, **extra)


def _from_drift_panel() -> bool:
    return request.form.get("then") == "drift"


def _failed(err: PhoneError, partial: str = "numbers/_list.html"):
    """Show a PhoneError in place; Twilio and save failures become 409 so htmx swaps them in."""
    status = err.status if err.status in SWAPPED else 409
    if _from_drift_panel():
        partial = "numbers/_drift.html"
    return _page(partial, status, error=err.message, failed=err.phone)


def _done(notice: str, clear: tuple[str, ...] = (), phone=None):
    """After an action: the list with a notice (clearing panels it made stale), or a fresh drift check."""
    if _from_drift_panel():
        try:
            report = verify(g.org)
        except PhoneError as err:
            return _failed(err, "numbers/_drift.html")
        return _page("numbers/_drift.html", report=report, notice=notice)
    warnings = routing_warnings(phone) if phone is not None else []
    return _list(notice=notice, clear=clear, warnings=[w["message"] for w in warnings])


def _routing_form() -> dict[str, Any]:
    form = request.form
    data = {
        "mode": form.get("mode", "voice"),
        "flowId": form.get("flow_id") or None,
        "assignedUsers": form.getlist("users"),
        "smsAutoReply": form.get("sms_auto_reply", ""),
    }
    if "messaging_flow_id" in form:  # the Text messages picker (a form without it keeps the route)
        data["messagingFlowId"] = form.get("messaging_flow_id") or None
    return data


@bp.get("")
@bp.get("/")
@page_auth("viewer")
def index():
    """The org's numbers with routing, sync status and drift badges."""
    return _list()


@bp.get("/available")
@page_auth("admin")
def available():
    """Search Twilio for numbers to buy (area code, contains, country)."""
    args = request.args
    try:
        found = phone_numbers.search_available(
            g.org, args.get("country", "US"), args.get("area_code", ""), args.get("contains", ""), 10
        )
    except PhoneError as err:
        return _failed(err, "numbers/_available.html")
    return _page("numbers/_available.html", available=found, searched=True)


@bp.post("/buy")
@page_auth("admin")
def buy():
    """Buy one of the numbers found, with the routing chosen in the buy form."""
    try:
        routing = phone_numbers.parse_routing(g.org, _routing_form())
        phone = phone_numbers.buy_number(
            g.org,
            routing,
            phone_number=request.form.get("phone_number"),
            country=request.form.get("country", "US"),
            user=current_user,
        )
    except PhoneError as err:
        return _failed(err)
    if phone.sync_status == "pending":
        return _done(phone.last_error, ("available",), phone)
    return _done(
        f"Bought {phone.phone_number}; Twilio sends its calls and messages to Phonetree.", ("available",), phone
    )


@bp.get("/importable")
@page_auth("admin")
def importable():
    """Numbers on the Twilio account that are not in Phonetree yet, each with "adopt"."""
    try:
        found = phone_numbers.importable_numbers(g.org)
    except PhoneError as err:
        return _failed(err, "numbers/_importable.html")
    return _page("numbers/_importable.html", importable=found)


@bp.post("/adopt")
@page_auth("admin")
def adopt():
    """Import a number the Twilio account owns, routed as chosen, and push its config."""
    try:
        routing = phone_numbers.parse_routing(g.org, _routing_form())
        phone = phone_numbers.import_number(g.org, routing, sid=request.form.get("sid"), user=current_user)
    except PhoneError as err:
        return _failed(err)
    if phone.sync_status == "pending":
        return _done(phone.last_error, ("importable",), phone)
    return _done(f"Added {phone.phone_number} from your Twilio account.", ("importable",), phone)


@bp.get("/<int:phone_id>/edit")
@page_auth("admin")
def edit(phone_id: int):
    """The routing form of one number."""
    try:
        phone = phone_numbers.get_number(g.org, phone_id)
    except PhoneError as err:
        return _failed(err)
    return _page("numbers/_edit.html", editing=phone)


@bp.post("/<int:phone_id>/routing")
@page_auth("admin")
def routing(phone_id: int):
    """Save routing and push it to Twilio."""
    try:
        phone = phone_numbers.get_number(g.org, phone_id)
        new = phone_numbers.parse_routing(g.org, _routing_form(), current=phone)
        phone_numbers.set_routing(g.org, phone, new, user=current_user)
    except PhoneError as err:
        return _failed(err)
    if phone.sync_status == "pending":
        return _done(phone.last_error, ("number-editor",), phone)
    return _done(f"Saved the routing of {phone.phone_number} and sent it to Twilio.", ("number-editor",), phone)


@bp.post("/<int:phone_id>/push")
@page_auth("admin")
def push(phone_id: int):
    """Push the local config to Twilio (repairs drift and failed pushes)."""
    try:
        phone = phone_numbers.get_number(g.org, phone_id)
        phone_numbers.push_config(g.org, phone, user=current_user)
    except PhoneError as err:
        return _failed(err)
    if phone.sync_status == "pending":
        return _done(phone.last_error)
    return _done(f"Pushed Phonetree's settings for {phone.phone_number} to Twilio.")


@bp.post("/<int:phone_id>/release")
@page_auth("admin")
def release(phone_id: int):
    """Release the number on Twilio and forget it."""
    try:
        phone = phone_numbers.get_number(g.org, phone_id)
        number = phone.phone_number
        released = phone_numbers.release_number(g.org, phone, user=current_user)
    except PhoneError as err:
        return _failed(err)
    if not released:
        return _done(phone.last_error, ("number-editor",))
    return _done(f"Released {number}. It no longer rings and Twilio stops billing it.", ("number-editor",))


@bp.post("/drift")
@page_auth("viewer")
def drift():
    """Compare every number with Twilio; show per-number drift with repair and adopt buttons."""
    try:
        report = verify(g.org)
    except PhoneError as err:
        return _failed(err, "numbers/_drift.html")
    return _page("numbers/_drift.html", report=report)


@bp.post("/flows/<int:flow_id>/publish")
@page_auth("admin")
def publish_flow(flow_id: int):
    """Publish a flow chosen for a number that has no published revision (the routing forms' offer)."""
    flow = Flow.get_for_org(g.org.id, flow_id)
    if flow is None or flow.archived:
        return render_template("numbers/_flow_published.html", flow=None), 404
    try:
        revision = flow_revisions.publish(g.org, current_user, flow, "Published from Phone numbers")
        db.session.commit()
    except flow_revisions.NothingToPublish as err:
        db.session.rollback()
        revision = err.revision
    except flow_revisions.InvalidFlow as err:
        db.session.rollback()
        errors = [i for i in err.issues if i["severity"] == "error"]
        designer = url_for("flows_pages.designer", flow_id=flow.id)
        return render_template("numbers/_flow_published.html", flow=flow, errors=errors, designer=designer), 422
    trigger = {"flow-published": {"id": flow.id, "revision": revision.number}}
    body = render_template("numbers/_flow_published.html", flow=flow, revision=revision)
    return body, 200, {"HX-Trigger": json.dumps(trigger)}
