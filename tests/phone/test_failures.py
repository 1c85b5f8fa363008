"""No half states: a failure at each step of buy, import, re-route, release and verify leaves a
consistent, visible state that one action repairs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.exc import OperationalError

from extensions import db
from models import PhoneNumber, utcnow

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
    """Make the next `n` database commits (after `skip` good ones) fail as a locked database would."""
    real = db.session.commit
    left = {"n": 0, "skip": 0}

    def commit():
        if left["skip"] > 0:
            left["skip"] -= 1
            return real()
        if left["n"] > 0:
            left["n"] -= 1
            raise OperationalError("COMMIT", {}, Exception("database is locked"))
        return real()

    monkeypatch.setattr(db.session, "commit", commit)

    def arm(n: int = 1, skip: int = 0) -> None:
        left["n"], left["skip"] = n, skip

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


def test_twilio_unreachable_during_purchase_answers_pending_and_verify_settles_it(phone):
    offer = phone.fake.client().available_phone_numbers("US").local.list(area_code="415", limit=1)[0].phone_number
    phone.fake.state.set_down(True, mode="close")
    resp = phone.post("/phone/numbers", {"phoneNumber": offer, "mode": "voice"})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["status"] == "pending" and body["intent"]["action"] == "buy" and body["intent"]["state"] == "pending"
    assert "pending on Twilio" in body["lastError"]
    phone.fake.state.set_down(False)
    phone.app.config["PHONE_SAGA_GRACE_SECONDS"] = 0  # the purchase can no longer land: Twilio never got it
    report = phone.ok("GET", "/phone/verify")
    assert "pending" not in report and report["unknown_locally"] == []
    assert _rows(phone) == [] and phone.fake.state.numbers == {}


def test_intent_not_recorded_means_twilio_is_not_asked(phone, failing_commits):
    failing_commits(1)
    _error(phone.post("/phone/numbers", {"areaCode": "415", "mode": "voice"}), 503, "not_recorded")
    assert _rows(phone) == [] and phone.fake.state.numbers == {}


def test_sold_but_recording_failed_answers_pending_and_a_worker_run_records_it(phone, flow, failing_commits):
    from services.phone_reconcile import settle_due

    failing_commits(2, skip=1)  # the intent is written; recording Twilio's answer (and the note) fails
    resp = phone.post("/phone/numbers", {"areaCode": "415", "mode": "ivr", "flowId": flow.id})
    assert resp.status_code == 202, resp.get_data(as_text=True)
    [sid] = list(phone.fake.state.numbers)
    [row] = _rows(phone)
    assert row.sync_status == "pending" and row.sid is None and row.flow_id == flow.id
    with phone.app.app_context():
        assert settle_due() == {"tried": 0, "pending": 1}  # the request's lease still holds it
        phone.app.config["PHONETREE_CLOCK"] = lambda: utcnow() + timedelta(minutes=5)  # the lease runs out
        assert settle_due() == {"tried": 1, "pending": 0}
    [row] = _rows(phone)
    assert (row.sid, row.sync_status, row.flow_id) == (sid, "ok", flow.id)
    assert phone.twilio_number(sid)["voice_url"] == phone.hook("ivr-menu")
    assert phone.ok("GET", "/phone/verify")["unknown_locally"] == []


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
    failing_commits(1, skip=1)  # recording the release fails; the note that it is pending is kept
    resp = phone.post(f"/phone/numbers/{bought['phoneId']}/release")
    assert resp.status_code == 202 and resp.get_json()["released"] is False
    assert bought["sid"] not in phone.fake.state.numbers
    [row] = _rows(phone)
    assert row.sync_status == "pending"
    assert phone.ok("POST", f"/phone/numbers/{bought['phoneId']}/release")["released"] is True
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
    cases = [  # a string naming no row is unknown; a value of the wrong type or range is an invalid request
        ({"areaCode": "415", "mode": "ivr", "flowId": big}, "unknown_flow", None),
        ({"areaCode": "415", "mode": "ivr", "flowId": int(big)}, "invalid_request", "flowId"),
        ({"areaCode": "415", "mode": "voice", "assignedUsers": [big]}, "unknown_user", None),
        ({"areaCode": "415", "mode": "voice", "assignedUsers": [True]}, "invalid_request", "assignedUsers.0"),
    ]
    for body, code, field in cases:
        resp = phone.post("/phone/numbers", body)
        assert resp.status_code == 400, (body, resp.get_data(as_text=True))
        assert resp.get_json()["error"]["code"] == code
        assert resp.get_json()["error"].get("field") == field
    assert phone.fake.state.numbers == {}


def test_a_friendly_name_that_is_not_text_is_refused(phone):
    resp = phone.post("/phone/numbers", {"areaCode": "415", "mode": "voice", "friendlyName": {"name": "Sales"}})
    assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_request"
    assert resp.get_json()["error"]["field"] == "friendlyName"
    assert phone.fake.state.numbers == {}
