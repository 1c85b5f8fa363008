"""send_message: text the contact (SMS, or MMS with a media URL), on a call or in a conversation.

The old ``send_sms`` type loads as this one (`flows.definition.TYPE_ALIASES`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flows.definition import Node
from flows.formats import alphanumeric_sender, messaging_service_sid, to_e164, url_valid
from flows.issues import Issue, error
from flows.registry import Field, NodeResult, NodeType, Route, register

if TYPE_CHECKING:
    from flows.runtime import Runtime

log = logging.getLogger("phonetree.flows")


def error_code(exc: Exception) -> tuple[str, str]:
    """What a failed send shows: (``widgets.X.error``, the step's ``error``). Twilio's code (``21610``:
    the contact replied STOP, ``21211``: invalid number) in both when the error has one; else the
    message and the error's type."""
    code = getattr(exc, "code", None)
    if code not in (None, ""):
        return str(code), str(code)
    return (str(exc) or type(exc).__name__)[:200], type(exc).__name__


def resolve_sender(rt: Runtime, source: Any) -> str | None:
    """The rendered sender: an E.164 number, a Messaging Service SID or an alphanumeric sender ID; None if none."""
    sender = rt.render(source).strip()
    if messaging_service_sid(sender):
        return sender
    return to_e164(sender, rt.settings.region) or (sender if alphanumeric_sender(sender) else None)


def send(rt: Runtime, node_id: str, body: Any, media: Any, sender: Any, to: str = "") -> str | Route:
    """Render and send a node's message (to the contact unless `to`): its sid, or the `failed` Route
    (an empty message, a sender that is none, the provider's refusal with its code in ``error``).
    Sets the node's result (``status``, ``sid`` or ``error``)."""
    text = rt.render(body).strip()
    url = rt.render(media).strip()
    from_ = resolve_sender(rt, sender)
    if from_ is None or not (text or url):
        reason = "invalid_from" if from_ is None else "empty_body"
        rt.set_result(node_id, {"status": "failed", "error": reason})
        return Route("failed", {"error": reason})
    try:
        sid = str(rt.send_message(text, [url] if url else [], to=to, from_=from_))
    except Exception as exc:  # noqa: BLE001  any failure of the provider is the failed outcome
        shown, logged = error_code(exc)
        log.info("message of %s not sent: %s", node_id, logged)
        rt.set_result(node_id, {"status": "failed", "error": shown})
        return Route("failed", {"error": logged})
    rt.set_result(node_id, {"status": "sent", "sid": sid})
    return sid


# The sender and media fields of the nodes that send a message (send_message, wait_for_reply).
SENDER_FIELD = Field(
    "from",
    "sender",
    "From",
    default="{{ flow.channel.address }}",  # the flow's own number, whoever called or texted whom
    placeholders={"voice": "the flow's number", "messaging": "this number"},
    help="A number you own (the flow's number by default), a Messaging Service SID (MG...), or an alphanumeric "
    "sender ID (refused in some countries, and no reply can come back).",
)
MEDIA_FIELD = Field("media_url", "url", "Media URL", default="", help="An image or file to attach (MMS).")


@register
class SendMessage(NodeType):
    """Send a text message (by default to the contact, from the number they called or texted)."""

    type_name = "send_message"
    label = "Send message"
    icon = "message"
    category = "Integrations"
    messaging_category = "Messages"
    description = "Text the contact a link, a confirmation, a picture ... on a call or in a conversation."
    channels = ("voice", "messaging")
    fields = (
        Field("to", "phone", "To", default="{{ contact.channel.address }}",  # the caller, or the one the flow called
              placeholders={"voice": "the caller", "messaging": "the contact"}),
        SENDER_FIELD,
        Field("body", "template", "Message", required=True),
        MEDIA_FIELD,
    )
    fixed_outcomes = ("sent", "failed")
    messaging_quiet_outcomes = ("sent",)  # a last text is the goodbye of a conversation
    results = ("status", "sid", "error")
    summary = ("{body}",)

    def validate(self, node: Node) -> Iterable[Issue]:
        """A media URL, when given literally, must be http(s)."""
        media = node.props.get("media_url")
        if isinstance(media, str) and media and "{" not in media and not url_valid(media):
            yield error("invalid_url", "The media URL must be an http(s) URL.", node.id, "media_url")

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Send through the services; `sent`, or `failed` with the provider's code in ``error``."""
        to = to_e164(rt.render(self.prop(node, "to")).strip(), rt.settings.region)
        if to is None:
            rt.set_result(node.id, {"status": "failed", "error": "invalid_to"})
            return Route("failed", {"error": "invalid_to"})
        sent = send(rt, node.id, self.prop(node, "body"), self.prop(node, "media_url"), self.prop(node, "from"), to)
        if isinstance(sent, Route):
            return sent
        return Route("sent", {"sid": sent})
