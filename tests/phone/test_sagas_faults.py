"""Fault test of the number sagas: Twilio answering after the client's timeout, dropping the connection
after doing the work, and the app crashing between the steps, for buy, import, release and routing.

Every answer must be true when it is given (checked against the stand-in's state at that moment), and
after reconciliation (a worker run, then a drift check): no number owned on Twilio but unknown to
Phonetree, no released number shown as active, nothing left pending.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest

from extensions import db
from models import PhoneIntent, PhoneNumber, utcnow
from upstream.twilio_provider import TwilioProvider

pytestmark = pytest.mark.db

# TWILIO_TIMEOUT_SECONDS for these tests, and how late the stand-in answers (after the client gave up).
# The finding was 3 s and 5 s: SAGA_FAULT_TIMEOUT=3 SAGA_FAULT_LATE=5 replays it exactly, more slowly.
TIMEOUT = float(os.environ.get("SAGA_FAULT_TIMEOUT", "2"))
LATE = float(os.environ.get("SAGA_FAULT_LATE", "3"))
NUMBERS = r"/IncomingPhoneNumbers\.json$"
ONE_NUMBER = r"/IncomingPhoneNumbers/PN[0-9a-f]{32}\.json$"

# operation -> (the Twilio request that does its work, the provider method making it)
TWILIO_STEP = {
    "buy": (NUMBERS, "POST", "purchase_number"),
    "import": (ONE_NUMBER, "POST", "update_number"),
    "route": (ONE_NUMBER, "POST", "update_number"),
    "release": (ONE_NUMBER, "DELETE", "release_number"),
}
# fault -> the answer the API must give: the work was done and a lookup says so (done), or the work
# lands only after the answer (pending); a crash gives no answer at all.
FAULTS = {
    "late_after_work": "done",
    "drop_after_work": "done",
    "late_before_work": "pending",
    "crash_after_intent": None,
    "crash_after_twilio": None,
}


class Crash(BaseException):
    """The process dying between two steps (not an Exception: nothing in the app may catch it)."""


@pytest.fixture
def slow_twilio(phone):
    """The phone fixture with a short Twilio timeout (set before the org's provider is built)."""
    phone.app.config["TWILIO_TIMEOUT_SECONDS"] = TIMEOUT
    return phone


def _rows(phone) -> list[PhoneNumber]:
    db.session.expire_all()
    return list(db.session.scalars(PhoneNumber.for_org(phone.org.id).order_by(PhoneNumber.id)))


def _owned(phone) -> dict[str, dict]:
    return {r["sid"]: r for r in phone.fake.state.numbers_of(phone.fake.account_sid)}


def _prepare(phone, operation: str, flow) -> tuple[str, dict]:
    """The request to make (path, body) and, for release and route, the number bought beforehand."""
    routed = {"mode": "ivr", "flowId": flow.id}
    if operation == "buy":
        return "/phone/numbers", {"areaCode": "415", **routed}
    if operation == "import":
        owned = phone.fake.state.add_owned_number(phone.fake.account_sid, voice_url="https://old.example/v")
        return "/phone/numbers/add", {"sid": owned["sid"], **routed}
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "voice"}, status=201)
    if operation == "route":
        return f"/phone/numbers/{bought['phoneId']}/routing", routed
    return f"/phone/numbers/{bought['phoneId']}/release", {}


def _arm(phone, monkeypatch, operation: str, fault: str) -> None:
    path, method, provider_method = TWILIO_STEP[operation]
    if fault == "late_after_work":
        phone.fake.state.fault_next(path, "slow", seconds=LATE, method=method)
    elif fault == "late_before_work":
        phone.fake.state.fault_next(path, "slow", seconds=LATE, work_first=False, method=method)
    elif fault == "drop_after_work":
        phone.fake.state.fault_next(path, "drop", method=method)
    else:
        real = getattr(TwilioProvider, provider_method)

        def crashing(self, *args, **kwargs):
            if fault == "crash_after_intent":
                raise Crash(f"killed before {provider_method}")
            real(self, *args, **kwargs)
            raise Crash(f"killed after {provider_method} answered")

        monkeypatch.setattr(TwilioProvider, provider_method, crashing)


