"""Calls pages: the call log with filters, one call's timeline, and per-node counts of a flow."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from flask import Blueprint, abort, g, render_template, request

from extensions import db
from flows.builtin import builtin_flow
from flows.state import end_reason_words
from models import Flow
from models.base import parse_id
from services.call_log import (
    STATUSES,
    CallFilters,
    call_detail,
    describe_input,
    filter_choices,
    list_calls,
    node_counts,
    zone_or_utc,
)
from web.context import page_auth

bp = Blueprint("calls", __name__, url_prefix="/calls")
bp.add_app_template_filter(end_reason_words, "end_reason")


@bp.app_template_filter("in_zone")
def in_zone(moment: datetime | None, zone: str | None) -> str:
    """A stored (UTC) time as the org reads it: in its time zone, with the zone's abbreviation."""
    if moment is None:
        return ""
    return moment.astimezone(zone_or_utc(zone)).strftime("%Y-%m-%d %H:%M:%S %Z")


@bp.get("/")
@page_auth("viewer")
def index():
    """The org's calls, newest first, filtered by number, flow, status and date."""
    filters = CallFilters.from_args(request.args)
    page = list_calls(g.org, filters)
    numbers, flows = filter_choices(g.org)
    template = "calls/_list.html" if request.headers.get("HX-Target") == "call-list" else "calls/index.html"
    return render_template(template, page=page, filters=filters, numbers=numbers, flows=flows, statuses=STATUSES)


@bp.get("/<call_id>")
@page_auth("viewer")
def show(call_id: str):
    """One call's timeline: what the caller heard and did at each step, recordings and payments."""
    detail = call_detail(g.org, call_id[:32])
    if detail is None:
        abort(404)
    names, types = _node_labels(detail.call)
    builtin = builtin_flow(detail.call.builtin_flow or "")
    return render_template(
        "calls/show.html",
        detail=detail,
        call=detail.call,
        names=names,
        types=types,
        describe_input=describe_input,
        builtin=builtin,
    )


def _node_labels(call) -> tuple[dict[str, str], dict[str, str]]:
    """Node names as drawn in the definition the call ran, and node type labels, for the timeline."""
    from flows import node_type_catalog
    from services.flow_revisions import published_definition

    builtin = builtin_flow(call.builtin_flow or "")
    definition = builtin.definition() if builtin is not None else call.draft_definition
    if definition is None and call.revision_id is not None:
        definition = published_definition(call.revision_id)
    if definition is None and call.flow is not None:
        definition = call.flow.draft
    names = {n.get("id"): n.get("name") or n.get("id") for n in (definition or {}).get("nodes", [])}
    label = "messaging_label" if call.channel == "messaging" else "label"  # a conversation's End, not Hang up
    types = {t["type"]: t[label] for t in node_type_catalog()["types"]}
    return names, types


def _day(name: str) -> date | None:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return None


@bp.get("/stats")
@page_auth("viewer")
def stats():
    """Per-node visits, outcomes and hang-ups of a flow over a date range (default: the last 30 days)."""
    _, flows = filter_choices(g.org)
    flow_id = parse_id(request.args.get("flow", ""))
    flow = Flow.get_for_org(g.org.id, flow_id) if flow_id is not None else None
    until_day = _day("until") or datetime.now(UTC).date()
    since_day = _day("since") or until_day - timedelta(days=30)
    counts, names = {}, {}
    if flow is not None:
        since = datetime.combine(since_day, time.min, tzinfo=UTC)
        until = datetime.combine(until_day + timedelta(days=1), time.min, tzinfo=UTC)
        counts = node_counts(g.org, flow.id, since, until)
        names = {n.get("id"): n.get("name") or n.get("id") for n in (flow.draft or {}).get("nodes", [])}
        db.session.rollback()
    return render_template(
        "calls/stats.html", flows=flows, flow=flow, counts=counts, names=names, since=since_day, until=until_day
    )
