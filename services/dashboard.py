"""What the analytics dashboard shows, read from the rollups only (never the step log).

Calls per bucket come from `CallRollup`'s start rows (``end_reason = ''``), how calls ended and the
time to each end from its end rows, the funnel along the flow's most used path from `NodeRollup`.
Every query is a GROUP BY over a range of hours of one org, so its cost follows the period's
length and the flow's size, not the number of calls.

How a call ended, as the dashboard counts it:

- **answered**: the call reached a flow (every ended call but those the org's fallback took
  because the number had no flow, and those Twilio reports busy, no-answer, failed or canceled);
- **completed**: the flow finished it: a hangup node, the flow ran out of nodes, a voicemail was
  left or a transfer was answered;
- **abandoned**: the caller hung up before the flow reached an end (``caller_hangup``).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select

from extensions import db
from flows.state import END_REASONS
from models import CallSession, Flow, FlowRevision, Organization, PhoneNumber
from models.analytics import BUCKET_COLUMNS, DURATION_BUCKETS, CallRollup, NodeRollup
from services.analytics_periods import ChartPeriod
from services.designer import describe_diff

COMPLETED = frozenset({"hangup", "completed", "voicemail", "answered"})
ABANDONED = frozenset({"caller_hangup"})
NOT_ANSWERED = frozenset({"no_flow", "busy", "no-answer", "no_answer", "failed", "canceled"})
REASON_WORDS = {**END_REASONS, "ended": "the call ended without the flow ending it"}
FUNNEL_MAX_STEPS = 25
CSV_BATCH = 2000


@dataclass
class Scope:
    """What the dashboard looks at: the org, and optionally one flow, one of its revisions, one number."""

    org: Organization
    period: ChartPeriod
    flow: Flow | None = None
    revision: FlowRevision | None = None
    number: PhoneNumber | None = None

    def call_filters(self, model=CallRollup) -> list:
        where = [model.org_id == self.org.id]
        if self.flow is not None:
            where.append(model.flow_id == self.flow.id)
        if self.revision is not None:
            where.append(model.revision_id == self.revision.id)
        if self.number is not None and model is not NodeRollup:
            where.append(model.phone_number_id == self.number.id)
        return where


def percentile(counts: list[int], fraction: float) -> float | None:
    """The ``fraction`` quantile of a `DURATION_BUCKETS` histogram, interpolated within its bucket
    (the last bucket is read as ending at its bound)."""
    total = sum(counts)
    if total <= 0:
        return None
    target, seen = fraction * total, 0
    for i, count in enumerate(counts):
        if count and seen + count >= target:
            low = DURATION_BUCKETS[i - 1] if i else 0
            return low + (target - seen) / count * (DURATION_BUCKETS[i] - low)
        seen += count
    return float(DURATION_BUCKETS[-1])


def _histogram_sums(model) -> list:
    return [func.sum(getattr(model, column)) for column in BUCKET_COLUMNS]


@dataclass
class Series:
    """Calls started per bucket, this period and the one before (aligned by bucket key)."""

    current: list[int]
    previous: list[int | None]
    total: int
    previous_total: int


def calls_series(scope: Scope) -> Series:
    """Calls started per bucket: one GROUP BY hour over both periods."""
    period = scope.period
    query = (
        select(CallRollup.hour, func.sum(CallRollup.calls))
        .where(
            *scope.call_filters(),
            CallRollup.end_reason == "",
            CallRollup.hour >= period.previous_start,
            CallRollup.hour < period.end,
        )
        .group_by(CallRollup.hour)
    )
    current = [0] * len(period.buckets)
    previous_raw = [0] * len(period.previous)
    for hour, calls in db.session.execute(query):
        where = period.locate(hour)
        if where is not None:
            (current if where[0] else previous_raw)[where[1]] += int(calls or 0)
    by_key: dict[object, int] = {}
    for bucket, calls in zip(period.previous, previous_raw, strict=True):
        by_key[bucket.key] = by_key.get(bucket.key, 0) + calls
    previous = [by_key.get(b.key) for b in period.buckets]
    return Series(current, previous, sum(current), sum(previous_raw))


@dataclass
class EndRow:
    """Calls that ended one way at one node in the period, with the time it took to get there."""

    flow_id: int
    node_id: str
    reason: str
    calls: int
    average_s: float | None
    p90_s: float | None


@dataclass
class Outcomes:
    """Answered, completed and abandoned calls (this period and the one before), and each end."""

    ended: int = 0
    answered: int = 0
    completed: int = 0
    abandoned: int = 0
    previous: dict[str, int] = field(default_factory=lambda: {"answered": 0, "completed": 0, "abandoned": 0})
    ends: list[EndRow] = field(default_factory=list)
    hangups: list[tuple[int, str, int]] = field(default_factory=list)  # (flow, node, calls), most first


def _classify(totals: dict[str, int], reason: str, calls: int) -> None:
    totals["ended"] = totals.get("ended", 0) + calls
    if reason not in NOT_ANSWERED:
        totals["answered"] = totals.get("answered", 0) + calls
    if reason in COMPLETED:
        totals["completed"] = totals.get("completed", 0) + calls
    if reason in ABANDONED:
        totals["abandoned"] = totals.get("abandoned", 0) + calls


def outcomes(scope: Scope) -> Outcomes:
    """How calls started in the period ended (per end node and reason, with the time it took) and,
    for comparison, how many of the previous period's: two GROUP BYs over the call rollups' end rows."""
    period = scope.period
    ended = [*scope.call_filters(), CallRollup.end_reason != ""]
    query = (
        select(
            CallRollup.flow_id,
            CallRollup.end_node,
            CallRollup.end_reason,
            func.sum(CallRollup.calls),
            func.sum(CallRollup.duration_s),
            *_histogram_sums(CallRollup),
        )
        .where(*ended, CallRollup.hour >= period.start, CallRollup.hour < period.end)
        .group_by(CallRollup.flow_id, CallRollup.end_node, CallRollup.end_reason)
    )
    previous = (
        select(CallRollup.end_reason, func.sum(CallRollup.calls))
        .where(*ended, CallRollup.hour >= period.previous_start, CallRollup.hour < period.start)
        .group_by(CallRollup.end_reason)
    )
    result = Outcomes()
    now: dict[str, int] = {}
    before: dict[str, int] = {}
    hangups: dict[tuple[int, str], int] = {}
    for reason, calls in db.session.execute(previous):
        _classify(before, reason, int(calls or 0))
    for flow_id, node, reason, calls, duration, *histogram in db.session.execute(query):
        calls = int(calls or 0)
        _classify(now, reason, calls)
        if not calls:
            continue
        counts = [int(c or 0) for c in histogram]
        result.ends.append(EndRow(flow_id, node, reason, calls, int(duration or 0) / calls, percentile(counts, 0.9)))
        if reason in ABANDONED:
            hangups[(flow_id, node)] = hangups.get((flow_id, node), 0) + calls
    result.ended, result.answered = now.get("ended", 0), now.get("answered", 0)
    result.completed, result.abandoned = now.get("completed", 0), now.get("abandoned", 0)
    result.previous = {k: before.get(k, 0) for k in ("answered", "completed", "abandoned")}
    result.ends.sort(key=lambda e: (-e.calls, e.node_id, e.reason))
    result.hangups = sorted(((f, n, c) for (f, n), c in hangups.items()), key=lambda x: (-x[2], x[1]))
    return result


@dataclass
class NodeStats:
    """One node's counters over the period: visits, hang-ups there, time spent, outcomes taken."""

    visits: int = 0
    hangups: int = 0
    dwell_ms: int = 0
    dwell_n: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def average_s(self) -> float | None:
        return self.dwell_ms / self.dwell_n / 1000 if self.dwell_n else None

    def add(self, other: NodeStats) -> None:
        self.visits += other.visits
        self.hangups += other.hangups
        self.dwell_ms += other.dwell_ms
        self.dwell_n += other.dwell_n
        for outcome, n in other.outcomes.items():
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + n


