"""Twilio's 2010-API list pages: PageSize, Page, PageToken and the page URIs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from .errors import INVALID_PARAMETER, bad_request
from .records import public

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000


def _int_param(args: Mapping[str, str], name: str, default: int) -> int:
    raw = args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(INVALID_PARAMETER, f"{name} must be an integer, got '{raw}'") from None
    if value < 0 or (name == "PageSize" and value == 0):
        raise bad_request(INVALID_PARAMETER, f"{name} must be positive, got '{raw}'")
    return value


def _start_index(items: Sequence[dict[str, Any]], token: str | None, page: int, page_size: int) -> int:
    """Where a page begins: after the record a ``PA`` token names, before a ``PB`` one, else page × size."""
    if token and len(token) > 2:
        direction, sid = token[:2], token[2:]
        sids = [item["sid"] for item in items]
        if sid in sids:
            index = sids.index(sid)
            return index + 1 if direction == "PA" else max(0, index - page_size)
    return page * page_size


def paginate(
    items: Sequence[dict[str, Any]], args: Mapping[str, str], path: str, key: str,
    filters: Iterable[tuple[str, str]] = (),
) -> dict[str, Any]:
    """One page of ``items`` in Twilio's list envelope, records under ``key``.

    ``filters`` are the query parameters that selected ``items``; they are repeated in
    every page URI, as Twilio does, so following ``next_page_uri`` keeps the filter.
    """
    page_size = min(_int_param(args, "PageSize", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
    page = _int_param(args, "Page", 0)
    token = args.get("PageToken")
    start = _start_index(items, token, page, page_size)
    chunk = list(items[start:start + page_size])
    kept = list(filters)

    def uri(number: int, page_token: str | None = None) -> str:
        query = [*kept, ("PageSize", str(page_size)), ("Page", str(number))]
        if page_token:
            query.append(("PageToken", page_token))
        return f"{path}?{urlencode(query)}"

    has_next = start + page_size < len(items)
    previous = None
    if page > 0:
        previous = uri(page - 1, f"PB{chunk[0]['sid']}" if chunk else None)
    return {
        "first_page_uri": uri(0),
        "end": start + max(len(chunk) - 1, 0),
        "previous_page_uri": previous,
        key: [public(item) for item in chunk],
        "uri": uri(page, token),
        "page_size": page_size,
        "start": start,
        "next_page_uri": uri(page + 1, f"PA{chunk[-1]['sid']}") if has_next and chunk else None,
        "page": page,
    }
