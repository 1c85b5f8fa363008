"""The /numbers page and the /softphone page through the Flask client (htmx partials, CSRF, roles)."""

from __future__ import annotations

import re

import pytest

from extensions import db
from models import PhoneNumber

HX = {"HX-Request": "true"}


@pytest.fixture
def admin_session(phone):
    """The phone fixture's admin, signed in; returns the CSRF token of the session."""
    assert phone.make.login("alice@example.com").status_code == 302
    return phone.make.csrf("/numbers")


def _post(phone, path: str, token: str, data: dict | None = None, htmx: bool = True):
    headers = {**HX, "X-CSRFToken": token} if htmx else {}
    return phone.client.post(path, data={**(data or {}), "csrf_token": token}, headers=headers)


def test_page_lists_numbers_with_routing_and_badges(phone, flow, admin_session):
    bought = phone.ok(
        "POST",
        "/phone/numbers",
        {"areaCode": "415", "flowId": flow.id, "assignedUsers": ["alice@example.com"]},
        status=201,
    )
    html = phone.client.get("/numbers").get_data(as_text=True)
    assert "<h1>Phone numbers</h1>" in html and 'id="buy-form"' in html and 'name="csrf_token"' in html
    row = re.search(rf'<tr id="number-{bought["phoneId"]}".*?</tr>', html, re.S).group(0)
    assert bought["phoneNumber"] in row and "Main line" in row and "alice@example.com" in row
    assert "in sync" in row and ">ivr<" in row
    assert f'href="/flows/{flow.id}">Main line</a>' in row  # from a number to its flow
    assert "flow not published: callers hear the fallback" in row
    assert f'<a href="/calls/?number={bought["phoneId"]}">Calls</a>' in row  # ... and to its calls
    calls = phone.client.get(f"/calls/?number={bought['phoneId']}").get_data(as_text=True)
    assert f'<option value="{bought["phoneId"]}" selected' in calls
    partial = phone.client.get("/numbers", headers=HX).get_data(as_text=True)
    assert partial.startswith('<section id="numbers"') and "<html" not in partial


def test_search_buy_edit_and_release_through_the_page(phone, flow, admin_session):
    token = admin_session
    found = phone.client.get("/numbers/available?country=US&area_code=212&contains=", headers=HX).get_data(as_text=True)
    numbers = re.findall(r'name="phone_number" value="(\+1212\d{7})"', found)
    assert len(numbers) == 10

    resp = _post(
        phone,
        "/numbers/buy",
        token,
        {"phone_number": numbers[0], "mode": "ivr", "flow_id": flow.id, "users": [str(phone.admin.id)]},
    )
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert f"Bought {numbers[0]}" in html and 'id="available" hx-swap-oob="innerHTML"' in html
    phone_row = db.session.scalars(PhoneNumber.for_org(phone.org.id)).one()
    assert phone.twilio_number(phone_row.sid)["voice_url"] == phone.hook("ivr-menu")

    form = phone.client.get(f"/numbers/{phone_row.id}/edit", headers=HX).get_data(as_text=True)
    assert 'id="routing-form"' in form and f'value="{flow.id}" selected' in form

    resp = _post(
        phone,
        f"/numbers/{phone_row.id}/routing",
        token,
        {"mode": "voice", "flow_id": "", "users": [], "sms_auto_reply": "We are closed today."},
    )
    assert resp.status_code == 200 and "Saved the routing" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert (phone_row.mode, phone_row.flow_id, phone_row.sms_auto_reply) == ("voice", None, "We are closed today.")
    assert phone_row.assigned_users == []
    assert phone.twilio_number(phone_row.sid)["voice_url"] == phone.hook("voice")

    bad = _post(phone, f"/numbers/{phone_row.id}/routing", token, {"mode": "ivr", "flow_id": ""})
    assert bad.status_code == 400 and "IVR mode needs a flow to answer its calls" in bad.get_data(as_text=True)

    gone = _post(phone, f"/numbers/{phone_row.id}/release", token)
    assert gone.status_code == 200 and f"Released {numbers[0]}" in gone.get_data(as_text=True)
    assert phone_row.sid not in phone.fake.state.numbers


