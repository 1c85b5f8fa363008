"""The Phone numbers API against the Twilio stand-in: buy, import, re-route, release, roles, isolation."""

from __future__ import annotations

from extensions import db
from models import PhoneNumber
from tests.phone.conftest import make_flow, make_texts_flow


def _only_number(phone) -> PhoneNumber:
    rows = db.session.scalars(PhoneNumber.for_org(phone.org.id)).all()
    assert len(rows) == 1
    return rows[0]


def test_buy_by_area_code_sets_webhooks_on_twilio(phone, flow, make):
    bob = make.user("bob@example.com", role="viewer", org=phone.org)
    body = phone.ok(
        "POST",
        "/phone/numbers",
        {"areaCode": "415", "mode": "ivr", "flowId": flow.id, "assignedUsers": ["bob@example.com", phone.admin.id]},
        status=201,
    )
    assert body["phoneNumber"].startswith("+1415") and body["sid"].startswith("PN")
    assert body["mode"] == "ivr" and body["flowId"] == flow.id and body["flowName"] == "Main line"
    assert [u["email"] for u in body["assignedUsers"]] == ["alice@example.com", "bob@example.com"]
    assert body["syncStatus"] == "ok" and body["lastError"] == ""

    on_twilio = phone.twilio_number(body["sid"])
    assert on_twilio["voice_url"] == phone.hook("ivr-menu") and on_twilio["voice_method"] == "POST"
    assert on_twilio["sms_url"] == phone.hook("sms") and on_twilio["sms_method"] == "POST"
    assert on_twilio["status_callback"] == phone.hook("status")

    row = _only_number(phone)
    assert (row.sid, row.phone_number, row.flow_id) == (body["sid"], body["phoneNumber"], flow.id)
    assert {u.email for u in row.assigned_users} == {"alice@example.com", bob.email}
    listed = phone.ok("GET", "/phone/numbers")["numbers"]
    assert [n["phoneId"] for n in listed] == [row.id]


def test_buy_a_given_number_in_voice_mode_and_with_contains(phone):
    offer = phone.ok("GET", "/phone/available?areaCode=212&limit=3")["available"][2]
    body = phone.ok("POST", "/phone/numbers", {"phoneNumber": offer["phoneNumber"], "mode": "voice"}, status=201)
    assert body["phoneNumber"] == offer["phoneNumber"] and body["mode"] == "voice" and body["flowId"] is None
    assert phone.twilio_number(body["sid"])["voice_url"] == phone.hook("voice")

    tail = phone.ok("GET", "/phone/available?areaCode=312&limit=1")["available"][0]["phoneNumber"][-4:]
    second = phone.ok("POST", "/phone/numbers", {"areaCode": "312", "contains": tail, "mode": "voice"}, status=201)
    assert second["phoneNumber"].startswith("+1312") and second["phoneNumber"].endswith(tail)


def test_buy_accepts_a_national_number_and_stores_e164(phone):
    offer = phone.ok("GET", "/phone/available?areaCode=617&limit=1")["available"][0]["phoneNumber"]
    national = f"({offer[2:5]}) {offer[5:8]}-{offer[8:]}"
    body = phone.ok("POST", "/phone/numbers", {"phoneNumber": national, "mode": "voice"}, status=201)
    assert body["phoneNumber"] == offer


def test_import_an_owned_number_by_number_and_by_sid(phone, flow):
    owned = phone.fake.state.add_owned_number(phone.fake.account_sid, voice_url="https://old.example/voice")
    body = phone.ok("POST", "/phone/numbers/add", {"phoneNumber": owned["phone_number"], "flowId": flow.id}, 201)
    assert body["sid"] == owned["sid"] and body["mode"] == "ivr" and body["syncStatus"] == "ok"
    assert phone.twilio_number(owned["sid"])["voice_url"] == phone.hook("ivr-menu")
    assert phone.twilio_number(owned["sid"])["status_callback"] == phone.hook("status")

    again = phone.post("/phone/numbers/add", {"sid": owned["sid"], "mode": "voice"})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_added"

    other = phone.fake.state.add_owned_number(phone.fake.account_sid)
    by_sid = phone.ok("POST", "/phone/numbers/add", {"sid": other["sid"], "mode": "voice"}, 201)
    assert by_sid["phoneNumber"] == other["phone_number"]
    assert phone.twilio_number(other["sid"])["voice_url"] == phone.hook("voice")


