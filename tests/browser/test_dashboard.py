"""The dashboard in a real browser: a period switch through htmx, a publish marker opening its diff,
axe-core finding no serious or critical violation, and the screenshot the README shows."""

from __future__ import annotations

import math
import re
from datetime import timedelta
from pathlib import Path

from axe_playwright_python.sync_playwright import Axe

from tests.dashboard.conftest import NOW, seed_dashboard
from tests.dashboard.rollups import add_calls, add_visits
from tests.plugins.browser import login, seed_admin, shot
from tests.plugins.factories import PASSWORD

README_SHOT = Path(__file__).resolve().parents[2] / "docs" / "dashboard.png"


def _busy_fortnight(dash) -> None:
    """Two weeks of calls with a daily rhythm (more this week than last), some abandoned at the menu."""
    from extensions import db

    hour = NOW.replace(minute=0, second=0, microsecond=0)
    for back in range(1, 14 * 24):
        at = hour - timedelta(hours=back)
        local = (at.hour - 5) % 24
        calls = int(max(0.0, math.sin((local - 7) / 12 * math.pi)) * (9 if back < 7 * 24 else 6))
        if not calls:
            continue
        revision = dash.r2 if back < 2 else dash.r1
        add_calls(
            dash.org,
            at,
            calls,
            flow=dash.flow,
            revision=revision,
            number=dash.number,
            reason="answered",
            node="sales",
            seconds=60 + back % 50,
        )
        add_calls(
            dash.org,
            at,
            calls // 3 + 1,
            flow=dash.flow,
            revision=revision,
            number=dash.number,
            reason="caller_hangup",
            node="main" if back % 2 else "account",
            seconds=12,
        )
        add_visits(
            dash.org,
            at,
            "main",
            calls + calls // 3 + 1,
            flow=dash.flow,
            revision=revision,
            hangups=calls // 3 + 1,
            outcomes={"1": calls, "2": calls // 4},
        )
        add_visits(dash.org, at, "hours", calls, flow=dash.flow, revision=revision, outcomes={"open": calls})
        add_visits(dash.org, at, "sales", calls, flow=dash.flow, revision=revision, outcomes={"answered": calls - 1})
        add_visits(dash.org, at, "bye", calls - 1, flow=dash.flow, revision=revision)
    db.session.commit()


def _serious(results) -> list[str]:
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes']][:3]}"
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def test_dashboard_period_switch_publish_diff_and_axe(page, live_server):
    live_server.app.config["PHONETREE_CLOCK"] = lambda: NOW
    org, _ = seed_admin("acme", "Acme Corp", "alice@example.com", PASSWORD)
    dash = seed_dashboard(org)
    _busy_fortnight(dash)
    login(page, live_server, "alice@example.com", PASSWORD)

    page.goto(f"{live_server.url}/flows/{dash.flow.id}/dashboard?period=today")
    assert page.locator("#calls-chart-title").inner_text() == "Calls per hour"
    axe = Axe()
    problems = _serious(axe.run(page))
    assert not problems, problems

    page.click("label[for=period-7d]")  # htmx swaps the dashboard and pushes the URL
    page.wait_for_function("() => document.querySelector('#calls-chart-title').textContent === 'Calls per day'")
    assert re.search(r"period=7d", page.url)
    assert page.locator("input#period-7d").is_checked()
    assert page.locator(".calls-chart .bar-cur").count() == 7 and page.locator(".calls-chart .bar-prev").count() == 7
    assert page.locator(".publish-marker").count() == 2

    page.locator(".publish-marker[data-revision='2']").click()
    page.wait_for_function("() => document.querySelector('#revision-diff').textContent.includes('Revision 2 of')")
    diff = page.locator("#revision-diff")
    assert "Rename the menu" in diff.inner_text() and "Welcome menu" in diff.inner_text()
    assert re.search(r"period=7d", page.url)  # the marker opened its diff in place

    page.locator(".publish-marker[data-revision='1']").focus()  # the keyboard reaches the markers too
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#revision-diff').textContent.includes('Revision 1 of')")
    assert "first revision" in diff.inner_text()
    page.locator(".publish-marker[data-revision='2']").click()
    page.wait_for_function("() => document.querySelector('#revision-diff').textContent.includes('Revision 2 of')")

    problems = _serious(axe.run(page))
    assert not problems, problems
    assert not page.js_errors
    README_SHOT.parent.mkdir(exist_ok=True)

    page.goto(f"{live_server.url}/dashboard?period=30d")  # the org's dashboard
    assert page.locator(".calls-chart .bars > g").count() == 30 and page.locator(".publish-marker").count() == 2
    problems = _serious(axe.run(page))
    assert not problems, problems
    shot(page, "dashboard-org-30d")
    page.click("label[for=period-custom]")  # no dates yet: the 400 says so in place, the filters stay
    page.wait_for_selector("#dash-error")
    assert "needs both since and until" in page.locator("#dash-error").inner_text()
    page.evaluate(  # both dates at once (a change on each would ask twice)
        "() => { document.getElementById('dash-since').value = '2026-12-01';"
        " document.getElementById('dash-until').value = '2026-12-02'; }"
    )
    page.locator("#dash-until").dispatch_event("change")
    page.wait_for_function("() => document.querySelector('#calls-chart-title') !== null")
    assert page.locator("#calls-chart-title").inner_text() == "Calls per hour"
    assert page.locator(".calls-chart .bars > g").count() == 48 and "since=2026-12-01" in page.url
    assert not page.js_errors
    page.set_viewport_size({"width": 1280, "height": 1500})
    page.evaluate("() => window.scrollTo(0, 0)")  # opening the diff focused it, further down
    page.screenshot(path=str(README_SHOT))
    shot(page, "dashboard")