def test_twilio_failure_is_shown_in_place_with_the_repair_button(phone, admin_session):
    token = admin_session
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415"}, status=201)
    phone.fake.state.fail_next(r"/IncomingPhoneNumbers/PN\w+\.json$", 500, method="POST")
    resp = _post(phone, f"/numbers/{bought['phoneId']}/routing", token, {"mode": "voice"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 409  # swapped in place by htmx (see base.html)
    assert "Twilio did not take the webhook settings" in html and "Push local config" in html
    resp = _post(phone, f"/numbers/{bought['phoneId']}/push", token)
    assert resp.status_code == 200 and "in sync" in resp.get_data(as_text=True)


def test_drift_panel_reports_repairs_and_adopts(phone, admin_session):
    token = admin_session
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415"}, status=201)
    phone.fake.state.update_number_behind_back(bought["sid"], voice_url="https://console.example/x")
    stranger = phone.fake.state.add_owned_number(phone.fake.account_sid)

    html = _post(phone, "/numbers/drift", token).get_data(as_text=True)
    assert "https://console.example/x" in html and phone.hook("voice") in html
    assert "1 drifted" in html and "1 unknown to Phonetree" in html and stranger["phone_number"] in html
    assert 'id="numbers" class="stack" hx-swap-oob="true"' in html and "drift: voice_url" in html

    repaired = _post(phone, f"/numbers/{bought['phoneId']}/push", token, {"then": "drift"}).get_data(as_text=True)
    assert "0 drifted" in repaired and "Pushed Phonetree" in repaired
    adopted = _post(phone, "/numbers/adopt", token, {"sid": stranger["sid"], "mode": "voice", "then": "drift"})
    assert "0 unknown to Phonetree" in adopted.get_data(as_text=True)
    assert phone.twilio_number(stranger["sid"])["voice_url"] == phone.hook("voice")


def test_importable_lists_only_numbers_not_yet_added(phone, admin_session):
    phone.ok("POST", "/phone/numbers", {"areaCode": "415"}, status=201)
    owned = phone.fake.state.add_owned_number(phone.fake.account_sid)
    html = phone.client.get("/numbers/importable", headers=HX).get_data(as_text=True)
    assert re.findall(r'name="sid" value="(PN\w+)"', html) == [owned["sid"]]


def test_without_javascript_forms_get_the_whole_page(phone, admin_session):
    token = admin_session
    owned = phone.fake.state.add_owned_number(phone.fake.account_sid)
    resp = _post(phone, "/numbers/adopt", token, {"sid": owned["sid"], "mode": "voice"}, htmx=False)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<h1>Phone numbers</h1>" in html and "Added " in html


def test_csrf_is_required_and_editors_cannot_change(phone, make):
    make.user("ed@example.com", role="editor", org=phone.org)
    phone.make.login("ed@example.com")
    token = phone.make.csrf("/numbers")
    html = phone.client.get("/numbers").get_data(as_text=True)
    assert 'id="buy-form"' not in html and "Check drift" in html
    assert _post(phone, "/numbers/buy", token, {"phone_number": "+14155550100"}).status_code == 403
    assert phone.client.post("/numbers/drift", headers=HX).status_code == 400  # no CSRF token
    assert phone.fake.state.numbers == {}


def test_other_orgs_number_is_404_on_the_page(phone, make, admin_session):
    other = make.org("globex")
    from tests.phone.conftest import connect_twilio

    connect_twilio(phone.app, other, phone.fake)
    theirs = PhoneNumber(org_id=other.id, sid="PN" + "c" * 32, phone_number="+14155550123", mode="voice")
    db.session.add(theirs)
    db.session.commit()
    assert phone.client.get(f"/numbers/{theirs.id}/edit", headers=HX).status_code == 404
    assert _post(phone, f"/numbers/{theirs.id}/release", admin_session).status_code == 404


def test_softphone_page_and_token(phone, admin_session, make):
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "assignedUsers": ["alice@example.com"]}, status=201)
    html = phone.client.get("/softphone").get_data(as_text=True)
    assert "twilio-voice-sdk-2.18.5/twilio.min.js" in html and bought["phoneNumber"] in html
    assert phone.client.post("/softphone/token").status_code == 400  # CSRF protected
    body = phone.client.post("/softphone/token", headers={"X-CSRFToken": admin_session}).get_json()
    assert body["identity"] == "user:alice@example.com" and body["phones"][0]["phoneNumber"] == bought["phoneNumber"]
    beat = phone.client.post("/softphone/heartbeat", headers={"X-CSRFToken": admin_session}).get_json()
    assert beat["online"] is True
    members = phone.client.get("/members/").get_data(as_text=True)
    assert 'badge-ok">online' in members
    gone = phone.client.post("/softphone/unregister", data={"csrf_token": admin_session})  # as sendBeacon sends it
    assert gone.get_json() == {"online": False}


