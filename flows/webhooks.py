"""The one registry of Twilio webhooks (shared/docs/API.md's serviceIds) and their engine events.

Every serviceId Phonetree answers is listed once here, with what it is: a ``voice`` webhook
(answers TwiML the call follows), a ``callback`` (status, recording, transcription: 204) or
``messaging`` (SMS). A voice webhook names the engine `Event` kind it brings (``start`` for the
ones that may open a call). The front door, the URL builder, the runtime's dispatch, the test
console and the simulator all read this module; nothing else spells the list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from flows.runtime import Event

WebhookKind = Literal["voice", "callback", "messaging"]
VENDOR = "twilio"
WEBHOOK_PREFIX = f"/connect/webhook/{VENDOR}/"


@dataclass(frozen=True)
class Webhook:
    """One serviceId: its kind, the engine event it brings, and what it is for.

    ``event`` is the engine event kind of a flow's voice webhook (None: not a flow turn, such
    as hold music or the AI stream); ``opens`` is true for the webhooks that may begin a call.
    """

    service_id: str
    kind: WebhookKind
    event: str | None
    opens: bool
    purpose: str


WEBHOOKS: tuple[Webhook, ...] = (
    Webhook("voice", "voice", "start", True, "a number in voice mode, or a softphone's call; its follow-ups"),
    Webhook("ivr-menu", "voice", "start", True, "a number in IVR mode: the flow's first turn"),
    Webhook("ivr-menu-input", "voice", "input", False, "a menu's Gather action (or its no-input Redirect)"),
    Webhook("ivr-input", "voice", "input", False, "a collect-input Gather action (or its no-input Redirect)"),
    Webhook("ivr-recording", "voice", "recording", False, "a Record action (or its no-input Redirect)"),
    Webhook("ivr-payment-status", "voice", "payment", False, "a Pay action"),
    Webhook("ivr-continue", "voice", "continue", False, "a Dial, Enqueue or Connect action; a TwiML redirect's return"),
    Webhook("ivr-queue-music", "voice", None, False, "an Enqueue's waitUrl: hold message and music"),
    Webhook("ai-voice", "voice", None, True, "an inbound call streamed to the AI voice gateway"),
    Webhook("ivr-ai-outbound", "voice", None, True, "a call Phonetree placed, streamed to the AI gateway"),
    Webhook("ivr-ai-transfer", "voice", None, True, "the AI asks to transfer a live call"),
    Webhook("status", "callback", None, False, "call status callback"),
    Webhook("recording-status", "callback", None, False, "recording status callback"),
    Webhook("transcription-status", "callback", None, False, "transcription callback"),
    Webhook("sms", "messaging", None, False, "an inbound text message: a conversation's turn, or the auto-reply"),
    Webhook("message-status", "callback", None, False, "an outbound message's delivery status callback"),
)
WEBHOOK_BY_ID: dict[str, Webhook] = {hook.service_id: hook for hook in WEBHOOKS}
SERVICE_IDS = frozenset(WEBHOOK_BY_ID)
# serviceIds beyond shared/docs/API.md's list (which the tests compare against): added by the
# messaging runtime, to be listed there
ADDED_SERVICE_IDS = frozenset({"message-status"})
VOICE_SERVICES = frozenset(h.service_id for h in WEBHOOKS if h.kind == "voice")
CALLBACK_SERVICES = frozenset(h.service_id for h in WEBHOOKS if h.kind == "callback")
MESSAGING_SERVICES = frozenset(h.service_id for h in WEBHOOKS if h.kind == "messaging")
# Query parameters of Phonetree's own webhook URLs (not a returning app's parameters)
RETURN_RESERVED = frozenset({"orgid", "session", "turn", "timeout", "FlowEvent"})
# serviceId -> event kind of the flow turns (the ivr-* webhooks and the starts of a flow)
SERVICE_EVENTS: dict[str, str] = {h.service_id: h.event for h in WEBHOOKS if h.event}


@dataclass(frozen=True)
class InboundWebhook:
    """One verified webhook as the provider hands it to the runtime: which one, Twilio's form
    fields and query parameters as posted, and the engine event they bring (None when the
    webhook is not a flow turn: a callback, SMS, hold music, an AI stream)."""

    webhook: Webhook
    form: dict[str, Any]
    query: dict[str, Any]
    event: Event | None

    @property
    def service_id(self) -> str:
        """The serviceId it was posted to."""
        return self.webhook.service_id


def webhook_path(service_id: str) -> str:
    """The path of a webhook, ``/connect/webhook/twilio/<serviceId>``; KeyError for an unknown id."""
    return WEBHOOK_PREFIX + WEBHOOK_BY_ID[service_id].service_id


def event_from_webhook(service_id: str, form: Mapping[str, Any], query: Mapping[str, Any]) -> Event | None:
    """The engine event for an ivr webhook, or None when the serviceId is not a turn.

    The no-input Redirect after a Gather or Record carries ``timeout=1`` in its query and
    becomes a ``timeout`` event; ``ivr-continue`` becomes ``dial`` (DialCallStatus),
    ``queue`` (QueueResult) or ``continue``. A call coming back from outside TwiML to the
    ``FlowReturnUrl`` a TwiML redirect gave it (``ivr-continue`` with ``FlowEvent`` in the
    query) is a ``continue`` whose params also hold ``FlowEvent`` and the query's other
    parameters under ``FlowParameters``.
    """
    kind = SERVICE_EVENTS.get(service_id)
    if kind is None:
        return None
    params = dict(form)
    if str(query.get("timeout", "")) == "1" and kind in ("input", "recording"):
        return Event("timeout", params)
    if kind == "continue":
        if query.get("FlowEvent"):
            extra = {k: v for k, v in query.items() if k not in RETURN_RESERVED}
            return Event("continue", {**params, "FlowEvent": str(query["FlowEvent"]), "FlowParameters": extra})
        if params.get("DialCallStatus"):
            return Event("dial", params)
        if params.get("QueueResult"):
            return Event("queue", params)
    return Event(kind, params)
