"""Reading what Twilio posts: the call's standard fields, what the caller did, query flags and turn."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The standard call fields templates may see; everything else Twilio posts stays out of the state.
CALL_FIELDS = (
    "CallSid",
    "AccountSid",
    "From",
    "To",
    "Caller",
    "Called",
    "Direction",
    "CallStatus",
    "AnsweredBy",
    "CallerName",
    "ForwardedFrom",
    "ParentCallSid",
    "FromCity",
    "FromState",
    "FromZip",
    "FromCountry",
    "ToCity",
    "ToState",
    "ToZip",
    "ToCountry",
)
# What the caller did in one webhook, as the step log keeps it.
INPUT_FIELDS = (
    "Digits",
    "SpeechResult",
    "RecordingDuration",
    "Result",
    "PaymentCardType",
    "PaymentCardNumber",
    "DialCallStatus",
    "DialCallDuration",
    "QueueResult",
    "QueueTime",
)


def call_fields(form: Mapping[str, Any]) -> dict[str, str]:
    """The call as the engine's templates see it (standard fields only)."""
    return {key: str(form[key]) for key in CALL_FIELDS if form.get(key) not in (None, "")}


def input_summary(params: Mapping[str, Any]) -> dict[str, str]:
    """What the caller did in one webhook, for the step log (already scrubbed params)."""
    return {k: str(params[k])[:200] for k in INPUT_FIELDS if params.get(k) not in (None, "")}


def flag(query: Mapping[str, Any], name: str) -> bool:
    """A query flag such as ``timeout=1``."""
    return str(query.get(name, "")) in ("1", "true", "yes")


def parse_turn(query: Mapping[str, Any]) -> int | None:
    """The ``turn`` query parameter, or None when absent or malformed."""
    raw = str(query.get("turn", "") or "")
    return int(raw) if raw.isdigit() else None
