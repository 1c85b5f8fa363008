"""Value formats shared by the fake's resources: SIDs, dates, numbers, URLs, methods."""

from __future__ import annotations

import random
import re
from datetime import datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

API_VERSION = "2010-04-01"
API_ROOT = f"/{API_VERSION}"

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
NANP = re.compile(r"^\+1([2-9]\d{2})([2-9]\d{2})(\d{4})$")
HTTP_METHODS = ("GET", "POST")


def sid_pattern(prefix: str) -> re.Pattern[str]:
    """The pattern of a Twilio SID with this two-letter prefix (e.g. ``PN``)."""
    return re.compile(rf"^{prefix}[0-9a-fA-F]{{32}}$")


def new_sid(rng: random.Random, prefix: str) -> str:
    """A new SID: a two-letter prefix and 32 lowercase hex digits."""
    return prefix + f"{rng.getrandbits(128):032x}"


def rfc2822(moment: datetime | None) -> str | None:
    """Format an aware datetime the way Twilio's 2010 API does (``Thu, 30 Jul 2015 23:19:04 +0000``)."""
    if moment is None:
        return None
    return format_datetime(moment.replace(microsecond=0))


def is_e164(value: str) -> bool:
    """Whether the value is an E.164 phone number such as ``+14155550123``."""
    return bool(E164.match(value))


def friendly_number(e164: str) -> str:
    """Twilio's friendly format: ``(415) 555-0123`` for NANP numbers, E.164 otherwise."""
    match = NANP.match(e164)
    if match:
        return "({}) {}-{}".format(*match.groups())
    return e164


def is_valid_url(value: str) -> bool:
    """Whether Twilio would accept the value as a webhook URL (absolute http or https)."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def parse_method(value: str) -> str | None:
    """Normalise an HTTP method parameter; ``None`` when it is neither GET nor POST."""
    method = value.strip().upper()
    return method if method in HTTP_METHODS else None


def parse_bool(value: str | None) -> bool | None:
    """Twilio's boolean query/form values (``true``/``false``, any case); ``None`` if absent or unknown."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    return None
