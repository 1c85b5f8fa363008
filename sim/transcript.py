"""The record of a simulated call: what the caller heard and did, every request made.

`CallTranscript.text()` renders it for people ("Caller hears: …", "Caller presses: 1");
`PromptState` is the view of one wait, for step-by-step driving from a test console.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from sim.verbs import Verb

__all__ = ["CallEvent", "CallTranscript", "PromptState", "RequestRecord"]


@dataclass
class RequestRecord:
    """One HTTP request the simulated Twilio made, and what came back.

    `kind` is "voice" (the answer is TwiML the call follows) or "callback" (a
    notification whose answer is ignored); `label` says why it was made
    ("incoming call", "gather action", "recording status callback" …); `signed_url` is
    the URL the X-Twilio-Signature covers; `document_url` is the URL relative TwiML
    URLs resolve against (the signed URL without GET parameters).
    """

    kind: str
    label: str
    method: str
    url: str
    signed_url: str
    params: dict[str, str]
    headers: dict[str, str]
    status: int | None = None
    content_type: str = ""
    body: str = ""
    verbs: list[Verb] | None = None
    error: str | None = None
    document_url: str = ""

    @property
    def path(self) -> str:
        """The path of the requested URL (no scheme, host or query)."""
        return urlsplit(self.url).path

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (verbs as their class names)."""
        data = dataclasses.asdict(self)
        data["verbs"] = [type(v).__name__ for v in self.verbs] if self.verbs is not None else None
        return data


@dataclass
class CallEvent:
    """One thing that happened in the call; `kind` names it, `data` holds the details."""

    kind: str
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    def render(self) -> str | None:
        """One line for `CallTranscript.text()`, or None for events not shown there."""
        render = _RENDER.get(self.kind)
        return render(self) if render else None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form, with the rendered line."""
        return {
            "kind": self.kind,
            "text": self.text,
            "data": _jsonable(self.data),
            "line": self.render(),
        }


def _loop_suffix(event: CallEvent) -> str:
    loop = event.data.get("loop", 1)
    if loop == 0:
        return " (repeated until the call moves on)"
    return f" (x{loop})" if loop > 1 else ""


def _heard(event: CallEvent) -> str:
    if event.data.get("verb") == "play":
        if event.data.get("digits"):
            return f"Caller hears tones: {event.data['digits']}"
        return f"Caller hears audio: {event.text}{_loop_suffix(event)}"
    return f"Caller hears: {event.text}{_loop_suffix(event)}"


_RENDER = {
    "heard": _heard,
    "pause": lambda e: f"(pause {e.data.get('seconds', 0)}s)",
    "pressed": lambda e: f"Caller presses: {e.text}" + _ignored(e),
    "said": lambda e: f"Caller says: {e.text}" + _ignored(e),
    "silence": lambda e: f"Caller stays silent{_ignored(e) or ''}",
    "recorded": lambda e: (
        f"Caller records {e.data['duration']}s of audio" + (f': "{e.text}"' if e.text else "")
        if e.data.get("duration")
        else "Caller records nothing"
    ),
    "paid": lambda e: f"Caller pays: {e.text}",
    "dialed": lambda e: f"Call is connected to {e.data.get('target')}: {e.text}",
    "queued": lambda e: f"Caller waits in queue {e.data.get('queue')!r}: {e.text}",
    "sms": lambda e: f"Text message sent to {e.data.get('to') or 'the caller'}: {e.text}",
    "connect": lambda e: f"Call is connected to {e.text}",
    "caller_hangup": lambda e: "Caller hangs up",
    "error": lambda e: f"Error: {e.text}",
    "ended": lambda e: f"Call ends: {e.text}",
}


def _ignored(event: CallEvent) -> str:
    reason = event.data.get("ignored")
    return f" (ignored: {reason})" if reason else ""


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return repr(value)


@dataclass
class CallTranscript:
    """Everything that happened in one simulated call, in order."""

    call_sid: str
    events: list[CallEvent] = field(default_factory=list)
    requests: list[RequestRecord] = field(default_factory=list)
    end_reason: str | None = None
    duration: int = 0
    unused_actions: list[Any] = field(default_factory=list)

    @property
    def heard(self) -> list[str]:
        """What the caller heard: Say texts and Play URLs, in order."""
        return [e.text for e in self.events if e.kind == "heard"]

    @property
    def errors(self) -> list[str]:
        """Error messages: bad HTTP answers, invalid TwiML, the loop guard."""
        return [e.text for e in self.events if e.kind == "error"]

    @property
    def ended(self) -> bool:
        """True once the call is over."""
        return self.end_reason is not None

    @property
    def ok(self) -> bool:
        """True when no error was recorded."""
        return not self.errors

    def requests_labelled(self, label: str) -> list[RequestRecord]:
        """The requests made for one reason, e.g. "gather action"."""
        return [r for r in self.requests if r.label == label]

    def requests_to(self, fragment: str) -> list[RequestRecord]:
        """The requests whose URL contains `fragment`."""
        return [r for r in self.requests if fragment in r.url]

    def text(self, include_requests: bool = False) -> str:
        """A readable transcript, one line per event."""
        lines = []
        for event in self.events:
            if event.kind == "request" and include_requests:
                lines.append(f"  -> {event.text}")
            line = event.render()
            if line is not None:
                lines.append(line)
        return "\n".join(lines)

    def assert_ok(self) -> None:
        """Raise AssertionError, with the transcript, when the call recorded an error."""
        if not self.ok:
            raise AssertionError("simulated call had errors:\n" + self.text(include_requests=True))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form for a browser console."""
        return {
            "call_sid": self.call_sid,
            "end_reason": self.end_reason,
            "duration": self.duration,
            "events": [e.to_dict() for e in self.events],
            "requests": [r.to_dict() for r in self.requests],
            "text": self.text(),
        }


@dataclass
class PromptState:
    """Where an interactively driven call stands: what the caller heard, what it awaits.

    `awaiting` is "gather", "record", "pay", "dial", "enqueue" or "ended"; `accepts`
    names the action classes `CallerSimulator.act` takes now; `events` and `heard`
    cover what happened since the previous prompt.
    """

    awaiting: str
    heard: list[str]
    events: list[CallEvent]
    verb: Verb | None = None
    accepts: tuple[str, ...] = ()
    end_reason: str | None = None

    @property
    def ended(self) -> bool:
        """True when the call is over."""
        return self.awaiting == "ended"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable form for a browser console."""
        verb = None
        if self.verb is not None:
            verb = {
                "verb": type(self.verb).__name__,
                **_jsonable(dataclasses.asdict(self.verb)),
            }
        return {
            "awaiting": self.awaiting,
            "heard": list(self.heard),
            "events": [e.to_dict() for e in self.events],
            "verb": verb,
            "accepts": list(self.accepts),
            "end_reason": self.end_reason,
        }
