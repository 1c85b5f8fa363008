"""Nodes that speak or record: say, record, voicemail, hangup."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flows.definition import Node
from flows.prompts import add_prompt, normalize_prompt, say_text
from flows.registry import Field, Finish, NodeResult, NodeType, Route, Wait, prompt_summary, register

if TYPE_CHECKING:
    from flows.runtime import Event, Runtime

RECORDING_FIELDS = ("RecordingUrl", "RecordingSid", "RecordingDuration", "Digits")


@register
class Say(NodeType):
    """Say text or play audio, then continue through `next` (no wait)."""

    type_name = "say"
    label = "Say / Play"
    messaging_label = "Send text"  # on a text flow its prompt is texted to the contact (`add_prompt`)
    icon = "speaker"
    category = "Voice"
    messaging_category = "Messages"
    description = "Speak text or play an audio file (in a text conversation: send it), then continue."
    fields = (
        Field("prompt", "prompt", "Message", required=True),
        Field("loop", "number", "Repeat", default=1, min=1, max=10, channels=("voice",)),
        Field("pause_after", "number", "Pause after (seconds)", default=0, min=0, max=60, channels=("voice",),
              unit="s"),
    )
    fixed_outcomes = ("next",)
    messaging_quiet_outcomes = ("next",)  # as Send message's sent: a last text is the conversation's goodbye
    summary = prompt_summary("prompt")
    channels = ("voice", "messaging")  # in a messaging session the prompt is sent as a message

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Queue the Say/Play (and pause) and continue through `next`."""
        prompt = dict(normalize_prompt(self.prop(node, "prompt")) or {})
        loop = int(self.prop(node, "loop"))
        if loop != 1:
            prompt["loop"] = loop
        said = add_prompt(rt, rt.response, prompt)
        if self.prop(node, "pause_after"):
            rt.response.pause(length=int(self.prop(node, "pause_after")))
        return Route("next", {"said": said})


def _recording_result(event: Event) -> dict[str, Any]:
    params = event.params if event.kind == "recording" else {}
    return {k: str(params[k]) for k in RECORDING_FIELDS if params.get(k) not in (None, "")}


def _has_audio(result: dict[str, Any]) -> bool:
    try:
        duration = int(float(result.get("RecordingDuration", "0") or 0))
    except ValueError:
        duration = 0
    return bool(result.get("RecordingUrl")) and duration > 0


def _record_verb(rt: Runtime, *, max_length: int, play_beep: bool, finish_on_key: str,
                 timeout: int, trim: str, transcribe: bool) -> None:
    attrs: dict[str, Any] = {
        "action": rt.url("ivr-recording"),
        "method": "POST",
        "max_length": max_length,
        "play_beep": play_beep,
        "finish_on_key": finish_on_key,
        "timeout": timeout,
        "trim": trim,
        "recording_status_callback": rt.url("recording-status"),
        "recording_status_callback_method": "POST",
    }
    if transcribe:
        attrs["transcribe"] = True
        attrs["transcribe_callback"] = rt.url("transcription-status")
    rt.response.record(**attrs)
    # Twilio skips the action when nothing was recorded and runs the next verb instead.
    rt.response.redirect(rt.url("ivr-recording", timeout=1), method="POST")


