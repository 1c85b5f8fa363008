"""The dashboard's periods in the org's time zone: local days and hours as sums of UTC hours, across DST."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from services.analytics_periods import PeriodError, resolve
from services.dashboard import percentile

NEW_YORK = ZoneInfo("America/New_York")


def _hours(bucket) -> int:
    return int((bucket.until - bucket.since).total_seconds() // 3600)


def test_a_local_day_is_the_sum_of_its_utc_hours_across_dst():
    period = resolve("7d", NEW_YORK, datetime(2026, 11, 3, 17, 0, tzinfo=UTC))  # Tue 3 Nov, after the fall-back
    days = {b.label: _hours(b) for b in period.buckets}
    assert days["Sun 01 Nov"] == 25 and days["Sat 31 Oct"] == 24 and days["Mon 02 Nov"] == 24
    assert period.buckets[0].start == datetime(2026, 10, 28, 4, tzinfo=UTC)  # local midnight, EDT
    assert period.buckets[-1].until == datetime(2026, 11, 4, 5, tzinfo=UTC)  # local midnight, EST
    assert len(period.previous) == 7 and period.previous[-1].until == period.buckets[0].since
    assert period.previous_label == "the 7 days before"
    assert period.locate(datetime(2026, 11, 1, 5, 30, tzinfo=UTC)) == (True, 4)  # 01:30 EDT, first of two
    assert period.locate(datetime(2026, 11, 1, 6, 0, tzinfo=UTC)) == (True, 4)  # 01:00 EST, the second
    assert period.locate(datetime(2026, 10, 27, 4, tzinfo=UTC)) == (False, 6)
    assert period.locate(datetime(2026, 12, 1, tzinfo=UTC)) is None

    spring = resolve("7d", NEW_YORK, datetime(2026, 3, 9, 12, tzinfo=UTC))
    assert {b.label: _hours(b) for b in spring.buckets}["Sun 08 Mar"] == 23


def test_today_is_hourly_and_lines_up_with_yesterday_by_the_clock():
    fall_back = resolve("today", NEW_YORK, datetime(2026, 11, 1, 18, tzinfo=UTC))
    assert fall_back.unit == "hour" and len(fall_back.buckets) == 25 and len(fall_back.previous) == 24
    labels = [b.label for b in fall_back.buckets]
    assert labels[:4] == ["00:00", "01:00", "01:00", "02:00"]
    spring = resolve("today", NEW_YORK, datetime(2026, 3, 8, 18, tzinfo=UTC))
    assert len(spring.buckets) == 23 and "02:00" not in [b.label for b in spring.buckets]
    assert spring.buckets[3].key == (4, 0) and spring.previous[4].key == (4, 0)  # 04:00 beside 04:00

    kolkata = resolve("today", ZoneInfo("Asia/Kolkata"), datetime(2026, 12, 7, 6, tzinfo=UTC))
    assert len(kolkata.buckets) == 24 and kolkata.buckets[0].start == datetime(2026, 12, 6, 18, tzinfo=UTC)

    rolling = resolve("24h", NEW_YORK, datetime(2026, 12, 7, 15, 30, tzinfo=UTC))
    assert rolling.end == datetime(2026, 12, 7, 16, tzinfo=UTC) and len(rolling.buckets) == 24
    assert rolling.buckets[-1].label == "10:00" and rolling.previous[-1].until == rolling.start


def test_custom_periods_and_their_errors():
    now = datetime(2026, 12, 7, 15, tzinfo=UTC)
    two_days = resolve("custom", NEW_YORK, now, "2026-12-01", "2026-12-02")
    assert two_days.unit == "hour" and len(two_days.buckets) == 48 and len(two_days.previous) == 48
    month = resolve("custom", NEW_YORK, now, "2026-11-01", "2026-11-30")
    assert month.unit == "day" and len(month.buckets) == 30 and month.buckets[0].label == "Sun 01 Nov"
    for args, words in [
        (("fortnight",), "“fortnight” is not a period: use one of today, 24h, 7d, 30d, 90d, custom."),
        (("custom", "", "2026-12-01"), "A custom period needs both since and until"),
        (("custom", "2026-12-09", "2026-12-01"), "since must not be after its until"),
        (("custom", "2026-13-01", "2026-12-01"), "“2026-13-01” is not a date for since"),
        (("custom", "2020-01-01", "2026-12-01"), "at most 366 days"),
    ]:
        name, *dates = args
        with pytest.raises(PeriodError, match=words.replace("(", r"\(").replace(")", r"\)")):
            resolve(name, NEW_YORK, now, *dates)


def test_percentiles_interpolate_within_a_bucket():
    assert percentile([0] * 12, 0.9) is None
    assert percentile([10] + [0] * 11, 0.5) == 2.5  # half of 0-5 s
    counts = [0, 0, 0, 10, 0, 0, 0, 0, 0, 0, 0, 0]  # all in (20, 30]
    assert percentile(counts, 0.9) == 29.0
    assert percentile([0] * 11 + [4], 0.9) == pytest.approx(600 + 0.9 * 1200)
