"""Card data kept out of everything stored: security codes and expiry dropped, card numbers masked."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from flows.nodes.pay import mask_card_number

# Card data that must never be stored: dropped wherever it appears (keys compared case-insensitively).
_DROPPED_KEYS = frozenset(
    {
        "securitycode",
        "expirationdate",
        "paymentcardpostalcode",
        "cvv",
        "cvc",
        "cardexpiry",
        "card_expiry",
        "cardsecuritycode",
        "expiry",
        "expiration",
    }
)
_CARD_KEYS = frozenset({"paymentcardnumber", "cardnumber", "card_number", "pan"})
# A card-number-like run of digits standing alone (not inside a SID, URL token or phone number).
_PAN_RE = re.compile(r"(?<![\w+])(?:\d[ -]?){12,18}\d(?!\w)")
# Cheap pre-checks on the JSON text (lowercased for the keys): a sensitive key, or a run of 13 or
# more digits and separators, which every card-number match contains. Two plain patterns scan
# far faster than one case-insensitive alternation.
_SUSPECT_KEY_RE = re.compile(r'"(?:' + "|".join(sorted(_DROPPED_KEYS | _CARD_KEYS)) + r')"\s*:')
_DIGIT_RUN_RE = re.compile(r"[\d -]{13,}")


mask_card = mask_card_number  # one masking rule for the engine and everything stored


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, char in enumerate(reversed(digits)):
        n = int(char)
        if i % 2:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def _mask_pans(text: str) -> str:
    def repl(match: re.Match[str]) -> str:
        digits = re.sub(r"\D", "", match.group(0))
        return mask_card(match.group(0)) if 13 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)

    return _PAN_RE.sub(repl, text) if any(c.isdigit() for c in text) else text


def scrub(value: Any) -> Any:
    """`value` made safe to store: no security code or expiry, card numbers masked.

    Keys naming card secrets are dropped wherever they appear; card-number keys are masked,
    and any card-number-like digit run (Luhn-valid, 13-19 digits) in a string is masked too.
    Values with nothing suspicious in their JSON text are returned as they are (the hot path).
    """
    if isinstance(value, Mapping | list):
        try:
            text = json.dumps(value, separators=(",", ":"))
        except (TypeError, ValueError):
            return _scrub(value)
        if not _suspect(text):
            return value
    return _scrub(value)


def _suspect(json_text: str) -> bool:
    """Whether a value's JSON text could hold anything `scrub` changes."""
    return bool(_DIGIT_RUN_RE.search(json_text) or _SUSPECT_KEY_RE.search(json_text.lower()))


def scrub_json(value: Mapping | list) -> tuple[Any, str]:
    """`scrub(value)` and its JSON text, from one serialisation when nothing needed scrubbing."""
    text = json.dumps(value, separators=(",", ":"))
    if not _suspect(text):
        return value, text
    clean = _scrub(value)
    return clean, json.dumps(clean, separators=(",", ":"))


def _scrub(value: Any) -> Any:
    if isinstance(value, Mapping):
        clean: dict[str, Any] = {}
        for key, item in value.items():
            lowered = str(key).lower()
            if lowered in _DROPPED_KEYS:
                continue
            if lowered in _CARD_KEYS and item not in (None, ""):
                clean[key] = mask_card(str(item))
            else:
                clean[key] = _scrub(item)
        return clean
    if isinstance(value, list | tuple):
        return [_scrub(item) for item in value]
    if isinstance(value, str):
        return _mask_pans(value)
    return value
