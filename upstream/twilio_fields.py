"""Twilio's webhook fields made safe to store, once, at the front door (after the signature check).

A signed webhook may still carry values no column can hold: a NUL (PostgreSQL refuses it in text and
JSON), other control characters, a ``CallDuration`` past a 32-bit integer, a 100 kB ``From``. None of
them may be the reason a caller hears the fallback apology or an SMS is lost, so every field is cleaned:

- control characters are removed from every key and value (tab, line feed and carriage return are kept
  in free text such as ``Body`` and ``SpeechResult``);
- numeric fields keep ASCII digits only and are clamped to the largest 32-bit integer;
- ``Digits`` keeps keypad characters; every value is cut to what its column (or Twilio) allows.

What was changed is logged by field name and kind of change, never by value (a field may hold card data).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

log = logging.getLogger("phonetree.connect.fields")

MAX_INT = 2**31 - 1  # PostgreSQL `integer`, the type of every duration and counter column
NUMERIC = frozenset({
    "CallDuration", "Duration", "RecordingDuration", "DialCallDuration", "QueueTime", "QueuePosition",
    "AvgQueueTime", "CurrentQueueSize", "SequenceNumber", "NumMedia", "NumSegments", "RecordingChannels",
    "turn",
})
FREE_TEXT = {"Body": 1_600, "SpeechResult": 10_000, "UnstableSpeechResult": 10_000, "TranscriptionText": 10_000}
SHORT = {
    "From": 64, "To": 64, "Caller": 64, "Called": 64, "ForwardedFrom": 64, "CallerName": 64,
    "CallStatus": 32, "DialCallStatus": 32, "RecordingStatus": 32, "TranscriptionStatus": 32, "QueueResult": 32,
    "Result": 64, "Direction": 32, "SmsStatus": 32, "MessageStatus": 32, "Digits": 128,
}
DEFAULT_LIMIT = 2_000
KEY_LIMIT = 64

_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROLS_BUT_LINES = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_NOT_KEYPAD = re.compile(r"[^0-9*#wW]")


def _limit(key: str) -> int:
    if key in FREE_TEXT:
        return FREE_TEXT[key]
    if key in SHORT:
        return SHORT[key]
    return 64 if key.endswith("Sid") else DEFAULT_LIMIT


def _clean_value(key: str, value: str) -> tuple[str, str | None]:
    """(clean value, what was done or None)."""
    text = (_CONTROLS_BUT_LINES if key in FREE_TEXT else _CONTROLS).sub("", value)
    change = "control characters removed" if text != value else None
    if key in NUMERIC:
        digits = text.strip()
        if digits and not (digits.isascii() and digits.isdigit()):
            return "", "not a whole number, dropped"
        if digits and (len(digits) > 10 or int(digits) > MAX_INT):
            return str(MAX_INT), f"clamped to {MAX_INT}"
        return digits, change
    if key == "Digits" and _NOT_KEYPAD.search(text):
        text, change = _NOT_KEYPAD.sub("", text), "non-keypad characters removed"
    limit = _limit(key)
    if len(text) > limit:
        text, change = text[:limit], f"cut from {len(text)} to {limit} characters"
    return text, change


def clean_webhook_fields(fields: Mapping[str, Any], service_id: str = "") -> dict[str, str]:
    """A plain dict of the fields with every key and value safe to store (see the module docstring).

    Pure apart from one warning log line when something was changed; clean fields come back unchanged.
    """
    clean: dict[str, str] = {}
    changes: list[str] = []
    for raw_key, raw_value in fields.items():
        key = _CONTROLS.sub("", str(raw_key))[:KEY_LIMIT]
        if key != raw_key:
            changes.append(f"a field name: control characters removed or cut to {KEY_LIMIT}")
        value, change = _clean_value(key, str(raw_value) if raw_value is not None else "")
        if change:
            changes.append(f"{key}: {change}")
        if key not in clean:
            clean[key] = value
    if changes:
        log.warning("%s webhook: cleaned %d field(s): %s", service_id or "a", len(changes), "; ".join(changes[:20]))
    return clean
