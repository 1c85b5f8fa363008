"""The values that go in and out of a turn, and `Runtime`, the handle nodes work through."""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from flows.capabilities import NullServices, Services
from flows.definition import CHANNELS, FlowDefinition, Settings
from flows.state import CallState
from flows.templating import build_context, render

EVENT_KINDS = ("start", "input", "timeout", "recording", "payment", "dial", "queue", "continue")


MAX_TEXT = 1600  # Twilio's limit on a message body (all its segments)

@dataclass(frozen=True)
class Event:
    """One thing Twilio told us. `params` are Twilio's form fields as posted.

    Kinds: ``start`` (the call arrived), ``input`` (a Gather action: Digits/SpeechResult),
    ``timeout`` (the Redirect after a Gather or Record heard nothing), ``recording``
    (Record action), ``payment`` (Pay action), ``dial`` (Dial action: DialCallStatus),
    ``queue`` (Enqueue action: QueueResult), ``continue`` (Connect action, or any resume).
    """

    kind: str
    params: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise ValueError(f"unknown event kind {self.kind!r}; expected one of {', '.join(EVENT_KINDS)}")


@dataclass(frozen=True)
class TurnContext:
    """What a turn may know about the world: the call, the time, URLs and services.

    `url_for(service_id, **params)` returns the absolute webhook URL for an ivr-* serviceId;
    the engine always passes ``turn=<n>`` and ``timeout=1`` for the no-input Redirect.
    """

    call: Mapping[str, Any]
    now: datetime
    url_for: Callable[..., str]
    services: Services = field(default_factory=NullServices)
    flow_data: Mapping[str, Any] = field(default_factory=dict)
    # ``voice`` (a call: prompts are TwiML) or ``messaging`` (a text conversation: prompts are
    # messages sent through `services.send_message`; `call` holds the inbound message's fields)
    channel: str = "voice"

    def __post_init__(self) -> None:
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise ValueError("TurnContext.now must be timezone-aware")
        if self.channel not in CHANNELS:
            raise ValueError(f"unknown channel {self.channel!r}")


@dataclass(frozen=True)
class Step:
    """One node run during a turn. `event` is the event kind a waiting node resumed on
    (None when the node was entered); `outcome` is None when the node waited or ended the call."""

    node_id: str
    node_type: str
    event: str | None
    outcome: str | None
    detail: dict[str, Any]
    at: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (for the call log)."""
        return {
            "node_id": self.node_id,
            "node_type": self.node_type,
            "event": self.event,
            "outcome": self.outcome,
            "detail": self.detail,
            "at": self.at,
        }


@dataclass(frozen=True)
class TurnResult:
    """The new call state, the steps taken, the TwiML to answer with, and whether the call ends."""

    state: CallState
    steps: list[Step]
    twiml: str
    done: bool

    @property
    def waiting(self) -> dict[str, Any] | None:
        """The waiting node record (node, expects, turn), or None when done."""
        return self.state.get("waiting")


class Runtime:
    """The per-turn handle given to node types (`rt`)."""

    def __init__(
        self,
        definition: FlowDefinition,
        state: dict[str, Any],
        ctx: TurnContext,
        response: VoiceResponse | None = None,
    ) -> None:
        self.definition = definition
        self.state = state
        self.ctx = ctx
        self.response = response if response is not None else VoiceResponse()
        self.turn: int = state["turn"]
        self._context: dict[str, Any] | None = None
        self.refusal: Exception | None = None  # the last send the provider refused (`send_message`)

    # -- the world --------------------------------------------------------------
    @property
    def settings(self) -> Settings:
        """Settings of the flow that is running (a subflow has its own voice)."""
        return self.definition.settings

    @property
    def services(self) -> Services:
        """Side effects (HTTP, SMS, flows, softphones)."""
        return self.ctx.services

    @property
    def now(self) -> datetime:
        """The turn's injected clock (aware)."""
        return self.ctx.now

    @property
    def call(self) -> dict[str, Any]:
        """The call as templates see it (`call.from`, `call.sid`, ...)."""
        return self.template_context()["call"]

    @property
    def depth(self) -> int:
        """How many subflows deep the call is."""
        return len(self.state["stack"])

    @property
    def channel(self) -> str:
        """``voice`` or ``messaging``."""
        return self.ctx.channel

    @property
    def messaging(self) -> bool:
        """Whether this session is a text conversation (prompts are sent as messages)."""
        return self.ctx.channel == "messaging"

    def send_message(self, body: str, media: list[str] | None = None, to: str = "", from_: str = "") -> str:
        """Send a message (to the contact, from the flow's number unless given; its body cut to
        Twilio's `MAX_TEXT` characters, which a longer one would be refused for); the provider's sid.

        Raises what the provider raised, kept as `refusal` (the node decides: its `failed` outcome,
        or, for a node without one, the interpreter ends a text conversation with ``not_sent``).
        """
        call = self.ctx.call
        try:
            to, from_ = to or str(call.get("From") or ""), from_ or str(call.get("To") or "")
            return self.services.send_message(to, from_, body[:MAX_TEXT], list(media or []))
        except Exception as exc:
            self.refusal = exc
            raise

    def local_now(self) -> datetime:
        """`now` in the flow's time zone."""
        return self.now.astimezone(zoneinfo.ZoneInfo(self.settings.timezone))

    def url(self, service_id: str, **params: Any) -> str:
        """Absolute webhook URL for this turn."""
        return self.ctx.url_for(service_id, turn=self.turn, **params)

    # -- data ---------------------------------------------------------------------
    @property
    def vars(self) -> dict[str, Any]:
        """The running flow's variables."""
        return self.state["vars"]

    def set_var(self, name: str | None, value: Any) -> None:
        """Set a flow variable (ignored without a name)."""
        if name:
            self.state["vars"][name] = value

    def set_result(self, node_id: str, result: dict[str, Any]) -> None:
        """Publish a node's result as ``widgets.<node_id>``."""
        self.state["results"][node_id] = result

    def result(self, node_id: str) -> dict[str, Any] | None:
        """A node's last result."""
        return self.state["results"].get(node_id)

    def attempts(self, node_id: str) -> int:
        """Failed attempts (no or invalid input) at a waiting node since it was entered."""
        return int(self.state["attempts"].get(node_id, 0))

    def set_attempts(self, node_id: str, count: int) -> None:
        """Record failed attempts at a node."""
        if count:
            self.state["attempts"][node_id] = count
        else:
            self.state["attempts"].pop(node_id, None)

    # -- templates ----------------------------------------------------------------
    def template_context(self) -> dict[str, Any]:
        """The template context (rebuilt after a subflow switches variables)."""
        ctx = self._context
        if ctx is None or ctx["vars"] is not self.state["vars"] or ctx["widgets"] is not self.state["results"]:
            stack = self.state["stack"]
            ctx = build_context(
                self.ctx.call,
                self.state["vars"],
                self.state["results"],
                self.ctx.flow_data,
                parent=stack[-1].get("params", {}) if stack else None,
                now=self.ctx.now,
                flow_id=self.state.get("flow"),
                channel=self.ctx.channel,
                message=self.state.get("trigger"),
            )
            self._context = ctx
        return ctx

    def render(self, source: Any) -> str:
        """Render a template against the call (errors render "")."""
        if source is None or source == "":
            return ""
        return render(source, self.template_context())
