"""wait_for_reply: send a prompt in a text conversation and wait for the contact's next message.

The wait ends with the reply (`replied`, the message in ``widgets.X.inbound``: ``Body``,
``From``, ``MediaUrl0`` ... and ``media``, the list of media URLs), or with the ``timeout``
event the runtime brings when the timeout passes first (`flows.registry.Wait.timeout`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flows.definition import Node
from flows.formats import duration_range
from flows.issues import Issue, error
from flows.nodes.send_message import MEDIA_FIELD, SENDER_FIELD, send
from flows.registry import Field, NodeResult, NodeType, Route, Wait, register

if TYPE_CHECKING:
    from flows.runtime import Event, Runtime

DEFAULT_TIMEOUT = 3600
MAX_TIMEOUT = 7 * 24 * 3600
INBOUND_FIELDS = ("Body", "From", "To", "MessageSid", "NumMedia", "NumSegments", "AccountSid")


def timeout_seconds(value: Any) -> int:
    """The wait in whole seconds from an int or a numeric string (Studio writes both), within 1 s .. 7 days."""
    try:
        seconds = int(float(str(value).strip()))
    except (TypeError, ValueError):
        seconds = DEFAULT_TIMEOUT
    return max(1, min(seconds, MAX_TIMEOUT))


def inbound(params: Any) -> dict[str, Any]:
    """The reply as ``widgets.X.inbound``: Twilio's fields and the list of its media URLs."""
    data = {k: str(params[k]) for k in INBOUND_FIELDS if params.get(k) not in (None, "")}
    media = []
    for i in range(10):
        url = params.get(f"MediaUrl{i}")
        if not url:
            break
        data[f"MediaUrl{i}"] = str(url)
        media.append(str(url))
    data["media"] = media
    data.setdefault("Body", "")
    return data


@register
class WaitForReply(NodeType):
    """Send a message and wait for the contact's answer, up to a timeout."""

    type_name = "wait_for_reply"
    label = "Send and wait for reply"
    icon = "message"
    category = "Input"
    description = (
        "Text the contact, then wait for their reply (widgets.<id>.inbound.Body) "
        "up to a timeout: 1 hour by default, 7 days at most."
    )
    channels = ("messaging",)
    fields = (
        Field("prompt", "template", "Message", required=True),
        MEDIA_FIELD,
        SENDER_FIELD,
        Field("timeout", "number", "Wait (seconds)", default=DEFAULT_TIMEOUT, min=1, max=MAX_TIMEOUT, unit="s"),
    )
    fixed_outcomes = ("replied", "timeout", "failed")
    waits_for = ("input", "timeout")
    results = ("inbound.Body", "inbound.From", "inbound.MediaUrl0", "inbound.media", "inbound", "status", "sid",
               "error")
    summary = ("{prompt}",)

    def validate(self, node: Node) -> Iterable[Issue]:
        """A timeout given as text is one error saying what to write (in place of the generic
        "must be a number"): a number of seconds (Studio's string timeouts become numbers at import)."""
        value = node.props.get("timeout")
        if isinstance(value, str):
            yield error(
                "invalid_type",
                f"The wait must be a number of seconds, {duration_range(1, MAX_TIMEOUT)}, not the text "
                f"{value[:20]!r}.",
                node.id,
                "timeout",
            )

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Send the prompt; wait for the reply (or the timeout), or `failed` when it cannot be sent."""
        sent = send(rt, node.id, self.prop(node, "prompt"), self.prop(node, "media_url"), self.prop(node, "from"))
        if isinstance(sent, Route):
            return sent
        seconds = timeout_seconds(self.prop(node, "timeout"))
        return Wait({"sid": sent, "timeout": seconds}, timeout=seconds)

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """`replied` with the message, or `timeout`."""
        previous = rt.result(node.id) or {}
        if event.kind == "timeout":
            rt.set_result(node.id, {**previous, "status": "timeout"})
            return Route("timeout")
        message = inbound(event.params)
        rt.set_result(node.id, {**previous, "status": "replied", "inbound": message})
        return Route("replied", {"media": len(message["media"])})