@register
class Record(NodeType):
    """Record the caller (a message, a name ...) and continue."""

    type_name = "record"
    label = "Record"
    icon = "microphone"
    category = "Voice"
    description = "Record the caller; the recording URL is kept as widgets.<id>.RecordingUrl."
    fields = (
        Field("prompt", "prompt", "Prompt", default=None),
        Field("play_beep", "bool", "Beep", default=True),
        Field("max_length", "number", "Maximum length (seconds)", default=120, min=1, max=14400, unit="s"),
        Field("timeout", "number", "Silence that ends it (seconds)", default=5, min=0, max=60, unit="s"),
        Field("finish_on_key", "digits", "Finish keys", default="1234567890*#"),
        Field("trim", "select", "Trim silence", default="trim-silence", choices=("trim-silence", "do-not-trim")),
        Field("transcribe", "bool", "Transcribe", default=False),
        Field("variable", "text", "Store URL in variable", default=""),
    )
    fixed_outcomes = ("recorded", "no_audio", "hangup")
    quiet_outcomes = ("hangup",)
    waits_for = ("recording", "timeout")
    results = RECORDING_FIELDS
    summary = prompt_summary("prompt")

    def sets_variables(self, node: Node) -> tuple[str, ...]:
        """The optional variable that receives the recording URL."""
        name = node.props.get("variable")
        return (name,) if isinstance(name, str) and name else ()

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Say the prompt, then Record and wait."""
        return _prompt_and_record(self, node, rt, trim=self.prop(node, "trim"))

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """`recorded` with audio, `hangup` when the caller hung up, else `no_audio`."""
        result = _recording_result(event)
        rt.set_result(node.id, result)
        if _has_audio(result) and self.prop(node, "variable"):
            rt.set_var(self.prop(node, "variable"), result["RecordingUrl"])
        if result.get("Digits") == "hangup":
            return Route("hangup", {"duration": result.get("RecordingDuration", "0")})
        if _has_audio(result):
            return Route("recorded", {"duration": result["RecordingDuration"]})
        return Route("no_audio")


@register
class Voicemail(NodeType):
    """Prompt, record a message, thank the caller."""

    type_name = "voicemail"
    label = "Voicemail"
    icon = "voicemail"
    category = "Voice"
    description = "Take a message: greeting, beep, recording, thank-you."
    fields = (
        Field("prompt", "prompt", "Greeting", default={"say": "Please leave a message after the beep."}),
        Field("thank_you", "prompt", "Thank-you", default={"say": "Thank you. Goodbye."}),
        Field("max_length", "number", "Maximum length (seconds)", default=120, min=1, max=14400, unit="s"),
        Field("timeout", "number", "Silence that ends it (seconds)", default=5, min=0, max=60, unit="s"),
        Field("finish_on_key", "digits", "Finish keys", default="#"),
        Field("transcribe", "bool", "Transcribe", default=True),
        Field("play_beep", "bool", "Beep", default=True),
    )
    fixed_outcomes = ("recorded", "no_audio")
    waits_for = ("recording", "timeout")
    ends_call = True
    results = RECORDING_FIELDS
    summary = prompt_summary("prompt")

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Say the greeting, then Record and wait."""
        return _prompt_and_record(self, node, rt, trim="trim-silence")

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """Thank the caller and route `recorded`, or `no_audio`."""
        result = _recording_result(event)
        rt.set_result(node.id, result)
        if _has_audio(result):
            add_prompt(rt, rt.response, self.prop(node, "thank_you"))
            return Route("recorded", {"duration": result["RecordingDuration"]})
        return Route("no_audio")


@register
class Hangup(NodeType):
    """Optionally say goodbye, then hang up."""

    type_name = "hangup"
    label = "Hang up"
    messaging_label = "End conversation"
    icon = "phone-off"
    category = "Voice"
    messaging_category = "Messages"
    description = "Say (or text) an optional goodbye and end the call or conversation."
    fields = (
        Field("say", "template", "Goodbye message", default=""),
        Field("play", "url", "Or play / attach (URL)", default="",
              help="An audio file a call plays, or a picture or file a text conversation receives."),
        Field("voice", "text", "Voice", default="", channels=("voice",)),
        Field("language", "text", "Language", default="", channels=("voice",)),
    )
    ends_call = True
    summary = (
        "{say}",
        "{play}",
        {"channels": ["messaging"], "text": "Ends the conversation"},
        {"channels": ["voice", "messaging"], "text": "Ends the call or conversation"},
        "Ends the call",
    )
    channels = ("voice", "messaging")

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Say or play the goodbye and hang up (in a messaging session: send it, end the session)."""
        if rt.messaging:
            said = add_prompt(rt, rt.response, {"say": self.prop(node, "say"), "play": self.prop(node, "play")})
            return Finish({"said": said})
        if self.prop(node, "play"):
            url = rt.render(self.prop(node, "play")).strip()
            if url:
                rt.response.play(url)
        text = rt.render(self.prop(node, "say")).strip()
        if text:
            say_text(rt, rt.response, text, self.prop(node, "voice") or None, self.prop(node, "language") or None)
        rt.response.hangup()
        return Finish({"said": bool(text)})


def _prompt_and_record(kind: NodeType, node: Node, rt: Runtime, trim: str) -> NodeResult:
    """Say the node's prompt, then <Record> with its props, and wait for the recording."""
    add_prompt(rt, rt.response, kind.prop(node, "prompt"))
    _record_verb(
        rt,
        max_length=int(kind.prop(node, "max_length")),
        play_beep=bool(kind.prop(node, "play_beep")),
        finish_on_key=kind.prop(node, "finish_on_key"),
        timeout=int(kind.prop(node, "timeout")),
        trim=trim,
        transcribe=bool(kind.prop(node, "transcribe")),
    )
    return Wait()
