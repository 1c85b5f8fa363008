"""Checks of a flow definition that need the database: what its subflow nodes point at.

The engine validates a definition on its own (``flows.validate``); only the org knows whether a
subflow node's ``flow`` names one of its own flows, so these issues are added here before a publish.
An imported Studio parent's subflow nodes name Studio flow SIDs; `link_studio_subflows` points
them at the org's flows imported from those SIDs.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from extensions import db
from flows.issues import error, warning
from flows.studio.importer import STUDIO_FLOW_SID_RE
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
        if flow_id not in known and STUDIO_FLOW_SID_RE.match(str(raw)):
            issues.append(error("unknown_subflow", f"The subflow runs Twilio Studio flow {raw}. Import that flow "
                                "and choose it here.", node_id, "flow"))
        elif flow_id not in known:
            issues.append(error("unknown_subflow", f"The subflow points at flow {str(raw)[:40]!r}, which is not a "
                                "flow of this organisation. Choose one of its flows.", node_id, "flow"))
        elif known[flow_id]:
            issues.append(warning("archived_subflow", f"The subflow points at flow {flow_id}, which is archived. "
                                  "Restore it or choose another flow.", node_id, "flow"))
    return [issue.to_dict() for issue in issues]


def link_studio_subflows(org: Organization, definition: Any) -> dict[str, int]:
    """Point each subflow node that names a Studio flow SID (``FW…``) at the org's flow imported from
    that Studio flow (its ``ui.studio.sid``); returns ``{node id: flow id}`` of the nodes linked."""
    nodes = [
        node
        for node in (definition.get("nodes") if isinstance(definition, dict) else None) or []
        if isinstance(node, dict) and node.get("type") == "subflow" and isinstance(node.get("props"), dict)
        and STUDIO_FLOW_SID_RE.match(str(node["props"].get("flow") or ""))
    ]
    if not nodes:
        return {}
    imported: dict[str, int] = {}
    rows = db.session.execute(
        select(Flow.id, Flow.draft).where(Flow.org_id == org.id, Flow.archived.is_(False)).order_by(Flow.id)
    ).tuples()
    for flow_id, draft in rows:
        studio = ((draft or {}).get("ui") or {}).get("studio") if isinstance(draft, dict) else None
        sid = studio.get("sid") if isinstance(studio, dict) else None
        if isinstance(sid, str):
            imported.setdefault(sid, flow_id)
    linked: dict[str, int] = {}
    for node in nodes:
        target = imported.get(node["props"]["flow"])
        if target is not None:
            node["props"]["flow"] = str(target)
            linked[node["id"]] = target
    return linked
