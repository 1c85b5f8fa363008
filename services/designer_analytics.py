"""Call counts per node and outcome for the designer's analytics overlay (read from the rollups)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from extensions import db
from models import Flow, FlowRevision, Organization
from models.analytics import CallRollup
from services.analytics_periods import DAY_PERIODS, REVISION_PREFIX, period
from services.call_log import node_counts

PERIODS = DAY_PERIODS  # plus "rev:N": since revision N (services.analytics_periods)
RECENT_REVISIONS = 5  # "since revision N" choices the designer offers


def flow_revisions(flow: Flow) -> list[FlowRevision]:
    """The flow's revisions, newest first (id, number, message, created_at)."""
    return list(
        db.session.scalars(
            select(FlowRevision)
            .where(FlowRevision.org_id == flow.org_id, FlowRevision.flow_id == flow.id)
            .order_by(FlowRevision.number.desc())
        )
    )


def period_choices(flow: Flow) -> list[tuple[str, str]]:
    """The overlay's period choices: (value, label), the day ranges then "Since revision N" for recent ones."""
    choices = [("today", "Today"), ("7d", "7 days"), ("30d", "30 days")]
    revisions = db.session.execute(
        select(FlowRevision.number)
        .where(FlowRevision.org_id == flow.org_id, FlowRevision.flow_id == flow.id)
        .order_by(FlowRevision.number.desc())
        .limit(RECENT_REVISIONS)
    ).scalars()
    return choices + [(f"{REVISION_PREFIX}{n}", f"Since revision {n}") for n in revisions]


def call_count(
    org: Organization, flow_id: int, since: datetime, until: datetime, revision_ids: tuple[int, ...] | None = None
) -> int:
    """Calls of the flow started in ``[since, until)`` (UTC hours), from the call rollups."""
    cr = CallRollup
    query = select(func.sum(cr.calls)).where(
        cr.org_id == org.id, cr.flow_id == flow_id, cr.end_reason == "", cr.hour >= since, cr.hour < until
    )
    if revision_ids is not None:
        query = query.where(cr.revision_id.in_(revision_ids))
    return int(db.session.scalar(query) or 0)


def node_counts_for(org: Organization, flow: Flow, key: str, now: datetime | None = None) -> dict[str, Any]:
    """`{"period", "label", "since", "until", "calls", "nodes": {node_id: {visits, outcomes, hangups}}}`.

    `key`: today | 7d | 30d | rev:N (`services.analytics_periods.period`); ValueError otherwise.
    """
    revisions = flow_revisions(flow) if key.startswith(REVISION_PREFIX) else ()
    chosen = period(org, key, now, revisions)
    counts = node_counts(org, flow.id, chosen.since, chosen.until, chosen.revision_ids)
    return {
        "period": key,
        "label": chosen.label,
        "since": chosen.since.isoformat(),
        "until": chosen.until.isoformat(),
        "calls": call_count(org, flow.id, chosen.since, chosen.until, chosen.revision_ids),
        "nodes": counts,
    }
