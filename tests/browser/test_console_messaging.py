"""The designer's test console in messaging mode, in Chromium: text as the contact, read the flow's
replies, skip a wait."""

from __future__ import annotations

import copy

import pytest

from tests.designer.test_console_messaging import SURVEY
from tests.plugins.browser import login, shot
from tests.plugins.factories import PASSWORD


@pytest.fixture
def survey(live_server):
    """Org acme with editor Erin and a messaging-only survey flow."""
    from extensions import db
    from services import flow_revisions as svc
    from services.accounts import ensure_org, ensure_user, set_membership

    org = ensure_org("acme", "Acme Corp")
    erin, _ = ensure_user("erin@example.com", PASSWORD, "Erin")
    set_membership(org, erin, "editor")
    flow = svc.create_flow(org, erin, "Order texts", template="blank")
    svc.save_draft(org, erin, flow, copy.deepcopy(SURVEY), flow.draft_version)
    db.session.commit()
    return flow


def send(page, text: str) -> None:
    page.fill("#console input[name=text]", text)
    page.press("#console input[name=text]", "Enter")


def test_a_text_conversation_in_the_console_and_skipping_the_wait(page, live_server, survey):
    login(page, live_server, "erin@example.com", PASSWORD)
    page.goto(f"{live_server.url}/flows/{survey.id}")
    page.wait_for_selector("#designer[data-ready=true]")
    page.click("#tab-test")
    page.wait_for_selector("#console form.console-start")
    page.click("#console button:has-text('Start conversation')")
    page.wait_for_selector("#console .transcript.chat[aria-live=polite]")
    assert page.locator("#console label:has-text('Text as the contact') input[name=text]").is_visible()

    send(page, "hello")
    page.wait_for_selector("#console .bubble-out >> text=Hi! Reply 1 to confirm, 2 to cancel.")
    assert page.locator("#console .bubble-in").inner_text().endswith("hello")
    page.wait_for_selector(".node-card[data-id=ask].active")
    announced = "() => document.querySelector('#console-announce').textContent.includes('Flow: Hi! Reply 1')"
    page.wait_for_function(announced)  # the flow's reply is read out by the pane's lasting live region
    send(page, "1")
    page.wait_for_selector("#console .bubble-out >> text=Sure? Reply YES or NO")
    assert page.locator("#console-announce").inner_text() == "Flow: Sure? Reply YES or NO"
    send(page, "yes")
    page.wait_for_selector("#console .bubble-out >> text=Confirmed, 1.")
    link = page.locator("#console .bubble-out a.media-link")
    assert link.get_attribute("href") == "https://example.com/ticket.png"
    page.wait_for_selector("#console .transcript >> text=Conversation ended (closed by the flow).")
    shot(page, "designer-console-messaging")

    page.click("#console button:has-text('New conversation')")
    page.click("#console button:has-text('Start conversation')")
    page.wait_for_selector("#console input[name=text]")
    send(page, "hi")
    page.wait_for_selector("#console .transcript >> text=Waits up to 10 min for a reply.")
    page.click("#console button:has-text('Skip the wait')")
    page.wait_for_selector("#console .bubble-out >> text=We did not hear back.")
    page.wait_for_selector("#console .transcript >> text=Skipped the wait: 10 min pass, no reply.")
    for node in ("ask", "late"):
        assert "on-path" in page.locator(f".node-card[data-id='{node}']").get_attribute("class")
    assert "on-path" not in page.locator(".node-card[data-id='check']").get_attribute("class")

    page.fill("#console input[name=name]", "No answer")
    page.click("#console >> text=Save as test")
    page.wait_for_selector("#console >> text=Saved test case")
    page.click("#console >> text=Run all")
    page.wait_for_selector("#console .test-summary >> text=1 passed · 0 failed")
    assert not page.js_errors
