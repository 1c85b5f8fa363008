"""Signing in and managing members in a real browser."""

from tests.plugins.browser import login, shot
from tests.plugins.factories import PASSWORD


def test_sign_in_and_invite_a_member(page, live_server):
    from extensions import db
    from services.accounts import ensure_org, ensure_user, set_membership

    org = ensure_org("acme", "Acme Corp")
    user, _ = ensure_user("alice@example.com", PASSWORD, "Alice")
    set_membership(org, user, "admin")
    db.session.commit()

    page.goto(live_server.url + "/members/")
    assert "/login" in page.url  # signed out: sent to sign in
    login(page, live_server, "alice@example.com", "wrong-password-here")
    assert page.locator(".flash-error").inner_text().startswith("The e-mail address or password is wrong")
    flash, card = page.locator(".flash-error").bounding_box(), page.locator(".card.login").bounding_box()
    gap = card["y"] - (flash["y"] + flash["height"])
    assert 0 <= gap <= 24 and flash["width"] == card["width"]  # the message sits right above the form
    login(page, live_server, "alice@example.com", PASSWORD)
    page.goto(live_server.url + "/members/")
    assert page.locator("nav.sidebar").is_visible()
    assert "Acme Corp" in page.locator(".sidebar-foot").inner_text()

    page.fill("#members input[name=email]", "bob@example.com")
    page.select_option("#members form.inline-form select[name=role]", "editor")
    page.click("#members form.inline-form button[type=submit]")
    page.wait_for_selector("text=bob@example.com was added as editor")
    assert "/invite/" in page.locator("input.copy-field").input_value()
    shot(page, "members-page")

    page.click("button:has-text('Sign out')")
    page.wait_for_url("**/login")
    assert not page.js_errors
