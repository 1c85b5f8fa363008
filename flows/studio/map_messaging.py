"""Studio's messaging side: send-message and send-and-wait-for-reply, and a flow's channels.

Import: ``send-message`` → `send_message`, ``send-and-wait-for-reply`` → `wait_for_reply`
(``timeout`` an int or a string; the ``incomingMessage`` event is ``replied``,
``deliveryFailure`` is ``failed``). The Trigger's ``incomingMessage`` (or
``incomingConversationMessage``) transition is the flow's messaging start: the flow serves
messaging (and voice when ``incomingCall`` is wired too). Properties only Twilio Conversations
understands (``service``, ``channel``, ``attributes``) are ignored, with a warning.
Export: `flows.studio.export_messaging`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flows.nodes.wait_for_reply import timeout_seconds
from flows.studio.map_voice import CONTACT_ADDRESS, FLOW_ADDRESS, Mapped, route

if TYPE_CHECKING:
    from flows.definition import FlowDefinition
    from flows.studio.importer import Importer

SEND_EVENTS: dict[str, tuple[str, ...]] = {"sent": ("sent",), "failed": ("failed",)}
WAIT_EVENTS: dict[str, tuple[str, ...]] = {
    "incomingMessage": ("replied",),
    "timeout": ("timeout",),
    "deliveryFailure": ("failed",),
}
# Properties of Studio's messaging widgets that only a Twilio Conversations channel uses.
CONVERSATIONS_ONLY = ("service", "channel", "attributes")
MESSAGING_TRIGGERS = ("incomingMessage", "incomingConversationMessage")
VOICE_TRIGGERS = ("incomingCall", "incomingParent")


def _conversation_notes(props: dict[str, Any]) -> list[str]:
    used = [k for k in ("attributes",) if props.get(k) not in (None, "")]
    return [f"Conversations-only properties ignored: {', '.join(used)}"] if used else []


def _conversation_flow(cx: Importer) -> bool:
    """Whether the flow is started by Twilio Conversations (its `from` names an author, not a sender)."""
    trigger = cx.trigger or {}
    return any(
        t.get("event") == "incomingConversationMessage" and t.get("next") for t in trigger.get("transitions") or []
    )


def _sender(cx: Importer, props: dict[str, Any], node_props: dict[str, Any], notes: list[str]) -> None:
    from_ = str(props.get("from") or "")
    if from_.replace(" ", "") in ("", FLOW_ADDRESS):
        return
    if _conversation_flow(cx) and "{" not in from_ and not from_.lstrip().startswith(("+", "MG")):
        notes.append(f"from {from_!r} is a Conversations author name: texts go from the flow's number")
        return
    node_props["from"] = cx.tpl(from_, notes)


def map_send_message(cx: Importer, state: dict[str, Any]) -> Mapped:
    """send-message → send_message (to the contact and from the flow's number unless set otherwise)."""
    props, notes = state.get("properties") or {}, []
    node_props: dict[str, Any] = {"body": cx.tpl(str(props.get("body") or ""), notes)}
    to = str(props.get("to") or "")
    if to.replace(" ", "") not in ("", CONTACT_ADDRESS):
        node_props["to"] = cx.tpl(to, notes)
    _sender(cx, props, node_props, notes)
    if props.get("media_url"):
        node_props["media_url"] = cx.tpl(str(props["media_url"]), notes)
    notes.extend(_conversation_notes(props))
    outcomes, _, more = route(cx, state, SEND_EVENTS)
    notes.extend(more)
    used = {"body", "to", "from", "media_url", *CONVERSATIONS_ONLY, "offset"}
    return Mapped("send_message", node_props, outcomes, "send_message", notes, used=used)


def map_wait_for_reply(cx: Importer, state: dict[str, Any]) -> Mapped:
    """send-and-wait-for-reply → wait_for_reply (its timeout in seconds, int or string in Studio)."""
    props, notes = state.get("properties") or {}, []
    node_props: dict[str, Any] = {"prompt": cx.tpl(str(props.get("body") or ""), notes)}
    _sender(cx, props, node_props, notes)
    if props.get("media_url"):
        node_props["media_url"] = cx.tpl(str(props["media_url"]), notes)
    if props.get("timeout") not in (None, ""):
        seconds = timeout_seconds(props["timeout"])
        if str(seconds) != str(props["timeout"]).strip():
            notes.append(f"timeout {props['timeout']!r} read as {seconds} s")
        node_props["timeout"] = seconds
    notes.extend(_conversation_notes(props))
    outcomes, _, more = route(cx, state, WAIT_EVENTS)
    notes.extend(more)
    used = {"body", "from", "media_url", "timeout", *CONVERSATIONS_ONLY, "offset"}
    return Mapped("wait_for_reply", node_props, outcomes, "wait_for_reply", notes, used=used)


def start_events(wired: dict[str, str], order: tuple[str, ...]) -> list[str]:
    """The Trigger events in the order their targets are tried as the start node: calls first,
    but a flow no call starts begins where its messages go."""
    if any(wired.get(e) for e in VOICE_TRIGGERS):
        return list(order)
    return [*MESSAGING_TRIGGERS, *(e for e in order if e not in MESSAGING_TRIGGERS)]


def import_channels(cx: Importer, wired: dict[str, str], start: str | None) -> tuple[dict[str, Any], list[str]]:
    """The imported flow's channel settings from the Trigger's wired events, and report notes.

    Messaging when ``incomingMessage`` or ``incomingConversationMessage`` is wired, or when only
    ``incomingRequest`` is and the flow waits for replies (a REST-started text conversation);
    voice when a call (or a parent flow) starts it, or when nothing says messaging.
    """
    event = next((e for e in MESSAGING_TRIGGERS if wired.get(e)), None)
    waits = any(s["type"] == "send-and-wait-for-reply" for s in cx.states)
    voice = any(wired.get(e) for e in VOICE_TRIGGERS)
    messaging = event is not None or (not voice and waits)
    settings: dict[str, Any] = {}
    notes: list[str] = []
    if not messaging:
        return settings, notes
    settings["channels"] = ["voice", "messaging"] if voice else ["messaging"]
    if event is not None:
        target = cx.resolve(wired[event])
        if voice and target and target != start:
            settings["messaging_start"] = target
        if event == "incomingConversationMessage":
            notes.append(
                "Conversations-only properties (service, channel, attributes) are ignored: "
                "the conversation runs over SMS to the flow's number"
            )
    return settings, notes


def texted_widgets(cx: Importer, wired: dict[str, str]) -> set[str]:
    """The Studio widgets a text conversation of the imported flow reaches (by their transitions),
    from where its messages start (or, for a flow a request starts, where the request goes)."""
    if "messaging" not in (cx.settings.get("channels") or ()):
        return set()
    roots = [wired[e] for e in MESSAGING_TRIGGERS if wired.get(e)] or [wired.get("incomingRequest")]
    seen: set[str] = set()
    todo = [r for r in roots if r in cx.by_name]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        todo.extend(t["next"] for t in cx.by_name[name].get("transitions") or [] if t.get("next") in cx.by_name)
    return seen


def messaging_detail(settings: dict[str, Any], start: str | None) -> str:
    """The Trigger's report text about text conversations (empty for a voice-only flow)."""
    channels = settings.get("channels") or []
    if "messaging" not in channels:
        return ""
    at = settings.get("messaging_start") or start
    return f"; text conversations start at {at}" if "voice" in channels else " (text conversations only)"


def trigger_starts(definition: FlowDefinition) -> dict[str, str | None]:
    """The Trigger transitions a flow's channels make: incomingCall and incomingMessage."""
    settings = definition.settings
    starts: dict[str, str | None] = {}
    if "voice" in settings.channels:
        starts["incomingCall"] = definition.start
    if "messaging" in settings.channels:
        starts["incomingMessage"] = settings.start_for("messaging", definition.start)
    return starts
