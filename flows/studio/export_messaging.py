"""Studio export of the messaging nodes: send_message → send-message, wait_for_reply →
send-and-wait-for-reply (the Trigger's messaging start: `flows.studio.map_messaging.trigger_starts`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flows.nodes.wait_for_reply import DEFAULT_TIMEOUT, timeout_seconds
from flows.studio.export_voice import main_widget
from flows.studio.map_voice import CONTACT_ADDRESS, FLOW_ADDRESS

if TYPE_CHECKING:
    from flows.definition import Node
    from flows.studio.exporter import Exporter

Widgets = list[dict[str, Any]]


# What Studio's own defaults are: the flow's number and the contact's (the engine's defaults; a
# flow saved before they were these names held the inbound-only {{ call.to }} / {{ call.from }})
FLOW_SENDERS = frozenset({FLOW_ADDRESS, "{{call.to}}"})
CONTACTS = frozenset({CONTACT_ADDRESS, "{{call.from}}"})


def _from(cx: Exporter, node: Node) -> str:
    from_ = str(node.props.get("from") or FLOW_ADDRESS)
    return FLOW_ADDRESS if from_.replace(" ", "") in FLOW_SENDERS else cx.liquid(from_)


def build_send_message(cx: Exporter, node: Node) -> Widgets:
    """send_message → send-message."""
    p = node.props
    to = p.get("to") or CONTACT_ADDRESS
    props = {
        "from": _from(cx, node),
        "to": CONTACT_ADDRESS if to.replace(" ", "") in CONTACTS else cx.liquid(to),
        "body": cx.liquid(p.get("body", "")),
    }
    if p.get("media_url"):
        props["media_url"] = cx.liquid(p["media_url"])
    transitions = [
        cx.transition("sent", node.outcomes.get("sent")),
        cx.transition("failed", node.outcomes.get("failed")),
    ]
    return [main_widget(cx, node, "send-message", transitions, props)]


def build_wait_for_reply(cx: Exporter, node: Node) -> Widgets:
    """wait_for_reply → send-and-wait-for-reply."""
    p = node.props
    props: dict[str, Any] = {
        "from": _from(cx, node),
        "body": cx.liquid(p.get("prompt", "")),
        "timeout": str(timeout_seconds(p.get("timeout", DEFAULT_TIMEOUT))),
    }
    if p.get("media_url"):
        props["media_url"] = cx.liquid(p["media_url"])
    out = node.outcomes
    transitions = [
        cx.transition("incomingMessage", out.get("replied")),
        cx.transition("timeout", out.get("timeout")),
        cx.transition("deliveryFailure", out.get("failed")),
    ]
    return [main_widget(cx, node, "send-and-wait-for-reply", transitions, props)]
