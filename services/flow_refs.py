"""Checks of a flow definition that need the database: what its subflow nodes point at.

The engine validates a definition on its own (``flows.validate``); only the org knows whether a
subflow node's ``flow`` names one of its own flows, so these issues are added here before a publish.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from extensions import db
from flows.issues import error, warning
from models import Flow, Organization
from models.base import parse_id


def subflow_issues(org: Organization, definition: Any) -> list[dict]:
    """An error on every subflow node whose flow is not a flow of ``org``; a warning when that flow is archived."""
    nodes = definition.get("nodes") if isinstance(definition, dict) else None
    targets: dict[str, Any] = {}
    for node in nodes if isinstance(nodes, list) else []:
        if isinstance(node, dict) and node.get("type") == "subflow" and isinstance(node.get("id"), str):
            props = node.get("props") if isinstance(node.get("props"), dict) else {}
            if props.get("flow") not in (None, ""):  # a missing flow is the engine's "required" issue
                targets[node["id"]] = props["flow"]
    if not targets:
        return []
    ids = {parse_id(raw) for raw in targets.values()} - {None}
    known = dict(db.session.execute(
        select(Flow.id, Flow.archived).where(Flow.org_id == org.id, Flow.id.in_(ids))
    ).tuples().all()) if ids else {}
    issues = []
    for node_id, raw in targets.items():
        flow_id = parse_id(raw)
        if flow_id not in known:
            issues.append(error("unknown_subflow", f"The subflow points at flow {str(raw)[:40]!r}, which is not a "
                                "flow of this organisation. Choose one of its flows.", node_id, "flow"))
        elif known[flow_id]:
            issues.append(warning("archived_subflow", f"The subflow points at flow {flow_id}, which is archived. "
                                  "Restore it or choose another flow.", node_id, "flow"))
    return [issue.to_dict() for issue in issues]
