"""TwiML Voice verbs as plain, immutable Python objects.

`sim.twiml.parse_twiml` builds these from a TwiML document; the caller simulator
follows them. Attribute names are the snake_case form of Twilio's camelCase
attributes, defaults are Twilio's documented defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Say:
    """`<Say>`: text spoken to the caller (SSML children flattened to text)."""

    text: str
    voice: str | None = None
    language: str | None = None
    loop: int = 1


@dataclass(frozen=True)
class Play:
    """`<Play>`: an audio file played to the caller, or DTMF `digits` sent."""

    url: str
    loop: int = 1
    digits: str | None = None


@dataclass(frozen=True)
class Pause:
    """`<Pause>`: silence for `length` seconds."""

    length: int = 1


@dataclass(frozen=True)
class Gather:
    """`<Gather>`: collect DTMF digits and/or speech; prompts are nested in `children`."""

    action: str | None = None
    method: str = "POST"
    input: tuple[str, ...] = ("dtmf",)
    timeout: int = 5
    num_digits: int | None = None
    finish_on_key: str = "#"
    speech_timeout: str | None = None
    hints: str | None = None
    language: str | None = None
    action_on_empty_result: bool = False
    children: tuple[Say | Play | Pause, ...] = ()

    def accepts(self, mode: str) -> bool:
        """True when this Gather listens for `mode` ("dtmf" or "speech")."""
        return mode in self.input


@dataclass(frozen=True)
class Redirect:
    """`<Redirect>`: continue with the TwiML at `url`."""

    url: str
    method: str = "POST"


@dataclass(frozen=True)
class Record:
    """`<Record>`: record the caller's voice, then request `action`."""

    action: str | None = None
    method: str = "POST"
    timeout: int = 5
    max_length: int = 3600
    finish_on_key: str = "1234567890*#"
    play_beep: bool = True
    trim: str = "trim-silence"
    transcribe: bool = False
    transcribe_callback: str | None = None
    recording_status_callback: str | None = None
    recording_status_callback_method: str = "POST"
    recording_status_callback_event: tuple[str, ...] = ("completed",)


@dataclass(frozen=True)
class Pay:
    """`<Pay>`: collect card details by DTMF and charge or tokenize them."""

    action: str | None = None
    method: str = "POST"
    status_callback: str | None = None
    status_callback_method: str = "POST"
    charge_amount: str | None = None
    currency: str = "usd"
    payment_connector: str = "Default"
    payment_method: str = "credit-card"
    token_type: str = "reusable"
    valid_card_types: tuple[str, ...] = ("visa", "mastercard", "amex")
    max_attempts: int = 1
    timeout: int = 5
    description: str | None = None
    parameters: dict[str, str] = field(default_factory=dict)
    prompts: tuple[Say | Play | Pause, ...] = ()

    @property
    def is_charge(self) -> bool:
        """A positive chargeAmount charges the card; otherwise <Pay> tokenizes."""
        try:
            return float(self.charge_amount or 0) > 0
        except ValueError:
            return False


@dataclass(frozen=True)
class DialNoun:
    """A `<Dial>` target: kind is Number, Client, Queue, Sip or Conference."""

    kind: str
    value: str
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dial:
    """`<Dial>`: connect the caller to another party."""

    action: str | None = None
    method: str = "POST"
    caller_id: str | None = None
    timeout: int = 30
    time_limit: int | None = None
    record: str | None = None
    nouns: tuple[DialNoun, ...] = ()

    @property
    def target(self) -> str:
        """A short human description of whom is dialled."""
        return ", ".join(f"{n.kind.lower()} {n.value}".strip() for n in self.nouns)


@dataclass(frozen=True)
class Enqueue:
    """`<Enqueue>`: place the caller in the queue `name`."""

    name: str
    action: str | None = None
    method: str = "POST"
    wait_url: str | None = None
    wait_url_method: str = "POST"
    workflow_sid: str | None = None


@dataclass(frozen=True)
class Leave:
    """`<Leave>`: leave the queue the caller waits in."""


@dataclass(frozen=True)
class Hangup:
    """`<Hangup>`: end the call."""


@dataclass(frozen=True)
class Reject:
    """`<Reject>`: refuse the call unanswered; reason is "rejected" or "busy"."""

    reason: str = "rejected"


@dataclass(frozen=True)
class Noun:
    """A noun nested in `<Connect>`, `<Start>` or `<Stop>` (Stream, ConversationRelay …)."""

    kind: str
    attrs: dict[str, str] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str | None:
        """The noun's `url` attribute, when it has one."""
        return self.attrs.get("url")


@dataclass(frozen=True)
class Connect:
    """`<Connect>`: hand the call to a media stream or other endpoint."""

    action: str | None = None
    method: str = "POST"
    nouns: tuple[Noun, ...] = ()


@dataclass(frozen=True)
class Start:
    """`<Start>`: begin a background stream, recording or transcription."""

    action: str | None = None
    method: str = "POST"
    nouns: tuple[Noun, ...] = ()


@dataclass(frozen=True)
class Stop:
    """`<Stop>`: end a background stream or recording started earlier."""

    nouns: tuple[Noun, ...] = ()


@dataclass(frozen=True)
class Sms:
    """`<Sms>` (or `<Message>` inside voice TwiML): send a text message during the call."""

    body: str
    to: str | None = None
    from_: str | None = None
    action: str | None = None
    method: str = "POST"
    status_callback: str | None = None


Verb = (
    Say
    | Play
    | Pause
    | Gather
    | Redirect
    | Record
    | Pay
    | Dial
    | Enqueue
    | Leave
    | Hangup
    | Reject
    | Connect
    | Start
    | Stop
    | Sms
)
