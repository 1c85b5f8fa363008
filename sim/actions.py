"""What the simulated caller does when the call waits for them.

A script is a list of these; each one answers one wait: `Press`, `Say` and `Silence`
answer a `<Gather>`, `RecordAudio` a `<Record>`, `PayResult` a `<Pay>`, `DialResult` a
`<Dial>`, `QueueResult` an `<Enqueue>`; `HangUp` ends the call at any wait.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "Action",
    "DialResult",
    "HangUp",
    "PayResult",
    "Press",
    "QueueResult",
    "RecordAudio",
    "Say",
    "Silence",
]

DIAL_STATUSES = ("completed", "answered", "busy", "no-answer", "failed", "canceled")
QUEUE_RESULTS = (
    "bridged",
    "bridging-in-process",
    "queue-full",
    "error",
    "system-error",
    "hangup",
    "redirected",
    "leave",
)
PAY_FAILURES = (
    "payment-connector-error",
    "too-many-failed-attempts",
    "caller-interrupted-with-star",
    "caller-hung-up",
    "validation-error",
    "input-timeout",
    "internal-error",
)


@dataclass(frozen=True)
class Press:
    """The caller presses keys, e.g. `Press("12#")`."""

    digits: str

    def __post_init__(self) -> None:
        if not re.fullmatch(r"[0-9*#]+", self.digits):
            raise ValueError(f"Press({self.digits!r}): keys are 0-9, * and #")


@dataclass(frozen=True)
class Say:
    """The caller speaks; the Gather reports it as SpeechResult with this Confidence."""

    text: str
    confidence: float = 0.92


@dataclass(frozen=True)
class Silence:
    """The caller gives no input: a Gather times out, a Record captures no audio."""


@dataclass(frozen=True)
class RecordAudio:
    """The caller speaks `duration` seconds into a `<Record>` (0: no audio at all).

    `transcript` is what a transcription would read (None: transcription fails);
    `finish_key` is the key pressed to stop recording (None: the recording ends on
    silence or at maxLength); `hang_up=True` means the caller hangs up instead of
    pressing a key, so Twilio posts Digits=hangup and ignores the action's answer.
    """

    duration: int = 7
    transcript: str | None = None
    finish_key: str | None = "#"
    hang_up: bool = False

    def __post_init__(self) -> None:
        if self.duration < 0:
            raise ValueError("RecordAudio.duration cannot be negative")


@dataclass(frozen=True)
class PayResult:
    """How a `<Pay>` ends: success, or a failure `result` with an error message and code."""

    success: bool = True
    result: str | None = None
    error: str | None = None
    error_code: str | None = None
    card_number: str = "4111111111111111"
    card_type: str = "visa"
    expiration_date: str = "1230"
    postal_code: str = "94105"

    def __post_init__(self) -> None:
        if self.result is not None and self.result != "success" and self.result not in PAY_FAILURES:
            raise ValueError(f"PayResult.result {self.result!r} is not one of {PAY_FAILURES}")
        if self.success and self.result not in (None, "success"):
            raise ValueError("PayResult(success=True) cannot have a failure result")

    @property
    def outcome(self) -> str:
        """Twilio's Result field for this payment."""
        if self.success:
            return "success"
        return self.result or "payment-connector-error"


@dataclass(frozen=True)
class DialResult:
    """How a `<Dial>` ends: Twilio's DialCallStatus and, when answered, the talk time."""

    status: str = "completed"
    duration: int = 30

    def __post_init__(self) -> None:
        if self.status not in DIAL_STATUSES:
            raise ValueError(f"DialResult status {self.status!r} is not one of {DIAL_STATUSES}")


@dataclass(frozen=True)
class QueueResult:
    """How an `<Enqueue>` ends: Twilio's QueueResult after `wait` seconds in the queue."""

    result: str = "bridged"
    wait: int = 30

    def __post_init__(self) -> None:
        if self.result not in QUEUE_RESULTS:
            raise ValueError(f"QueueResult {self.result!r} is not one of {QUEUE_RESULTS}")


@dataclass(frozen=True)
class HangUp:
    """The caller hangs up."""


Action = Press | Say | Silence | RecordAudio | PayResult | DialResult | QueueResult | HangUp
