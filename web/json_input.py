"""The one reader of JSON request bodies: size, depth, strict JSON, then a pydantic schema per endpoint.

Every JSON endpoint (the API and the designer's JSON routes) reads its body through ``json_body``.
Whatever a client sends, the answer to a bad body is a 400 ``invalid_request`` naming the field
(``{"error": {"code", "message", "field"}}``) or a JSON 413, before the view changes anything:

- larger than ``MAX_CONTENT_LENGTH`` (5 MB): 413;
- not UTF-8, not JSON, ``NaN``/``Infinity``, nested deeper than ``MAX_DEPTH``, a lone surrogate
  (which no database can store), an integer beyond ±(2**53 - 1) (what every JSON peer can represent):
  400 with the path of the offending value;
- not an object, or not the endpoint's schema (wrong type, unknown field): 400 with the field's path.

A flow definition inside a body is checked for JSON sanity here; its meaning stays the engine's
(``flows.load_definition`` / ``validate``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import current_app, g, request
from pydantic import BaseModel, ConfigDict, ValidationError
from werkzeug.exceptions import RequestEntityTooLarge

from web.errors import ApiError

MAX_DEPTH = 64
MAX_SAFE_INTEGER = 2**53 - 1
DEFAULT_MAX_BYTES = 5 * 1024 * 1024

M = TypeVar("M", bound=BaseModel)
_JSON_TYPES = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "true or false",
    type(None): "null",
}


class Schema(BaseModel):
    """Base of every request schema: strict types (``true`` is no integer, ``123`` no string), no unknown fields."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class NoBody(Schema):
    """For endpoints that take no parameters: an empty body or ``{}``."""


class BodyError(ValueError):
    """A request body that is not acceptable JSON; ``field`` is the dotted path of the culprit ("" = the body)."""

    def __init__(self, message: str, field: str = ""):
        super().__init__(message)
        self.message, self.field = message, field


class _Rejected:
    """Placeholder the parser leaves where a value no client should send stood (reported with its path)."""

    __slots__ = ("why",)

    def __init__(self, why: str):
        self.why = why


def _constant(name: str) -> _Rejected:
    return _Rejected(f"{name} is not a JSON number")


def _integer(text: str) -> int | _Rejected:
    digits = text.lstrip("-")
    if len(digits) > 16 or (len(digits) == 16 and int(digits) > MAX_SAFE_INTEGER):
        return _Rejected(f"the integer is out of range (at most {MAX_SAFE_INTEGER} in size)")
    return int(text)


def _float(text: str) -> float | _Rejected:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        return _Rejected("the number is out of range")
    return value


def _path(parts: list[str | int]) -> str:
    return ".".join(str(p) for p in parts)


def _check_text(text: str, path: list[str | int]) -> None:
    if "\x00" in text:  # valid JSON, but no text column (PostgreSQL) can store it
        raise BodyError("a string holds a NUL character (\\u0000)", _path(path))
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BodyError(
            "a string holds a lone surrogate (\\ud800-\\udfff), which is not valid Unicode", _path(path)
        ) from None


def _inspect(value: Any) -> None:
    """Walk the parsed document (iteratively) for depth, placeholders and unencodable strings."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise BodyError(f"the JSON is nested more than {MAX_DEPTH} levels deep", _path(path[:MAX_DEPTH]))
        if isinstance(item, _Rejected):
            raise BodyError(item.why, _path(path))
        if isinstance(item, str):
            _check_text(item, path)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, path)
                stack.append((child, [*path, key]))
        elif isinstance(item, list):
            stack.extend((child, [*path, index]) for index, child in enumerate(item))


def parse_json(raw: bytes | str) -> Any:
    """Parse a JSON document strictly (see the module docstring); raises ``BodyError``."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as err:
        raise BodyError(f"the text is not UTF-8 (byte {err.start})") from None
    try:
        value = json.loads(text, parse_constant=_constant, parse_int=_integer, parse_float=_float)
    except RecursionError:
        raise BodyError(f"the JSON is nested more than {MAX_DEPTH} levels deep") from None
    except json.JSONDecodeError as err:
        raise BodyError(f"the text is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from None
    except ValueError as err:  # e.g. an integer longer than Python's digit limit
        raise BodyError(f"the text is not acceptable JSON ({err})") from None
    _inspect(value)
    return value


def _raw_body() -> bytes:
    limit = current_app.config.get("MAX_CONTENT_LENGTH") or DEFAULT_MAX_BYTES
    too_large = ApiError(413, "payload_too_large", f"The request body is larger than {limit // (1024 * 1024)} MB.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise too_large from None
    if len(raw) > limit:
        raise too_large
    return raw


def _invalid(message: str, field: str) -> ApiError:
    return ApiError(400, "invalid_request", message, field=field)


_UNPARSED = object()


@dataclass(frozen=True)
class _Malformed:
    message: str
    field: str


def json_document(*, empty: Any = None) -> Any:
    """The body as a checked JSON value of any shape; ``empty`` (when not None) stands in for no body."""
    raw = _raw_body()
    if not raw.strip():
        if empty is not None:
            return empty
        raise _invalid("Send a JSON body with Content-Type: application/json.", "")
    parsed = g.get("_json_document", _UNPARSED)  # parsed once per request (the sign-in throttle reads it too)
    if parsed is _UNPARSED:
        try:
            parsed = parse_json(raw)
        except BodyError as err:
            parsed = _Malformed(f"Malformed request: {err.message}. Send a JSON object.", err.field)
        g._json_document = parsed
    if isinstance(parsed, _Malformed):
        raise _invalid(parsed.message, parsed.field)
    return parsed


def _field(error: dict[str, Any], data: Any) -> str:
    """The dotted path of a validation error in the body, without pydantic's union-member tags."""
    parts: list[str | int] = []
    for part in error.get("loc") or ():
        if isinstance(data, dict) and part in data or isinstance(data, list) and isinstance(part, int):
            parts.append(part)
            data = data[part] if isinstance(data, dict) or part < len(data) else None
        elif error.get("type") == "missing" and isinstance(data, dict):
            parts.append(part)  # a required field that was not sent
            data = None
    return _path(parts)


def _describe(error: dict[str, Any], loc: str) -> str:
    if error.get("type") == "extra_forbidden":
        return f"{loc} is not a field of this request."
    return f"{loc or 'The body'}: {error.get('msg', 'invalid value')}."


def validated(schema: type[M], data: Any) -> M:
    """``data`` checked against ``schema``; 400 ``invalid_request`` naming the first wrong field."""
    if not isinstance(data, dict):
        raise _invalid(f"Send a JSON object in the request body, not {_JSON_TYPES.get(type(data), 'that')}.", "")
    try:
        return schema.model_validate(data)
    except ValidationError as err:
        first = err.errors(include_url=False)[0]
        field = _field(first, data)
        raise _invalid(_describe(first, field), field) from None


def json_body(schema: type[M], *, optional: bool = False) -> M:
    """The request's JSON object checked against ``schema`` (``optional``: an empty body reads as ``{}``)."""
    return validated(schema, json_document(empty={} if optional else None))
