"""The node types of the built-in flows (`flows.builtin`): voice-mode numbers, softphones, AI calls.

They answer exactly the TwiML those calls have always had: their follow-ups come back to the
``voice`` webhook (shared/docs/API.md), a Dial has no time limit, a voicemail is the org's
greeting and a transcribed two-minute Record. Category "Built-in": shown on the built-in flows'
canvases and in copies of them, not offered in the designer's palette.

Per-call inputs the runtime knows before the flow runs (the number a softphone dials, the
caller ID picked for it, the AI gateway and its stream parameters) arrive as ``flow.data``
(`TurnContext.flow_data`), which the built-in definitions read through templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from flows.definition import Node
from flows.formats import to_e164
from flows.nodes.connect import DEFAULT_HOLD_MUSIC
from flows.registry import Field, Finish, NodeResult, NodeType, Route, Wait, register

if TYPE_CHECKING:
    from flows.runtime import Event, Runtime

CATEGORY = "Built-in"
VOICE = "voice"  # the serviceId these calls' actions post to
VOICEMAIL_GREETING = "Nobody is available to take your call. Please leave a message after the beep."
NO_MESSAGE = "We did not receive a message. Goodbye."
THANKS = "Thank you for your message. Goodbye."
INVALID_NUMBER = "Sorry, that number is not valid. Goodbye."
NO_CALLER_ID = "This organisation has no phone number to call from. Goodbye."
ANSWERED = ("completed", "answered", "bridged", "bridging-in-process")
DIAL_ENDS = ("dial", "queue", "continue")  # a Dial, Enqueue or Connect action posted to ``voice``


def call_status(params: Mapping[str, Any]) -> str:
    """How a Dial, Enqueue or Connect ended: Twilio's DialCallStatus, QueueResult or CallStatus."""
    return str(params.get("DialCallStatus") or params.get("QueueResult") or params.get("CallStatus") or "")


def hang_up_after(node: Node, rt: Runtime, event: Event) -> NodeResult:
    """The call's Dial, Enqueue or Connect ended: hang up, ``answered`` or with Twilio's status."""
    status = call_status(event.params)
    rt.set_result(node.id, {"status": status})
    rt.response.hangup()
    reason = "answered" if status in ANSWERED else status
    return Finish({}, status.replace("-", "_") or "ended", reason)


@register
class RingUsers(NodeType):
    """Ring the online softphones of the users assigned to the called number."""

    type_name = "ring_users"
    label = "Ring the number's users"
    icon = "phone-call"
    category = CATEGORY
    description = "Ring the softphones of the users assigned to the number; on to voicemail when nobody answers."
    fields = (Field("timeout", "number", "Ring for (seconds)", default=25, min=5, max=600, unit="s"),)
    fixed_outcomes = ("no_answer", "busy", "failed", "canceled")
    waits_for = DIAL_ENDS
    results = ("status",)
    summary = ("Ring for {timeout} s",)
    palette = False

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Dial every online softphone of the number's users; `no_answer` at once when none is online."""
        users = list(rt.services.number_users())
        clients = list(rt.services.online_clients(users)) if users else []
        if not clients:
            rt.set_result(node.id, {"status": "no-answer"})
            return Route("no_answer", {"reason": "no softphone online", "users": len(users)})
        dial = rt.response.dial(action=rt.url(VOICE), method="POST", timeout=int(self.prop(node, "timeout")))
        for identity in clients:
            dial.client(identity)
        return Wait({"clients": len(clients), "users": len(users)})

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """Answered: the call is over. Otherwise on through the status (to voicemail)."""
        status = call_status(event.params)
        if status in ANSWERED:
            return hang_up_after(node, rt, event)
        rt.set_result(node.id, {"status": status})
        outcome = status.replace("-", "_") or "no_answer"
        return Route(outcome if outcome in self.fixed_outcomes else "failed", {"status": status})


@register
class TakeMessage(NodeType):
    """The voice-mode voicemail: the greeting, a transcribed Record, thanks."""

    type_name = "take_message"
    label = "Take a message"
    icon = "voicemail"
    category = CATEGORY
    description = "Say the voicemail greeting, record up to two minutes (transcribed) and thank the caller."
    fields = (
        Field("greeting", "template", "Greeting", default="",
              help="Empty: the organisation's voicemail greeting."),
        Field("max_length", "number", "Longest message (seconds)", default=120, min=5, max=3600, unit="s"),
    )
    waits_for = ("recording",)
    ends_call = True
    results = ("recorded",)
    summary = ("{greeting}", "The organisation's voicemail greeting")
    palette = False

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """The greeting and the Record; its action posts to ``voice``."""
        greeting = rt.render(self.prop(node, "greeting")).strip()
        rt.response.say(greeting or rt.ctx.flow_data.get("voicemail_greeting") or VOICEMAIL_GREETING)
        rt.response.record(
            action=rt.url(VOICE),
            method="POST",
            max_length=int(self.prop(node, "max_length")),
            finish_on_key="#",
            play_beep=True,
            transcribe=True,
            transcribe_callback=rt.url("transcription-status"),
            recording_status_callback=rt.url("recording-status"),
            recording_status_callback_method="POST",
        )
        rt.response.say(NO_MESSAGE)
        rt.response.hangup()
        return Wait({})

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """Thank the caller for a message (ended ``voicemail``), or hang up (``no_message``)."""
        recorded = bool(event.params.get("RecordingSid"))
        rt.set_result(node.id, {"recorded": recorded})
        if recorded:
            rt.response.say(THANKS)
        rt.response.hangup()
        return Finish({}, "recorded" if recorded else "no_audio", "voicemail" if recorded else "no_message")


