"""Flows started by a request (``POST /api/flows/<id>/executions``): where they start, on which
channel, and how the call they place is placed.

An execution runs from the flow's *request start*: the node the Studio Trigger's ``incomingRequest``
transition named, when a Studio import kept one beside an ``incomingCall`` start
(``ui.studio.trigger.request``), else the flow's start node. Its channel is the one the request
names, when the flow serves it there (`channel_refusal`), else the one the flow's drawing implies
(`request_channel`). On ``messaging`` it texts the contact first: a text conversation opened at
the request start. On ``voice`` it places an outbound call to the request's ``to``; when it is
answered (or never is) the flow runs from the request start. The first `outbound_call` node on
that path before anything waits (Studio's make-outgoing-call-v2) declares the call's options: ring
time and answering machine detection (`call_options`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from flows.channels import CHANNEL_LABELS, reached, skipped_outcomes
from flows.definition import FlowDefinition, Node, load_definition
from flows.issues import Issue, error
from flows.nodes.outbound import TYPE_NAME as OUTBOUND_CALL
from flows.nodes.outbound import OutboundCall
from flows.registry import NodeType, get_node_type

REQUEST_TRIGGER = "incomingRequest"
MAX_LOOKAHEAD = 50  # nodes looked at from the request start for its outbound_call or its channel
TEXTS_FIRST = frozenset({"send_message", "wait_for_reply"})  # first on the request path: it texts the contact


def request_start(definition: FlowDefinition | dict[str, Any]) -> str | None:
    """The node an execution of the flow starts at (None: the flow has no start)."""
    loaded = load_definition(definition)
    studio = loaded.ui.get("studio") if isinstance(loaded.ui.get("studio"), dict) else {}
    trigger = studio.get("trigger") if isinstance(studio.get("trigger"), dict) else {}
    request = trigger.get("request")
    if isinstance(request, str) and loaded.node(request) is not None:
        return request
    return loaded.start


def request_channel(definition: FlowDefinition | dict[str, Any]) -> str:
    """The channel an execution runs on when its request names none, as a Studio author draws it:

    - a flow serving one channel: that one;
    - a request start reached from one channel's start only: that channel;
    - else the request path, nearest node first: an `outbound_call` before anything waits is a
      call (``voice``); a `send_message` or `wait_for_reply` before any node that works on calls
      only texts the contact (``messaging``); a branch on ``trigger.channel`` is not followed (the
      flow asks the channel there: the request must name it);
    - else ``voice``, a call.
    """
    loaded = load_definition(definition)
    channels = loaded.settings.channels
    if len(channels) == 1:
        return channels[0]
    start = request_start(loaded)
    sides = [channel for channel in channels if start in reached(loaded, channel)]
    if len(sides) == 1:
        return sides[0]
    if outbound_node(loaded, None) is not None:
        return "voice"
    for node, node_type in _ahead(loaded, None):
        if node.type in TEXTS_FIRST:
            return "messaging"
        if "messaging" not in node_type.channels:
            return "voice"
    return "voice"


def channel_refusal(definition: FlowDefinition | dict[str, Any], channel: str) -> Issue | None:
    """Why an execution of the flow cannot run on `channel` (None: it can): the flow does not serve
    that channel (``channel_not_served``), or the request path on it reaches a node that does not
    work there (``wrong_channel``: a Record in a text conversation, a wait_for_reply on a call)."""
    loaded = load_definition(definition)
    label = CHANNEL_LABELS.get(channel, channel)
    if channel not in loaded.settings.channels:
        served = " and ".join(CHANNEL_LABELS[c] for c in loaded.settings.channels)
        return error("channel_not_served", f"This flow does not serve {label}: it serves {served}.", None, "channel")
    opened = for_request(loaded, channel)
    for node_id in reached(opened, channel):
        node = opened.node(node_id)
        node_type = get_node_type(node.type) if node is not None else None
        if node_type is not None and channel not in node_type.channels:
            works = " and ".join(CHANNEL_LABELS[c] for c in node_type.channels)
            message = f"An execution on {label} would reach {node_type.label} ({node_id}), which works on {works} only."
            return error("wrong_channel", message, node_id, "channel")
    return None


def execution_channels(definition: FlowDefinition | dict[str, Any]) -> list[str]:
    """The channels an execution of the flow can run on (a request may name any of them)."""
    loaded = load_definition(definition)
    return [channel for channel in loaded.settings.channels if channel_refusal(loaded, channel) is None]


def for_request(definition: FlowDefinition | dict[str, Any], channel: str = "voice") -> FlowDefinition:
    """The definition starting at its request start on `channel` (itself when it already does)."""
    loaded = load_definition(definition)
    start = request_start(loaded)
    if channel == "messaging" and loaded.settings.start_for(channel, loaded.start) != start:
        return replace(loaded, start=start, settings=replace(loaded.settings, messaging_start=start))
    return loaded if start == loaded.start else replace(loaded, start=start)


def _ahead(loaded: FlowDefinition, channel: str | None) -> Iterator[tuple[Node, NodeType]]:
    """The nodes the request path reaches before anything waits for the contact, nearest first (at
    most `MAX_LOOKAHEAD`; a waiting node is the last of its path). A branch on ``trigger.channel``
    takes `channel`'s outcomes only; with no channel (not known yet), none that depend on it."""
    queue, seen = [request_start(loaded)], set()
    while queue and len(seen) < MAX_LOOKAHEAD:
        node = loaded.node(queue.pop(0))
        if node is None or node.id in seen:
            continue
        seen.add(node.id)
        node_type = get_node_type(node.type)
        if node_type is None:
            continue
        yield node, node_type
        if not node_type.may_wait:
            skip = skipped_outcomes(node, channel)
            queue.extend(target for outcome, target in node.outcomes.items() if outcome not in skip)


def outbound_node(definition: FlowDefinition | dict[str, Any], channel: str | None = "voice") -> Node | None:
    """The `outbound_call` node the request path reaches before anything waits for the caller
    (Studio flows often set variables or look something up first), or None; on a call, a branch on
    ``trigger.channel`` takes its voice outcomes."""
    loaded = load_definition(definition)
    return next((node for node, _ in _ahead(loaded, channel) if node.type == OUTBOUND_CALL), None)


def places_call(definition: FlowDefinition | dict[str, Any]) -> bool:
    """Whether the request path reaches an `outbound_call` node (it routes calls never answered)."""
    return outbound_node(definition) is not None


def call_options(definition: FlowDefinition | dict[str, Any]) -> dict[str, str]:
    """Twilio Calls parameters the flow asks for (Timeout, MachineDetection, AsyncAmd...), no URLs."""
    node = outbound_node(definition)
    node_type = get_node_type(OUTBOUND_CALL)
    return node_type.call_options(node) if node is not None and isinstance(node_type, OutboundCall) else {}
