"""Periods and time buckets for analytics, in an org's time zone, over the rollups' UTC hours.

The rollups (`models.analytics`) count by the UTC hour a call started, so every period and
bucket here is a half-open range ``[since, until)`` of whole UTC hours. A local day is
whatever UTC hours lie between two local midnights: 24 most days, 23 on a spring-forward day and
25 on a fall-back day (America/New_York: 2025-03-09 and 2025-11-02). Zones whose offset is not
whole hours (Asia/Kolkata, +05:30) have their midnights floored to the UTC hour.

API (all times are aware datetimes; "UTC hour" means minute = second = 0 in UTC):

- ``zone(name) -> ZoneInfo``: the org's zone (``org.timezone``), UTC when unset or unknown.
- ``floor_hour(t)``, ``ceil_hour(t)``: the UTC hour at or before / at or after `t`.
- ``day_bounds(first, last, tz) -> (since, until)``: the local days `first`..`last` (dates,
  inclusive) as UTC hours.
- ``Period``: ``key``, ``label``, ``since``, ``until`` (UTC hours) and ``revision_ids``
  (None: every revision and draft calls; a tuple: only calls on those revisions).
- ``period(org, key, now=None, revisions=()) -> Period``: ``today`` (since the local midnight),
  ``7d`` and ``30d`` (the last 7 / 30 days of whole hours, up to the end of the current hour),
  ``rev:N`` (calls on revision N or later of the flow, since N was published; `revisions` are the
  flow's `(id, number, created_at)` rows). Raises ValueError on anything else.
- ``previous(p) -> Period``: the period of the same length just before `p` (for "against last week").
- ``Bucket``: ``start`` (the local time the bucket starts, for its label), ``since``, ``until`` (UTC hours).
- ``buckets(since, until, tz, unit) -> list[Bucket]``: ``unit`` is ``"hour"`` (one per UTC hour,
  labelled in local time: the fall-back day shows 01:00 twice, with different offsets) or
  ``"day"`` (local midnight to midnight).
- ``bucket_index(buckets) -> Callable[[datetime], int | None]``: a lookup from a rollup row's
  UTC hour to its bucket's index, for summing rows into buckets in one pass.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models import utcnow

HOUR = timedelta(hours=1)
DAY_PERIODS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days"}
REVISION_PREFIX = "rev:"


def zone(name: str | None) -> ZoneInfo:
    """The time zone named `name` (an org's ``timezone``); UTC when unset or unknown."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def floor_hour(moment: datetime) -> datetime:
    """The UTC hour at or before `moment`."""
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def ceil_hour(moment: datetime) -> datetime:
    """The UTC hour at or after `moment`."""
    floor = floor_hour(moment)
    return floor if floor == moment else floor + HOUR


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    """The UTC hour of `day`'s local midnight (floored, for zones with half-hour offsets)."""
    return floor_hour(datetime.combine(day, time.min, tzinfo=tz))


def day_bounds(first: date, last: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The local days `first` to `last` (inclusive) as ``[since, until)`` UTC hours."""
    return local_midnight(first, tz), local_midnight(last + timedelta(days=1), tz)


@dataclass(frozen=True)
class Period:
    """A period of the analytics: ``[since, until)`` in UTC hours, maybe limited to revisions."""

    key: str
    label: str
    since: datetime
    until: datetime
    revision_ids: tuple[int, ...] | None = None


def period(org: Any, key: str, now: datetime | None = None, revisions: Iterable[Any] = ()) -> Period:
    """The period `key` (today | 7d | 30d | rev:N) for `org` at `now` (see the module's docstring).

    `revisions`: the flow's revisions (objects with ``id``, ``number``, ``created_at``), for ``rev:N``.
    """
    now = now or utcnow()
    until = ceil_hour(now)
    if key == "today":
        today = now.astimezone(zone(getattr(org, "timezone", None))).date()
        return Period(key, DAY_PERIODS[key], local_midnight(today, zone(getattr(org, "timezone", None))), until)
    if key in ("7d", "30d"):
        days = 7 if key == "7d" else 30
        return Period(key, DAY_PERIODS[key], until - timedelta(days=days), until)
    if key.startswith(REVISION_PREFIX) and key[len(REVISION_PREFIX) :].isdigit():
        number = int(key[len(REVISION_PREFIX) :])
        later = [r for r in revisions if r.number >= number]
        first = next((r for r in later if r.number == number), None)
        if first is not None:
            ids = tuple(sorted(r.id for r in later))
            return Period(key, f"Since revision {number}", floor_hour(first.created_at), until, ids)
        raise ValueError(f"the flow has no revision {number}.")
    raise ValueError(f"period must be one of {', '.join(DAY_PERIODS)} or {REVISION_PREFIX}N.")


def previous(current: Period) -> Period:
    """The period of the same length just before `current` (same revisions)."""
    length = current.until - current.since
    return Period(
        f"{current.key}-previous",
        f"{current.label} (previous)",
        current.since - length,
        current.since,
        current.revision_ids,
    )


@dataclass(frozen=True)
class Bucket:
    """One bar of a chart: starts at `start` (local time, for the label), covers ``[since, until)`` UTC."""

    start: datetime
    since: datetime
    until: datetime


def buckets(since: datetime, until: datetime, tz: ZoneInfo, unit: str = "hour") -> list[Bucket]:
    """``[since, until)`` cut into local hours or days (``unit``: "hour" | "day"), DST-correct."""
    if unit == "hour":
        out, at = [], floor_hour(since)
        while at < until:
            out.append(Bucket(at.astimezone(tz), at, at + HOUR))
            at += HOUR
        return out
    if unit != "day":
        raise ValueError("unit must be hour or day")
    out, day = [], since.astimezone(tz).date()
    while True:
        start, end = day_bounds(day, day, tz)
        if start >= until:
            return out
        if end > since:
            out.append(Bucket(datetime.combine(day, time.min, tzinfo=tz), max(start, since), min(end, until)))
        day += timedelta(days=1)


def bucket_index(found: list[Bucket]) -> Callable[[datetime], int | None]:
    """A lookup: a rollup row's UTC hour -> the index of its bucket in `found`, None outside."""
    starts = [b.since for b in found]

    def index(hour: datetime) -> int | None:
        i = bisect_right(starts, hour) - 1
        return i if i >= 0 and hour < found[i].until else None

    return index
