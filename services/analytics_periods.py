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

The dashboards' periods, on the same buckets:

- ``PERIODS``: the dashboards' named periods (``today``, ``24h``, ``7d``, ``30d``, ``90d``) and their labels;
  ``DAY_PERIODS`` is the designer overlay's subset of them.
- ``resolve(name, zone, now, since="", until="") -> ChartPeriod``: the period ``name`` (one of ``PERIODS``, or
  ``custom`` with ``since``/``until`` local dates) cut into a chart's buckets, with the previous period's
  buckets beside; ``PeriodError`` (a ValueError) with a message for a 400 on anything else.
- ``ChartPeriod``: a period as a chart shows it (see its docstring for why it is not a ``Period``).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from models import utcnow

HOUR = timedelta(hours=1)
PERIODS = {
    "today": "Today",
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
}
DAY_PERIODS = {key: PERIODS[key] for key in ("today", "7d", "30d")}
REVISION_PREFIX = "rev:"
MAX_CUSTOM_DAYS = 366


class PeriodError(ValueError):
    """A period the dashboard cannot show; the message says why, for a 400."""


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
    """One bar of a chart: starts at `start` (local time, for the label), covers ``[since, until)`` UTC.

    ``label`` is its x-axis text (``%H:%M`` for an hour, ``%a %d %b`` for a day); ``key`` is what it lines up
    with in the previous period: its position, or its local ``(hour, minute)`` when built ``by_clock`` (so
    today's 04:00 sits beside yesterday's 04:00 across a DST change).
    """

    start: datetime
    since: datetime
    until: datetime
    label: str = ""
    key: object = None


def buckets(since: datetime, until: datetime, tz: ZoneInfo, unit: str = "hour", by_clock: bool = False) -> list[Bucket]:
    """``[since, until)`` cut into local hours or days (``unit``: "hour" | "day"), DST-correct.

    Each bucket's ``key`` is its position, or for hours ``by_clock`` its local ``(hour, minute)``."""
    if unit == "hour":
        out, at = [], floor_hour(since)
        while at < until:
            local = at.astimezone(tz)
            key = (local.hour, local.minute) if by_clock else len(out)
            out.append(Bucket(local, at, at + HOUR, local.strftime("%H:%M"), key))
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
            local = datetime.combine(day, time.min, tzinfo=tz)
            out.append(Bucket(local, max(start, since), min(end, until), day.strftime("%a %d %b"), len(out)))
        day += timedelta(days=1)


def bucket_index(found: list[Bucket]) -> Callable[[datetime], int | None]:
    """A lookup: a rollup row's UTC hour -> the index of its bucket in `found`, None outside."""
    starts = [b.since for b in found]

    def index(hour: datetime) -> int | None:
        i = bisect_right(starts, hour) - 1
        return i if i >= 0 and hour < found[i].until else None

    return index


@dataclass
class ChartPeriod:
    """A dashboard period as its chart shows it: its buckets and the previous period's, and the UTC hours they cover.

    Not a ``Period``: a ``Period`` is one range of UTC hours (maybe limited to revisions) that counts are
    summed over; a ``ChartPeriod`` is two ranges (this period and the one before, for comparison) already cut
    into buckets, with the zone and the moment it was resolved at, for labels and the "not yet" bars.
    """

    name: str
    label: str
    unit: str  # "hour" | "day"
    zone: ZoneInfo
    now: datetime
    buckets: list[Bucket]
    previous: list[Bucket]
    _current_index: Callable[[datetime], int | None] = field(init=False, repr=False)
    _previous_index: Callable[[datetime], int | None] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._current_index = bucket_index(self.buckets)
        self._previous_index = bucket_index(self.previous)

    @property
    def previous_label(self) -> str:
        """What the previous period is, in words."""
        if self.name == "today":
            return "yesterday"
        if self.unit == "hour" and self.name == "24h":
            return "the 24 hours before"
        return f"the {len(self.previous)} {self.unit}s before"

    @property
    def start(self) -> datetime:
        """The UTC hour the period starts at."""
        return self.buckets[0].since

    @property
    def end(self) -> datetime:
        """The UTC hour the period ends at (excluded)."""
        return self.buckets[-1].until

    @property
    def previous_start(self) -> datetime:
        return self.previous[0].since if self.previous else self.start

    def locate(self, moment: datetime) -> tuple[bool, int] | None:
        """(in the current period?, bucket index) of a moment's UTC hour, or None outside both periods."""
        hour = floor_hour(moment)
        for current, index in ((True, self._current_index), (False, self._previous_index)):
            found = index(hour)
            if found is not None:
                return current, found
        return None

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def describe(self) -> str:
        """The period in words, in the org's time zone."""
        fmt = "%a %d %b %Y %H:%M"
        return f"{self.local(self.start).strftime(fmt)} – {self.local(self.end).strftime(fmt)} ({self.zone.key})"


