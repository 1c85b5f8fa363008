"""JSON API for flows: list, create, get, update draft, validate, revisions, publish, rollback, import, export."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from extensions import csrf, db
from models import Flow, FlowRevision
from models.base import parse_id
from services import flow_revisions
from web.api_auth import api_auth
from web.errors import ApiError
from web.json_input import json_body, json_document
from web.schemas import ArchiveBody, DefinitionBody, FlowCreate, FlowUpdate, PublishBody, RollbackBody

bp = Blueprint("flows_api", __name__, url_prefix="/api/flows")
csrf.exempt(bp)


def _iso(dt) -> str | None:
    return dt.isoformat().replace("+00:00", "Z") if dt else None


def flow_summary(flow: Flow, numbers: list[str] | None = None) -> dict:
    """A flow's metadata as the API shows it (`numbers` when already fetched for a list)."""
    rev = flow.published_revision
    if numbers is None:
        numbers = flow_revisions.numbers_by_flow(g.org, [flow.id])[flow.id]
    return {
        "id": flow.id,
        "name": flow.name,
        "description": flow.description,
        "archived": flow.archived,
        "draft_version": flow.draft_version,
        "draft_updated_at": _iso(flow.draft_updated_at),
        "published_revision": rev.number if rev else None,
        "has_unpublished_changes": rev is None or rev.definition != flow.draft,
        "test_users": list(flow.test_users or []),
        "numbers": numbers,
        "channels": list(flow.channels),
    }


def revision_summary(rev: FlowRevision) -> dict:
    """A revision's metadata (without its definition)."""
    return {
        "number": rev.number,
        "message": rev.message,
        "author": rev.author.email if rev.author else None,
        "created_at": _iso(rev.created_at),
        "warnings": len([i for i in rev.issues or [] if i.get("severity") == "warning"]),
    }


def _flow_or_404(flow_id: int) -> Flow:
    flow = flow_revisions.get_flow(g.org, flow_id)
    if flow is None:
        raise ApiError(404, "not_found", "There is no such flow in this organisation.")
    return flow


def _fail(err: flow_revisions.FlowError):
    db.session.rollback()
    extra = {}
    if isinstance(err, flow_revisions.InvalidFlow):
        return ApiError(422, err.code, err.message, issues=err.issues)
    if isinstance(err, flow_revisions.StaleDraft):
        return ApiError(409, err.code, err.message, current_version=err.current_version)
    if err.path:
        extra["path"] = err.path
    return ApiError(400, err.code, err.message, **extra)


@bp.get("")
@api_auth("viewer")
def list_flows():
    """The org's flows (`?archived=1` includes archived ones)."""
    flows = flow_revisions.list_flows(g.org, include_archived=request.args.get("archived") in ("1", "true"))
    numbers = flow_revisions.numbers_by_flow(g.org, [f.id for f in flows])
    return jsonify({"flows": [flow_summary(f, numbers[f.id]) for f in flows]})


@bp.get("/node-types")
@api_auth("viewer")
def node_types():
    """Every node type with its fields and outcomes (the engine's catalog)."""
    from flows import node_type_catalog

    return jsonify(node_type_catalog())


@bp.post("")
@api_auth("editor")
def create():
    """Create a flow: `{"name", "definition"?, "template"?, "description"?}`."""
    body = json_body(FlowCreate)
    try:
        flow = flow_revisions.create_flow(
            g.org, g.user, body.name, body.definition, body.template, body.description or ""
        )
        db.session.commit()
    except flow_revisions.FlowError as err:
        raise _fail(err) from None
    return jsonify(flow_summary(flow) | {"definition": flow.draft}), 201


@bp.get("/<int:flow_id>")
@api_auth("viewer")
def get(flow_id: int):
    """One flow with its draft definition and validation issues."""
    flow = _flow_or_404(flow_id)
    issues = flow_revisions.validate_flow(flow.draft, g.org)
    return jsonify(flow_summary(flow) | {"definition": flow.draft, "issues": issues})


@bp.put("/<int:flow_id>")
@api_auth("editor")
def update(flow_id: int):
    """Save the draft: `{"definition", "draft_version"}` (409 if someone saved since), and/or rename."""
    body = json_body(FlowUpdate)
    flow = _flow_or_404(flow_id)
    sent = body.model_fields_set
    if "definition" in sent and body.draft_version is None:
        raise ApiError(400, "invalid_request", "Send the draft_version you edited, to guard against overwriting "
                       "others' work.", field="draft_version")
    try:
        if sent & {"name", "description"}:
            flow_revisions.rename(flow, body.name if body.name is not None else flow.name, body.description)
        if body.test_users is not None:
            flow_revisions.set_test_users(flow, body.test_users)
        if body.definition is not None:
            flow = flow_revisions.save_draft(g.org, g.user, flow, body.definition, body.draft_version)
        db.session.commit()
    except flow_revisions.FlowError as err:
        raise _fail(err) from None
    issues = flow_revisions.validate_flow(flow.draft, g.org)
    return jsonify(flow_summary(flow) | {"definition": flow.draft, "issues": issues})


