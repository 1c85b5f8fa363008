"""The dashboard's periods and their buckets, in the org's time zone.

The rollups count per UTC hour, so every bucket is a set of whole UTC hours: a local day is the
sum of the UTC hours from its midnight to the next (23 or 25 of them across a DST change), a local
hour is the UTC hour it falls in. Zones with a half-hour offset see each UTC hour in the local
bucket where it starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

HOUR = timedelta(hours=1)
PERIODS = {
    "today": "Today",
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
}
MAX_CUSTOM_DAYS = 366


class PeriodError(ValueError):
    """A period the dashboard cannot show; the message says why, for a 400."""


@dataclass(frozen=True)
class Bucket:
    """One bar of a chart: the UTC hours [start, end), its label and its key in the other period."""

    start: datetime
    end: datetime
    label: str
    key: object


@dataclass
class Period:
    """A resolved period: its buckets, the previous period's, and the UTC hours they cover."""

    name: str
    label: str
    unit: str  # "hour" | "day"
    zone: ZoneInfo
    now: datetime
    buckets: list[Bucket]
    previous: list[Bucket]
    _index: dict[datetime, tuple[bool, int]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for current, buckets in ((True, self.buckets), (False, self.previous)):
            for i, bucket in enumerate(buckets):
                hour = bucket.start
                while hour < bucket.end:
                    self._index[hour] = (current, i)
                    hour += HOUR

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
        return self.buckets[0].start

    @property
    def end(self) -> datetime:
        return self.buckets[-1].end

    @property
    def previous_start(self) -> datetime:
        return self.previous[0].start if self.previous else self.start

    def locate(self, hour: datetime) -> tuple[bool, int] | None:
        """(in the current period?, bucket index) of a moment's UTC hour, or None outside both periods."""
        return self._index.get(floor_hour(hour))

    def local(self, moment: datetime) -> datetime:
        return moment.astimezone(self.zone)

    def describe(self) -> str:
        """The period in words, in the org's time zone."""
        fmt = "%a %d %b %Y %H:%M"
        return f"{self.local(self.start).strftime(fmt)} – {self.local(self.end).strftime(fmt)} ({self.zone.key})"


def floor_hour(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def midnight(day: date, zone: ZoneInfo) -> datetime:
    """The UTC hour a local day starts in."""
    return floor_hour(datetime.combine(day, time.min, tzinfo=zone))


def hour_buckets(start: datetime, end: datetime, zone: ZoneInfo, by_clock: bool) -> list[Bucket]:
    """One bucket per UTC hour in [start, end), labelled by its local time; keyed by the local hour of
    the day (``by_clock``, so today and yesterday line up across a DST change) or by position."""
    buckets, hour, i = [], start, 0
    while hour < end:
        local = hour.astimezone(zone)
        label = local.strftime("%H:%M")
        buckets.append(Bucket(hour, hour + HOUR, label, (local.hour, local.minute) if by_clock else i))
        hour, i = hour + HOUR, i + 1
    return buckets


def day_buckets(first: date, days: int, zone: ZoneInfo) -> list[Bucket]:
    """One bucket per local day, each the UTC hours from its midnight to the next; keyed by position."""
    return [
        Bucket(
            midnight(first + timedelta(days=i), zone),
            midnight(first + timedelta(days=i + 1), zone),
            (first + timedelta(days=i)).strftime("%a %d %b"),
            i,
        )
        for i in range(days)
    ]


def _parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PeriodError(f"“{value[:40]}” is not a date for {name}: use YYYY-MM-DD.") from None


def resolve(name: str | None, zone: ZoneInfo, now: datetime, since: str = "", until: str = "") -> Period:
    """The period called ``name`` (one of ``PERIODS``, or ``custom`` with ``since``/``until`` local dates,
    both included) as of ``now``, with the previous period of the same length."""
    name = name or "7d"
    today = now.astimezone(zone).date()
    if name == "today":
        buckets = hour_buckets(midnight(today, zone), midnight(today + timedelta(days=1), zone), zone, True)
        previous = hour_buckets(midnight(today - timedelta(days=1), zone), midnight(today, zone), zone, True)
        return Period(name, PERIODS[name], "hour", zone, now, buckets, previous)
    if name == "24h":
        end = floor_hour(now) + HOUR
        buckets = hour_buckets(end - 24 * HOUR, end, zone, False)
        previous = hour_buckets(end - 48 * HOUR, end - 24 * HOUR, zone, False)
        return Period(name, PERIODS[name], "hour", zone, now, buckets, previous)
    if name in PERIODS:
        days = int(name.removesuffix("d"))
        first = today - timedelta(days=days - 1)
        return Period(
            name,
            PERIODS[name],
            "day",
            zone,
            now,
            day_buckets(first, days, zone),
            day_buckets(first - timedelta(days=days), days, zone),
        )
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
        start, end = midnight(first, zone), midnight(last + timedelta(days=1), zone)
        span = end - start
        return Period(
            "custom",
            label,
            "hour",
            zone,
            now,
            hour_buckets(start, end, zone, False),
            hour_buckets(start - span, start, zone, False),
        )
    return Period(
        "custom",
        label,
        "day",
        zone,
        now,
        day_buckets(first, days, zone),
        day_buckets(first - timedelta(days=days), days, zone),
    )
