"""JSON API for flow executions: start a published flow on an outbound call or in a text
conversation, list and show them.

``POST /api/flows/<id>/executions`` (editor) places the call or texts the contact, on the body's
``channel`` or the one the flow implies (`services.call_executions`);
``GET /api/flows/<id>/executions`` and ``GET /api/executions/<id>`` (viewer) read them with their
steps, the call's timeline.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from extensions import csrf, db
from services import call_executions, flow_revisions
from web.api_auth import api_auth
from web.errors import ApiError
from web.json_input import json_body
from web.schemas import ExecutionStart

bp = Blueprint("executions_api", __name__, url_prefix="/api")
csrf.exempt(bp)


def _flow_or_404(flow_id: int):
    flow = flow_revisions.get_flow(g.org, flow_id)
    if flow is None:
        raise ApiError(404, "not_found", "There is no such flow in this organisation.")
    return flow


@bp.post("/flows/<int:flow_id>/executions")
@api_auth("editor")
def start(flow_id: int):
    """Start an execution: ``{"to", "from", "parameters"?, "channel"?}`` → 201 the execution (a call
    ``queued``, or a text conversation ``in_progress``)."""
    body = json_body(ExecutionStart)
    flow = _flow_or_404(flow_id)
    try:
        session = call_executions.start_execution(
            g.org, flow, body.to, body.from_, body.parameters, channel=body.channel
        )
    except call_executions.ExecutionError as err:
        db.session.rollback()
        raise ApiError(err.status, err.code, err.message, **err.extra) from None
    return jsonify(call_executions.execution_summary(session)), 201


@bp.get("/flows/<int:flow_id>/executions")
@api_auth("viewer")
def list_for_flow(flow_id: int):
    """The flow's executions, newest first (``?limit=`` up to 200, default 50)."""
    flow = _flow_or_404(flow_id)
    raw = request.args.get("limit", "")
    limit = int(raw) if raw.isdigit() else call_executions.PAGE_SIZE
    return jsonify({"executions": call_executions.list_executions(g.org, flow.id, limit)})


@bp.get("/executions/<execution_id>")
@api_auth("viewer")
def show(execution_id: str):
    """One execution with its steps."""
    detail = call_executions.execution_detail(g.org, execution_id) if execution_id.isalnum() else None
    if detail is None:
        raise ApiError(404, "not_found", "There is no such execution in this organisation.")
    return jsonify(detail)
