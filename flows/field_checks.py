"""Generic per-field checks, driven by each Field's kind (shared by every node type)."""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flows.formats import (
    DIGIT_KEYS,
    alphanumeric_sender,
    duration_range,
    is_template,
    messaging_service_sid,
    phone_valid,
    regex_error,
    timezone_valid,
    url_valid,
)
from flows.issues import Issue, error, warning
from flows.prompts import prompt_is_valid, prompt_templates

if TYPE_CHECKING:
    from flows.definition import Node
    from flows.registry import Field, NodeType


def _sender_issues(node: Node, spec: Field, value: str) -> Iterable[Issue]:
    if phone_valid(value) or messaging_service_sid(value):
        return
    if alphanumeric_sender(value):
        yield warning("alphanumeric_sender", f"{value!r} is an alphanumeric sender ID: some countries (the US and "
                      "Canada among them) refuse such senders, and the recipient cannot reply.", node.id, spec.name)
    else:
        yield warning("invalid_sender", f"{value!r} is neither a phone number nor an alphanumeric sender ID "
                      "(at most 11 letters, digits or spaces): sending will take the failed outcome.",
                      node.id, spec.name)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def number_range(spec: Field) -> str:
    """The range of a number field in words: a duration's in its units (`duration_range`)."""
    if spec.unit is not None:
        return duration_range(spec.min, spec.max, spec.unit)
    if spec.min is not None and spec.max is not None:
        return f"between {spec.min:g} and {spec.max:g}"
    return f"at least {spec.min:g}" if spec.min is not None else f"at most {spec.max:g}"


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
            yield bad("out_of_range", f"{spec.label} must be {number_range(spec)}.")
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
    elif kind == "sender":
        if not isinstance(value, str):
            yield bad("invalid_type", f"{spec.label} must be a phone number or a sender ID.")
        elif not is_template(value):
            yield from _sender_issues(node, spec, value)
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
    generic: list[Issue] = []
    props = node.props
    for spec in node_type.fields:
        value = props.get(spec.name)
        if value is None and not spec.required:
            continue
        generic.extend(check_field(node, spec, value))
    own = list(node_type.validate(node))
    if not own or not generic:
        return generic + own
    # One mistake, one problem: the type's own words replace the generic issue about the same field.
    said = {(i.field, i.code) for i in own}
    return [i for i in generic if (i.field, i.code) not in said] + own


def field_templates(node_type: NodeType, node: Node) -> list[tuple[str, str]]:
    """(field path, source) of every template-bearing prop of the node."""
    found: list[tuple[str, str]] = []
    props = node.props
    for spec in node_type.fields:
        value = props.get(spec.name)
        if value is None:
            continue
        kind, name = spec.kind, spec.name
        if kind in ("template", "url", "phone", "sender") and isinstance(value, str):
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
