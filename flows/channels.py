"""Which nodes a flow's sessions reach on each of its channels, and the nodes that cannot work there.

A flow serves ``voice``, ``messaging`` or both (``settings.channels``). Each channel's sessions
begin at its start node (`Settings.start_for`: ``settings.messaging_start`` when a messaging
session begins elsewhere). A shared start may branch on ``{{ trigger.channel }}``: a condition
``equal_to`` one channel is not followed for the other. A node reached on a channel its type
does not declare (`NodeType.channels`) is an error: a Record or Pay in a text conversation, a
wait_for_reply on a call.
"""

from __future__ import annotations

from collections.abc import Mapping

from flows.definition import CHANNELS, FlowDefinition, Node
from flows.issues import Issue, error
from flows.registry import NodeType

CHANNEL_LABELS = {"voice": "calls", "messaging": "text conversations"}


def skipped_outcomes(node: Node, channel: str | None) -> set[str]:
    """Outcomes of a branch on ``trigger.channel`` that only another channel takes (`channel` None:
    the channel is not known yet, so every outcome some channel would not take)."""
    if channel is None:
        return {outcome for each in CHANNELS for outcome in skipped_outcomes(node, each)}
    if node.type != "branch" or "trigger.channel" not in str(node.props.get("input") or ""):
        return set()
    skipped = set()
    for cond in node.props.get("conditions") or []:
        if not isinstance(cond, dict) or cond.get("operator") != "equal_to":
            continue
        value = str(cond.get("value") or "").strip().casefold()
        if value == channel:  # this channel always takes this condition: no_match is for the others
            skipped.add("no_match")
        elif value in CHANNELS:
            skipped.add(str(cond.get("id")))
    return skipped


def reached(definition: FlowDefinition, channel: str) -> list[str]:
    """Node ids a session on `channel` may enter, in the order first reached from its start."""
    start = definition.settings.start_for(channel, definition.start)
    if start is None or definition.node(start) is None:
        return []
    seen, order, todo = {start}, [start], [start]
    while todo:
        node = definition.node(todo.pop())
        if node is None:
            continue
        skip = skipped_outcomes(node, channel)
        for outcome, target in node.outcomes.items():
            if outcome in skip or target in seen or definition.node(target) is None:
                continue
            seen.add(target)
            order.append(target)
            todo.append(target)
    return order


def channel_issues(definition: FlowDefinition, types: Mapping[str, NodeType]) -> list[Issue]:
    """Errors for nodes reached on a channel they do not work on, and for a missing messaging start."""
    issues: list[Issue] = []
    settings = definition.settings
    if settings.messaging_start and definition.node(settings.messaging_start) is None:
        issues.append(
            error(
                "unknown_start",
                f"Messaging start node {settings.messaging_start!r} does not exist.",
                None,
                "settings.messaging_start",
            )
        )
    flagged: set[str] = set()
    for channel in settings.channels:
        for node_id in reached(definition, channel):
            node_type = types.get(node_id)
            if node_type is None or channel in node_type.channels or node_id in flagged:
                continue
            flagged.add(node_id)
            works = " and ".join(CHANNEL_LABELS[c] for c in node_type.channels)
            issues.append(
                error(
                    "wrong_channel",
                    f"{node_type.label} works on {works} only, but this flow's {CHANNEL_LABELS[channel]} reach it.",
                    node_id,
                    "type",
                )
            )
    return issues
