"""GET /phone/verify: every kind of drift is reported exactly, and pushing the routing repairs it."""

from __future__ import annotations


def _buy(phone, area: str, **routing) -> dict:
    return phone.ok("POST", "/phone/numbers", {"areaCode": area, "mode": "voice", **routing}, status=201)


def test_in_sync_report_shape(phone):
    a = _buy(phone, "415")
    assert phone.ok("GET", "/phone/verify") == {
        "in_sync": [{"phoneId": a["phoneId"], "phoneNumber": a["phoneNumber"]}],
        "drift": [],
        "missing_on_twilio": [],
        "unknown_locally": [],
    }


def test_each_kind_of_drift_is_reported_exactly_and_repaired(phone, flow):
    state = phone.fake.state
    steady = _buy(phone, "206")
    voice = _buy(phone, "212", mode="ivr", flowId=flow.id)
    sms = _buy(phone, "312")
    gone = _buy(phone, "415")
    state.update_number_behind_back(voice["sid"], voice_url="https://console.example/voice", voice_method="GET")
    state.update_number_behind_back(sms["sid"], sms_url="", status_callback="https://console.example/status")
    del state.numbers[gone["sid"]]
    stranger = state.add_owned_number(phone.fake.account_sid, friendly_name="Console purchase")

    report = phone.ok("GET", "/phone/verify")
    assert report["in_sync"] == [{"phoneId": steady["phoneId"], "phoneNumber": steady["phoneNumber"]}]
    v, s = (
        {"phoneId": voice["phoneId"], "phoneNumber": voice["phoneNumber"]},
        {"phoneId": sms["phoneId"], "phoneNumber": sms["phoneNumber"]},
    )
    assert report["drift"] == [
        {**v, "field": "voice_url", "local": phone.hook("ivr-menu"), "twilio": "https://console.example/voice"},
        {**v, "field": "voice_method", "local": "POST", "twilio": "GET"},
        {**s, "field": "sms_url", "local": phone.hook("sms"), "twilio": None},
        {**s, "field": "status_callback", "local": phone.hook("status"), "twilio": "https://console.example/status"},
    ]
    assert report["missing_on_twilio"] == [
        {"phoneId": gone["phoneId"], "phoneNumber": gone["phoneNumber"], "sid": gone["sid"]}
    ]
    assert report["unknown_locally"] == [
        {"sid": stranger["sid"], "phoneNumber": stranger["phone_number"], "friendlyName": "Console purchase"}
    ]

    listed = {n["phoneId"]: n for n in phone.ok("GET", "/phone/numbers")["numbers"]}
    assert listed[voice["phoneId"]]["syncStatus"] == "needs_push"
    assert [d["field"] for d in listed[voice["phoneId"]]["drift"]] == ["voice_url", "voice_method"]
    assert listed[gone["phoneId"]]["syncStatus"] == "error" and "no longer has" in listed[gone["phoneId"]]["lastError"]
    assert listed[steady["phoneId"]]["drift"] == [] and listed[steady["phoneId"]]["syncStatus"] == "ok"

    phone.ok("POST", f"/phone/numbers/{voice['phoneId']}/routing", {})  # re-push the same routing
    phone.ok("POST", f"/phone/numbers/{sms['phoneId']}/push")
    phone.ok("POST", f"/phone/numbers/{gone['phoneId']}/release")
    phone.ok("POST", "/phone/numbers/add", {"sid": stranger["sid"], "mode": "voice"}, status=201)
    after = phone.client.post("/phone/verify", headers=phone.headers).get_json()  # POST is accepted too
    assert after["drift"] == [] and after["missing_on_twilio"] == [] and after["unknown_locally"] == []
    assert len(after["in_sync"]) == 4
    assert state.numbers[voice["sid"]]["voice_method"] == "POST"
    assert state.numbers[sms["sid"]]["sms_url"] == phone.hook("sms")


def test_an_application_sid_set_in_the_console_is_drift(phone):
    a = _buy(phone, "415")
    phone.fake.state.update_number_behind_back(a["sid"], voice_application_sid="AP" + "b" * 32)
    drift = phone.ok("GET", "/phone/verify")["drift"]
    assert drift == [
        {
            "phoneId": a["phoneId"],
            "phoneNumber": a["phoneNumber"],
            "field": "voice_application_sid",
            "local": None,
            "twilio": "AP" + "b" * 32,
        }
    ]
    phone.ok("POST", f"/phone/numbers/{a['phoneId']}/push")
    assert phone.fake.state.numbers[a["sid"]]["voice_application_sid"] is None
    assert phone.ok("GET", "/phone/verify")["drift"] == []


def test_fixing_drift_in_the_console_clears_it(phone):
    a = _buy(phone, "415")
    phone.fake.state.update_number_behind_back(a["sid"], voice_url="https://console.example/voice")
    assert len(phone.ok("GET", "/phone/verify")["drift"]) == 1
    phone.fake.state.update_number_behind_back(a["sid"], voice_url=phone.hook("voice"))
    assert phone.ok("GET", "/phone/verify")["drift"] == []
    assert phone.ok("GET", f"/phone/numbers/{a['phoneId']}")["syncStatus"] == "ok"


def test_viewer_may_verify(phone, make):
    viewer = make.user("vic@example.com", role="viewer", org=phone.org)
    resp = phone.get("/phone/verify", headers=make.api_headers(viewer, phone.org))
    assert resp.status_code == 200 and set(resp.get_json()) == {
        "in_sync",
        "drift",
        "missing_on_twilio",
        "unknown_locally",
    }
