"""Every page and the designer work under the Content-Security-Policy, with no violation reported."""

from __future__ import annotations

import pytest

from tests.plugins.browser import login, shot
from tests.plugins.factories import PASSWORD


@pytest.fixture
def acme(live_server, twilio_fake):
    """Org acme (Twilio on the stand-in) with admin alice, a second org, and a main-menu flow."""
    from extensions import db
    from services import flow_revisions as svc
    from services.accounts import ensure_org, ensure_user, set_membership
    from tests.phone.conftest import connect_twilio

    org = ensure_org("acme", "Acme Corp")
    alice, _ = ensure_user("alice@example.com", PASSWORD, "Alice")
    set_membership(org, alice, "admin")
    set_membership(ensure_org("globex", "Globex"), alice, "admin")
    flow = svc.create_flow(org, alice, "Support line", template="main_menu")
    db.session.commit()
    connect_twilio(live_server.app, org, twilio_fake)
    return {"org": org, "flow": flow}


@pytest.mark.csp_violations_expected
def test_the_watch_sees_a_violation(page, live_server):
    """The page fixture's CSP watch works: an inline script is refused and reported."""
    page.goto(live_server.url + "/login")
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.x = 1'; "
                  "document.body.appendChild(s); }")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.x") is None
    assert any("script-src" in v for v in page.csp_violations), page.csp_violations


def test_pages_and_designer_run_without_csp_violations(page, live_server, acme):
    response = page.goto(live_server.url + "/login")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    login(page, live_server, "alice@example.com", PASSWORD)

    # Designer: the canvas, a sticky note (positioned through the CSSOM), the publish dialog.
    page.goto(f"{live_server.url}/flows/{acme['flow'].id}")
    page.wait_for_selector("#designer[data-ready=true]")
    page.click("[data-cmd=note]")
    note = page.locator("#notes .note").first
    note.wait_for()
    assert "translate" in note.evaluate("el => el.style.transform")
    page.click(".node-card[data-id=main]")
    page.wait_for_selector("#node-form form[data-node-id=main]")
    page.keyboard.press("Enter")  # a node form never submits itself (data-no-submit)
    assert "/flows/" in page.url
    shot(page, "csp-designer")

    # Flows list: the dialogs open and close through data attributes, not onclick.
    page.goto(live_server.url + "/flows/")
    page.click("[data-open-dialog=new-flow-dialog]")
    assert page.locator("#new-flow-dialog").is_visible()
    page.click("#new-flow-dialog [data-close-dialog]")
    assert page.locator("#new-flow-dialog").is_hidden()

    # Members: htmx adds a member and shows the invitation link, which selects itself on click.
    page.goto(live_server.url + "/members/")
    page.fill("form[hx-post] input[name=email]", "newbie@example.com")
    page.click("form[hx-post] button[type=submit]")
    field = page.locator("input.copy-field")
    field.wait_for()
    field.click()
    assert page.evaluate("() => document.activeElement.selectionEnd") > 0

    # The org switcher submits itself on change.
    with page.expect_navigation():  # the switch submits itself: wait for that page, not an earlier idle moment
        page.select_option("#org-switch", label="Globex")
    page.wait_for_load_state("networkidle")
    assert page.locator(".org-switcher select option:checked").inner_text() == "Globex"
    with page.expect_navigation():
        page.select_option("#org-switch", label="Acme Corp")
    page.wait_for_load_state("networkidle")

    for path in ("/", "/calls/", "/numbers/", "/settings/twilio", "/account"):
        resp = page.goto(live_server.url + path)
        assert resp.status == 200, path
        page.wait_for_load_state("networkidle")

    # The softphone loads the vendored Voice SDK and tries Twilio's hosts (allowed by connect-src).
    page.goto(live_server.url + "/softphone")
    page.wait_for_selector("#softphone-status[data-state=error]", timeout=30_000)
    assert page.evaluate("() => typeof window.Twilio") == "object"

    assert not page.js_errors, page.js_errors
    assert not page.csp_violations, page.csp_violations