def _check_answer_is_true(phone, operation: str, resp, expected: str) -> None:
    """The answer says what Twilio and Phonetree hold right now."""
    body = resp.get_json()
    owned = _owned(phone)
    if expected == "pending":
        assert resp.status_code == 202, resp.get_data(as_text=True)
        assert body["status"] == "pending" and body["intent"]["state"] == "pending"
        assert body["intent"]["action"] == operation
        if operation == "release":
            assert body["released"] is False and body["intent"]["sid"] in owned  # Twilio still has it, truly
        elif operation == "buy":
            assert body["sid"] is None and owned == {}  # the purchase has not landed yet
        else:
            assert owned[body["sid"]]["voice_url"] != phone.hook("ivr-menu")  # Twilio has not taken it yet
        return
    assert resp.status_code in (200, 201), resp.get_data(as_text=True)
    if operation == "release":
        assert body["released"] is True and not any(r["phone_number"] == body["phoneNumber"] for r in owned.values())
        assert _rows(phone) == []
        return
    assert body["status"] == "active" and body["syncStatus"] == "ok"
    assert owned[body["sid"]]["voice_url"] == phone.hook("ivr-menu")
    [row] = _rows(phone)
    assert (row.sid, row.sync_status, row.mode) == (body["sid"], "ok", "ivr")


def _landed(phone, work: str) -> bool:
    owned = _owned(phone)
    if work == "buy":
        return bool(owned)
    if work == "release":
        return not owned
    return all(r["voice_url"] == phone.hook("ivr-menu") for r in owned.values())


def _reconcile(phone, work: str | None = None) -> dict:
    """After a crash or a late answer: held-back ``work`` lands, leases run out, a worker run, a check."""
    from cli.worker import reconcile_once

    deadline = time.monotonic() + LATE + 5
    while work and not _landed(phone, work) and time.monotonic() < deadline:
        time.sleep(0.05)
    phone.app.config["PHONETREE_CLOCK"] = lambda: utcnow() + timedelta(minutes=10)
    reconcile_once(phone.app)
    return phone.ok("GET", "/phone/verify")


def _check_settled(phone, operation: str, fault: str, flow, report: dict) -> None:
    assert report["unknown_locally"] == [] and report["missing_on_twilio"] == [] and report["drift"] == []
    assert "pending" not in report
    owned, rows = _owned(phone), _rows(phone)
    assert {r.sid for r in rows} == set(owned), "every number owned on Twilio is known, and only those"
    assert all(r.sync_status == "ok" for r in rows)
    assert db.session.scalars(PhoneIntent.for_org(phone.org.id).where(PhoneIntent.state == "pending")).all() == []
    if operation == "release":
        assert rows == []
    elif operation == "buy" and fault == "crash_after_intent":
        assert rows == [] and owned == {}  # Twilio was never asked: nothing bought, nothing shown
    else:
        [row] = rows
        assert (row.mode, row.flow_id) == ("ivr", flow.id)
        assert owned[row.sid]["voice_url"] == phone.hook("ivr-menu")


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("operation", list(TWILIO_STEP))
def test_no_half_state_whatever_twilio_does(slow_twilio, flow, monkeypatch, operation, fault):
    phone = slow_twilio
    path, body = _prepare(phone, operation, flow)
    _arm(phone, monkeypatch, operation, fault)
    expected = FAULTS[fault]
    if expected is None:
        with pytest.raises(Crash):
            phone.post(path, body)
        monkeypatch.undo()  # the next start runs the real provider
        rows = _rows(phone)
        assert rows and rows[-1].sync_status == "pending", "a crash leaves the number pending, not half done"
    else:
        _check_answer_is_true(phone, operation, phone.post(path, body), expected)
    _check_settled(phone, operation, fault, flow, _reconcile(phone, operation if expected == "pending" else None))


def test_numbers_list_shows_a_pending_change_until_it_is_settled(slow_twilio, flow):
    phone = slow_twilio
    phone.fake.state.fault_next(NUMBERS, "slow", seconds=LATE, work_first=False, method="POST")
    resp = phone.post("/phone/numbers", {"areaCode": "415", "mode": "ivr", "flowId": flow.id})
    assert resp.status_code == 202
    [listed] = phone.ok("GET", "/phone/numbers")["numbers"]
    assert listed["status"] == "pending" and "pending on Twilio" in listed["lastError"]
    report = _reconcile(phone, "buy")
    assert [n["status"] for n in phone.ok("GET", "/phone/numbers")["numbers"]] == ["active"]
    assert len(report["in_sync"]) == 1


def test_a_second_change_while_one_is_held_by_another_worker_is_refused_not_lost(slow_twilio, flow):
    from services.phone_reconcile import claim

    phone = slow_twilio
    bought = phone.ok("POST", "/phone/numbers", {"areaCode": "415", "mode": "voice"}, status=201)
    phone.fake.state.fault_next(ONE_NUMBER, "slow", seconds=LATE, work_first=False, method="DELETE")
    assert phone.post(f"/phone/numbers/{bought['phoneId']}/release").status_code == 202
    [intent] = db.session.scalars(PhoneIntent.for_org(phone.org.id).where(PhoneIntent.state == "pending")).all()
    assert claim(intent.id) is True and claim(intent.id) is False  # one worker holds it, a second keeps off
    resp = phone.post(f"/phone/numbers/{bought['phoneId']}/routing", {"mode": "ivr", "flowId": flow.id})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "pending_on_twilio"
    _check_settled(phone, "release", "late_before_work", flow, _reconcile(phone, "release"))


