"""Rollup rows written directly, as the live writer and `analytics rebuild` would leave them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from extensions import db
from models.analytics import BUCKET_COLUMNS, DURATION_BUCKETS, CallRollup, NodeRollup


def bucket_of(seconds: float) -> str:
    """The histogram column a duration falls in."""
    for i, bound in enumerate(DURATION_BUCKETS):
        if seconds <= bound:
            return BUCKET_COLUMNS[i]
    return BUCKET_COLUMNS[-1]


def _row(model, **key):
    row = db.session.scalar(select(model).filter_by(**key))
    if row is None:
        row = model(**key)
        for column in ("n", "hangups", "dwell_ms", "dwell_n", "calls", "duration_s", *BUCKET_COLUMNS):
            if hasattr(model, column):
                setattr(row, column, 0)
        db.session.add(row)
    return row


def add_calls(
    org,
    hour: datetime,
    n: int = 1,
    *,
    flow=None,
    revision=None,
    number=None,
    reason: str = "hangup",
    node: str = "bye",
    seconds: float = 30,
) -> None:
    """``n`` calls started in ``hour`` that ended by ``reason`` at ``node`` after ``seconds`` (reason '': still on)."""
    key = {
        "org_id": org.id,
        "flow_id": flow.id if flow else 0,
        "revision_id": revision.id if revision else 0,
        "phone_number_id": number.id if number else 0,
        "hour": hour,
    }
    start = _row(CallRollup, **key, end_reason="", end_node="")
    start.calls += n
    if reason:
        end = _row(CallRollup, **key, end_reason=reason, end_node=node)
        end.calls += n
        end.duration_s += int(n * seconds)
        column = bucket_of(seconds)
        setattr(end, column, getattr(end, column) + n)
    db.session.flush()


def add_visits(
    org,
    hour: datetime,
    node: str,
    visits: int,
    *,
    flow=None,
    revision=None,
    hangups: int = 0,
    outcomes: dict[str, int] | None = None,
    dwell_s: float = 4,
) -> None:
    """A node's visits (with hang-ups and time spent) and the outcomes it left by, in ``hour``."""
    key = {
        "org_id": org.id,
        "flow_id": flow.id if flow else 0,
        "revision_id": revision.id if revision else 0,
        "node_id": node,
        "hour": hour,
    }
    row = _row(NodeRollup, **key, outcome="")
    row.n += visits
    row.hangups += hangups
    row.dwell_ms += int(visits * dwell_s * 1000)
    row.dwell_n += visits
    column = bucket_of(dwell_s)
    setattr(row, column, getattr(row, column) + visits)
    for outcome, count in (outcomes or {}).items():
        _row(NodeRollup, **key, outcome=outcome).n += count
    db.session.flush()
