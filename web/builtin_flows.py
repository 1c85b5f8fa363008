"""The built-in flows in the designer: listed, opened read-only on the canvas, copied into a flow.

Voice-mode numbers, softphones and AI calls run these flows (`flows.builtin`); an admin can see
here what such a call does, step by step, and start an editable flow from one.
"""

from __future__ import annotations

from flask import Blueprint, abort, g, redirect, render_template, url_for
from flask_login import current_user

from extensions import db
from flows import node_type_catalog
from flows.builtin import BUILTIN_FLOWS, BuiltinFlow
from services import flow_revisions
from web.context import page_auth
from web.designer_history import render_settings_form
from web.designer_views import render_node_form, validation_answer

bp = Blueprint("builtin_flows", __name__, url_prefix="/flows/built-in")


def _flow_or_404(key: str) -> BuiltinFlow:
    flow = BUILTIN_FLOWS.get(key)
    if flow is None:
        abort(404)
    return flow


@bp.get("/")
@page_auth("viewer")
def index():
    """Every built-in flow: what runs it, its version, and a way in."""
    return render_template("flows/builtin_index.html", flows=list(BUILTIN_FLOWS.values()))


@bp.get("/<key>")
@page_auth("viewer")
def show(key: str):
    """A built-in flow on the canvas, read-only."""
    flow = _flow_or_404(key)
    urls = {
        "validate": url_for("builtin_flows.validate", key=key),
        "nodeForm": url_for("builtin_flows.node_form", key=key),
        "settingsForm": url_for("builtin_flows.settings_form", key=key),
        "designer": url_for("builtin_flows.show", key=key),
        "icons": url_for("static", filename="vendor/lucide-static-1.62.0/icons.svg"),
    }
    for name in ("save", "layout", "nodeParse", "settingsParse", "analytics", "history", "console", "revision"):
        urls[name] = urls["designer"]  # never called on a read-only canvas without those panes
    data = {
        "flow": {"id": f"builtin-{key}", "name": flow.name},
        "definition": flow.definition(),
        "draftVersion": flow.version,
        "savedAt": None,
        "savedBy": None,
        "readonly": True,
        "revision": None,
        "catalog": node_type_catalog(),
        "urls": urls,
    }
    return render_template(
        "flows/designer.html", flow=flow, builtin=flow, data=data, state={}, readonly=True, revision=None,
        timezones=(),
    )


@bp.post("/<key>/node-form")
@page_auth("viewer")
def node_form(key: str):
    """A node's properties, read-only."""
    _flow_or_404(key)
    return render_node_form([], True)


@bp.post("/<key>/validate")
@page_auth("viewer")
def validate(key: str):
    """The engine's issues for the built-in flow (none: each is checked by the test suite)."""
    return validation_answer(_flow_or_404(key).definition())


@bp.post("/<key>/settings-form")
@page_auth("viewer")
def settings_form(key: str):
    """The flow settings, read-only (a built-in flow runs with the org's fallback and voice)."""
    _flow_or_404(key)
    return render_settings_form(True)


@bp.post("/<key>/copy")
@page_auth("editor")
def copy(key: str):
    """Copy a built-in flow into a new, editable flow of the org and open it."""
    flow = _flow_or_404(key)
    try:
        created = flow_revisions.create_flow(g.org, current_user, f"{flow.name} (copy)", flow.definition(),
                                  description=f"Copied from the built-in flow {flow.ref}. {flow.description}")
        db.session.commit()
    except flow_revisions.FlowError as err:
        db.session.rollback()
        return render_template("flows/builtin_index.html", flows=list(BUILTIN_FLOWS.values()), error=err.message), 400
    return redirect(url_for("flows_pages.designer", flow_id=created.id), 303)
