"""The visual designer: the canvas page, draft saves, live validation and node forms (layout is in the page, by ELK).

The browser holds the definition being edited and sends it whole; the server stays the source of
truth (`services.flow_revisions.save_draft` with `draft_version` guards against overwriting others' work).
"""

from __future__ import annotations

from typing import Any

from flask import abort, g, jsonify, render_template, request, url_for
from flask_login import current_user

from extensions import db
from flows import DefinitionError, node_type_catalog
from flows.executions import execution_channels, request_channel, request_start
from services import flow_revisions
from services.accounts import time_zone_names
from services.designer import flow_state, template_scope
from services.designer_analytics import node_counts_for, period_choices
from services.flow_console import flow_channels
from services.webhook_urls import base_url
from web.context import can, page_auth
from web.errors import ApiError
from web.flows_pages import bp, flow_or_404
from web.json_input import BodyError, json_body, parse_json
from web.node_forms import apply_row_action, catalog_type, form_fields, load_json_field, parse_node, parse_value
from web.schemas import DefinitionBody, DraftSave
from web.settings_form import parse_settings


def _iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def _definition_from(definition: dict[str, Any] | None) -> dict[str, Any]:
    if definition is None:
        raise ApiError(400, "invalid_request", 'Send the flow as {"definition": {...}}.', field="definition")
    try:
        flow_revisions.check_definition(definition)
    except flow_revisions.FlowError as err:
        raise ApiError(400, "invalid_definition", err.message, path=err.path) from None
    return definition


def _flow_orgs_others(flow_id: int) -> list[dict[str, Any]]:
    return [{"id": str(f.id), "name": f.name} for f in flow_revisions.list_flows(g.org) if f.id != flow_id]


def page_data(flow, definition: dict, *, readonly: bool, revision=None) -> dict[str, Any]:
    """What the designer's script starts from (embedded as JSON in the page)."""
    fid = flow.id
    urls = {
        "save": url_for("flows_pages.save_draft", flow_id=fid),
        "validate": url_for("flows_pages.validate", flow_id=fid),
        "nodeForm": url_for("flows_pages.node_form", flow_id=fid),
        "nodeParse": url_for("flows_pages.node_parse", flow_id=fid),
        "settingsParse": url_for("flows_pages.settings_parse", flow_id=fid),
        "analytics": url_for("flows_pages.analytics", flow_id=fid),
        "history": url_for("flows_pages.history", flow_id=fid),
        "settingsForm": url_for("flows_pages.settings_form", flow_id=fid),
        "console": url_for("flows_pages.console_form", flow_id=fid),
        "revision": url_for("flows_pages.revision_definition", flow_id=fid, number=0).rsplit("/0/", 1)[0],
        "designer": url_for("flows_pages.designer", flow_id=fid),
        "icons": url_for("static", filename="vendor/lucide-static-1.62.0/icons.svg"),
    }
    return {
        "flow": {"id": fid, "name": flow.name},
        "definition": definition,
        "draftVersion": flow.draft_version,
        "savedAt": _iso(flow.draft_updated_at),
        "savedBy": flow.draft_updated_by.display_name if flow.draft_updated_by else None,
        "readonly": readonly,
        "revision": revision.number if revision is not None else None,
        "catalog": node_type_catalog(),
        "urls": urls,
    }


def _page(flow, definition: dict, readonly: bool, rev=None):
    return render_template(
        "flows/designer.html",
        flow=flow,
        data=page_data(flow, definition, readonly=readonly, revision=rev),
        state=flow_state(flow),
        readonly=readonly,
        revision=rev,
        timezones=time_zone_names(),
        analytics_periods=period_choices(flow),
    )


@bp.get("/<int:flow_id>")
@page_auth("viewer")
def designer(flow_id: int):
    """The canvas for a flow's draft (read-only for viewers)."""
    flow = flow_or_404(flow_id)
    return _page(flow, flow.draft, readonly=not can("editor"))


