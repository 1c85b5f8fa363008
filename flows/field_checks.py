"""Generic per-field checks, driven by each Field's kind (shared by every node type)."""

from __future__ import annotations

import functools
import re
import zoneinfo
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import phonenumbers
import regex

from flows.issues import Issue, error
from flows.prompts import prompt_is_valid, prompt_templates

if TYPE_CHECKING:
    from flows.definition import Node
    from flows.registry import Field, NodeType

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


def to_e164(number: str, region: str = "US") -> str | None:
    """The number in E.164 form, or None when it is not a possible phone number."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_field(node: Node, spec: Field, value: Any) -> Iterable[Issue]:
    """Issues for one prop value according to its field kind."""
    name, kind = spec.name, spec.kind
    if _is_empty(value):
        if spec.required and _is_empty(spec.default):
            yield error("required", f"{spec.label} is required.", node.id, name)
        return
    bad = functools.partial(error, node_id=node.id, field=name)
    if kind in ("text", "template", "flow_ref") and not isinstance(value, str):
        yield bad("invalid_type", f"{spec.label} must be text.")
    elif kind == "number":
        if not _is_number(value):
            yield bad("invalid_type", f"{spec.label} must be a number.")
        elif (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
            yield bad("out_of_range", f"{spec.label} must be between {spec.min:g} and {spec.max:g}.")
    elif kind == "bool" and not isinstance(value, bool):
        yield bad("invalid_type", f"{spec.label} must be true or false.")
    elif kind == "select" and value not in (spec.choices or ()):
        yield bad("invalid_choice", f"{spec.label} must be one of: {', '.join(spec.choices or ())}.")
    elif kind == "digits" and (not isinstance(value, str) or not set(value) <= DIGIT_KEYS):
        yield bad("invalid_digit", f"{spec.label} may only hold the keys 0-9, * and #.")
    elif kind == "regex":
        problem = regex_error(value) if isinstance(value, str) else "not text"
        if problem:
            yield bad("invalid_regex", f"{spec.label} is not a valid regular expression: {problem}.")
    elif kind == "timezone" and (not isinstance(value, str) or not timezone_valid(value)):
        yield bad("invalid_timezone", f"{value!r} is not a known time zone.")
    elif kind == "prompt" and not prompt_is_valid(value):
        yield bad("invalid_prompt", f"{spec.label} must be {{\"say\": text}} or {{\"play\": url}}.")
    elif kind == "url":
        if not isinstance(value, str):
            yield bad("invalid_type", f"{spec.label} must be a URL.")
        elif not is_template(value) and not url_valid(value, ("http", "https", "ws", "wss")):
            yield bad("invalid_url", f"{value!r} is not an absolute http(s) URL.")
    elif kind == "phone":
        if not isinstance(value, str):
            yield bad("invalid_type", f"{spec.label} must be a phone number.")
        elif not is_template(value) and not phone_valid(value):
            yield bad("invalid_phone", f"{value!r} is not a valid phone number.")
    elif kind == "users" and (
        not isinstance(value, list) or not all(isinstance(u, str) and u.strip() for u in value)
    ):
        yield bad("invalid_type", f"{spec.label} must be a list of user identities.")
    elif kind == "key_values" and (
        not isinstance(value, dict)
        or not all(isinstance(k, str) and k and isinstance(v, (str, int, float, bool)) for k, v in value.items())
    ):
        yield bad("invalid_type", f"{spec.label} must map names to text.")
    elif kind in ("options", "conditions", "assignments", "dates") and not isinstance(value, list):
        yield bad("invalid_type", f"{spec.label} must be a list.")
    elif kind == "weekly_hours" and not isinstance(value, dict):
        yield bad("invalid_type", f"{spec.label} must map weekdays to time ranges.")


def check_fields(node_type: NodeType, node: Node) -> list[Issue]:
    """Generic issues for every declared field of the node, plus the type's own checks."""
    issues: list[Issue] = []
    props = node.props
    for spec in node_type.fields:
        value = props.get(spec.name)
        if value is None and not spec.required:
            continue
        issues.extend(check_field(node, spec, value))
    issues.extend(node_type.validate(node))
    return issues


def field_templates(node_type: NodeType, node: Node) -> list[tuple[str, str]]:
    """(field path, source) of every template-bearing prop of the node."""
    found: list[tuple[str, str]] = []
    props = node.props
    for spec in node_type.fields:
        value = props.get(spec.name)
        if value is None:
            continue
        kind, name = spec.kind, spec.name
        if kind in ("template", "url", "phone") and isinstance(value, str):
            found.append((name, value))
        elif kind == "prompt":
            found.extend((f"{name}.{k}", src) for k, src in prompt_templates(value))
        elif kind == "key_values" and isinstance(value, dict):
            found.extend((f"{name}.{k}", v) for k, v in value.items() if isinstance(v, str))
        elif kind in ("conditions", "assignments") and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict) and isinstance(item.get("value"), str):
                    found.append((f"{name}[{i}].value", item["value"]))
    return found
