"""What the visual designer shows beside the canvas: template scope, revision history, flow state.

The designer's pages call these; they read flows through `services.flow_revisions` and never write.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from flows import NODE_TYPES, DefinitionError, load_definition
from flows.definition import CHANNELS
from flows.templating import session_names
from models import Flow, FlowRevision, Organization
from services import flow_revisions


@dataclass
class Scope:
    """Template names usable at one node: flow variables and node results set upstream."""

    variables: list[dict[str, str]] = field(default_factory=list)
    widgets: list[dict[str, Any]] = field(default_factory=list)
    # the session's own names, those of the flow's channels (`flows.templating.session_names`)
    call: list[tuple[str, str]] = field(default_factory=lambda: session_names(("voice",)))


def _nodes(definition: dict) -> list[dict]:
    return [n for n in definition.get("nodes") or [] if isinstance(n, dict) and isinstance(n.get("id"), str)]


def upstream(definition: dict, node_id: str) -> list[str]:
    """Ids of the nodes from which `node_id` can be reached, nearest first (excluding itself)."""
    preds: dict[str, list[str]] = {}
    for node in _nodes(definition):
        for target in (node.get("outcomes") or {}).values():
            if isinstance(target, str):
                preds.setdefault(target, []).append(node["id"])
    seen = {node_id}
    order: list[str] = []
    queue = deque([node_id])
    while queue:
        for pred in preds.get(queue.popleft(), ()):
            if pred not in seen:
                seen.add(pred)
                order.append(pred)
                queue.append(pred)
    return order


def variables_set_by(node: dict) -> list[str]:
    """Flow variables a node sets, as its node type declares them."""
    node_type = NODE_TYPES.get(node.get("type", ""))
    if node_type is None:
        return []
    try:
        loaded = load_definition({"nodes": [node]}).nodes[0]
    except DefinitionError:
        return []
    return [name for name in node_type.sets_variables(loaded) if isinstance(name, str) and name]


def results_of(node: dict) -> tuple[str, ...]:
    """What a node publishes as widgets.<node id>.<name>, as its node type declares it (`results`)."""
    node_type = NODE_TYPES.get(node.get("type", ""))
    return node_type.results if node_type is not None else ()


def template_scope(definition: dict, node_id: str) -> Scope:
    """The variables and node results a template in `node_id` can use."""
    by_id = {n["id"]: n for n in _nodes(definition)}
    settings = definition.get("settings") if isinstance(definition.get("settings"), dict) else {}
    channels = [c for c in settings.get("channels") or () if c in CHANNELS] or ["voice"]
    scope = Scope(call=session_names(channels))
    seen_vars: set[str] = set()
    for upstream_id in upstream(definition, node_id):
        node = by_id.get(upstream_id)
        if node is None:
            continue
        label = node.get("name") or upstream_id
        for name in variables_set_by(node):
            if name not in seen_vars:
                seen_vars.add(name)
                scope.variables.append({"name": f"vars.{name}", "source": label})
        fields = results_of(node)
        if fields:
            scope.widgets.append(
                {"node": upstream_id, "label": label, "fields": [f"widgets.{upstream_id}.{f}" for f in fields]}
            )
    scope.variables.sort(key=lambda v: v["name"])
    return scope


logic_of = flow_revisions.logic_of


def has_unpublished_changes(flow: Flow) -> bool:
    """True when the draft's logic differs from the published revision (or nothing is published)."""
    revision = flow.published_revision
    return revision is None or logic_of(revision.definition) != logic_of(flow.draft)


def _names(definition: dict) -> dict[str, str]:
    return {n["id"]: n.get("name") or n["id"] for n in _nodes(definition)}


def describe_diff(old: dict | None, new: dict) -> dict[str, Any]:
    """`services.flow_revisions.diff_definitions` with node names, and a one-line summary."""
    if old is None:
        count = len(_nodes(new))
        return {"added": [], "removed": [], "changed": [], "summary": f"first revision, {count} nodes"}
    diff = flow_revisions.diff_definitions(old, new)
    names = _names(old or {}) | _names(new)
    labelled = {k: [{"id": i, "name": names.get(i, i)} for i in diff[k]] for k in ("added", "removed", "changed")}
    parts = [f"{len(labelled[k])} {k}" for k in ("added", "removed", "changed") if labelled[k]]
    if diff["start_changed"]:
        parts.append("start moved")
    if diff["settings_changed"]:
        parts.append("settings changed")
    return {**labelled, "summary": ", ".join(parts) or "no changes to the logic"}


@dataclass
class HistoryEntry:
    """One revision as the history panel shows it."""

    revision: FlowRevision
    diff: dict[str, Any]
    live: bool


def history(org: Organization, flow: Flow) -> list[HistoryEntry]:
    """The flow's revisions, newest first, each with what changed since the one before."""
    revisions = flow_revisions.revisions(org, flow)
    entries: list[HistoryEntry] = []
    for index, revision in enumerate(revisions):
        previous = revisions[index + 1].definition if index + 1 < len(revisions) else None
        entries.append(
            HistoryEntry(
                revision, describe_diff(previous, revision.definition), revision.id == flow.published_revision_id
            )
        )
    return entries


def draft_changes(flow: Flow) -> dict[str, Any] | None:
    """What the draft changes against the published revision (None when nothing is published)."""
    revision = flow.published_revision
    if revision is None:
        return None
    return describe_diff(revision.definition, flow.draft)


def flow_state(flow: Flow) -> dict[str, Any]:
    """The flow's publication state for the list and the toolbar."""
    revision = flow.published_revision
    return {
        "published": revision.number if revision else None,
        "published_at": revision.created_at if revision else None,
        "unpublished": has_unpublished_changes(flow),
    }