@bp.get("/<int:flow_id>/revisions/<int:number>")
@page_auth("viewer")
def revision(flow_id: int, number: int):
    """An old revision on the canvas, read-only."""
    flow = flow_or_404(flow_id)
    rev = flow_revisions.get_revision(g.org, flow, number)
    if rev is None:
        abort(404, f"This flow has no revision {number}.")
    return _page(flow, rev.definition, readonly=True, rev=rev)


@bp.post("/<int:flow_id>/draft")
@page_auth("editor")
def save_draft(flow_id: int):
    """Save the whole definition: `{"definition", "draft_version", "force"?}`; 409 on a stale version."""
    body = json_body(DraftSave)
    flow = flow_or_404(flow_id)
    definition = _definition_from(body.definition)
    expected = body.draft_version
    if body.force:
        expected = flow.draft_version  # the editor chose to overwrite the other save
    try:
        flow = flow_revisions.save_draft(g.org, current_user, flow, definition, expected)
        db.session.commit()
    except flow_revisions.StaleDraft as err:
        db.session.rollback()
        mine = err.updated_by_id is not None and err.updated_by_id == current_user.id
        message = "You saved this flow in another tab or window since this one loaded it." if mine else err.message
        conflict = {"by": err.updated_by, "at": _iso(err.updated_at), "draft_version": err.current_version}
        raise ApiError(409, err.code, message, conflict=conflict | {"mine": mine}) from None
    except flow_revisions.FlowError as err:
        db.session.rollback()
        raise ApiError(400, "invalid_definition", err.message, path=err.path) from None
    state = flow_state(flow)
    return jsonify(
        {
            "draft_version": flow.draft_version,
            "saved_at": _iso(flow.draft_updated_at),
            "saved_by": current_user.display_name,
            "issues": flow_revisions.validate_flow(flow.draft, g.org),
            "state": {"published": state["published"], "unpublished": state["unpublished"]},
        }
    )


@bp.post("/<int:flow_id>/validate")
@page_auth("viewer")
def validate(flow_id: int):
    """The engine's issues for the definition being edited (nothing is saved)."""
    body = json_body(DefinitionBody)
    flow_or_404(flow_id)
    return validation_answer(_definition_from(body.definition), g.org)


def _posted_node() -> tuple[dict[str, Any], dict[str, Any]]:
    try:
        node = load_json_field(request.form.get("node"), "node")
        definition = (
            load_json_field(request.form.get("definition"), "definition")
            if request.form.get("definition")
            else {"nodes": [node]}
        )
    except ValueError as err:
        raise ApiError(400, "invalid_request", str(err)) from None
    if not isinstance(node, dict) or not isinstance(node.get("id"), str) or not isinstance(definition, dict):
        raise ApiError(400, "invalid_request", "The node must be an object with an id.")
    return node, definition


def _type_or_400(node: dict[str, Any]) -> dict[str, Any]:
    info = catalog_type(node_type_catalog(), str(node.get("type")))
    if info is None:
        raise ApiError(400, "unknown_type", f"Unknown node type {node.get('type')!r}.")
    return info


@bp.post("/<int:flow_id>/node-form")
@page_auth("viewer")
def node_form(flow_id: int):
    """The property form of one node (posted with the definition being edited).

    With `_action` (`add:<field>` / `remove:<field>:<row>`) the submitted form is applied first,
    and the resulting node is embedded so the canvas can take it as one undoable edit.
    """
    flow_or_404(flow_id)
    return render_node_form(
        _flow_orgs_others(flow_id), not can("editor") or request.form.get("readonly") == "1", flow_id=flow_id
    )


def render_node_form(flows: list[dict[str, Any]], readonly: bool, **extra: Any) -> str:
    """The property form of the posted node (applying a posted row `_action` first)."""
    node, definition = _posted_node()
    info = _type_or_400(node)
    changed = None
    action = request.form.get("_action", "")
    if action:
        changed = apply_row_action(parse_node(node, info, request.form), info, action)
        node = changed
        nodes = [changed if n.get("id") == node["id"] else n for n in definition.get("nodes") or []]
        definition = {**definition, "nodes": nodes}
    issues = flow_revisions.validate_flow(definition, g.org)
    return render_template(
        "flows/_node_form.html",
        node=node,
        info=info,
        fields=form_fields(node, info, issues),
        node_issues=[i for i in issues if i.get("node_id") == node["id"]],
        scope=template_scope(definition, node["id"]),
        is_start=definition.get("start") == node["id"],
        execution_request=execution_request(extra.get("flow_id"), definition, node["id"]),
        targets=[(n["id"], n.get("name") or n["id"]) for n in definition.get("nodes") or [] if isinstance(n, dict)],
        outcomes=_outcomes_for(node, info),
        operators=node_type_catalog()["branch_operators"],
        flows=flows,
        readonly=readonly,
        changed=changed,
        channels=list(flow_channels(definition)),
        **extra,
    )


