"""Settings → Twilio in Chromium: connect, test the connection, replace, disconnect."""

from sqlalchemy import select

from tests.plugins.browser import login, shot
from tests.plugins.factories import PASSWORD
from tests.plugins.upstream import APP_SID


def test_connect_test_replace_and_disconnect(page, live_server, twilio_fake):
    from extensions import db
    from models import UpstreamIntegration
    from services.accounts import ensure_org, ensure_user, set_membership
    from upstream.secrets import decrypt_secrets

    live_server.app.config.update(TWILIO_API_BASE_URL=twilio_fake.url, TWILIO_TIMEOUT_SECONDS=3)
    number = twilio_fake.state.add_owned_number(twilio_fake.account_sid, friendly_name="Front desk")
    org = ensure_org("acme", "Acme Corp")
    user, _ = ensure_user("alice@example.com", PASSWORD, "Alice")
    set_membership(org, user, "admin")
    db.session.commit()

    login(page, live_server, "alice@example.com", PASSWORD)
    page.goto(live_server.url + "/settings/twilio")
    assert page.locator("nav.sidebar a.active").inner_text().strip().endswith("Settings (Twilio)")
    assert page.locator("#twilio-settings h2").first.inner_text() == "Not connected"

    # Connect: a wrong auth token first, then the right one.
    page.fill("input[name=name]", "Acme Twilio")
    page.fill("input[name=accountSid]", twilio_fake.account_sid)
    page.fill("input[name=authToken]", "0" * 32)
    page.fill("input[name=appSid]", APP_SID)
    page.fill("input[name=apiKey]", twilio_fake.api_key)
    page.fill("input[name=apiKeySecret]", twilio_fake.api_key_secret)
    page.click("form.upstream-form button[type=submit]")
    page.wait_for_selector("#twilio-settings .flash-error")
    assert "Twilio rejected the Account SID and Auth Token" in page.locator(".flash-error").inner_text()
    assert page.input_value("input[name=accountSid]") == twilio_fake.account_sid
    assert page.input_value("input[name=authToken]") == ""  # secrets never come back from the server
    page.fill("input[name=authToken]", twilio_fake.auth_token)
    page.fill("input[name=apiKeySecret]", twilio_fake.api_key_secret)
    page.click("form.upstream-form button[type=submit]")
    page.wait_for_selector("text=Twilio connected")
    assert page.locator("[data-secret=authToken]").inner_text() == "Auth Token set"
    assert page.locator("[data-secret=apiKeySecret]").inner_text() == "API key secret set"
    assert page.get_attribute("input[name=authToken]", "placeholder") == "stored — leave blank to keep"

    # Test connection: the account's numbers appear.
    page.click("#twilio-test")
    page.wait_for_selector("[data-test-result=ok]")
    table = page.locator("table.upstream-numbers").inner_text()
    assert number["phone_number"] in table and "Front desk" in table
    shot(page, "twilio-settings-connected")

    # Replace: rename, secrets left blank keep the stored ones.
    page.fill("input[name=name]", "Acme main line")
    page.click("form.upstream-form button[type=submit]")
    page.wait_for_selector("text=Twilio settings replaced")
    assert page.locator("#twilio-settings .upstream-status h2").inner_text() == "Acme main line"
    db.session.expire_all()
    row = db.session.scalar(select(UpstreamIntegration))
    assert row.name == "Acme main line"
    assert decrypt_secrets(row.secrets_encrypted)["authToken"] == twilio_fake.auth_token
    page.click("#twilio-test")
    page.wait_for_selector("[data-test-result=ok]")

    # Disconnect, after confirming.
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#twilio-disconnect")
    page.wait_for_selector("text=Twilio disconnected")
    assert page.locator("#twilio-settings h2").first.inner_text() == "Not connected"
    db.session.expire_all()
    assert db.session.scalar(select(UpstreamIntegration)) is None
    assert not page.js_errors
