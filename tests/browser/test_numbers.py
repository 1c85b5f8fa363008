"""Phone numbers and the softphone in a real browser, against the Twilio stand-in."""

from __future__ import annotations

import re

import pytest

from tests.plugins.browser import login, shot
from tests.plugins.factories import PASSWORD


@pytest.fixture
def acme(live_server, twilio_fake):
    """Org acme with Twilio connected to the stand-in, admin alice and a flow "Main line"."""
    from extensions import db
    from models import Flow
    from services.accounts import ensure_org, ensure_user, set_membership
    from services.flow_templates import template_definition
    from tests.phone.conftest import connect_twilio

    org = ensure_org("acme", "Acme Corp")
    alice, _ = ensure_user("alice@example.com", PASSWORD, "Alice")
    set_membership(org, alice, "admin")
    flow = Flow(org_id=org.id, name="Main line", draft=template_definition("main_menu"), test_users=[])
    db.session.add(flow)
    db.session.commit()
    connect_twilio(live_server.app, org, twilio_fake)
    return {"org": org, "alice": alice, "flow": flow}


def test_buy_route_see_drift_and_repair(page, live_server, twilio_fake, acme):
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, live_server, "alice@example.com", PASSWORD)
    page.goto(live_server.url + "/numbers")
    assert page.locator("#numbers").inner_text().startswith("No phone numbers yet")

    page.fill("#buy-form input[name=area_code]", "415")
    with page.expect_request(lambda r: "/available" in r.url) as searched:
        page.click("#search-numbers")
    assert "csrf_token" not in searched.value.url  # the token never lands in URLs or access logs
    first = page.locator("#available button[name=phone_number]").first
    first.wait_for()
    number = first.get_attribute("value")
    assert re.fullmatch(r"\+1415\d{7}", number)
    shot(page, "numbers-search")
    first.click()
    page.wait_for_selector(f"text=Bought {number}")
    row = page.locator("#numbers tbody tr").first
    assert number in row.inner_text() and "in sync" in row.inner_text()
    assert page.locator("#available").inner_text() == ""
    [sid] = list(twilio_fake.state.numbers)

    row.locator("text=Edit routing").click()
    page.wait_for_selector("#routing-form")
    page.select_option("#edit-mode", "ivr")
    page.select_option("#edit-flow", label="Main line · draft only, not published")
    page.select_option("#edit-users", label="alice@example.com")
    page.fill("#edit-sms", "Thanks for your message!")
    page.click("#routing-form button[type=submit]")
    page.wait_for_selector(f"text=Saved the routing of {number}")
    row = page.locator("#numbers tbody tr").first
    assert "Main line" in row.inner_text() and "alice@example.com" in row.inner_text() and "ivr" in row.inner_text()
    assert page.locator("#number-editor").inner_text() == ""
    assert twilio_fake.state.numbers[sid]["voice_url"].endswith("/connect/webhook/twilio/ivr-menu?orgid=acme")

    twilio_fake.state.update_number_behind_back(sid, voice_url="https://console.example/hijacked")
    page.click("#check-drift")
    page.wait_for_selector(".drift-report")
    report = page.locator(".drift-report").inner_text()
    assert "1 drifted" in report and "voice_url" in report and "https://console.example/hijacked" in report
    assert "drift: voice_url" in page.locator("#numbers tbody tr").first.inner_text()
    shot(page, "numbers-drift")

    page.click(".drift-report button:has-text('Push local config')")
    page.wait_for_selector(".drift-report >> text=0 drifted")
    assert "in sync" in page.locator("#numbers tbody tr").first.inner_text()
    assert twilio_fake.state.numbers[sid]["voice_url"].endswith("/ivr-menu?orgid=acme")
    shot(page, "numbers-repaired")

    page.locator("#numbers tbody tr").first.locator("button:has-text('Release')").click()
    page.wait_for_selector(f"text=Released {number}")
    assert sid not in twilio_fake.state.numbers
    assert not page.js_errors


def test_adopt_an_owned_number(page, live_server, twilio_fake, acme):
    owned = twilio_fake.state.add_owned_number(twilio_fake.account_sid)
    login(page, live_server, "alice@example.com", PASSWORD)
    page.goto(live_server.url + "/numbers")
    page.click("#list-importable")
    page.click(f"#importable button[value={owned['sid']}]")
    page.wait_for_selector(f"text=Added {owned['phone_number']}")
    assert owned["phone_number"] in page.locator("#numbers tbody").inner_text()
    assert twilio_fake.state.numbers[owned["sid"]]["voice_url"].endswith("/connect/webhook/twilio/voice?orgid=acme")
    assert not page.js_errors