def node_stats(scope: Scope) -> dict[tuple[int, int, str], NodeStats]:
    """Per (flow, revision, node) over the period: one GROUP BY over the node rollups."""
    period = scope.period
    query = (
        select(
            NodeRollup.flow_id,
            NodeRollup.revision_id,
            NodeRollup.node_id,
            NodeRollup.outcome,
            func.sum(NodeRollup.n),
            func.sum(NodeRollup.hangups),
            func.sum(NodeRollup.dwell_ms),
            func.sum(NodeRollup.dwell_n),
        )
        .where(*scope.call_filters(NodeRollup), NodeRollup.hour >= period.start, NodeRollup.hour < period.end)
        .group_by(NodeRollup.flow_id, NodeRollup.revision_id, NodeRollup.node_id, NodeRollup.outcome)
    )
    stats: dict[tuple[int, int, str], NodeStats] = {}
    for flow_id, revision_id, node, outcome, n, hangups, dwell_ms, dwell_n in db.session.execute(query):
        entry = stats.setdefault((flow_id, revision_id, node), NodeStats())
        if outcome:
            entry.outcomes[outcome] = entry.outcomes.get(outcome, 0) + int(n or 0)
            continue
        entry.visits += int(n or 0)
        entry.hangups += int(hangups or 0)
        entry.dwell_ms += int(dwell_ms or 0)
        entry.dwell_n += int(dwell_n or 0)
    return stats


