"""An org in New York with a published flow, a number, a fixed clock and rollups for a week of calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from extensions import db
from models import Flow, FlowRevision, Organization, PhoneNumber
from services.flow_revisions import create_flow, publish, save_draft
from tests.calls.flows import acme
from tests.dashboard.rollups import add_calls, add_visits

NOW = datetime(2026, 12, 7, 15, 30, tzinfo=UTC)  # Monday 10:30 in New York


@dataclass
class Dash:
    org: Organization
    flow: Flow
    r1: FlowRevision
    r2: FlowRevision
    number: PhoneNumber
    other_number: PhoneNumber


def seed_dashboard(org: Organization, now: datetime = NOW) -> Dash:
    """Flow "Main line" (acme) published twice (r2 today, renaming the menu), two numbers, and rollups:
    today 10 calls by the first number (6 through sales, 3 abandoned at the menu, 1 voicemail), yesterday 4."""
    org.timezone = "America/New_York"
    flow = create_flow(org, None, "Main line", acme())
    r1 = publish(org, None, flow, "First version")
    r1.created_at = now - timedelta(days=3)
    draft = dict(flow.draft)
    draft["nodes"] = [dict(n, name="Welcome menu") if n["id"] == "main" else n for n in draft["nodes"]]
    save_draft(org, None, flow, draft, flow.draft_version)
    r2 = publish(org, None, flow, "Rename the menu")
    r2.created_at = now - timedelta(hours=2)
    number = PhoneNumber(
        org_id=org.id, phone_number="+15550001000", friendly_name="Main", capabilities={}, flow_id=flow.id
    )
    other = PhoneNumber(org_id=org.id, phone_number="+15550003000", friendly_name="Spare", capabilities={})
    db.session.add_all([number, other])
    db.session.flush()
    hour = now.replace(minute=0, second=0, microsecond=0)
    add_calls(
        org,
        hour - timedelta(hours=1),
        6,
        flow=flow,
        revision=r2,
        number=number,
        reason="answered",
        node="sales",
        seconds=70,
    )
    add_calls(
        org,
        hour - timedelta(hours=1),
        3,
        flow=flow,
        revision=r2,
        number=number,
        reason="caller_hangup",
        node="main",
        seconds=8,
    )
    add_calls(org, hour, 1, flow=flow, revision=r2, number=number, reason="voicemail", node="closed_vm", seconds=100)
    add_calls(
        org, hour - timedelta(days=1), 4, flow=flow, revision=r1, number=number, reason="hangup", node="bye", seconds=20
    )
    at = hour - timedelta(hours=1)
    add_visits(org, at, "main", 10, flow=flow, revision=r2, hangups=3, outcomes={"1": 7, "2": 0})
    add_visits(org, at, "hours", 7, flow=flow, revision=r2, outcomes={"open": 6, "closed": 1})
    add_visits(org, at, "sales", 6, flow=flow, revision=r2, outcomes={"answered": 6})
    add_visits(org, at, "closed_vm", 1, flow=flow, revision=r2)
    db.session.commit()
    return Dash(org, flow, r1, r2, number, other)


@pytest.fixture
def dash(app, make):
    """The seeded org `acme` and a signed-in viewer."""
    app.config["PHONETREE_CLOCK"] = lambda: NOW
    org = make.org("acme", "Acme Corp")
    seeded = seed_dashboard(org)
    make.user("viewer@acme.example", "viewer", org)
    make.login("viewer@acme.example")
    return seeded