def test_import_a_number_twilio_does_not_have(phone):
    resp = phone.post("/phone/numbers/add", {"phoneNumber": "+14155550199", "mode": "voice"})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_on_twilio"
    resp = phone.post("/phone/numbers/add", {"sid": "PN" + "0" * 32, "mode": "voice"})
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_on_twilio"
    assert db.session.scalars(PhoneNumber.for_org(phone.org.id)).all() == []


def test_reroute_pushes_and_release_forgets(phone, flow):
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "206", "mode": "voice"}, status=201)
    other_flow = make_flow(phone.org, "After hours")
    routed = phone.ok(
        "POST",
        f"/phone/numbers/{bought['phoneId']}/routing",
        {"mode": "ivr", "flowId": other_flow.id, "smsAutoReply": "Thanks, we will call you back."},
    )
    assert routed["mode"] == "ivr" and routed["flowId"] == other_flow.id
    assert routed["smsAutoReply"] == "Thanks, we will call you back."
    assert phone.twilio_number(bought["sid"])["voice_url"] == phone.hook("ivr-menu")

    back = phone.ok("POST", f"/phone/numbers/{bought['phoneId']}/routing", {"mode": "voice"})
    assert back["mode"] == "voice" and back["flowId"] == other_flow.id  # fields left out are kept
    assert phone.twilio_number(bought["sid"])["voice_url"] == phone.hook("voice")

    released = phone.ok("POST", f"/phone/numbers/{bought['phoneId']}/release")
    assert released == {"released": True, "phoneId": bought["phoneId"], "phoneNumber": bought["phoneNumber"]}
    assert bought["sid"] not in phone.fake.state.numbers
    assert phone.ok("GET", "/phone/numbers")["numbers"] == []

    second = phone.ok("POST", "/phone/numbers", {"areaCode": "206", "mode": "voice"}, status=201)
    resp = phone.client.delete(f"/phone/numbers/{second['phoneId']}", headers=phone.headers)
    assert resp.status_code == 200 and second["sid"] not in phone.fake.state.numbers


def test_routing_validation(phone, flow, make):
    other_org = make.org("globex")
    foreign_flow = make_flow(other_org, "Globex line")
    make.user("eve@example.com", role="admin", org=other_org)
    cases = [
        ({"areaCode": "415", "mode": "ivr"}, "flow_required"),
        ({"areaCode": "415", "mode": "fax"}, "invalid_mode"),
        ({"areaCode": "415", "mode": "ivr", "flowId": foreign_flow.id}, "unknown_flow"),
        ({"areaCode": "415", "mode": "ivr", "flowId": "nope"}, "unknown_flow"),
        ({"areaCode": "415", "mode": "voice", "assignedUsers": ["eve@example.com"]}, "unknown_user"),
        ({"areaCode": "415", "mode": "voice", "assignedUsers": "alice@example.com"}, "invalid_request"),
        ({"phoneNumber": "call me maybe", "mode": "voice"}, "invalid_phone_number"),
        ({"phoneNumber": "+1 415", "mode": "voice"}, "invalid_phone_number"),
        ({"areaCode": "4x5", "mode": "voice"}, "invalid_area_code"),
        ({"mode": "voice"}, "invalid_request"),
    ]
    for body, code in cases:
        resp = phone.post("/phone/numbers", body)
        assert resp.status_code == 400, (body, resp.get_json())
        err = resp.get_json()["error"]
        assert err["code"] == code and err["message"], body
    assert "eve@example.com" in phone.post("/phone/numbers", cases[4][0]).get_json()["error"]["message"]
    assert phone.fake.state.numbers == {}  # nothing was bought
    resp = phone.client.post("/phone/numbers", data="not json", headers=phone.headers)
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_request"