def by_node(stats: dict[tuple[int, int, str], NodeStats]) -> dict[str, NodeStats]:
    """Node stats of one flow summed over its revisions."""
    merged: dict[str, NodeStats] = {}
    for (_, _, node), entry in stats.items():
        merged.setdefault(node, NodeStats()).add(entry)
    return merged


@dataclass
class FunnelStep:
    node_id: str
    name: str
    visits: int
    outcome: str | None  # the outcome followed to the next step


def funnel(definition: dict, stats: dict[str, NodeStats]) -> list[FunnelStep]:
    """The most used path: from the start node, along each node's most taken outcome whose target is
    a node not yet on the path, until no outcome was taken."""
    nodes = {n.get("id"): n for n in definition.get("nodes") or [] if isinstance(n, dict)}
    steps: list[FunnelStep] = []
    current = definition.get("start")
    seen: set[str] = set()
    while isinstance(current, str) and current in nodes and current not in seen and len(steps) < FUNNEL_MAX_STEPS:
        seen.add(current)
        node = nodes[current]
        entry = stats.get(current, NodeStats())
        wires = {k: v for k, v in (node.get("outcomes") or {}).items() if isinstance(v, str) and v in nodes}
        taken = sorted(
            ((n, k) for k, n in entry.outcomes.items() if k in wires and wires[k] not in seen and n > 0),
            key=lambda x: (-x[0], x[1]),
        )
        outcome = taken[0][1] if taken else None
        steps.append(FunnelStep(current, node.get("name") or current, entry.visits, outcome))
        current = wires.get(outcome) if outcome else None
    return steps


def publishes(scope: Scope) -> list[FlowRevision]:
    """Revisions published in the period (of the scope's flow, or of every flow of the org)."""
    period = scope.period
    query = select(FlowRevision).where(
        FlowRevision.org_id == scope.org.id,
        FlowRevision.created_at >= period.start,
        FlowRevision.created_at < period.end,
    )
    if scope.flow is not None:
        query = query.where(FlowRevision.flow_id == scope.flow.id)
    return list(db.session.scalars(query.order_by(FlowRevision.created_at, FlowRevision.id)))


def _fields(node: dict) -> dict[str, Any]:
    flat = {"name": node.get("name"), "type": node.get("type")}
    flat |= {f"props.{k}": v for k, v in (node.get("props") or {}).items()}
    flat |= {f"outcome {k}": v for k, v in (node.get("outcomes") or {}).items()}
    return flat


def _short(value: Any) -> str:
    """A field's value as the designer's JSON shows it, cut at 120 characters ("—" when absent)."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False) if value is not None else "—"
    return text if len(text) <= 120 else text[:119] + "…"


def revision_diff(org: Organization, flow: Flow, number: int) -> dict[str, Any] | None:
    """What a revision changed against the one before: the designer's summary, and for each
    changed node the fields (name, type, properties, outcomes) before and after."""
    revision = db.session.scalar(
        select(FlowRevision).where(
            FlowRevision.org_id == org.id, FlowRevision.flow_id == flow.id, FlowRevision.number == number
        )
    )
    if revision is None:
        return None
    before = db.session.scalar(
        select(FlowRevision)
        .where(FlowRevision.org_id == org.id, FlowRevision.flow_id == flow.id, FlowRevision.number < number)
        .order_by(FlowRevision.number.desc())
        .limit(1)
    )
    old = before.definition if before is not None else None
    diff = describe_diff(old, revision.definition)
    old_nodes = {n.get("id"): n for n in (old or {}).get("nodes", [])}
    new_nodes = {n.get("id"): n for n in revision.definition.get("nodes", [])}
    for entry in diff["changed"]:
        a, b = _fields(old_nodes.get(entry["id"], {})), _fields(new_nodes.get(entry["id"], {}))
        entry["fields"] = [
            {"field": key, "before": _short(a.get(key)), "after": _short(b.get(key))}
            for key in sorted(set(a) | set(b))
            if a.get(key) != b.get(key)
        ]
    return {"revision": revision, "previous": before, "diff": diff}


# --- CSV export -------------------------------------------------------------------------------

CALL_COLUMNS = ("call_id", "started_at", "duration_s", "status", "end_reason", "end_node", "number", "flow", "revision")
NODE_COLUMNS = ("flow", "revision", "node_id", "node", "outcome", "count", "hangups", "average_time_s")


def _cell(value: Any) -> Any:
    """Text that a spreadsheet would run as a formula starts with an apostrophe."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _csv_line(row: tuple | list) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(row)
    return out.getvalue()


