"""The analytics dashboards (the org's and each flow's), the publish diffs on their time axis, and
the CSV exports. Server-rendered SVG charts; htmx swaps the body when a filter changes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, g, render_template, request, stream_with_context
from sqlalchemy import select

from extensions import db
from models import Flow, FlowRevision, PhoneNumber
from models.base import parse_id
from services import dashboard as data
from services.analytics_periods import PERIODS, ChartPeriod, PeriodError, resolve
from services.call_log import zone_or_utc
from services.clock import now
from web.context import page_auth
from web.downloads import content_disposition, slug

bp = Blueprint("dashboard", __name__)

# The calls chart's drawing box (SVG user units; the CSS scales it to the page's width).
WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 52, 16, 40, 44
MAX_X_LABELS = 12


class BadFilter(Exception):
    """A query parameter the dashboard cannot use; the message says which and why (a 400)."""


def _id_param(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    value = parse_id(raw)
    if value is None:
        raise BadFilter(f"“{raw[:40]}” is not a valid {name}: expected an id from the menu.")
    return value


def _scope(flow: Flow | None) -> data.Scope:
    """The filters of the request: period, flow (unless in the path), revision number and number."""
    zone = zone_or_utc(g.org.timezone)
    try:
        period = resolve(
            request.args.get("period") or None,
            zone,
            now(),
            request.args.get("since", ""),
            request.args.get("until", ""),
        )
    except PeriodError as err:
        raise BadFilter(str(err)) from None
    if flow is None and (flow_id := _id_param("flow")) is not None:
        flow = db.session.scalar(select(Flow).where(Flow.id == flow_id, Flow.org_id == g.org.id))
        if flow is None:
            raise BadFilter(f"This organisation has no flow {flow_id}.")
    revision = None
    if (number := _id_param("revision")) is not None:
        if flow is None:
            raise BadFilter("A revision filter needs a flow: choose the flow first.")
        revision = db.session.scalar(
            select(FlowRevision).where(
                FlowRevision.org_id == g.org.id, FlowRevision.flow_id == flow.id, FlowRevision.number == number
            )
        )
        if revision is None:
            raise BadFilter(f"{flow.name} has no revision {number}.")
    phone = None
    if (number_id := _id_param("number")) is not None:
        phone = db.session.scalar(
            select(PhoneNumber).where(PhoneNumber.id == number_id, PhoneNumber.org_id == g.org.id)
        )
        if phone is None:
            raise BadFilter(f"This organisation has no phone number {number_id}.")
    return data.Scope(g.org, period, flow, revision, phone)


def _filter_args(scope: data.Scope, with_flow: bool = True) -> dict[str, Any]:
    args: dict[str, Any] = {"period": scope.period.name}
    if scope.period.name == "custom":
        args |= {"since": request.args.get("since"), "until": request.args.get("until")}
    if with_flow and scope.flow is not None:
        args["flow"] = scope.flow.id
    if scope.revision is not None:
        args["revision"] = scope.revision.number
    if scope.number is not None:
        args["number"] = scope.number.id
    return args


def _nice_ceiling(value: int) -> int:
    """The smallest 1, 2 or 5 times a power of ten that is at least ``value`` (5 at least: a fifth is whole)."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= max(value, 5):
                return m * step
        step *= 10


