"""The designer's History and Flow tabs: publish, revision history, rollback, test users, settings form."""

from __future__ import annotations

import json

from flask import g, render_template, request
from flask_login import current_user

from extensions import db
from services import designer, flow_revisions
from services.flow_console import flow_channels
from web.context import can, page_auth
from web.errors import ApiError
from web.flows_pages import bp, flow_or_404
from web.json_input import BodyError, parse_json
from web.node_forms import form_fields
from web.settings_form import SETTINGS_TYPE, settings_props


def _history(flow, status: int = 200, **extra):
    response = render_template(
        "flows/_history.html",
        flow=flow,
        entries=designer.history(g.org, flow),
        changes=designer.draft_changes(flow),
        state=designer.flow_state(flow),
        **extra,
    )
    state = designer.flow_state(flow)
    trigger = {"flow-state": {"published": state["published"], "unpublished": state["unpublished"]}}
    return response, status, {"HX-Trigger": json.dumps(trigger)}


@bp.get("/<int:flow_id>/history")
@page_auth("viewer")
def history(flow_id: int):
    """Revisions, newest first, with who, when, the message and what changed."""
    return _history(flow_or_404(flow_id))


@bp.post("/<int:flow_id>/publish")
@page_auth("editor")
def publish(flow_id: int):
    """Publish the saved draft as the next revision (422 and the errors when it has any)."""
    flow = flow_or_404(flow_id)
    try:
        revision = flow_revisions.publish(g.org, current_user, flow, request.form.get("message", ""))
        db.session.commit()
    except flow_revisions.NothingToPublish as err:
        db.session.rollback()
        return _history(flow, notice=err.message)
    except flow_revisions.InvalidFlow as err:
        db.session.rollback()
        errors = [i for i in err.issues if i["severity"] == "error"]
        return _history(flow, 422, error=err.message, errors=errors)
    return _history(flow, notice=f"Revision {revision.number} is live.")


@bp.post("/<int:flow_id>/revisions/<int:number>/rollback")
@page_auth("editor")
def rollback(flow_id: int, number: int):
    """Make an older revision live again (as a new revision); the draft is left alone."""
    flow = flow_or_404(flow_id)
    try:
        revision = flow_revisions.rollback(g.org, current_user, flow, number)
        db.session.commit()
    except flow_revisions.FlowError as err:
        db.session.rollback()
        return _history(flow, 422 if isinstance(err, flow_revisions.InvalidFlow) else 404, error=err.message)
    return _history(
        flow,
        notice=f"Rolled back: revision {revision.number} is a copy of revision {number} and is live.",
        restore=number,
    )


@bp.get("/<int:flow_id>/revisions/<int:number>/definition")
@page_auth("viewer")
def revision_definition(flow_id: int, number: int):
    """An old revision's definition (the designer loads it into the draft on request)."""
    flow = flow_or_404(flow_id)
    rev = flow_revisions.get_revision(g.org, flow, number)
    if rev is None:
        raise ApiError(404, "not_found", f"This flow has no revision {number}.")
    return {"number": rev.number, "definition": rev.definition}


@bp.post("/<int:flow_id>/test-users")
@page_auth("editor")
def test_users(flow_id: int):
    """Set the phone numbers whose calls run the draft instead of the live revision."""
    flow = flow_or_404(flow_id)
    raw = request.form.get("numbers", "")
    numbers = [n for n in raw.replace(",", "\n").splitlines() if n.strip()]
    try:
        flow_revisions.set_test_users(flow, numbers)
        db.session.commit()
    except flow_revisions.FlowError as err:
        db.session.rollback()
        return render_template("flows/_test_users.html", flow=flow, error=err.message, raw=raw), 400
    return render_template("flows/_test_users.html", flow=flow, notice="Test users saved.")


@bp.post("/<int:flow_id>/settings-form")
@page_auth("viewer")
def settings_form(flow_id: int):
    """The flow settings form for the settings being edited (posted as JSON in `settings`)."""
    flow = flow_or_404(flow_id)
    return render_settings_form(not can("editor") or request.form.get("readonly") == "1", flow=flow)


def render_settings_form(readonly: bool, **extra) -> str:
    """The flow settings form for the posted settings (JSON in `settings`)."""
    try:
        settings = parse_json(request.form.get("settings") or "{}")
    except BodyError as err:
        raise ApiError(400, "invalid_request", f"The settings are not acceptable: {err.message}.",
                       field=err.field) from None
    if not isinstance(settings, dict):
        raise ApiError(400, "invalid_request", "The settings must be an object.")
    fields = form_fields({"id": "", "props": settings_props(settings)}, SETTINGS_TYPE, [])
    channels = list(flow_channels({"settings": settings}))
    return render_template("flows/_settings_form.html", fields=fields, readonly=readonly, channels=channels, **extra)
