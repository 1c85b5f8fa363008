"""The dashboards read the rollups: totals, the calls chart, where callers hung up, the funnel, the time
to each end, publish markers and their diffs; bad filters are a 400 that says why; orgs never mix."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from extensions import db
from services.flow_revisions import create_flow, publish
from tests.calls.flows import acme
from tests.dashboard.conftest import NOW, seed_dashboard
from tests.dashboard.rollups import add_calls


def _kpi(html: str, key: str) -> int:
    match = re.search(rf'data-kpi="{key}">(\d+)<', html)
    assert match, key
    return int(match.group(1))


def test_flow_dashboard_today_against_yesterday(dash, client):
    html = client.get(f"/flows/{dash.flow.id}/dashboard?period=today").get_data(as_text=True)
    assert "Main line: dashboard" in html and "Times are in America/New_York" in html
    assert (_kpi(html, "calls"), _kpi(html, "answered"), _kpi(html, "completed"), _kpi(html, "abandoned")) == (
        10,
        10,
        7,
        3,
    )
    assert "yesterday: 4</div>" in html  # yesterday's 4 calls, all completed
    # the hourly table: today 09:00 (6 + 3 calls), 10:00 (1) beside yesterday 10:00 (4), future hours empty
    assert '<tr><th scope="row">09:00</th><td>9</td><td>0</td></tr>' in html
    assert '<tr><th scope="row">10:00</th><td>1</td><td>4</td></tr>' in html
    assert '<tr><th scope="row">11:00</th><td>—</td><td>0</td></tr>' in html
    # where callers hung up, the time to each end (p90 interpolated in the 60-90 s bucket)
    assert re.search(r"Welcome menu</th>\s*<td>3</td>", html)
    assert re.search(
        r"Sales</th>\s*<td><span [^>]*>answered</span></td><td>6</td>\s*<td>70 s</td>\s*<td>87 s</td>", html
    )
    # the funnel follows the most taken outcomes: menu → 1 → hours → open → sales → answered → bye
    funnel = re.findall(
        r'<tr><th scope="row">([^<]+)</th><td>(\d+)</td><td>([^<]+)</td>', html[html.index("The path as a table") :]
    )
    assert [(name, int(n)) for name, n, _ in funnel] == [("Welcome menu", 10), ("Hours", 7), ("Sales", 6), ("Bye", 0)]
    # r2 was published two hours ago: a marker on the axis, linking to its diff
    assert f'href="/flows/{dash.flow.id}/dashboard/revisions/2"' in html and "Rename the menu" in html
    assert '/dashboard/revisions/1"' not in html  # r1 was three days ago


def test_week_by_local_day_and_filters(dash, client):
    base = f"/flows/{dash.flow.id}/dashboard"
    html = client.get(base + "?period=7d").get_data(as_text=True)
    assert _kpi(html, "calls") == 14 and "Calls per day" in html
    assert (
        '<tr><th scope="row">Sun 06 Dec</th><td>4</td>' in html
        and '<tr><th scope="row">Mon 07 Dec</th><td>10</td>' in html
    )
    assert '/dashboard/revisions/1"' in html  # r1's marker (three days ago) is in the week
    assert _kpi(client.get(base + "?period=7d&revision=1").get_data(as_text=True), "calls") == 4
    assert _kpi(client.get(base + f"?period=7d&number={dash.other_number.id}").get_data(as_text=True), "calls") == 0
    assert _kpi(client.get(base + f"?period=7d&number={dash.number.id}").get_data(as_text=True), "calls") == 14
    # htmx period switch: the filters and the body, not the whole page
    partial = client.get(base + "?period=30d", headers={"HX-Request": "true", "HX-Target": "dashboard"})
    body = partial.get_data(as_text=True)
    assert partial.status_code == 200 and body.lstrip().startswith('<div id="dashboard"') and "<html" not in body
    assert 'value="30d" checked' in body and "Last 30 days" in body


def test_org_dashboard_sums_every_flow_and_filters_by_flow(dash, client):
    second = create_flow(dash.org, None, "Second line", acme())
    publish(dash.org, None, second, "Go")
    add_calls(
        dash.org,
        NOW.replace(minute=0, second=0, microsecond=0),
        5,
        flow=second,
        reason="caller_hangup",
        node="hours",
        seconds=3,
    )
    db.session.commit()
    html = client.get("/dashboard?period=today").get_data(as_text=True)
    assert _kpi(html, "calls") == 15 and _kpi(html, "abandoned") == 8
    assert re.search(r"Hours <span class=\"muted\">· Second line</span></th>\s*<td>5</td>", html)
    filtered = client.get(f"/dashboard?period=today&flow={second.id}").get_data(as_text=True)
    assert _kpi(filtered, "calls") == 5 and 'id="dash-revision"' in filtered
    assert 'href="/dashboard"' in client.get("/flows/").get_data(as_text=True)  # the nav links it


def test_a_dst_day_counts_its_25_utc_hours(app, make, client):
    app.config["PHONETREE_CLOCK"] = lambda: datetime(2026, 11, 2, 15, tzinfo=UTC)
    org = make.org("acme", "Acme Corp")
    org.timezone = "America/New_York"
    start = datetime(2026, 11, 1, 4, tzinfo=UTC)  # Sunday 1 November, 00:00 EDT
    for i in range(26):  # 25 hours of that local day, and the first hour of Monday
        add_calls(org, start + timedelta(hours=i), 1)
    db.session.commit()
    make.user("viewer@acme.example", "viewer", org)
    make.login("viewer@acme.example")
    html = client.get("/dashboard?period=7d").get_data(as_text=True)
    assert '<tr><th scope="row">Sun 01 Nov</th><td>25</td>' in html
    assert '<tr><th scope="row">Mon 02 Nov</th><td>1</td>' in html
    hourly = client.get("/dashboard?period=custom&since=2026-11-01&until=2026-11-01").get_data(as_text=True)
    assert hourly.count('<tr><th scope="row">01:00</th><td>1</td>') == 2  # 01:00 EDT and 01:00 EST


def test_bad_filters_are_a_400_that_says_why(dash, client, make):
    other = make.org("globex", "Globex")
    foreign = seed_dashboard(other)
    cases = {
        "?period=fortnight": "“fortnight” is not a period",
        "?number=abc": "“abc” is not a valid number",
        f"?number={foreign.number.id}": f"This organisation has no phone number {foreign.number.id}.",
        f"?flow={foreign.flow.id}": f"This organisation has no flow {foreign.flow.id}.",
        "?revision=1": "A revision filter needs a flow",
        f"?flow={dash.flow.id}&revision=9": "Main line has no revision 9.",
        "?period=custom&since=2026-12-09&until=2026-12-01": "since must not be after its until",
        "?period=custom&since=yesterday&until=2026-12-01": "is not a date for since",
        "?flow=99999999999999999999": "is not a valid flow",
    }
    for query, words in cases.items():
        for path in ("/dashboard", "/dashboard/calls.csv", "/dashboard/nodes.csv"):
            resp = client.get(path + query)
            assert resp.status_code == 400, (path, query)
            assert words in resp.get_data(as_text=True), (path, query)
    partial = client.get("/dashboard?period=nope", headers={"HX-Request": "true", "HX-Target": "dashboard"})
    assert partial.status_code == 400 and 'id="dash-filters"' in partial.get_data(as_text=True)
    assert client.get(f"/flows/{dash.flow.id}/dashboard?revision=x").status_code == 400


def test_orgs_never_see_each_others_calls(dash, client, make):
    other = make.org("globex", "Globex")
    foreign = seed_dashboard(other)
    add_calls(other, NOW.replace(minute=0, second=0, microsecond=0), 50, reason="caller_hangup", node="main")
    db.session.commit()
    html = client.get("/dashboard?period=today").get_data(as_text=True)
    assert _kpi(html, "calls") == 10 and _kpi(html, "abandoned") == 3
    assert client.get(f"/flows/{foreign.flow.id}/dashboard").status_code == 404
    assert client.get(f"/flows/{foreign.flow.id}/dashboard/revisions/2").status_code == 404
    assert client.get(f"/flows/{dash.flow.id}/dashboard/revisions/9").status_code == 404
    nodes = client.get(f"/dashboard/nodes.csv?period=30d&flow={dash.flow.id}", buffered=True).get_data(as_text=True)
    assert nodes.count("\r\n") == 1 + 4 + 5  # header, 4 nodes' visits, 5 outcomes taken
    client.post("/logout", data={"csrf_token": make.csrf("/dashboard")})
    assert client.get("/dashboard").status_code == 302  # signed out: to the sign-in page


def test_revision_diff_panel_names_the_changed_fields(dash, client):
    panel = client.get(f"/flows/{dash.flow.id}/dashboard/revisions/2", headers={"HX-Request": "true"})
    html = panel.get_data(as_text=True)
    assert panel.status_code == 200 and "<html" not in html
    assert "Revision 2 of Main line" in html and "Rename the menu" in html and "Against revision 1: 1 changed" in html
    assert "<code>name</code></th><td><del>Main</del></td><td><ins>Welcome menu</ins>" in html
    dash.flow.draft = dict(
        dash.flow.draft,
        nodes=[
            dict(n, props=dict(n["props"], prompt={"say": "Press 1 for sales."}), outcomes={"1": "hours"})
            if n["id"] == "main"
            else n
            for n in dash.flow.draft["nodes"]
        ],
    )
    publish(dash.org, None, dash.flow, "Sales only")
    db.session.commit()
    three = client.get(f"/flows/{dash.flow.id}/dashboard/revisions/3", headers={"HX-Request": "true"})
    html = three.get_data(as_text=True)
    assert (
        "<code>props.prompt</code></th><td><del>{&#34;say&#34;: &#34;Press 1 for sales, 2 to pay, 3 to hold.&#34;}"
        in html
    )
    assert "<code>outcome 2</code></th><td><del>account</del></td><td><ins>—</ins>" in html
    page = client.get(f"/flows/{dash.flow.id}/dashboard/revisions/1").get_data(as_text=True)
    assert "<html" in page and "first revision, " in page


def test_a_text_only_flows_dashboard_counts_conversations_and_no_hang_ups(dash, client):
    from services.flow_templates import template_definition

    texts = create_flow(dash.org, None, "Texts", template_definition("text_line"))
    publish(dash.org, None, texts, "Texts only")
    db.session.commit()
    html = client.get(f"/flows/{texts.id}/dashboard?period=today").get_data(as_text=True)
    assert "Text conversations over time" in html and "Conversations per hour" in html
    assert _kpi(html, "calls") == 0 and 'data-kpi="abandoned"' not in html and "Where callers hung up" not in html
    assert "of ended conversations" in html and "Conversations (CSV)" in html
    shown = re.sub(r"<[^>]+>", " ", html).replace("All calls and conversations", "")  # the page's words
    assert " calls" not in shown and "caller" not in shown
    voice = client.get(f"/flows/{dash.flow.id}/dashboard?period=today").get_data(as_text=True)
    assert "Calls per hour" in voice and 'data-kpi="abandoned"' in voice and "Where callers hung up" in voice