@register
class ConnectCall(NodeType):
    """Dial a number, a softphone (``client:id``) or a queue (``queue:name``), then hang up."""

    type_name = "connect_call"
    label = "Connect the call"
    icon = "phone-forwarded"
    category = CATEGORY
    description = "Dial a number, a softphone or a queue with no time limit; the call ends with the dial."
    fields = (
        Field("to", "template", "Connect to", required=True, help="+E.164, client:identity or queue:name."),
        Field("caller_id", "template", "Caller ID", default=""),
        Field("needs_caller_id", "bool", "A number needs a caller ID", default=False),
        Field("queues", "bool", "May connect to a queue", default=False),
        Field("timeout", "number", "Ring for (seconds)", default=30, min=5, max=600, unit="s"),
        Field("answer_on_bridge", "bool", "Ring back until answered", default=False),
        Field("on_invalid", "select", "When the target is not valid", default="apologise",
              choices=("apologise", "end", "fallback")),
    )
    waits_for = DIAL_ENDS
    ends_call = True
    results = ("status", "target")
    summary = ("Connect to {to}",)
    palette = False

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Dial (or enqueue) the target and wait for the action."""
        target = rt.render(self.prop(node, "to")).strip()
        caller_id = rt.render(self.prop(node, "caller_id")).strip()
        rt.set_result(node.id, {"target": target[:64]})
        if self.prop(node, "needs_caller_id") and not caller_id and not target.startswith("client:"):
            rt.response.say(NO_CALLER_ID)
            rt.response.hangup()
            return Finish({"reason": "no_caller_id"}, "failed", "no_caller_id")
        action = rt.url(VOICE)
        queue = target[len("queue:"):].strip() if target.startswith("queue:") else ""
        if queue and self.prop(node, "queues"):
            rt.response.enqueue(queue[:64], action=action, method="POST",
                                wait_url=rt.url("ivr-queue-music"), wait_url_method="POST")
            return Wait({"target": target})
        attrs: dict[str, Any] = {"action": action, "method": "POST", "timeout": int(self.prop(node, "timeout"))}
        if self.prop(node, "answer_on_bridge"):
            attrs["answer_on_bridge"] = True
        if caller_id and not caller_id.startswith("client:"):
            attrs["caller_id"] = caller_id
        dialed = _dial(rt, target, attrs)
        if dialed is not None:
            return Wait({"target": dialed})
        on_invalid = self.prop(node, "on_invalid")
        if on_invalid == "fallback":
            raise ValueError(f"not a number, client or queue: {target[:64]!r}")
        if on_invalid == "apologise":
            rt.response.say(INVALID_NUMBER)
            rt.response.hangup()
        return Finish({"reason": "invalid_number"}, "failed", "invalid_number")

    def hold(self, node: Node, rt: Runtime) -> None:
        """The queue's waitUrl document: Twilio's hold music."""
        rt.response.play(DEFAULT_HOLD_MUSIC)

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """The dial (or queue) ended: hang up."""
        return hang_up_after(node, rt, event)


def _dial(rt: Runtime, target: str, attrs: dict[str, Any]) -> str | None:
    """Add `<Dial>` for a number or ``client:identity``; the E.164 number or identity, or None."""
    if target.startswith("client:"):
        identity = target[len("client:"):].strip()
        if not identity:
            return None
        rt.response.dial(**attrs).client(identity)
        return identity
    number = to_e164(target) if target else None
    if number is None:
        return None
    rt.response.dial(**attrs).number(number)
    return number


@register
class AiStream(NodeType):
    """Stream the call to Phonetree's voice AI gateway; the call ends with the stream."""

    type_name = "ai_stream"
    label = "Stream to the AI gateway"
    icon = "bot"
    category = CATEGORY
    description = "Connect the call's audio to VOICE_GATEWAY_URL with the call's details; hang up when it ends."
    fields = (Field("gateway_url", "template", "Gateway URL", required=True),)
    waits_for = ("continue", "dial", "queue")
    ends_call = True
    results = ("status",)
    summary = ("Stream to {gateway_url}",)
    palette = False

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """`<Connect><Stream>` with the stream parameters the runtime handed in."""
        url = rt.render(self.prop(node, "gateway_url")).strip()
        if not url:
            raise ValueError("no AI gateway URL")
        params = dict(rt.ctx.flow_data.get("stream_parameters") or {})
        stream = rt.response.connect(action=rt.url(VOICE), method="POST").stream(url=url)
        for key, value in params.items():
            stream.parameter(name=str(key), value=str(value))
        return Wait({"direction": str(params.get("direction", ""))})

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """The stream ended: hang up."""
        return hang_up_after(node, rt, event)
