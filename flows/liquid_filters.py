"""Liquid's standard filters as Jinja2 filters, with Liquid's semantics (Twilio Studio templates).

`flows.studio.liquid` translates a Studio template to Jinja2 keeping Liquid's filter names
(``{{ n | plus: 1 }}`` → ``{{ n | plus(1) }}``); `flows.templating` registers these functions in
its sandbox, where each call is metered like any other filter. What differs from Jinja2's
built-ins is Liquid's: ``nil`` renders and reads as empty, math converts numeric strings
(``"3" | plus: 2`` is 5, ``7 | divided_by: 2`` is 3, integer division when both are integers),
``size`` is 0 for what has no size, ``date`` takes ``"now"``, Unix times and ISO 8601 text and
formats with strftime (plus ``%s``, ``%L``, ``%N``, ``%-d`` …), and ``default`` replaces nil,
false, the empty string and empty collections but not 0.

Numbers are bounded (`SecurityError` past ``MAX_DIGITS`` digits) so that repeated ``times``
cannot build a huge integer; every other result is no larger than its input plus its arguments.
"""

from __future__ import annotations

import json as _json
import math
import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from jinja2 import Undefined, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context

MAX_DIGITS = 400
MAX_WIDTH = 1000
NOW_KEY = "_pt_now"  # the turn's clock in the template context (see `flows.templating.build_context`)

_INT_RE = re.compile(r"^\s*[-+]?\d+\s*$")
_FLOAT_RE = re.compile(r"^\s*[-+]?\d+\.\d+\s*$")
_LEADING_INT = re.compile(r"^\s*([-+]?\d+)")


