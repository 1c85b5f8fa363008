"""Retries, concurrency, faults and unknown calls: Twilio always gets TwiML, nothing runs twice."""

from __future__ import annotations

import logging
import threading
import time

import pytest
from sqlalchemy import func, select

import services.call_flow as call_flow
from extensions import db
from models import CallSession, CallStep, CallTurn, Recording
from services.call_turns import lock_session
from sim import Press, RecordAudio, assert_valid_twiml
from tests.calls.conftest import BASE
from tests.calls.flows import acme
from tests.calls.test_front_door import call_form, post


def _turns(session_id: str) -> int:
    return db.session.scalar(select(func.count()).select_from(CallTurn).where(CallTurn.session_id == session_id))


def test_retried_start_answers_the_same_twiml_once(world, client):
    world.flow(acme())
    first = post(client, f"{BASE}/ivr-menu?orgid=acme", call_form())
    second = post(client, f"{BASE}/ivr-menu?orgid=acme", call_form())
    assert first.status_code == second.status_code == 200
    assert first.get_data() == second.get_data()
    session = db.session.scalar(select(CallSession))
    assert world.count(CallSession) == 1 and session.turn == 1 and _turns(session.id) == 1
    assert world.path(session) == [("main", "enter", None)]


def test_retried_turn_is_answered_from_the_stored_twiml(world, client):
    world.flow(acme())
    sim = world.caller()
    sim.start(f"{BASE}/ivr-menu?orgid=acme")
    sim.act(Press("3"))
    action = sim.transcript.requests_labelled("gather action")[0]
    steps_before = world.count(CallStep)
    again = client.post(action.url.removeprefix("http://localhost"), data=action.params, headers=action.headers)
    assert again.status_code == 200 and again.get_data(as_text=True) == action.body
    session = world.session(sim.call_sid)
    assert world.count(CallStep) == steps_before and session.turn == 2
    assert world.path(session)[-2:] == [("main", "input", "3"), ("hold", "enter", None)]


def test_webhook_from_the_future_or_unknown_session_says_goodbye(world, client, caplog):
    world.flow(acme())
    sim = world.caller()
    sim.start(f"{BASE}/ivr-menu?orgid=acme")
    session = world.session(sim.call_sid)
    form = call_form(CallSid=sim.call_sid, Digits="1")
    caplog.set_level(logging.WARNING, logger="phonetree.calls")
    ahead = post(client, f"{BASE}/ivr-menu-input?orgid=acme&session={session.id}&turn=7", form)
    unknown = post(client, f"{BASE}/ivr-menu-input?orgid=acme&session={'f' * 32}&turn=1", form)
    for resp in (ahead, unknown):
        assert resp.status_code == 200
        verbs = assert_valid_twiml(resp.get_data(as_text=True))
        assert [type(v).__name__ for v in verbs] == ["Say", "Hangup"]
    assert "names turn 7" in caplog.text and "unknown call session" in caplog.text
    db.session.expire_all()
    assert world.session(sim.call_sid).turn == 1


def test_unknown_number_gets_apology_and_no_session(world, client, caplog):
    world.flow(acme())
    caplog.set_level(logging.WARNING, logger="phonetree.calls")
    resp = post(client, f"{BASE}/ivr-menu?orgid=acme", call_form(To="+15559999999"))
    verbs = assert_valid_twiml(resp.get_data(as_text=True))
    assert resp.status_code == 200 and [type(v).__name__ for v in verbs] == ["Say", "Hangup"]
    assert "Sorry" in verbs[0].text
    assert "not one of its numbers" in caplog.text
    assert world.count(CallSession) == 0


def test_no_published_flow_uses_org_voicemail_fallback(world):
    world.org.settings = {"call_fallback": {"action": "voicemail", "message": "We are sorry, please leave a message."}}
    db.session.commit()
    world.number("+15550001000")
    transcript, session = world.call([RecordAudio(8, transcript="Call me.")])
    assert transcript.heard[:1] == ["We are sorry, please leave a message."]
    assert transcript.heard[-1] == "Thank you for your message. Goodbye."
    assert session.end_reason == "no_flow"
    assert world.path(session) == [("", "start", None), ("voicemail", "recording", "recorded")]
    rec = db.session.scalar(select(Recording))
    assert rec.session_id == session.id and rec.duration == 8 and rec.status == "completed"


def test_no_published_flow_hangs_up_by_default(world):
    world.number("+15550001000")
    transcript, session = world.call([])
    assert transcript.heard == ["Sorry, we cannot take your call right now."]
    assert transcript.end_reason == "hangup" and session.end_reason == "no_flow"