def _parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"“{value[:40]}” is not a date for {name}: use YYYY-MM-DD.") from None


def _chart(
    name: str,
    label: str,
    unit: str,
    zone_: ZoneInfo,
    now: datetime,
    since: datetime,
    until: datetime,
) -> ChartPeriod:
    """The chart of ``[since, until)`` in ``unit`` buckets, beside the same length just before it."""
    before = since - (until - since)
    return ChartPeriod(
        name,
        label,
        unit,
        zone_,
        now,
        buckets(since, until, zone_, unit),
        buckets(before, since, zone_, unit),
    )


def resolve(name: str | None, zone: ZoneInfo, now: datetime, since: str = "", until: str = "") -> ChartPeriod:
    """The period called ``name`` (one of ``PERIODS``, or ``custom`` with ``since``/``until`` local dates,
    both included) as of ``now``, with the previous period of the same length."""
    name = name or "7d"
    today = now.astimezone(zone).date()
    if name == "today":
        yesterday = today - timedelta(days=1)
        return ChartPeriod(
            name,
            PERIODS[name],
            "hour",
            zone,
            now,
            buckets(*day_bounds(today, today, zone), zone, "hour", by_clock=True),
            buckets(*day_bounds(yesterday, yesterday, zone), zone, "hour", by_clock=True),
        )
    if name == "24h":
        end = floor_hour(now) + HOUR
        return _chart(name, PERIODS[name], "hour", zone, now, end - 24 * HOUR, end)
    if name in PERIODS:
        days = int(name.removesuffix("d"))
        return _day_chart(name, PERIODS[name], zone, now, today - timedelta(days=days - 1), days)
    if name != "custom":
        choices = ", ".join([*PERIODS, "custom"])
        raise PeriodError(f"“{name[:40]}” is not a period: use one of {choices}.")
    if not since or not until:
        raise PeriodError("A custom period needs both since and until (YYYY-MM-DD, in the organisation's time zone).")
    first, last = _parse_day(since, "since"), _parse_day(until, "until")
    days = (last - first).days + 1
    if days < 1:
        raise PeriodError("The period's since must not be after its until.")
    if days > MAX_CUSTOM_DAYS:
        raise PeriodError(f"A custom period may span at most {MAX_CUSTOM_DAYS} days.")
    label = f"{first.isoformat()} to {last.isoformat()}"
    if days <= 2:
        return _chart("custom", label, "hour", zone, now, *day_bounds(first, last, zone))
    return _day_chart("custom", label, zone, now, first, days)


def _day_chart(name: str, label: str, zone: ZoneInfo, now: datetime, first: date, days: int) -> ChartPeriod:
    """The local days ``first`` onwards (``days`` of them), beside the as many local days before."""
    return ChartPeriod(
        name,
        label,
        "day",
        zone,
        now,
        buckets(*day_bounds(first, first + timedelta(days=days - 1), zone), zone, "day"),
        buckets(*day_bounds(first - timedelta(days=days), first - timedelta(days=1), zone), zone, "day"),
    )