@bp.post("/<int:flow_id>/validate")
@api_auth("viewer")
def validate(flow_id: int):
    """Validate the draft, or a definition sent in the body: `{"definition"?}`."""
    body = json_body(DefinitionBody, optional=True)
    flow = _flow_or_404(flow_id)
    definition = body.definition if body.definition is not None else flow.draft
    try:
        flow_revisions.check_definition(definition)
    except flow_revisions.FlowError as err:
        raise _fail(err) from None
    issues = flow_revisions.validate_flow(definition, g.org)
    return jsonify({"valid": not any(i["severity"] == "error" for i in issues), "issues": issues})


@bp.post("/<int:flow_id>/publish")
@api_auth("editor")
def publish(flow_id: int):
    """Publish the draft as a new revision: `{"message"?}` → `{"revision": N}`; 422 with issues if invalid."""
    body = json_body(PublishBody, optional=True)
    flow = _flow_or_404(flow_id)
    try:
        revision = flow_revisions.publish(g.org, g.user, flow, body.message)
        db.session.commit()
    except flow_revisions.NothingToPublish as err:
        # Publishing is idempotent: the draft is already live, so the answer names that revision.
        db.session.rollback()
        return jsonify(
            {"revision": err.revision.number, "published": False, "code": err.code, "message": err.message}
        )
    except flow_revisions.FlowError as err:
        raise _fail(err) from None
    return jsonify({"revision": revision.number, "published": True})


@bp.get("/<int:flow_id>/revisions")
@api_auth("viewer")
def list_revisions(flow_id: int):
    """The flow's revisions, newest first."""
    flow = _flow_or_404(flow_id)
    return jsonify({"revisions": [revision_summary(r) for r in flow_revisions.revisions(g.org, flow)]})


@bp.get("/<int:flow_id>/revisions/<int:number>")
@api_auth("viewer")
def get_revision(flow_id: int, number: int):
    """One revision with its definition."""
    flow = _flow_or_404(flow_id)
    rev = flow_revisions.get_revision(g.org, flow, number)
    if rev is None:
        raise ApiError(404, "not_found", f"This flow has no revision {number}.")
    return jsonify(revision_summary(rev) | {"definition": rev.definition, "issues": rev.issues})


@bp.post("/<int:flow_id>/rollback")
@api_auth("editor")
def rollback(flow_id: int):
    """Republish an older revision: `{"revision": N}` → `{"revision": new number}`."""
    number = json_body(RollbackBody).revision
    flow = _flow_or_404(flow_id)
    try:
        revision = flow_revisions.rollback(g.org, g.user, flow, number)
        db.session.commit()
    except flow_revisions.FlowError as err:
        raise _fail(err) from None
    return jsonify({"revision": revision.number, "rolled_back_to": number})


@bp.post("/<int:flow_id>/archive")
@api_auth("editor")
def archive(flow_id: int):
    """Archive a flow (`{"archived": false}` restores it)."""
    body = json_body(ArchiveBody, optional=True)
    flow = _flow_or_404(flow_id)
    try:
        flow_revisions.archive(g.org, flow, body.archived)
        db.session.commit()
    except flow_revisions.FlowError as err:
        raise _fail(err) from None
    return jsonify(flow_summary(flow))


@bp.post("/import")
@api_auth("editor")
def import_flow():
    """Import a Phonetree or Twilio Studio definition (detected automatically); `?name=` names the flow."""
    data = json_document()
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_request", "Send a flow definition as a JSON object.", field="")
    try:
        flow, fmt, report, issues = flow_revisions.import_flow(g.org, g.user, data, request.args.get("name"))
        db.session.commit()
    except flow_revisions.FlowError as err:
        raise _fail(err) from None
    return jsonify({"id": flow.id, "name": flow.name, "format": fmt, "report": report, "issues": issues}), 201


@bp.get("/<int:flow_id>/export")
@api_auth("viewer")
def export(flow_id: int):
    """The draft (or `?revision=N`) as `?format=phonetree` (default) or `studio`."""
    flow = _flow_or_404(flow_id)
    definition = None
    if request.args.get("revision"):
        rev = flow_revisions.get_revision(g.org, flow, parse_id(request.args.get("revision")) or -1)
        if rev is None:
            raise ApiError(404, "not_found", "This flow has no such revision.")
        definition = rev.definition
    try:
        return jsonify(flow_revisions.export_flow(flow, request.args.get("format", "phonetree"), definition))
    except flow_revisions.FlowError as err:
        raise _fail(err) from None