def test_engine_fault_is_answered_with_fallback_twiml(world, monkeypatch, caplog):
    world.flow(acme())

    def broken(*args, **kwargs):
        raise RuntimeError("engine exploded")

    monkeypatch.setattr(call_flow, "run_turn", broken)
    caplog.set_level(logging.ERROR, logger="phonetree.calls")
    transcript, session = world.call([Press("1")])
    first = transcript.requests_labelled("incoming call")[0]
    assert first.status == 200
    assert [type(v).__name__ for v in assert_valid_twiml(first.body)] == ["Say", "Hangup"]
    assert transcript.errors == [] and transcript.end_reason == "hangup"
    assert "engine exploded" in caplog.text
    assert session is None  # the failed turn was rolled back


def test_database_fault_mid_call_is_answered_with_fallback_twiml(world, monkeypatch):
    world.flow(acme())
    sim = world.caller()
    sim.start(f"{BASE}/ivr-menu?orgid=acme")

    def failing_apply(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr("services.call_turns.apply_turn", failing_apply)
    state = sim.act(Press("1"))
    assert state.ended and sim.transcript.errors == []
    assert sim.transcript.heard[-1] == "Sorry, we cannot take your call right now."
    db.session.expire_all()
    assert world.session(sim.call_sid).turn == 1


def test_node_fault_inside_the_engine_uses_the_flow_fallback(world):
    from tests.calls.conftest import definition, node

    world.flow(
        definition(
            node("greet", "say", {"prompt": {"say": "Hello."}}, next="agent"),
            node("agent", "ai_agent", {"gateway_url": "{{ vars.gateway }}"}, next="bye"),
            node("bye", "hangup", {"say": "Bye."}),
            fallback={"action": "hangup", "message": "Our system is having trouble. Goodbye."},
        )
    )
    transcript, session = world.call([])
    assert transcript.heard == ["Our system is having trouble. Goodbye."]
    assert transcript.errors == []
    assert session.end_reason == "fallback"
    agent = db.session.scalar(select(CallStep).where(CallStep.node_id == "agent"))
    assert agent.detail["fallback"] == "node error" and "wss" in agent.detail["error"]


def _concurrent_posts(app, url: str, form: dict, headers: dict, count: int) -> list[tuple[int, str]]:
    barrier = threading.Barrier(count)
    results: list[tuple[int, str]] = [(0, "")] * count

    def worker(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post(url, data=form, headers=headers)
        results[i] = (resp.status_code, resp.get_data(as_text=True))

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_concurrent_webhooks_for_one_call_advance_it_once(world, app):
    world.flow(acme())
    sim = world.caller()
    sim.start(f"{BASE}/ivr-menu?orgid=acme")
    session_id = world.session(sim.call_sid).id
    url = f"/connect/webhook/twilio/ivr-menu-input?orgid=acme&session={session_id}&turn=1"
    from sim.params import sign

    form = call_form(CallSid=sim.call_sid, Digits="3", CallStatus="in-progress")
    headers = {"X-Twilio-Signature": sign(world_token(), "http://localhost" + url, form)}
    results = _concurrent_posts(app, url, form, headers, 8)
    assert {status for status, _ in results} == {200}
    assert len({body for _, body in results}) == 1 and "<Enqueue" in results[0][1]
    db.session.expire_all()
    session = db.session.get(CallSession, session_id)
    assert session.turn == 2 and _turns(session_id) == 2
    assert world.path(session) == [("main", "enter", None), ("main", "input", "3"), ("hold", "enter", None)]


def world_token() -> str:
    from tests.plugins.twilio_fake import TWILIO_FAKE_AUTH_TOKEN

    return TWILIO_FAKE_AUTH_TOKEN


def test_a_turn_waits_for_the_lock_held_by_another(world, app, client):
    world.flow(acme())
    sim = world.caller()
    sim.start(f"{BASE}/ivr-menu?orgid=acme")
    session_id = world.session(sim.call_sid).id
    locked, released = threading.Event(), threading.Event()

    def holder() -> None:
        with app.app_context():
            assert lock_session(world.org_in_thread(), session_id) is not None
            locked.set()
            time.sleep(0.6)
            released.set()
            db.session.commit()
            db.session.remove()

    thread = threading.Thread(target=holder)
    thread.start()
    assert locked.wait(10)
    started = time.monotonic()
    state = sim.act(Press("3"))
    waited = time.monotonic() - started
    thread.join(10)
    assert released.is_set() and waited >= 0.4
    assert state.awaiting == "enqueue"


@pytest.fixture(autouse=True)
def _org_in_thread(world):
    """Let a helper thread load the org in its own session."""

    def load():
        return db.session.get(type(world.org), world.org.id)

    world.org_in_thread = load
