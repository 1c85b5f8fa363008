"""A built-in flow on the read-only canvas: its cards, a node's read-only form, no palette, no JS errors."""

from __future__ import annotations

from tests.browser.test_designer import acme, card
from tests.plugins.browser import login
from tests.plugins.factories import PASSWORD

__all__ = ["acme"]  # the fixture used below


def test_a_builtin_flow_opens_read_only_and_copies(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    page.goto(f"{live_server.url}/flows/built-in/voice-number")
    page.wait_for_selector("#designer[data-ready=true]")
    assert card(page, "softphones").locator(".nc-type").text_content() == "Ring the number's users"
    assert card(page, "voicemail").locator(".nc-type").text_content() == "Take a message"
    assert page.locator("#tab-add").count() == 0 and page.locator("#publish-btn").count() == 0
    card(page, "voicemail").click()
    page.wait_for_selector("#node-form form[data-node-id=voicemail] fieldset[disabled]")
    assert not page.js_errors
    page.click("text=Copy to a new flow")
    page.wait_for_selector("#designer[data-ready=true]")
    assert "/flows/built-in/" not in page.url and page.locator("#publish-btn").count() == 1
    assert card(page, "voicemail").locator(".nc-type").text_content() == "Take a message"
    assert not page.js_errors
