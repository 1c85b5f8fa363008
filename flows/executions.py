"""Flows started by a request (``POST /api/flows/<id>/executions``): where they start, and how the
call they place is placed.

An execution of a flow whose request start is on its text side (`request_channel`) texts the
contact first: a text conversation opened at the request start. Any other runs on an outbound
call placed to the request's ``to``; when it is answered (or never
is) the flow runs from its *request start*: the node the Studio Trigger's ``incomingRequest``
transition named, when a Studio import kept one beside an ``incomingCall`` start
(``ui.studio.trigger.request``), else the flow's start node. The first `outbound_call` node on
that path before anything waits (Studio's make-outgoing-call-v2) declares the call's options: ring
time and answering machine detection (`call_options`).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from flows.channels import reached
from flows.definition import FlowDefinition, Node, load_definition
from flows.nodes.outbound import TYPE_NAME as OUTBOUND_CALL
from flows.nodes.outbound import OutboundCall
from flows.registry import get_node_type

REQUEST_TRIGGER = "incomingRequest"
MAX_LOOKAHEAD = 50  # nodes looked at from the request start for its outbound_call


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
    """The channel an execution runs on: ``messaging`` (it texts the contact first) when the flow
    serves text conversations only, or both with its request start reached from its messaging
    start and not from its call start; else ``voice`` (it calls the contact)."""
    loaded = load_definition(definition)
    channels = loaded.settings.channels
    if "messaging" not in channels:
        return "voice"
    if "voice" not in channels:
        return "messaging"
    start = request_start(loaded)
    on_messaging = start in reached(loaded, "messaging") and start not in reached(loaded, "voice")
    return "messaging" if on_messaging else "voice"


def for_request(definition: FlowDefinition | dict[str, Any], channel: str = "voice") -> FlowDefinition:
    """The definition starting at its request start on `channel` (itself when it already does)."""
    loaded = load_definition(definition)
    start = request_start(loaded)
    if channel == "messaging" and loaded.settings.start_for(channel, loaded.start) != start:
        return replace(loaded, start=start, settings=replace(loaded.settings, messaging_start=start))
    return loaded if start == loaded.start else replace(loaded, start=start)


def outbound_node(definition: FlowDefinition | dict[str, Any]) -> Node | None:
    """The `outbound_call` node the request path reaches before anything waits for the caller
    (Studio flows often set variables or look something up first), or None."""
    loaded = load_definition(definition)
    queue, seen = [request_start(loaded)], set()
    while queue and len(seen) < MAX_LOOKAHEAD:
        node = loaded.node(queue.pop(0))
        if node is None or node.id in seen:
            continue
        seen.add(node.id)
        if node.type == OUTBOUND_CALL:
            return node
        node_type = get_node_type(node.type)
        if node_type is None or node_type.may_wait:
            continue
        queue.extend(node.outcomes.values())
    return None


def places_call(definition: FlowDefinition | dict[str, Any]) -> bool:
    """Whether the request path reaches an `outbound_call` node (it routes calls never answered)."""
    return outbound_node(definition) is not None


def call_options(definition: FlowDefinition | dict[str, Any]) -> dict[str, str]:
    """Twilio Calls parameters the flow asks for (Timeout, MachineDetection, AsyncAmd...), no URLs."""
    node = outbound_node(definition)
    node_type = get_node_type(OUTBOUND_CALL)
    return node_type.call_options(node) if node is not None and isinstance(node_type, OutboundCall) else {}
