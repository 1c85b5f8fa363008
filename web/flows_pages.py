"""The flows list: create (blank or from a starter), duplicate, rename, archive, import, export.

The designer's own routes (`web.designer`, `web.designer_console`) hang off the same blueprint.
"""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, g, redirect, render_template, request, url_for
from flask_login import current_user

from extensions import db
from models import Flow
from models.base import parse_id
from services import designer, flow_revisions
from services.flow_templates import TEMPLATES
from web.context import page_auth
from web.downloads import attachment, slug
from web.json_input import BodyError, parse_json

bp = Blueprint("flows_pages", __name__, url_prefix="/flows")

MAX_IMPORT_BYTES = 5 * 1024 * 1024


def flow_or_404(flow_id: int) -> Flow:
    """The current org's flow, or 404 (also for another org's flow)."""
    flow = flow_revisions.get_flow(g.org, flow_id)
    if flow is None:
        abort(404)
    return flow


def _rows(show_archived: bool) -> list[dict]:
    flows = flow_revisions.list_flows(g.org, include_archived=show_archived)
    numbers = flow_revisions.numbers_by_flow(g.org, [flow.id for flow in flows])
    return [
        {
            "flow": flow,
            "state": designer.flow_state(flow),
            "numbers": numbers[flow.id],
            "nodes": len(flow.draft.get("nodes") or []),
        }
        for flow in flows
    ]


def _render(status: int = 200, **extra):
    show_archived = request.values.get("archived") == "1"
    context = {"rows": _rows(show_archived), "show_archived": show_archived, "templates": TEMPLATES, **extra}
    wants_partial = request.headers.get("HX-Request") and request.headers.get("HX-Target") == "flows"
    template = "flows/_list.html" if wants_partial else "flows/index.html"
    return render_template(template, **context), status


@bp.get("/")
@page_auth("viewer")
def index():
    """Every flow of the organisation with its state and the numbers that use it."""
    return _render()


@bp.post("/")
@page_auth("editor")
def create():
    """Create a flow from a starter template and open it in the designer."""
    try:
        flow = flow_revisions.create_flow(
            g.org, current_user, request.form.get("name", ""), template=request.form.get("template")
        )
        db.session.commit()
    except flow_revisions.FlowError as err:
        db.session.rollback()
        if request.headers.get("HX-Request"):
            # The form sits in a modal dialog: say what is wrong inside it, not behind it.
            body = render_template("flows/_dialog_error.html", error=err.message)
            return body, 400, {"HX-Retarget": "#new-flow-error", "HX-Reswap": "innerHTML"}
        return _render(400, error=err.message, form=request.form)
    target = url_for("flows_pages.designer", flow_id=flow.id)
    if request.headers.get("HX-Request"):
        return Response(status=201, headers={"HX-Redirect": target})
    return redirect(target, 303)


@bp.post("/<int:flow_id>/duplicate")
@page_auth("editor")
def duplicate(flow_id: int):
    """Copy a flow's draft into a new flow."""
    flow = flow_or_404(flow_id)
    copy = flow_revisions.duplicate(g.org, current_user, flow)
    db.session.commit()
    return _render(notice=f"“{flow.name}” was duplicated as “{copy.name}”.")


@bp.post("/<int:flow_id>/rename")
@page_auth("editor")
def rename(flow_id: int):
    """Rename a flow."""
    flow = flow_or_404(flow_id)
    old = flow.name
    try:
        flow_revisions.rename(flow, request.form.get("name", ""))
        db.session.commit()
    except flow_revisions.FlowError as err:
        db.session.rollback()
        return _render(400, error=err.message)
    return _render(notice=f"“{old}” is now “{flow.name}”.")


@bp.post("/<int:flow_id>/archive")
@page_auth("editor")
def archive(flow_id: int):
    """Archive a flow, or restore it with `restore=1`."""
    flow = flow_or_404(flow_id)
    restore = request.form.get("restore") == "1"
    try:
        flow_revisions.archive(g.org, flow, archived=not restore)
        db.session.commit()
    except flow_revisions.FlowError as err:
        db.session.rollback()
        return _render(400, error=err.message)
    return _render(notice=f"“{flow.name}” was {'restored' if restore else 'archived'}.")


def _import_payload() -> tuple[object | None, str | None]:
    upload = request.files.get("file")
    raw = upload.read(MAX_IMPORT_BYTES + 1) if upload and upload.filename else None
    if raw is None:
        raw = request.form.get("definition", "").encode()
    if not raw.strip():
        return None, "Paste a flow definition or choose a .json file."
    if len(raw) > MAX_IMPORT_BYTES:
        return None, "That file is larger than 5 MB."
    try:
        return parse_json(raw), None
    except BodyError as err:
        where = f" (at {err.field})" if err.field else ""
        return None, f"That cannot be imported: {err.message}{where}."


@bp.post("/import")
@page_auth("editor")
def import_flow():
    """Import Phonetree JSON or a Twilio Studio export; shows the per-widget report."""
    data, problem = _import_payload()
    if problem:
        return render_template("flows/_import_result.html", error=problem), 400
    try:
        flow, fmt, report, issues = flow_revisions.import_flow(g.org, current_user, data, request.form.get("name"))
        db.session.commit()
    except flow_revisions.FlowError as err:
        db.session.rollback()
        where = f" (at {err.path})" if err.path else ""
        return render_template("flows/_import_result.html", error=f"{err.message}{where}"), 400
    counts = {s: sum(1 for r in report if r.get("status") == s) for s in ("mapped", "partial", "unsupported")}
    return render_template(
        "flows/_import_result.html", flow=flow, fmt=fmt, report=report, issues=issues, counts=counts
    ), 201


@bp.get("/<int:flow_id>/export")
@page_auth("viewer")
def export(flow_id: int):
    """Download the draft (or `revision=N`) as Phonetree JSON or Twilio Studio JSON."""
    flow = flow_or_404(flow_id)
    fmt = request.args.get("format", "phonetree")
    definition = None
    suffix = "draft"
    if request.args.get("revision"):
        revision = flow_revisions.get_revision(g.org, flow, parse_id(request.args.get("revision")) or 0)
        if revision is None:
            abort(404)
        definition, suffix = revision.definition, f"r{revision.number}"
    try:
        exported = flow_revisions.export_flow(flow, fmt, definition)
    except flow_revisions.FlowError as err:
        abort(400, err.message)
    ending = f"{suffix}.{'studio' if fmt == 'studio' else 'phonetree'}.json"
    filename = f"{slug(flow.name) or 'flow'}-{ending}"
    fallback = f"{slug(flow.name, ascii_only=True) or f'flow-{flow.id}'}-{ending}"
    return attachment(json.dumps(exported, indent=2), filename, "application/json", fallback)


from web import designer_console, designer_history, designer_views  # noqa: E402,F401  (routes on this blueprint)