def execution_request(flow_id: int | None, definition: dict[str, Any], node_id: str) -> dict[str, Any] | None:
    """How executions of the flow start, for the node they start at: the channels they can run on,
    the one a request naming none runs on, and the curl command (naming that channel when there
    is a choice)."""
    try:
        start = request_start(definition) if flow_id is not None else None
        if start is None or start != node_id:
            return None
        channels, inferred = execution_channels(definition), request_channel(definition)
    except DefinitionError:
        return None
    url = base_url() + url_for("executions_api.start", flow_id=flow_id)
    chosen = f', "channel": "{inferred}"' if len(channels) > 1 else ""
    body = f'{{"to": "+14155550123", "from": "<one of your numbers>", "parameters": {{"name": "Ada"}}{chosen}}}'
    curl = (
        f"curl -X POST '{url}' \\\n"
        "  -H 'Authorization: Bearer <token>' \\\n"
        f"  -H 'orgid: {g.org.slug}' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        f"  -d '{body}'"
    )
    return {"curl": curl, "channels": channels, "channel": inferred}


def validation_answer(definition: dict[str, Any], org=None):
    """The engine's issues for a definition, as the designer's validator reads them (``org``: its subflows too)."""
    issues = flow_revisions.validate_flow(definition, org)
    errors = sum(1 for i in issues if i["severity"] == "error")
    return jsonify({"issues": issues, "errors": errors, "warnings": len(issues) - errors})


def _outcomes_for(node: dict[str, Any], info: dict[str, Any]) -> list[str]:
    names: list[str] = []
    dynamic = info.get("dynamic_outcomes")
    if dynamic:
        for item in (node.get("props") or {}).get(dynamic["field"]) or []:
            value = item.get(dynamic["key"]) if isinstance(item, dict) else None
            if isinstance(value, str) and value and value not in names:
                names.append(value)
    names.extend(o for o in info["outcomes"] if o not in names)
    return names


@bp.post("/<int:flow_id>/node-parse")
@page_auth("editor")
def node_parse(flow_id: int):
    """Read a submitted node form back into the node (props typed by field kind)."""
    flow_or_404(flow_id)
    node, _ = _posted_node()
    return jsonify({"node": parse_node(node, _type_or_400(node), request.form)})


@bp.post("/<int:flow_id>/settings-parse")
@page_auth("editor")
def settings_parse(flow_id: int):
    """Read the flow settings form back into the definition's `settings`."""
    flow_or_404(flow_id)
    try:
        current = parse_json(request.form.get("settings") or "{}")
    except BodyError as err:
        raise ApiError(
            400, "invalid_request", f"The settings are not acceptable: {err.message}.", field=err.field
        ) from None
    settings = parse_settings(current if isinstance(current, dict) else {}, request.form, parse_value)
    try:
        flow_revisions.check_definition({"nodes": [], "settings": settings})
    except flow_revisions.FlowError as err:
        return jsonify({"settings": settings, "error": err.message, "path": err.path})
    return jsonify({"settings": settings})


@bp.get("/<int:flow_id>/analytics")
@page_auth("viewer")
def analytics(flow_id: int):
    """Calls per node and per outcome for `period` = today | 7d | 30d | rev:N (from the rollups)."""
    flow = flow_or_404(flow_id)
    period = request.args.get("period", "7d")
    try:
        return jsonify(node_counts_for(g.org, flow, period))
    except ValueError as err:
        raise ApiError(400, "invalid_request", str(err)) from None
