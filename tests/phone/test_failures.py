"""No half states: a failure at each step of buy, import, re-route, release and verify leaves a
consistent, visible state that one action repairs."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from extensions import db
from models import PhoneNumber

NUMBERS = r"/IncomingPhoneNumbers\.json$"
ONE_NUMBER = r"/IncomingPhoneNumbers/PN[0-9a-f]{32}\.json$"
SEARCH = r"/AvailablePhoneNumbers/US/Local\.json$"


def _rows(phone) -> list[PhoneNumber]:
    db.session.expire_all()
    return list(db.session.scalars(PhoneNumber.for_org(phone.org.id)))


def _error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["error"]["code"] == code and body["error"]["message"]
    return body


@pytest.fixture
def failing_commits(monkeypatch):
    """Make the next `n` database commits fail as a locked database would."""
    real = db.session.commit
    left = {"n": 0}

    def commit():
        if left["n"] > 0:
            left["n"] -= 1
            raise OperationalError("COMMIT", {}, Exception("database is locked"))
        return real()

    monkeypatch.setattr(db.session, "commit", commit)

    def arm(n: int = 1) -> None:
        left["n"] = n

    return arm


def test_search_fails_nothing_bought_or_stored(phone):
    phone.fake.state.fail_next(SEARCH, 503, method="GET")
    body = _error(
        phone.post("/phone/numbers", {"areaCode": "415", "contains": "5", "mode": "voice"}), 502, "upstream_error"
    )
    assert "20503" in body["error"]["message"] and body["upstream"]["code"] == 20503
    assert _rows(phone) == [] and phone.fake.state.numbers == {}


def test_purchase_refused_stores_nothing(phone):
    phone.fake.state.fail_next(NUMBERS, 400, 21422, "PhoneNumber +14155550100 is not available", method="POST")
    body = _error(phone.post("/phone/numbers", {"areaCode": "415", "mode": "voice"}), 502, "upstream_error")
    assert "nothing was bought" in body["error"]["message"] and "21422" in body["error"]["message"]
    assert "phone" not in body
    assert _rows(phone) == [] and phone.fake.state.numbers == {}


def test_twilio_unreachable_during_purchase_stores_nothing_and_says_how_to_recover(phone):
    phone.fake.state.set_down(True, mode="close")
    body = _error(phone.post("/phone/numbers", {"areaCode": "415", "mode": "voice"}), 502, "upstream_error")
    phone.fake.state.set_down(False)
    assert "Check drift" in body["error"]["message"] and body["upstream"]["code"] == "unreachable"
    assert _rows(phone) == []


def test_sold_but_saving_failed_is_recorded_and_routing_repairs_it(phone, flow, failing_commits):
    failing_commits(1)
    body = _error(
        phone.post("/phone/numbers", {"areaCode": "415", "mode": "ivr", "flowId": flow.id}), 500, "partially_saved"
    )
    recorded = body["phone"]
    assert recorded["syncStatus"] == "error" and recorded["sid"] in body["error"]["message"]
    assert "Set its routing again" in recorded["lastError"] and recorded["flowId"] is None
    [row] = _rows(phone)
    assert row.sync_status == "error" and row.sid == recorded["sid"]

    fixed = phone.ok("POST", f"/phone/numbers/{row.id}/routing", {"mode": "ivr", "flowId": flow.id})
    assert fixed["syncStatus"] == "ok" and fixed["lastError"] == "" and fixed["flowId"] == flow.id
    assert phone.twilio_number(row.sid)["voice_url"] == phone.hook("ivr-menu")


def test_sold_but_nothing_could_be_recorded_names_the_sid_to_adopt(phone, failing_commits):
    failing_commits(2)
    body = _error(phone.post("/phone/numbers", {"areaCode": "415", "mode": "voice"}), 500, "not_recorded")
    [sid] = list(phone.fake.state.numbers)
    assert sid in body["error"]["message"] and _rows(phone) == []
    report = phone.ok("GET", "/phone/verify")
    assert [u["sid"] for u in report["unknown_locally"]] == [sid]
    adopted = phone.ok("POST", "/phone/numbers/add", {"sid": sid, "mode": "voice"}, status=201)
    assert adopted["syncStatus"] == "ok" and phone.ok("GET", "/phone/verify")["unknown_locally"] == []


def test_import_lookup_fails_stores_nothing(phone):
    owned = phone.fake.state.add_owned_number(phone.fake.account_sid)
    phone.fake.state.fail_next(NUMBERS, 500, method="GET")
    _error(
        phone.post("/phone/numbers/add", {"phoneNumber": owned["phone_number"], "mode": "voice"}), 502, "upstream_error"
    )
    phone.fake.state.fail_next(ONE_NUMBER, 429, method="GET")
    _error(phone.post("/phone/numbers/add", {"sid": owned["sid"], "mode": "voice"}), 502, "upstream_error")
    assert _rows(phone) == []


def test_import_webhook_update_fails_records_error_and_push_repairs(phone):
    owned = phone.fake.state.add_owned_number(phone.fake.account_sid, voice_url="https://old.example/v")
    phone.fake.state.fail_next(ONE_NUMBER, 500, method="POST")
    body = _error(phone.post("/phone/numbers/add", {"sid": owned["sid"], "mode": "voice"}), 502, "upstream_error")
    recorded = body["phone"]
    assert recorded["syncStatus"] == "error" and "20500" in recorded["lastError"]
    assert "Push the local config" in body["error"]["message"]
    assert phone.twilio_number(owned["sid"])["voice_url"] == "https://old.example/v"
    listed = phone.ok("GET", "/phone/numbers")["numbers"]
    assert [(n["phoneId"], n["syncStatus"]) for n in listed] == [(recorded["phoneId"], "error")]

    repaired = phone.ok("POST", f"/phone/numbers/{recorded['phoneId']}/push")
    assert repaired["syncStatus"] == "ok" and repaired["lastError"] == ""
    assert phone.twilio_number(owned["sid"])["voice_url"] == phone.hook("voice")


def test_reroute_update_fails_keeps_new_routing_marked_error(phone, flow):
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "voice"}, status=201)
    phone.fake.state.fail_next(ONE_NUMBER, 503, method="POST")
    resp = phone.post(f"/phone/numbers/{bought['phoneId']}/routing", {"mode": "ivr", "flowId": flow.id})
    body = _error(resp, 502, "upstream_error")
    assert body["phone"]["mode"] == "ivr" and body["phone"]["syncStatus"] == "error"
    assert phone.twilio_number(bought["sid"])["voice_url"] == phone.hook("voice")  # Twilio unchanged
    [row] = _rows(phone)
    assert (row.mode, row.flow_id, row.sync_status) == ("ivr", flow.id, "error")

    phone.ok("POST", f"/phone/numbers/{bought['phoneId']}/push")
    assert phone.twilio_number(bought["sid"])["voice_url"] == phone.hook("ivr-menu")
    assert _rows(phone)[0].sync_status == "ok"


def test_release_refused_changes_nothing_and_a_retry_works(phone):
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "voice"}, status=201)
    phone.fake.state.fail_next(ONE_NUMBER, 500, method="DELETE")
    body = _error(phone.post(f"/phone/numbers/{bought['phoneId']}/release"), 502, "upstream_error")
    assert "nothing changed" in body["error"]["message"]
    assert bought["sid"] in phone.fake.state.numbers and len(_rows(phone)) == 1
    phone.ok("POST", f"/phone/numbers/{bought['phoneId']}/release")
    assert bought["sid"] not in phone.fake.state.numbers and _rows(phone) == []


def test_release_of_a_number_twilio_no_longer_has_forgets_it(phone):
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "voice"}, status=201)
    del phone.fake.state.numbers[bought["sid"]]  # released in Twilio's console
    phone.ok("POST", f"/phone/numbers/{bought['phoneId']}/release")
    assert _rows(phone) == []


def test_release_recorded_when_local_delete_fails(phone, failing_commits):
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "voice"}, status=201)
    failing_commits(1)
    body = _error(phone.post(f"/phone/numbers/{bought['phoneId']}/release"), 500, "partially_released")
    assert body["phone"]["syncStatus"] == "error" and "Release it again" in body["phone"]["lastError"]
    assert bought["sid"] not in phone.fake.state.numbers
    phone.ok("POST", f"/phone/numbers/{bought['phoneId']}/release")
    assert _rows(phone) == []


def test_verify_fails_changes_nothing(phone):
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "voice"}, status=201)
    phone.fake.state.update_number_behind_back(bought["sid"], voice_url="https://evil.example/")
    phone.fake.state.fail_next(NUMBERS, 500, method="GET")
    _error(phone.get("/phone/verify"), 502, "upstream_error")
    [row] = _rows(phone)
    assert row.sync_status == "ok" and row.drift == [] and row.checked_at is not None


def test_import_racing_another_import_gets_a_conflict(phone, monkeypatch):
    from sqlalchemy import insert

    import services.phone_numbers as service

    owned = phone.fake.state.add_owned_number(phone.fake.account_sid)
    real_apply = service.apply_routing

    def apply_after_someone_else_added_it(row, routing):
        with db.engine.begin() as conn:  # another request wins between the check and the insert
            conn.execute(
                insert(PhoneNumber).values(
                    org_id=phone.org.id,
                    sid=owned["sid"],
                    phone_number=owned["phone_number"],
                    friendly_name="",
                    mode="voice",
                    sms_auto_reply="",
                    sync_status="ok",
                    last_error="",
                    capabilities={},
                    drift=[],
                )
            )
        real_apply(row, routing)

    monkeypatch.setattr(service, "apply_routing", apply_after_someone_else_added_it)
    _error(phone.post("/phone/numbers/add", {"sid": owned["sid"], "mode": "voice"}), 409, "already_added")
    assert len(_rows(phone)) == 1


def test_ids_too_large_to_exist_are_clear_errors_not_500s(phone):
    big = "9" * 20
    resp = phone.get(f"/phone/numbers/{big}")
    assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    cases = [
        ({"areaCode": "415", "mode": "ivr", "flowId": big}, "unknown_flow"),
        ({"areaCode": "415", "mode": "ivr", "flowId": int(big)}, "unknown_flow"),
        ({"areaCode": "415", "mode": "voice", "assignedUsers": [big]}, "unknown_user"),
        ({"areaCode": "415", "mode": "voice", "assignedUsers": [True]}, "unknown_user"),
    ]
    for body, code in cases:
        resp = phone.post("/phone/numbers", body)
        assert resp.status_code == 400, (body, resp.get_data(as_text=True))
        assert resp.get_json()["error"]["code"] == code
    assert phone.fake.state.numbers == {}


def test_a_friendly_name_that_is_not_text_is_refused(phone):
    resp = phone.post("/phone/numbers", {"areaCode": "415", "mode": "voice", "friendlyName": {"name": "Sales"}})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_friendly_name"
    assert phone.fake.state.numbers == {}
