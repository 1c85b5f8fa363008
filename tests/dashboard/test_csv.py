"""CSV exports: the calls (end node and reason, number, flow, revision, start, duration) and the per-node table,
streamed in keyset pages so that memory stays flat however many calls there are."""

from __future__ import annotations

import csv
import io
import re
import time
import tracemalloc
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import insert

from extensions import db
from models import CallSession
from tests.calls.flows import acme
from tests.dashboard.conftest import NOW
from tests.plugins.factories import Factory


def _calls(dash, count: int, start, *, org=None, batch: int = 10_000) -> None:
    """``count`` ended calls of the seeded flow, one second apart from ``start``, inserted in bulk."""
    org = org or dash.org
    for first in range(0, count, batch):
        rows = [
            {
                "id": f"c{org.id}x{i:09d}",
                "call_sid": f"CA{org.id}x{i:030d}",
                "org_id": org.id,
                "phone_number_id": dash.number.id,
                "flow_id": dash.flow.id,
                "revision_id": dash.r2.id,
                "from_number": "+15557654321",
                "to_number": dash.number.phone_number,
                "status": "completed",
                "state": {},
                "turn": 3,
                "step_count": 5,
                "current_node": "bye" if i % 3 else "main",
                "end_reason": "hangup" if i % 3 else "caller_hangup",
                "started_at": start + timedelta(seconds=i),
                "updated_at": start + timedelta(seconds=i + 40),
                "duration": 40 + i % 7,
            }
            for i in range(first, min(first + batch, count))
        ]
        db.session.execute(insert(CallSession), rows)
    db.session.commit()


def test_calls_and_nodes_csv(dash, client, make):
    _calls(dash, 5, NOW - timedelta(hours=3))
    other = make.org("globex", "Globex")
    _calls(dash, 3, NOW - timedelta(hours=3), org=other)  # another org's calls never show
    resp = client.get(f"/dashboard/calls.csv?period=today&flow={dash.flow.id}", buffered=True)
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    disposition = resp.headers["Content-Disposition"]
    assert disposition == "attachment; filename=main-line-calls-today-20261207.csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))
    assert len(rows) == 5 and [r["call_id"] for r in rows] == [f"c{dash.org.id}x{i:09d}" for i in range(5)]
    first = rows[0]
    assert first["end_reason"] == "caller_hangup" and first["end_node"] == "main" and first["duration_s"] == "40"
    assert (first["number"], first["flow"], first["revision"]) == ("+15550001000", "Main line", "2")
    assert first["started_at"] == (NOW - timedelta(hours=3)).isoformat()
    spare = client.get(f"/dashboard/calls.csv?period=today&number={dash.other_number.id}", buffered=True)
    assert spare.get_data(as_text=True).count("\r\n") == 1  # the header alone

    dash.flow.name = "受付 line"
    db.session.commit()
    named = client.get(f"/dashboard/calls.csv?period=7d&flow={dash.flow.id}", buffered=True)
    assert named.headers["Content-Disposition"] == (
        "attachment; filename=line-calls-7d-20261207.csv; "
        "filename*=UTF-8''%E5%8F%97%E4%BB%98-line-calls-7d-20261207.csv"
    )
    dash.flow.name = "Main line"
    db.session.commit()

    nodes = client.get(f"/dashboard/nodes.csv?period=today&flow={dash.flow.id}", buffered=True)
    table = list(csv.DictReader(io.StringIO(nodes.get_data(as_text=True))))
    menu = [r for r in table if r["node_id"] == "main"]
    assert menu[0] | {} == {
        "flow": "Main line",
        "revision": "2",
        "node_id": "main",
        "node": "Welcome menu",
        "outcome": "",
        "count": "10",
        "hangups": "3",
        "average_time_s": "4.0",
    }
    assert [(r["outcome"], r["count"]) for r in menu[1:]] == [("1", "7"), ("2", "0")]


def test_csv_of_100k_calls_streams_in_bounded_memory(dash, app):
    count = 100_000
    _calls(dash, count, NOW - timedelta(hours=30))
    plain = FlaskClient(app, app.response_class, use_cookies=True)  # consumes the stream in this context
    Factory(app, plain).login("viewer@acme.example")
    started = time.perf_counter()
    tracemalloc.start()
    try:
        resp = plain.get(f"/dashboard/calls.csv?period=7d&flow={dash.flow.id}")
        assert resp.status_code == 200 and resp.is_streamed
        lines = size = chunks = 0
        for chunk in resp.response:
            chunks += 1
            size += len(chunk)
            lines += chunk.count(b"\n") if isinstance(chunk, bytes) else chunk.count("\n")
        resp.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - started
    assert lines == count + 1 and chunks > count // 5000
    print(f"\n{count} calls: {size / 1e6:.1f} MB of CSV in {chunks} chunks, {elapsed:.1f} s, peak {peak / 1e6:.1f} MB")
    assert size > 8_000_000 and peak < 5_000_000  # the whole file never sits in memory


def test_calls_csv_of_real_calls_through_the_webhooks(app, client, make):
    from sim import DialResult, HangUp, Press
    from tests.calls.conftest import CallWorld

    world = CallWorld(app, client, make)
    flow = world.flow(acme())
    _, answered = world.call([Press("1"), DialResult("completed")])
    _, gave_up = world.call([HangUp()])
    make.user("viewer@acme.example", "viewer", world.org)
    make.login("viewer@acme.example")
    resp = client.get(
        f"/dashboard/calls.csv?period=custom&since=2025-03-04&until=2025-03-04&flow={flow.id}", buffered=True
    )
    rows = {r["call_id"]: r for r in csv.DictReader(io.StringIO(resp.get_data(as_text=True)))}
    assert set(rows) == {answered.id, gave_up.id}
    for call in (answered, gave_up):
        row = rows[call.id]
        assert (row["end_reason"], row["end_node"]) == (call.end_reason, call.current_node) and row["end_reason"]
        assert (row["number"], row["flow"], row["revision"]) == ("+15550001000", "Main line", "1")
    assert rows[gave_up.id]["end_reason"] == "caller_hangup" and rows[gave_up.id]["end_node"] == "main"


def test_dashboard_counts_real_calls_from_the_live_rollups(app, client, make):
    # the rollups the webhooks write (services.analytics_rollup) are the rows the dashboard reads
    from sim import DialResult, HangUp, Press
    from tests.calls.conftest import CallWorld

    world = CallWorld(app, client, make)
    flow = world.flow(acme())
    world.call([Press("1"), DialResult("completed")])
    world.call([HangUp()])
    world.call([HangUp()])
    make.user("viewer@acme.example", "viewer", world.org)
    make.login("viewer@acme.example")
    html = client.get(f"/flows/{flow.id}/dashboard?period=custom&since=2025-03-04&until=2025-03-04").get_data(
        as_text=True
    )
    kpis = {k: int(v) for k, v in re.findall(r'data-kpi="(\w+)">(\d+)<', html)}
    assert (kpis["calls"], kpis["answered"], kpis["abandoned"]) == (3, 3, 2)
    assert re.search(r"<th scope=\"row\">Main</th>\s*<td>2</td>", html)  # both hung up at the menu
