"""Analytics rollups: written with each turn, equal to a recount from the steps, rebuilt the same."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from extensions import db
from models import CallSession, CallStep
from models.analytics import CallRollup, NodeRollup
from services.analytics_rollup import NODE_COUNTERS, rebuild
from services.call_log import node_counts
from services.designer_analytics import call_count, node_counts_for, period_choices
from services.flow_revisions import publish
from sim import DialResult, HangUp, PayResult, Press, QueueResult, RecordAudio, Silence
from sim.transport import FlaskClientTransport
from tests.calls.flows import acme


class DuplicatingTransport(FlaskClientTransport):
    """Delivers every webhook twice (Twilio retrying, or a duplicate delivery) and moves the
    clock `step` seconds before each first delivery, so the calls have dwell times."""

    def __init__(self, client, clock, step: int = 7) -> None:
        super().__init__(client)
        self.clock, self.step = clock, step

    def post(self, url, params, headers):
        self.clock.now += timedelta(seconds=self.step)
        answer = super().post(url, params, headers)
        again = super().post(url, params, headers)
        assert again.status == answer.status
        return answer


def _rows(model) -> list[tuple]:
    columns = [c for c in model.__table__.columns if c.name != "id"]
    return sorted(tuple(r) for r in db.session.execute(select(*columns)))


def _mixed_run(world, client) -> object:
    flow = world.flow(acme())
    scripts = [
        [Press("1"), DialResult("completed", 30)],
        [Press("7"), Silence(), Press("1"), DialResult("busy"), RecordAudio(5)],
        [HangUp()],
        [Press("3"), QueueResult("hangup")],
        [Press("2"), Press("654321#"), PayResult("success")],
        [Press("9"), Press("9"), Press("9")],
        [Press("1"), HangUp()],
    ]
    for i, script in enumerate(scripts):
        world.clock.now = datetime(2025, 3, 4, 15 + i % 3, 5 * i, tzinfo=UTC)
        transport = DuplicatingTransport(client, world.clock, step=3 + i)
        sim = world.caller(transport=transport, from_=f"+1555000{i:04d}")
        sim.run("http://localhost/connect/webhook/twilio/ivr-menu?orgid=acme", script)
    db.session.expire_all()
    return flow


def _recount(org_id: int, flow_id: int) -> dict[str, dict]:
    """node_counts' shape, counted straight from the steps (the way it was before the rollups)."""
    query = (
        select(CallStep.node_id, CallStep.event, CallStep.outcome, func.count())
        .join(CallSession, CallSession.id == CallStep.session_id)
        .where(CallSession.org_id == org_id, CallSession.flow_id == flow_id, CallStep.node_id != "")
        .group_by(CallStep.node_id, CallStep.event, CallStep.outcome)
    )
    counts: dict[str, dict] = {}
    for node_id, event, outcome, n in db.session.execute(query):
        entry = counts.setdefault(node_id, {"visits": 0, "outcomes": {}, "hangups": 0})
        entry["visits"] += n if event == "enter" else 0
        entry["hangups"] += n if event == "hangup" else 0
        if outcome is not None:
            entry["outcomes"][outcome] = entry["outcomes"].get(outcome, 0) + n
    return counts


def test_rollups_equal_a_recount_after_retried_and_duplicated_webhooks(world, client):
    flow = _mixed_run(world, client)
    sessions = list(db.session.scalars(select(CallSession)))
    assert len(sessions) == 7 and all(s.ended_at is not None for s in sessions)
    assert node_counts(world.org, flow.id) == _recount(world.org.id, flow.id)
    assert node_counts(world.org, flow.id)["main"]["hangups"] == 1
    since, until = datetime(2025, 3, 4, tzinfo=UTC), datetime(2025, 3, 5, tzinfo=UTC)
    assert call_count(world.org, flow.id, since, until) == 7
    ends = dict(
        db.session.execute(
            select(CallRollup.end_reason, func.sum(CallRollup.calls))
            .where(CallRollup.end_reason != "")
            .group_by(CallRollup.end_reason)
        ).all()
    )
    by_reason = dict(
        db.session.execute(select(CallSession.end_reason, func.count()).group_by(CallSession.end_reason)).all()
    )
    assert ends == by_reason and sum(ends.values()) == 7
    # Every visit that ended has its dwell; each histogram sums to its count.
    for row in db.session.scalars(select(NodeRollup).where(NodeRollup.outcome == "")):
        assert sum(getattr(row, f"b{i}") for i in range(12)) == row.dwell_n
    for row in db.session.scalars(select(CallRollup).where(CallRollup.end_reason != "")):
        assert sum(getattr(row, f"b{i}") for i in range(12)) == row.calls