def test_area_code_search_says_what_it_accepts(phone, admin_session):
    html = phone.client.get("/numbers").get_data(as_text=True)
    inputs = re.findall(r"<input [^>]*pattern=[^>]*>", html)
    assert inputs and all('title="' in i for i in inputs)
    assert 'title="2 to 5 digits, e.g. 415"' in html


def test_publish_offer_publishes_or_says_why_not(phone, flow, admin_session):
    broken = flow.draft | {"nodes": [n for n in flow.draft["nodes"] if n["id"] != "main"]}  # wires to a missing node
    from tests.phone.conftest import make_flow

    other = make_flow(phone.org, "Broken line")
    other.draft = broken
    db.session.commit()
    refused = _post(phone, f"/numbers/flows/{other.id}/publish", admin_session)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422 and "was not published" in html and f'href="/flows/{other.id}"' in html
    done = _post(phone, f"/numbers/flows/{flow.id}/publish", admin_session)
    assert done.status_code == 200 and "is published (revision 1): callers hear it now." in done.get_data(as_text=True)
    assert f'"flow-published": {{"id": {flow.id}, "revision": 1}}' in done.headers["HX-Trigger"]
    again = _post(phone, f"/numbers/flows/{flow.id}/publish", admin_session)  # a second tab: nothing new, same answer
    assert again.status_code == 200 and "revision 1" in again.get_data(as_text=True)
    assert _post(phone, "/numbers/flows/999999/publish", admin_session).status_code == 404


def test_the_routing_form_sets_the_numbers_messaging_flow(phone, flow, admin_session):
    from tests.phone.conftest import make_texts_flow

    texts = make_texts_flow(phone.org)
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "ivr", "flowId": flow.id}, status=201)
    form = phone.client.get(f"/numbers/{bought['phoneId']}/edit", headers=HX).get_data(as_text=True)
    picker = form[form.index('name="messaging_flow_id"'):].split("</select>")[0]
    assert f'value="{texts.id}"' in picker and f'value="{flow.id}"' not in picker  # only flows serving texts
    resp = _post(phone, f"/numbers/{bought['phoneId']}/routing", admin_session,
                 {"mode": "ivr", "flow_id": flow.id, "messaging_flow_id": texts.id})
    assert resp.status_code == 200 and "Saved the routing" in resp.get_data(as_text=True)
    db.session.expire_all()
    row = db.session.get(PhoneNumber, bought["phoneId"])
    assert (row.flow_id, row.messaging_flow_id) == (flow.id, texts.id)
    listing = phone.client.get("/numbers").get_data(as_text=True)
    assert "SMS flow" in listing and f'Texts: <a class="ellipsis" title="{texts.name}"' in listing  # both flows named
    _post(phone, f"/numbers/{bought['phoneId']}/routing", admin_session, {"mode": "ivr", "flow_id": flow.id})
    db.session.expire_all()
    assert db.session.get(PhoneNumber, bought["phoneId"]).messaging_flow_id == texts.id  # no picker: kept