def test_pages_say_pending_on_twilio_and_the_drift_check_settles_it(slow_twilio, flow):
    phone = slow_twilio
    assert phone.make.login("alice@example.com").status_code == 302
    token = phone.make.csrf("/numbers")
    offer = phone.fake.client().available_phone_numbers("US").local.list(area_code="415", limit=1)[0].phone_number
    phone.fake.state.fault_next(NUMBERS, "slow", seconds=LATE, work_first=False, method="POST")
    headers = {"HX-Request": "true", "X-CSRFToken": token}
    form = {"phone_number": offer, "mode": "ivr", "flow_id": flow.id, "csrf_token": token}
    html = phone.client.post("/numbers/buy", data=form, headers=headers).get_data(as_text=True)
    assert f"Buying {offer} is pending on Twilio" in html and "pending-badge" in html
    assert "Unhandled" not in html
    _reconcile(phone, "buy")  # a worker run settles it; the drift page shows it in sync
    report = phone.client.post("/numbers/drift", data={"csrf_token": token}, headers=headers).get_data(as_text=True)
    assert "1 in sync" in report and "pending on Twilio" not in report


def _crashed_before_twilio(phone, monkeypatch, operation: str, flow) -> None:
    """The app killed between writing the intent and calling Twilio; then its leases run out."""
    path, body = _prepare(phone, operation, flow)
    _arm(phone, monkeypatch, operation, "crash_after_intent")
    with pytest.raises(Crash):
        phone.post(path, body)
    monkeypatch.undo()
    phone.app.config["PHONETREE_CLOCK"] = lambda: utcnow() + timedelta(minutes=10)


def test_worker_command_runs_one_pass(slow_twilio, flow, runner, monkeypatch):
    phone = slow_twilio
    _crashed_before_twilio(phone, monkeypatch, "release", flow)
    result = runner.invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "Settled 1 pending number change(s); 0 still pending." in result.output
    assert _rows(phone) == [] and _owned(phone) == {}


def test_two_workers_at_once_settle_each_change_once(slow_twilio, flow, monkeypatch):
    """Reconciliation from two workers at the same moment: every release is sent exactly once."""
    import threading

    from cli.worker import reconcile_once

    phone = slow_twilio
    bought = [
        phone.ok("POST", "/phone/numbers", {"areaCode": code, "mode": "voice"}, status=201)
        for code in ("415", "212", "312")
    ]
    _arm(phone, monkeypatch, "release", "crash_after_intent")
    for number in bought:
        with pytest.raises(Crash):
            phone.post(f"/phone/numbers/{number['phoneId']}/release")
    monkeypatch.undo()
    phone.fake.state.clear_log()
    phone.app.config["PHONETREE_CLOCK"] = lambda: utcnow() + timedelta(minutes=10)
    start = threading.Barrier(2)
    results: list[dict] = []

    def run() -> None:
        start.wait()
        results.append(reconcile_once(phone.app))

    workers = [threading.Thread(target=run) for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert sum(r["tried"] for r in results) == 3 and all(r["pending"] == 0 for r in results[-1:])
    deletes = phone.fake.state.requests_to(ONE_NUMBER, "DELETE")
    assert sorted(r.path.rsplit("/", 1)[1] for r in deletes) == sorted(f"{b['sid']}.json" for b in bought)
    assert _rows(phone) == [] and _owned(phone) == {}


def test_a_worker_without_public_base_url_never_sends_relative_webhooks(slow_twilio, flow, monkeypatch):
    phone = slow_twilio
    _crashed_before_twilio(phone, monkeypatch, "route", flow)
    phone.app.config["PUBLIC_BASE_URL"] = ""
    from cli.worker import reconcile_once

    assert reconcile_once(phone.app) == {"tried": 1, "pending": 1}
    [row] = _rows(phone)
    assert row.sync_status == "pending" and "PUBLIC_BASE_URL" in row.last_error
    assert _owned(phone)[row.sid]["voice_url"] == phone.hook("voice")  # Twilio keeps the last good settings
    phone.app.config["PUBLIC_BASE_URL"] = "http://localhost"
    _check_settled(phone, "route", "crash_after_intent", flow, _reconcile(phone))