def test_dwell_and_hangup_of_a_caller_who_hangs_up_at_the_menu(world, client):
    flow = world.flow(acme())
    world.clock.now = datetime(2025, 3, 4, 15, 0, 0, tzinfo=UTC)
    sim = world.caller(transport=DuplicatingTransport(client, world.clock, step=7))
    sim.run("http://localhost/connect/webhook/twilio/ivr-menu?orgid=acme", [HangUp()])
    main = db.session.scalar(select(NodeRollup).where(NodeRollup.node_id == "main", NodeRollup.outcome == ""))
    assert (main.n, main.hangups, main.dwell_n, main.dwell_ms, main.b1) == (1, 1, 1, 7000, 1)
    assert main.hour == datetime(2025, 3, 4, 15, tzinfo=UTC) and main.revision_id == flow.published_revision_id
    end = db.session.scalar(select(CallRollup).where(CallRollup.end_reason != ""))
    assert (end.end_reason, end.end_node, end.calls, end.duration_s) == ("caller_hangup", "main", 1, 7)


def test_rebuild_is_idempotent_and_equals_the_live_rollups(world, client, runner):
    _mixed_run(world, client)
    live_nodes, live_calls = _rows(NodeRollup), _rows(CallRollup)
    assert live_nodes and live_calls
    result = runner.invoke(args=["analytics", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "Recounted 7 calls" in result.output
    db.session.expire_all()
    assert _rows(NodeRollup) == live_nodes and _rows(CallRollup) == live_calls
    # Twice, in small batches, from a date, for one org: the same rows.
    rebuild(batch=2, flush_keys=3)
    rebuild(since=datetime(2025, 3, 4, 14, 30, tzinfo=UTC), org_id=world.org.id, batch=1)
    again = runner.invoke(args=["analytics", "rebuild", "--since", "2025-03-04", "--org", "acme"])
    assert again.exit_code == 0, again.output
    db.session.expire_all()
    assert _rows(NodeRollup) == live_nodes and _rows(CallRollup) == live_calls
    # Rows that drifted are put right.
    db.session.execute(NodeRollup.__table__.update().values(n=NodeRollup.n + 5))
    db.session.commit()
    rebuild()
    assert _rows(NodeRollup) == live_nodes
    bad = runner.invoke(args=["analytics", "rebuild", "--since", "March"])
    assert bad.exit_code != 0 and "not an ISO date" in bad.output
    assert runner.invoke(args=["analytics", "rebuild", "--org", "nobody"]).exit_code != 0
    assert NODE_COUNTERS[0] == "n"


def test_rollups_can_be_turned_off(world, app):
    app.config["ANALYTICS_ROLLUPS"] = False
    world.flow(acme())
    world.call([Press("1"), DialResult("completed")])
    assert world.count(NodeRollup) == 0 and world.count(CallRollup) == 0
    rebuild()
    assert world.count(NodeRollup) > 0 and world.count(CallRollup) > 0


def test_overlay_since_revision(world, client):
    flow = world.flow(acme())
    world.call([Press("1"), DialResult("completed")])
    world.clock.now += timedelta(hours=2)
    flow.draft = {**flow.draft, "settings": {"note": "second"}}
    for revision in (flow.published_revision, publish(world.org, None, flow, "second")):
        revision.created_at = world.clock.now - timedelta(hours=4 if revision.number == 1 else 0)  # the test clock's
    db.session.commit()
    world.clock.now += timedelta(hours=1)
    world.call([Press("3"), QueueResult("hangup")])
    world.call([HangUp()])
    now = world.clock.now + timedelta(minutes=5)
    everything = node_counts_for(world.org, flow, "30d", now)
    assert everything["calls"] == 3 and everything["nodes"]["main"]["visits"] == 3
    since_two = node_counts_for(world.org, flow, "rev:2", now)
    assert since_two["label"] == "Since revision 2" and since_two["calls"] == 2
    assert since_two["nodes"]["main"] == {"visits": 2, "outcomes": {"3": 1}, "hangups": 1}
    assert node_counts_for(world.org, flow, "rev:1", now)["calls"] == 3
    assert ("rev:2", "Since revision 2") in period_choices(flow)
    for bad in ("rev:9", "rev:x", "year"):
        try:
            node_counts_for(world.org, flow, bad, now)
        except ValueError:
            continue
        raise AssertionError(f"{bad} was accepted")
