"""What a valid value looks like: variable names, templates, user regexes (time-bounded), time
zones, URLs and phone numbers. Used by the field checks and by nodes at call time."""

from __future__ import annotations

import functools
import re
import zoneinfo
from urllib.parse import urlsplit

import phonenumbers
import regex

VAR_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
DIGIT_KEYS = frozenset("0123456789*#")


def is_template(text: str) -> bool:
    """True when the string contains Jinja2 markup (plain strings skip the template engine)."""
    return "{{" in text or "{%" in text or "{#" in text


REGEX_TIMEOUT = 0.1  # seconds; a user's pattern runs on caller input, so backtracking is bounded


@functools.lru_cache(maxsize=1024)
def _compiled_regex(pattern: str) -> regex.Pattern | str:
    try:
        return regex.compile(pattern)
    except (regex.error, RecursionError, OverflowError, ValueError) as exc:
        return str(exc)


def regex_error(pattern: str) -> str | None:
    """The compile error of a regular expression, or None when it compiles."""
    compiled = _compiled_regex(pattern)
    return compiled if isinstance(compiled, str) else None


def regex_matches(pattern: str, text: str, whole: bool = False) -> bool:
    """Whether `pattern` is found in `text` (or matches all of it); False for a bad pattern or one
    that backtracks past REGEX_TIMEOUT (catastrophic patterns must not hang a call)."""
    compiled = _compiled_regex(pattern)
    if isinstance(compiled, str):
        return False
    try:
        found = (compiled.fullmatch if whole else compiled.search)(text, timeout=REGEX_TIMEOUT)
    except TimeoutError:
        return False
    return found is not None


@functools.lru_cache(maxsize=512)
def timezone_valid(name: str) -> bool:
    """True for an IANA time zone name this system knows."""
    if not name or name.startswith(("/", ".")) or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def url_valid(url: str, schemes: tuple[str, ...] = ("http", "https")) -> bool:
    """True for an absolute URL with one of `schemes` and a host."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme in schemes and bool(parts.netloc) and " " not in url.strip()


@functools.lru_cache(maxsize=1024)
def phone_valid(number: str, region: str = "US") -> bool:
    """True for a plausible phone number (E.164 or national for `region`)."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_possible_number(parsed)


def to_e164(number: str, region: str | None = "US") -> str | None:
    """The number in E.164 form, or None when it is not a possible phone number (`region` None: only
    international numbers, with their +)."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# Twilio's alphanumeric sender IDs: 1-11 letters, digits and spaces, at least one letter.
ALPHANUMERIC_SENDER_RE = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")


# A Twilio Messaging Service SID: the service picks the sender from its pool.
MESSAGING_SERVICE_RE = re.compile(r"^MG[0-9a-fA-F]{32}$")


def messaging_service_sid(text: str) -> bool:
    """True for a Messaging Service SID (``MG`` and 32 hex digits)."""
    return bool(MESSAGING_SERVICE_RE.match(text.strip()))


def alphanumeric_sender(text: str) -> bool:
    """True for a text that Twilio accepts as an alphanumeric sender ID."""
    return bool(ALPHANUMERIC_SENDER_RE.match(text.strip()))



# Duration units a number field may declare (`flows.registry.Field.unit`), in seconds each.
DURATION_UNITS = {"s": 1.0, "ms": 0.001}
_SPANS = ((86400, "day"), (3600, "hour"), (60, "minute"))


def _figure(value: float) -> str:
    return f"{value:.15g}"


def duration_words(seconds: float) -> str:
    """A duration as a person reads it: ``7 days``, ``10 minutes``, ``90 seconds``, ``1 second``
    (the largest unit that holds it whole; a minute or less stays in seconds)."""
    for size, name in _SPANS:
        if seconds > 60 and seconds % size == 0:
            count = int(seconds // size)
            return f"{count} {name}{'s' if count != 1 else ''}"
    return f"{_figure(seconds)} second{'' if seconds == 1 else 's'}"


def duration_range(low: float | None, high: float | None, unit: str = "s") -> str:
    """A duration field's range in words, with the figures as typed in brackets where they read
    otherwise: ``between 1 second and 7 days (604800 s)``, ``between 1 and 60 seconds``,
    ``between 2 and 10 seconds (2000 to 10000 ms)``, ``at most 5 seconds``."""
    scale = DURATION_UNITS[unit]
    bounds = [(b, duration_words(b * scale)) for b in (low, high) if b is not None]
    if not bounds:
        return "any length"
    in_seconds = all(words.endswith(("second", "seconds")) for _, words in bounds)
    if len(bounds) == 1:
        text = f"at {'least' if low is not None else 'most'} {bounds[0][1]}"
    elif in_seconds:
        text = f"between {_figure(low * scale)} and {bounds[1][1]}"
    else:
        text = f"between {bounds[0][1]} and {bounds[1][1]}"
    if unit != "s":
        return f"{text} ({' to '.join(_figure(b) for b, _ in bounds)} {unit})"
    renamed = [_figure(b) for b, words in bounds if not words.endswith(("second", "seconds"))]
    return f"{text} ({' to '.join(renamed)} s)" if renamed else text