def _missing(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


def text(value: Any) -> str:
    """A value as Liquid renders it: nil is empty, booleans are lower case, objects are JSON."""
    if _missing(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return _json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    if isinstance(value, (list, tuple)):
        return "".join(text(v) for v in value)
    return str(value)


# ---------------------------------------------------------------- numbers


def _number(value: Any) -> int | Decimal:
    """Liquid's to_number: ints stay ints, "1.5" is a decimal, other text its leading integer or 0."""
    if isinstance(value, bool) or _missing(value):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else 0
    if isinstance(value, Decimal):
        return value
    raw = str(value)
    if _INT_RE.match(raw):
        return int(raw)
    if _FLOAT_RE.match(raw):
        return Decimal(raw.strip())
    match = _LEADING_INT.match(raw)
    return int(match.group(1)) if match else 0


def _result(value: int | Decimal) -> int | float:
    if isinstance(value, int):
        if value.bit_length() > MAX_DIGITS * 4:
            raise SecurityError("number too large")
        return value
    if value.is_finite() and value.adjusted() > MAX_DIGITS:
        raise SecurityError("number too large")
    return float(value)


def plus(value: Any, operand: Any = 0) -> int | float:
    """``plus``: addition (numeric strings are numbers)."""
    return _result(_number(value) + _number(operand))


def minus(value: Any, operand: Any = 0) -> int | float:
    """``minus``: subtraction."""
    return _result(_number(value) - _number(operand))


def times(value: Any, operand: Any = 1) -> int | float:
    """``times``: multiplication."""
    a, b = _number(value), _number(operand)
    if isinstance(a, int) and isinstance(b, int) and a.bit_length() + b.bit_length() > MAX_DIGITS * 4:
        raise SecurityError("number too large")
    return _result(a * b)


def divided_by(value: Any, operand: Any = 1) -> int | float | None:
    """``divided_by``: integer (floor) division when both are integers; nil when dividing by zero."""
    a, b = _number(value), _number(operand)
    if b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a // b
    try:
        return _result(Decimal(a) / Decimal(b))
    except InvalidOperation:
        return None


def modulo(value: Any, operand: Any = 1) -> int | float | None:
    """``modulo``: the remainder (with the divisor's sign, as Ruby); nil for zero."""
    a, b = _number(value), _number(operand)
    if b == 0:
        return None
    if isinstance(a, int) and isinstance(b, int):
        return a % b
    return _result(Decimal(a) - Decimal(b) * (Decimal(a) / Decimal(b)).to_integral_value(rounding="ROUND_FLOOR"))


def at_least(value: Any, operand: Any) -> int | float:
    """``at_least``: the larger of the two."""
    return _result(max(_number(value), _number(operand)))


def at_most(value: Any, operand: Any) -> int | float:
    """``at_most``: the smaller of the two."""
    return _result(min(_number(value), _number(operand)))


def ceil(value: Any) -> int:
    """``ceil``: round up to an integer."""
    return int(math.ceil(_number(value)))


def floor(value: Any) -> int:
    """``floor``: round down to an integer."""
    return int(math.floor(_number(value)))


# ---------------------------------------------------------------- text


def downcase(value: Any) -> str:
    """``downcase``."""
    return text(value).lower()


def upcase(value: Any) -> str:
    """``upcase``."""
    return text(value).upper()


def strip(value: Any) -> str:
    """``strip``: whitespace off both ends."""
    return text(value).strip()


def lstrip(value: Any) -> str:
    """``lstrip``."""
    return text(value).lstrip()


def rstrip(value: Any) -> str:
    """``rstrip``."""
    return text(value).rstrip()


def strip_newlines(value: Any) -> str:
    """``strip_newlines``: every line break removed."""
    return text(value).replace("\r\n", "").replace("\n", "").replace("\r", "")


def newline_to_br(value: Any) -> str:
    """``newline_to_br``."""
    return text(value).replace("\r\n", "\n").replace("\n", "<br />\n")


def append(value: Any, suffix: Any = "") -> str:
    """``append``."""
    return text(value) + text(suffix)


def prepend(value: Any, prefix: Any = "") -> str:
    """``prepend``."""
    return text(prefix) + text(value)


def remove(value: Any, part: Any = "") -> str:
    """``remove``: every occurrence removed."""
    part = text(part)
    return text(value).replace(part, "") if part else text(value)


def remove_first(value: Any, part: Any = "") -> str:
    """``remove_first``."""
    part = text(part)
    return text(value).replace(part, "", 1) if part else text(value)


def replace_first(value: Any, old: Any = "", new: Any = "") -> str:
    """``replace_first``."""
    return text(value).replace(text(old), text(new), 1)


def split(value: Any, separator: Any = " ") -> list[str]:
    """``split``: " " splits on runs of whitespace, "" into characters; trailing empties dropped."""
    source, sep = text(value), text(separator)
    if sep == " ":
        return source.split()
    parts = list(source) if sep == "" else source.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


def liquid_slice(value: Any, start: Any = 0, length: Any = 1) -> Any:
    """``slice``: `length` characters (or items) from `start`; a negative start counts from the end."""
    seq = value if isinstance(value, (list, tuple)) else text(value)
    begin, count = int(_number(start)), max(0, int(_number(length)))
    if begin < 0:
        begin = max(0, len(seq) + begin)
    return seq[begin : begin + count]


def size(value: Any) -> int:
    """``size``: the length of a text, list or object; 0 for anything else."""
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    return 0


def first(value: Any) -> Any:
    """``first``: the first item of a list (or character of a text); nil when empty or not a sequence.
    (Jinja2's other iterables still work: a dict's first key, a generator's first item.)"""
    if _missing(value):
        return None
    if isinstance(value, (str, list, tuple)):
        return value[0] if value else None
    try:
        return next(iter(value), None)
    except TypeError:
        return None


def last(value: Any) -> Any:
    """``last``."""
    if _missing(value):
        return None
    if isinstance(value, (str, list, tuple)):
        return value[-1] if value else None
    try:
        return next(iter(reversed(value)), None)
    except TypeError:
        return None


def default(value: Any, default_value: Any = "", boolean: bool = False, allow_false: bool = False) -> Any:
    """``default``: Jinja2's, and with ``boolean`` true Liquid's: nil, false, "" and empty lists and
    objects take the default (0 does not); ``allow_false`` keeps false."""
    if isinstance(value, Undefined):
        return default_value
    if not boolean:
        return value
    if value is None or (value is False and not allow_false):
        return default_value
    if isinstance(value, (str, list, tuple, dict)) and not value:
        return default_value
    return value


def url_encode(value: Any) -> str:
    """``url_encode``: form encoding (space is "+", "/" is escaped)."""
    return quote_plus(text(value), safe="")


def url_decode(value: Any) -> str:
    """``url_decode``."""
    return unquote_plus(text(value))


def _plain(value: Any) -> Any:
    if _missing(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value if isinstance(value, (str, int, float, bool)) else str(value)


def json(value: Any) -> str:
    """``json``: the value as compact JSON (like JavaScript's JSON.stringify)."""
    return _json.dumps(_plain(value), separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------- dates

_DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S %z",
    "%Y-%m-%dT%H:%M:%S %z",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d",
    "%m/%d/%Y",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
)
_STRFTIME = re.compile(r"%([-_0^#]*)(\d*)(:?[A-Za-z%+])")


def _now(context: Context | None) -> datetime:
    clock = context.get(NOW_KEY) if context is not None else None
    return clock if isinstance(clock, datetime) else datetime.now(UTC)


def to_datetime(value: Any, now: datetime) -> datetime | None:
    """What Liquid's ``date`` reads: "now"/"today", a Unix time, a date or ISO 8601 (or similar) text."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, bool) or _missing(value):
        return None
    if isinstance(value, (int, float)):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    raw = str(value).strip()
    if raw.lower() in ("now", "today"):
        return now
    if re.fullmatch(r"-?\d+(?:\.\d+)?", raw):
        return to_datetime(float(raw) if "." in raw else int(raw), now)
    zone = re.search(r"\s+(?:UTC|GMT|Z)$", raw)
    if zone:  # "2025-03-04T15:30:00 UTC", as Studio's own date: "%Z" writes it
        raw = raw[: zone.start()] + "+00:00"
    parsed: datetime | None = None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        for fmt in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(raw, fmt)
                break
            except ValueError:
                continue
        else:
            try:
                parsed = parsedate_to_datetime(raw)
            except (TypeError, ValueError, IndexError):
                return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _conversion(moment: datetime, spec: str) -> str:
    if spec == "s":
        return str(int(moment.timestamp()))
    if spec == "L":
        return f"{moment.microsecond // 1000:03d}"
    if spec == "N":
        return f"{moment.microsecond * 1000:09d}"
    if spec == ":z":
        offset = moment.strftime("%z")
        return f"{offset[:3]}:{offset[3:]}" if offset else ""
    if spec == "Z":
        return moment.tzname() or ""
    if spec == "%":
        return "%"
    if spec.startswith(":"):
        return "%" + spec
    return moment.strftime("%" + spec)


def strftime(moment: datetime, fmt: str) -> str:
    """Ruby's strftime (which Liquid uses): flags ``-`` (no padding), ``_`` (spaces), ``0``, ``^``
    (upper case), a width, and ``%s``, ``%L``, ``%N``, ``%:z`` beside C's conversions."""

    def one(match: re.Match[str]) -> str:
        flags, width, spec = match.group(1), match.group(2), match.group(3)
        out = _conversion(moment, spec)
        if "-" in flags:
            stripped = out.lstrip("0 ")
            out = stripped or (out[-1:] if out else "")
        elif "_" in flags:
            out = re.sub(r"^0+(?=\d)", lambda m: " " * len(m.group()), out)
        if "^" in flags or "#" in flags:
            out = out.upper()
        if width:
            count = int(width)
            if count > MAX_WIDTH:
                raise SecurityError("width too large")
            pad = " " if "_" in flags or not out[:1].isdigit() else "0"
            out = out.rjust(count, pad)
        return out

    return _STRFTIME.sub(one, fmt)


@pass_context
def liquid_date(context: Context, value: Any, fmt: Any = None) -> Any:
    """``date``: format a date ("now", a Unix time, ISO 8601 text …); what is not a date is kept."""
    if _missing(value) or value == "":
        return value
    moment = to_datetime(value, _now(context))
    if moment is None:
        return value
    if _missing(fmt) or text(fmt) == "":
        return value
    return strftime(moment, text(fmt))


FILTERS: dict[str, Any] = {
    "plus": plus,
    "minus": minus,
    "times": times,
    "divided_by": divided_by,
    "modulo": modulo,
    "at_least": at_least,
    "at_most": at_most,
    "ceil": ceil,
    "floor": floor,
    "downcase": downcase,
    "upcase": upcase,
    "strip": strip,
    "lstrip": lstrip,
    "rstrip": rstrip,
    "strip_newlines": strip_newlines,
    "newline_to_br": newline_to_br,
    "append": append,
    "prepend": prepend,
    "remove": remove,
    "remove_first": remove_first,
    "replace_first": replace_first,
    "split": split,
    "slice": liquid_slice,
    "size": size,
    "first": first,
    "last": last,
    "default": default,
    "url_encode": url_encode,
    "url_decode": url_decode,
    "json": json,
    "date": liquid_date,
}


def truthy(value: Any) -> bool:
    """Liquid's truth: only nil and false are false ("" and 0 are true)."""
    return not (_missing(value) or value is False)


def blank(value: Any) -> bool:
    """Liquid's ``blank``/``empty``: nil, false, whitespace-only text, an empty list or object."""
    if _missing(value) or value is False:
        return True
    if isinstance(value, str):
        return not value.strip()
    return isinstance(value, (list, tuple, dict)) and not value


def containing(value: Any, item: Any) -> bool:
    """Liquid's ``contains``: a substring of a text, an item of a list, a key of an object; false for
    anything else (nil contains nothing)."""
    if isinstance(value, str):
        return text(item) in value
    if isinstance(value, (list, tuple, dict)):
        return item in value
    return False


TESTS: dict[str, Any] = {"truthy": truthy, "blank": blank, "containing": containing}
