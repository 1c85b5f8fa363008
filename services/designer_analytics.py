"""Call counts per node and outcome for the designer's analytics overlay."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from extensions import db
from models import Flow, Organization, utcnow
from models.calls import CallSession

PERIODS = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days"}


def period_bounds(org: Organization, period: str, now: datetime | None = None) -> tuple[datetime, datetime]:
    """[since, until) of a period; "today" starts at midnight in the organisation's time zone."""
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}.")
    now = now or utcnow()
    if period == "today":
        try:
            tz = zoneinfo.ZoneInfo(org.timezone or "UTC")
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            tz = zoneinfo.ZoneInfo("UTC")
        local = now.astimezone(tz)
        since = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return since.astimezone(now.tzinfo), now
    return now - timedelta(days=7 if period == "7d" else 30), now


def node_counts_for(org: Organization, flow: Flow, period: str, now: datetime | None = None) -> dict[str, Any]:
    """`{"period", "label", "since", "until", "calls", "nodes": {node_id: {visits, outcomes, hangups}}}`."""
    since, until = period_bounds(org, period, now)
    try:
        from services.call_webhooks import node_counts
    except ImportError:  # the call runtime is not installed: an empty overlay, not an error
        node_counts = None
    counts = node_counts(org, flow.id, since, until) if node_counts else {}
    calls = db.session.scalar(
        select(func.count())
        .select_from(CallSession)
        .where(
            CallSession.org_id == org.id,
            CallSession.flow_id == flow.id,
            CallSession.started_at >= since,
            CallSession.started_at < until,
        )
    )
    return {
        "period": period,
        "label": PERIODS[period],
        "since": since.isoformat(),
        "until": until.isoformat(),
        "calls": int(calls or 0),
        "nodes": counts,
    }