def test_roles_editor_cannot_buy_viewer_can_list(phone, make):
    editor = make.user("ed@example.com", role="editor", org=phone.org)
    headers = make.api_headers(editor, phone.org)
    for path in ("/phone/numbers", "/phone/numbers/add"):
        resp = phone.post(path, {"areaCode": "415", "mode": "voice"}, headers=headers)
        assert resp.status_code == 403 and resp.get_json()["error"]["code"] == "forbidden"
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "voice"}, status=201)
    for path in (f"/phone/numbers/{bought['phoneId']}/routing", f"/phone/numbers/{bought['phoneId']}/release"):
        assert phone.post(path, {"mode": "voice"}, headers=headers).status_code == 403
    assert phone.get("/phone/numbers", headers=headers).get_json()["numbers"][0]["sid"] == bought["sid"]
    assert bought["sid"] in phone.fake.state.numbers
    assert phone.client.get("/phone/numbers").get_json()["error"]["code"] == "missing_token"


def test_another_orgs_number_is_not_found(phone, make):
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "voice"}, status=201)
    other = make.org("globex")
    eve = make.user("eve@example.com", role="admin", org=other)
    headers = make.api_headers(eve, other)
    assert phone.get("/phone/numbers", headers=headers).get_json() == {"numbers": []}
    for method, path in [
        ("GET", f"/phone/numbers/{bought['phoneId']}"),
        ("POST", f"/phone/numbers/{bought['phoneId']}/routing"),
        ("POST", f"/phone/numbers/{bought['phoneId']}/push"),
        ("POST", f"/phone/numbers/{bought['phoneId']}/release"),
    ]:
        resp = phone.get(path, headers) if method == "GET" else phone.post(path, {"mode": "voice"}, headers)
        assert resp.status_code == 404, path
        assert resp.get_json()["error"]["code"] == "not_found"
        assert phone.org.slug not in resp.get_data(as_text=True)
    assert bought["sid"] in phone.fake.state.numbers
    resp = phone.get("/phone/numbers", headers={**phone.headers, "orgid": "globex"})
    assert resp.status_code == 403
    assert phone.get("/phone/numbers/abc").get_json()["error"]["code"] == "not_found"


def test_not_connected_org_gets_a_clear_error(client, make):
    org = make.org("initech")
    admin = make.user("boss@example.com", role="admin", org=org)
    resp = client.post("/phone/numbers", json={"areaCode": "415"}, headers=make.api_headers(admin, org))
    assert resp.status_code == 409
    assert resp.get_json()["error"] == {
        "code": "twilio_not_connected",
        "message": "Connect a Twilio account under Settings (Twilio) first.",
    }


def _statements(fn) -> int:
    from sqlalchemy import event

    from extensions import db

    seen: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        fn()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    return len(seen)


def test_listing_numbers_takes_no_query_per_number(phone, make):
    from extensions import db

    flows = [make_flow(phone.org, f"Line {i}") for i in range(4)]
    users = [make.user(f"agent{i}@example.com", role="viewer", org=phone.org) for i in range(2)]
    counts = []
    for target in (1, 4):
        while len(phone.ok("GET", "/phone/numbers")["numbers"]) < target:
            n = len(phone.ok("GET", "/phone/numbers")["numbers"])
            body = {"areaCode": "415", "mode": "ivr", "flowId": flows[n].id, "assignedUsers": [u.email for u in users]}
            phone.ok("POST", "/phone/numbers", body, status=201)
        db.session.expire_all()
        counts.append(_statements(lambda: phone.ok("GET", "/phone/numbers")))
    assert counts[0] == counts[1], counts
    numbers = phone.ok("GET", "/phone/numbers")["numbers"]
    assert [n["flowName"] for n in numbers] != [None] * 4 and all(len(n["assignedUsers"]) == 2 for n in numbers)


def test_a_number_another_org_uses_cannot_be_adopted(phone, app, make):
    from tests.phone.conftest import connect_twilio

    owned = phone.fake.state.add_owned_number(phone.fake.account_sid)
    phone.ok("POST", "/phone/numbers/add", {"phoneNumber": owned["phone_number"], "mode": "voice"}, 201)
    sister = make.org("sister", "Sister Co")
    admin = make.user("sis@example.com", role="admin", org=sister)
    connect_twilio(app, sister, phone.fake)  # the same Twilio account
    resp = phone.post(
        "/phone/numbers/add", {"sid": owned["sid"], "mode": "voice"}, headers=make.api_headers(admin, sister)
    )
    body = resp.get_json()
    assert resp.status_code == 409 and body["error"]["code"] == "number_in_use"
    assert "acme" not in body["error"]["message"].lower()
    assert db.session.scalars(PhoneNumber.for_org(sister.id)).all() == []
    assert phone.twilio_number(owned["sid"])["voice_url"] == phone.hook("voice")  # still routed to acme