def _calls_chart(period: ChartPeriod, series: data.Series, marks: list[FlowRevision]) -> dict[str, Any]:
    """Bars of calls per bucket (this period solid, the previous hatched beside it), y grid lines,
    x labels and the publish markers, in SVG coordinates."""
    n = len(period.buckets)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / n
    top = _nice_ceiling(max([*series.current, *(p or 0 for p in series.previous), 0]))
    scale = plot_h / top
    bar_w = max(slot * 0.38, 1.0)
    every = -(-n // MAX_X_LABELS)
    now = period.now
    bars = []
    for i, (bucket, calls, before) in enumerate(zip(period.buckets, series.current, series.previous, strict=True)):
        x = LEFT + i * slot
        future = bucket.since > now
        bars.append(
            {
                "label": bucket.label,
                "x_prev": round(x + slot * 0.1, 2),
                "x_cur": round(x + slot * 0.1 + bar_w, 2),
                "w": round(bar_w, 2),
                "h_cur": round(calls * scale, 2),
                "y_cur": round(TOP + plot_h - calls * scale, 2),
                "h_prev": round((before or 0) * scale, 2),
                "y_prev": round(TOP + plot_h - (before or 0) * scale, 2),
                "calls": None if future else calls,
                "previous": before,
                "tick": i % every == 0,
                "x_mid": round(x + slot / 2, 2),
                "show_value": n <= 31 and not future and calls > 0,
            }
        )
    grid = [{"y": round(TOP + plot_h - v * scale, 2), "value": v} for v in range(0, top + 1, top // 5)]
    markers = []
    for i, revision in enumerate(marks):
        where = period.locate(revision.created_at)
        if where is None or not where[0]:
            continue
        bucket = period.buckets[where[1]]
        span = (bucket.until - bucket.since).total_seconds()
        fraction = (revision.created_at - bucket.since).total_seconds() / span
        markers.append(
            {
                "revision": revision,
                "x": round(LEFT + (where[1] + fraction) * slot, 2),
                "row": i % 2,
                "when": period.local(revision.created_at).strftime("%a %d %b %H:%M"),
            }
        )
    return {
        "width": WIDTH,
        "height": HEIGHT,
        "left": LEFT,
        "top": TOP,
        "bottom": TOP + plot_h,
        "right": WIDTH - RIGHT,
        "bars": bars,
        "grid": grid,
        "markers": markers,
    }


def _funnel_chart(steps: list[data.FunnelStep]) -> dict[str, Any]:
    """Horizontal bars of visits along the most used path, each with its share of the first step."""
    first = steps[0].visits if steps and steps[0].visits else 0
    widest = max([s.visits for s in steps] + [1])
    rows, row_h, label_w, bar_max = [], 40, 260, 520
    for i, step in enumerate(steps):
        previous = steps[i - 1].visits if i else None
        rows.append(
            {
                "step": step,
                "y": i * row_h + 8,
                "w": round(step.visits / widest * bar_max, 2),
                "share": round(step.visits * 100 / first) if first else None,
                "lost": None if previous is None else max(previous - step.visits, 0),
            }
        )
    return {"rows": rows, "width": label_w + bar_max + 180, "height": len(steps) * row_h + 12, "x": label_w}


def _names(flow_ids: set[int]) -> dict[tuple[int, str], str]:
    """(flow id, node id) → the node's name in the flow's draft (names rarely change between revisions),
    for the org's flows among ``flow_ids``."""
    flows = db.session.scalars(select(Flow).where(Flow.org_id == g.org.id, Flow.id.in_(flow_ids or {0})))
    return {
        (f.id, n.get("id")): n.get("name") or n.get("id")
        for f in flows
        for n in (f.draft or {}).get("nodes", [])
        if isinstance(n, dict)
    }


def _flow_menu() -> list:
    """The org's flows (id, name) by name: the filter's menu and names of flows in the tables."""
    return db.session.execute(select(Flow.id, Flow.name).where(Flow.org_id == g.org.id).order_by(Flow.name)).all()


def _definition(scope: data.Scope) -> dict:
    flow = scope.flow
    if scope.revision is not None:
        return scope.revision.definition
    if flow.published_revision is not None:
        return flow.published_revision.definition
    return flow.draft or {}


def _context(scope: data.Scope, flow_page: bool, flows: list) -> dict[str, Any]:
    series = data.calls_series(scope)
    ends = data.outcomes(scope)
    marks = data.publishes(scope)
    shown = {e.flow_id for e in ends.ends} | ({scope.flow.id} if scope.flow is not None else set())
    context: dict[str, Any] = {
        "scope": scope,
        "period": scope.period,
        "series": series,
        "outcomes": ends,
        "chart": _calls_chart(scope.period, series, marks),
        "names": _names(shown),
        "flow_names": {f.id: f.name for f in flows},
        "reasons": data.REASON_WORDS,
        "flow_page": flow_page,
        "export_args": _filter_args(scope),
        "percent": lambda part, whole: f"{part * 100 / whole:.0f}%" if whole else "—",
    }
    if scope.flow is not None:
        stats = data.by_node({k: v for k, v in data.node_stats(scope).items() if k[0] == scope.flow.id})
        steps = data.funnel(_definition(scope), stats)
        context |= {"node_stats": stats, "funnel": _funnel_chart(steps)}
    return context


def _texts_only(flow: Flow | None) -> bool:
    """Whether the flow serves text conversations only (its page then counts conversations, not calls)."""
    return flow is not None and flow.channels == ("messaging",)


def _render(scope_flow: Flow | None, flow_page: bool):
    numbers = list(db.session.scalars(PhoneNumber.for_org(g.org.id).order_by(PhoneNumber.phone_number)))
    flows = _flow_menu()
    template = (
        "dashboard/_dashboard.html" if request.headers.get("HX-Target") == "dashboard" else "dashboard/index.html"
    )
    try:
        scope = _scope(scope_flow)
    except BadFilter as err:
        return render_template(
            template,
            error=str(err),
            flow_page=flow_page,
            page_flow=scope_flow,
            numbers=numbers,
            flows=flows,
            periods=PERIODS,
            args=request.args,
            texts=_texts_only(scope_flow),
        ), 400
    context = _context(scope, flow_page, flows)
    revisions = []
    if scope.flow is not None:
        revisions = list(
            db.session.scalars(
                select(FlowRevision.number)
                .where(FlowRevision.org_id == g.org.id, FlowRevision.flow_id == scope.flow.id)
                .order_by(FlowRevision.number)
            )
        )
    return render_template(
        template,
        numbers=numbers,
        flows=flows,
        periods=PERIODS,
        page_flow=scope_flow,
        revisions=revisions,
        args=request.args,
        texts=_texts_only(scope_flow),
        **context,
    )


@bp.get("/dashboard")
@page_auth("viewer")
def org_dashboard():
    """The org's calls: per hour or day against the previous period, how they ended, where callers hung up."""
    return _render(None, False)


@bp.get("/flows/<int:flow_id>/dashboard")
@page_auth("viewer")
def flow_dashboard(flow_id: int):
    """One flow's dashboard: the org's view of its calls, plus the funnel along its most used path."""
    flow = db.session.scalar(select(Flow).where(Flow.id == flow_id, Flow.org_id == g.org.id))
    if flow is None:
        abort(404)
    return _render(flow, True)


@bp.get("/flows/<int:flow_id>/dashboard/revisions/<int:number>")
@page_auth("viewer")
def revision_diff(flow_id: int, number: int):
    """What a published revision changed (the panel a publish marker opens; a page without htmx)."""
    flow = db.session.scalar(select(Flow).where(Flow.id == flow_id, Flow.org_id == g.org.id))
    found = data.revision_diff(g.org, flow, number) if flow is not None else None
    if found is None:
        abort(404)
    partial = bool(request.headers.get("HX-Request"))
    zone = zone_or_utc(g.org.timezone)
    return render_template("dashboard/_diff.html" if partial else "dashboard/diff.html", flow=flow, zone=zone, **found)


def _csv(scope: data.Scope, kind: str, lines) -> Response:
    """A streamed CSV download named after the flow (or org), the export, the period and the local day."""
    title = scope.flow.name if scope.flow is not None else g.org.name
    suffix = f"{kind}-{scope.period.name}-{scope.period.local(scope.period.now):%Y%m%d}.csv"
    filename = f"{slug(title) or 'phonetree'}-{suffix}"
    fallback = f"{slug(title, ascii_only=True) or 'phonetree'}-{suffix}"
    disposition = content_disposition(filename, fallback)
    return Response(stream_with_context(lines), mimetype="text/csv", headers={"Content-Disposition": disposition})


def _export_scope() -> data.Scope:
    try:
        return _scope(None)
    except BadFilter as err:
        abort(400, str(err))


@bp.get("/dashboard/calls.csv")
@page_auth("viewer")
def calls_csv():
    """Every call started in the period (with the filters), streamed: start, duration, end, number, flow, revision."""
    scope = _export_scope()
    return _csv(scope, "calls", data.calls_csv(scope))


@bp.get("/dashboard/nodes.csv")
@page_auth("viewer")
def nodes_csv():
    """The per-node table of the period (visits, hang-ups, time there, outcomes taken), streamed."""
    scope = _export_scope()
    flow_ids = {scope.flow.id} if scope.flow is not None else {f.id for f in _flow_menu()}
    return _csv(scope, "nodes", data.nodes_csv(scope, _names(flow_ids)))