def calls_csv(scope: Scope) -> Iterator[str]:
    """The calls started in the period, oldest first, as CSV lines: read in keyset pages of
    `CSV_BATCH` rows (plain columns, no ORM objects), so memory stays flat whatever their number."""
    period = scope.period
    numbers = dict(
        db.session.execute(
            select(PhoneNumber.id, PhoneNumber.phone_number).where(PhoneNumber.org_id == scope.org.id)
        ).all()
    )
    flows = dict(db.session.execute(select(Flow.id, Flow.name).where(Flow.org_id == scope.org.id)).all())
    revision_query = select(FlowRevision.id, FlowRevision.number).where(FlowRevision.org_id == scope.org.id)
    if scope.flow is not None:
        revision_query = revision_query.where(FlowRevision.flow_id == scope.flow.id)
    revisions = dict(db.session.execute(revision_query).all())
    columns = (
        CallSession.started_at,
        CallSession.id,
        CallSession.duration,
        CallSession.status,
        CallSession.end_reason,
        CallSession.current_node,
        CallSession.phone_number_id,
        CallSession.flow_id,
        CallSession.revision_id,
        CallSession.builtin_flow,
    )
    where = [
        CallSession.org_id == scope.org.id,
        CallSession.simulated.is_(False),  # as in the rollups the dashboard shows
        CallSession.started_at >= period.start,
        CallSession.started_at < period.end,
    ]
    if scope.flow is not None:
        where.append(CallSession.flow_id == scope.flow.id)
    if scope.revision is not None:
        where.append(CallSession.revision_id == scope.revision.id)
    if scope.number is not None:
        where.append(CallSession.phone_number_id == scope.number.id)
    yield _csv_line(CALL_COLUMNS)
    last: tuple[datetime, str] | None = None
    while True:
        query = select(*columns).where(*where)
        if last is not None:
            query = query.where(
                or_(CallSession.started_at > last[0], and_(CallSession.started_at == last[0], CallSession.id > last[1]))
            )
        rows = db.session.execute(query.order_by(CallSession.started_at, CallSession.id).limit(CSV_BATCH)).all()
        if not rows:
            return
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        for started, call_id, duration, status, reason, node, number, flow, revision, builtin in rows:
            writer.writerow(
                (
                    call_id,
                    started.isoformat(),
                    "" if duration is None else duration,
                    status,
                    reason or "",
                    _cell(node or ""),
                    numbers.get(number, ""),
                    _cell(flows.get(flow, "") if flow is not None else f"(built-in) {builtin or ''}".strip()),
                    revisions.get(revision, "draft" if flow is not None and revision is None else ""),
                )
            )
        yield out.getvalue()
        last = (rows[-1][0], rows[-1][1])


def nodes_csv(scope: Scope, names: dict[tuple[int, str], str]) -> Iterator[str]:
    """The per-node table of the period as CSV lines: a row of visits per node (outcome empty),
    then a row per outcome taken; ``names`` maps (flow id, node id) to the node's name."""
    stats = node_stats(scope)
    flows = dict(db.session.execute(select(Flow.id, Flow.name).where(Flow.org_id == scope.org.id)).all())
    revisions = dict(
        db.session.execute(
            select(FlowRevision.id, FlowRevision.number).where(FlowRevision.org_id == scope.org.id)
        ).all()
    )
    yield _csv_line(NODE_COLUMNS)
    for (flow_id, revision_id, node), entry in sorted(stats.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2])):
        flow = _cell(flows.get(flow_id, "(built-in)" if not flow_id else ""))
        revision = revisions.get(revision_id, "draft" if not revision_id else "")
        name = _cell(names.get((flow_id, node), node))
        average = "" if entry.average_s is None else f"{entry.average_s:.1f}"
        lines = [(flow, revision, _cell(node), name, "", entry.visits, entry.hangups, average)]
        lines += [(flow, revision, _cell(node), name, _cell(k), n, "", "") for k, n in sorted(entry.outcomes.items())]
        yield "".join(_csv_line(line) for line in lines)