def test_routing_to_an_unpublished_flow_answers_with_a_warning(phone, flow):
    from services.flow_revisions import publish

    warning = {
        "code": "flow_not_published",
        "message": "The flow 'Main line' has no published revision: callers hear the fallback apology until it is "
        "published.",
    }
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "ivr", "flowId": flow.id}, status=201)
    assert bought["warnings"] == [warning] and bought["syncStatus"] == "ok"  # routed and pushed all the same
    owned = phone.fake.state.add_owned_number(phone.fake.account_sid)
    added = phone.ok("POST", "/phone/numbers/add", {"sid": owned["sid"], "flowId": flow.id}, status=201)
    assert added["warnings"] == [warning]
    voice = phone.ok("POST", f"/phone/numbers/{added['phoneId']}/routing", {"mode": "voice"})
    assert voice["warnings"] == []  # a flow kept on a voice number answers no calls
    publish(phone.org, None, flow)
    db.session.commit()
    routed = phone.ok("POST", f"/phone/numbers/{bought['phoneId']}/routing", {"mode": "ivr"})
    assert routed["warnings"] == [] and routed["flowId"] == flow.id


def test_a_number_name_over_twilios_limit_is_refused_not_cut(phone):
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "voice"}, status=201)
    name = "Front desk main line for walk-in customers and deliveries, east!"  # 64 characters
    assert len(name) == 64
    too_long = phone.post(f"/phone/numbers/{bought['phoneId']}/routing", {"friendlyName": name + "!"})
    assert too_long.status_code == 400 and too_long.get_json()["error"] == {
        "code": "invalid_friendly_name",
        "message": "The number's name is 65 characters; Twilio keeps at most 64. Shorten it.",
    }
    renamed = phone.ok("POST", f"/phone/numbers/{bought['phoneId']}/routing", {"friendlyName": name})
    assert renamed["friendlyName"] == name


def test_messaging_flow_id_routes_texts_beside_the_voice_flow(phone, flow):
    texts = make_texts_flow(phone.org)
    body = phone.ok(
        "POST",
        "/phone/numbers",
        {"areaCode": "415", "mode": "ivr", "flowId": flow.id, "messagingFlowId": texts.id},
        status=201,
    )
    assert (body["flowId"], body["messagingFlowId"], body["messagingFlowName"]) == (flow.id, texts.id, "Text line")
    assert phone.twilio_number(body["sid"])["sms_url"] == phone.hook("sms")  # the SMS URL is the same as ever
    routed = phone.ok("POST", f"/phone/numbers/{body['phoneId']}/routing", {"smsAutoReply": "Thanks"})
    assert routed["messagingFlowId"] == texts.id and routed["flowId"] == flow.id  # left out: kept
    cleared = phone.ok("POST", f"/phone/numbers/{body['phoneId']}/routing", {"messagingFlowId": None})
    assert cleared["messagingFlowId"] is None and cleared["smsAutoReply"] == "Thanks"
    resp = phone.post(f"/phone/numbers/{body['phoneId']}/routing", {"messagingFlowId": flow.id})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "flow_not_messaging"


def test_a_flow_that_texts_route_to_is_listed_with_its_numbers_and_cannot_be_archived(phone, flow, make):
    texts = make_texts_flow(phone.org)
    body = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "voice", "messagingFlowId": texts.id},
                    status=201)
    editor = make.user("ed@example.com", role="editor", org=phone.org)
    headers = make.api_headers(editor, phone.org)
    summary = phone.client.get(f"/api/flows/{texts.id}", headers=headers).get_json()
    assert summary["numbers"] == [body["phoneNumber"]] and summary["channels"] == ["messaging"]
    resp = phone.client.post(f"/api/flows/{texts.id}/archive", json={}, headers=headers)
    assert resp.status_code == 400 and body["phoneNumber"] in resp.get_json()["error"]["message"]