def test_softphone_fetches_a_token_and_shows_my_phones(page, live_server, twilio_fake, acme):
    from extensions import db
    from models import PhoneNumber

    phone = PhoneNumber(org_id=acme["org"].id, sid="PN" + "d" * 32, phone_number="+14155550142", mode="voice")
    phone.assigned_users = [acme["alice"]]
    db.session.add(phone)
    db.session.commit()

    login(page, live_server, "alice@example.com", PASSWORD)
    with page.expect_response("**/softphone/token") as token_response:
        page.goto(live_server.url + "/softphone")
    response = token_response.value
    assert response.status == 200 and response.request.method == "POST"
    body = response.json()
    assert body["identity"] == "user:alice@example.com" and body["token"].count(".") == 2
    assert response.request.headers.get("x-csrftoken")

    assert "+14155550142" in page.locator("#softphone-phones").inner_text()
    assert page.locator("#softphone-identity").inner_text() == "user:alice@example.com"
    status = page.locator("#softphone-status")
    page.wait_for_function(
        "() => ['registering', 'error'].includes(document.getElementById('softphone-status').dataset.state)"
    )
    assert status.inner_text() in ("Registering…", "Could not reach Twilio")
    page.wait_for_selector("#softphone-status[data-state=error]", timeout=30_000)
    assert "could not register with Twilio" in page.locator("#softphone-detail").inner_text()
    assert page.locator("#dial").is_disabled() and page.locator("#incoming").is_hidden()
    shot(page, "softphone-unreachable")
    assert not page.js_errors, page.js_errors


def test_routing_forms_show_flow_state_default_to_ivr_and_offer_to_publish(page, live_server, twilio_fake, acme):
    from extensions import db
    from models import Flow
    from services.flow_revisions import publish
    from services.flow_templates import template_definition

    publish(acme["org"], acme["alice"], acme["flow"])  # "Main line" is live (r1)
    draft = Flow(org_id=acme["org"].id, name="Draft line", draft=template_definition("main_menu"), test_users=[])
    db.session.add(draft)
    db.session.commit()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.accept()))
    login(page, live_server, "alice@example.com", PASSWORD)
    page.goto(live_server.url + "/numbers")

    # an org with a published flow buys IVR numbers by default, and every form shows each flow's state
    assert page.locator("#buy-mode").input_value() == "ivr"
    assert page.locator("#buy-flow option:checked").inner_text() == "Main line · published r1"
    assert page.locator("#import-flow option").all_inner_texts() == [
        "— none —",
        "Draft line · draft only, not published",
        "Main line · published r1",
    ]

    # IVR without a flow is refused before the billing confirmation, which never opens
    page.select_option("#buy-flow", "")
    page.fill("#buy-form input[name=area_code]", "415")
    page.click("#search-numbers")
    buy = page.locator("#available button[name=phone_number]").first
    buy.click()
    required = page.locator("#buy-form .flow-required")
    required.wait_for()
    assert "IVR needs a flow" in required.inner_text() and dialogs == [] and not twilio_fake.state.numbers
    shot(page, "numbers-ivr-needs-a-flow")

    # an unpublished flow says so and offers to publish; bought anyway, the list flags the number
    page.select_option("#buy-flow", label="Draft line · draft only, not published")
    hint = page.locator("#buy-form [data-flow-hint]:visible")
    assert "“Draft line” is not published yet" in hint.inner_text() and required.is_hidden()
    shot(page, "numbers-unpublished-flow-hint")
    number = buy.get_attribute("value")
    buy.click()
    page.wait_for_selector(f"text=Bought {number}")
    assert dialogs == [f"Buy {number}? Twilio bills it to your account every month."]
    assert "The flow 'Draft line' has no published revision" in page.locator("#numbers .flash-warn").inner_text()
    row = page.locator(f"#numbers tr:has-text('{number}')")
    assert "flow not published: callers hear the fallback" in row.inner_text()
    shot(page, "numbers-unpublished-badge")

    # the routing form offers to publish it; once published, the options say so and the flag goes
    row.locator("text=Edit routing").click()
    edit_hint = page.locator("#routing-form [data-flow-hint]:visible")
    edit_hint.locator("text=Publish it now").click()
    page.wait_for_selector("#routing-form >> text=is published (revision 1): callers hear it now.")
    assert page.locator("#edit-flow option:checked").inner_text() == "Draft line · published r1"
    assert page.locator("#buy-flow option", has_text="Draft line").inner_text() == "Draft line · published r1"
    assert page.locator("#buy-form [data-flow-hint]").count() == 0
    shot(page, "numbers-published-from-routing")
    page.click("#routing-form button[type=submit]")
    page.wait_for_selector(f"text=Saved the routing of {number}")
    assert "flow not published" not in page.locator(f"#numbers tr:has-text('{number}')").inner_text()
    assert page.js_errors == []
