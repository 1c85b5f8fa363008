"""Analytics periods and buckets in an org's time zone, over the rollups' UTC hours (DST included)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from extensions import db
from models.analytics import NodeRollup
from services.analytics_periods import (
    bucket_index,
    buckets,
    ceil_hour,
    day_bounds,
    floor_hour,
    period,
    previous,
    zone,
)
from sim import HangUp

NY = zone("America/New_York")


def test_spring_forward_day_has_23_hours_and_fall_back_day_25():
    spring = day_bounds(date(2025, 3, 9), date(2025, 3, 9), NY)
    fall = day_bounds(date(2025, 11, 2), date(2025, 11, 2), NY)
    assert spring == (datetime(2025, 3, 9, 5, tzinfo=UTC), datetime(2025, 3, 10, 4, tzinfo=UTC))
    assert fall == (datetime(2025, 11, 2, 4, tzinfo=UTC), datetime(2025, 11, 3, 5, tzinfo=UTC))
    spring_hours, fall_hours = buckets(*spring, NY, "hour"), buckets(*fall, NY, "hour")
    assert len(spring_hours) == 23 and len(fall_hours) == 25
    assert [b.start.hour for b in spring_hours[:4]] == [0, 1, 3, 4]  # 02:00 never happens
    assert [b.start.hour for b in fall_hours[:4]] == [0, 1, 1, 2]  # 01:00 happens twice
    assert fall_hours[1].start.utcoffset() != fall_hours[2].start.utcoffset()
    assert all(b.until - b.since == timedelta(hours=1) for b in spring_hours + fall_hours)


def test_daily_buckets_follow_local_midnights_across_dst():
    since, until = day_bounds(date(2025, 3, 8), date(2025, 3, 10), NY)
    days = buckets(since, until, NY, "day")
    assert [b.start.date() for b in days] == [date(2025, 3, 8), date(2025, 3, 9), date(2025, 3, 10)]
    assert [(b.until - b.since) / timedelta(hours=1) for b in days] == [24, 23, 24]
    fall = buckets(*day_bounds(date(2025, 11, 1), date(2025, 11, 2), NY), NY, "day")
    assert [(b.until - b.since) / timedelta(hours=1) for b in fall] == [24, 25]
    index = bucket_index(days)
    assert index(datetime(2025, 3, 9, 4, tzinfo=UTC)) == 0  # 23:00 on the 8th in New York
    assert index(datetime(2025, 3, 9, 5, tzinfo=UTC)) == 1
    assert index(datetime(2025, 3, 10, 3, tzinfo=UTC)) == 1  # 23:00 EDT on the 9th
    assert index(datetime(2025, 3, 10, 4, tzinfo=UTC)) == 2
    assert index(datetime(2025, 3, 11, 4, tzinfo=UTC)) is None and index(since - timedelta(hours=1)) is None
    with pytest.raises(ValueError):
        buckets(since, until, NY, "week")


def test_half_hour_zones_and_hour_rounding():
    kolkata = zone("Asia/Kolkata")
    since, until = day_bounds(date(2025, 3, 9), date(2025, 3, 9), kolkata)
    assert since == datetime(2025, 3, 8, 18, tzinfo=UTC) and until - since == timedelta(hours=24)
    moment = datetime(2025, 3, 9, 10, 20, tzinfo=UTC)
    assert floor_hour(moment) == datetime(2025, 3, 9, 10, tzinfo=UTC)
    assert ceil_hour(moment) == datetime(2025, 3, 9, 11, tzinfo=UTC) and ceil_hour(floor_hour(moment)) == floor_hour(
        moment
    )
    assert zone("Not/AZone") == zone(None) == zone("UTC")


def test_periods_in_the_org_zone():
    org = SimpleNamespace(timezone="America/New_York")
    now = datetime(2025, 11, 2, 15, 20, tzinfo=UTC)  # 10:20 EST on the fall-back day
    today = period(org, "today", now)
    assert today.since == datetime(2025, 11, 2, 4, tzinfo=UTC) and today.until == datetime(2025, 11, 2, 16, tzinfo=UTC)
    week = period(org, "7d", now)
    assert week.until - week.since == timedelta(days=7) and week.revision_ids is None
    before = previous(week)
    assert before.until == week.since and before.until - before.since == timedelta(days=7)
    revisions = [SimpleNamespace(id=10 + n, number=n, created_at=now - timedelta(days=5 - n)) for n in (1, 2, 3)]
    since_two = period(org, "rev:2", now, revisions)
    assert since_two.revision_ids == (12, 13) and since_two.since == floor_hour(revisions[1].created_at)
    for bad in ("rev:7", "rev:", "year"):
        with pytest.raises(ValueError):
            period(org, bad, now, revisions)


def test_calls_on_the_fall_back_day_sum_into_the_local_day(world):
    """Calls at 00:30 EDT and 01:30 EST (both "1 am"-ish local) and 23:30 EST land on Nov 2 in New York."""
    from tests.calls.flows import acme

    world.org.timezone = "America/New_York"
    db.session.commit()
    world.flow(acme())
    moments = [
        datetime(2025, 11, 2, 4, 30, tzinfo=UTC),  # 00:30 EDT
        datetime(2025, 11, 2, 5, 30, tzinfo=UTC),  # 01:30 EDT
        datetime(2025, 11, 2, 6, 30, tzinfo=UTC),  # 01:30 EST
        datetime(2025, 11, 3, 4, 30, tzinfo=UTC),  # 23:30 EST
        datetime(2025, 11, 3, 5, 30, tzinfo=UTC),  # 00:30 EST on the 3rd
    ]
    for moment in moments:
        world.clock.now = moment
        world.call([HangUp()])
    days = buckets(*day_bounds(date(2025, 11, 2), date(2025, 11, 3), NY), NY, "day")
    index = bucket_index(days)
    per_day = [0, 0]
    hours = buckets(days[0].since, days[0].until, NY, "hour")
    per_hour = [0] * len(hours)
    hour_index = bucket_index(hours)
    for hour, n in db.session.execute(
        select(NodeRollup.hour, NodeRollup.n).where(NodeRollup.node_id == "main", NodeRollup.outcome == "")
    ):
        per_day[index(hour)] += n
        if hour_index(hour) is not None:
            per_hour[hour_index(hour)] += n
    assert per_day == [4, 1]
    assert len(per_hour) == 25 and per_hour[0] == per_hour[1] == per_hour[2] == per_hour[24] == 1 and sum(per_hour) == 4
