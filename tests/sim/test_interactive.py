"""Step-by-step driving, the loop guard, and the errors a call records."""

from __future__ import annotations

import json

import pytest

from sim import (
    CallerSimulator,
    DialResult,
    FlaskClientTransport,
    HangUp,
    Press,
    QueueResult,
    RecordAudio,
    Say,
    ScriptError,
    Silence,
    SimulatorError,
)
from sim import verbs as v
from tests.sim.ivr_app import ACCOUNT_SID, AUTH_TOKEN, MENU, make_app, seen

BASE = "http://localhost"


@pytest.fixture
def app():
    return make_app()


def simulator(app, **kwargs) -> CallerSimulator:
    return CallerSimulator(
        FlaskClientTransport(app.test_client()),
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_="+447700900123",
        to="+15559870000",
        **kwargs,
    )


def test_start_returns_the_first_prompt_and_act_advances_one_action(app):
    sim = simulator(app, call_sid="CA" + "f" * 32)
    state = sim.start(f"{BASE}/voice")

    assert state.awaiting == "gather" and not state.ended
    assert state.heard == [MENU]
    assert isinstance(state.verb, v.Gather) and state.verb.num_digits == 1
    assert state.accepts == ("Press", "Say", "Silence", "HangUp")
    assert seen(app, "/voice")[0]["form"]["CallSid"] == "CA" + "f" * 32
    assert seen(app, "/voice")[0]["form"]["FromCountry"] == "GB"

    state = sim.act(Press("2"))
    assert state.awaiting == "record"
    assert state.heard == ["Leave a message after the beep."]
    assert state.accepts == ("RecordAudio", "Silence", "HangUp")
    assert [e.kind for e in state.events] == ["pressed", "request", "heard", "beep"]

    state = sim.act(RecordAudio(duration=5, transcript="hi"))
    assert state.ended and state.end_reason == "hangup"
    assert state.heard == ["Thanks, your message of 5 seconds was saved."]
    payload = json.loads(json.dumps(state.to_dict()))
    assert payload["awaiting"] == "ended" and payload["verb"] is None
    assert sim.transcript.heard == [MENU, "Leave a message after the beep.", state.heard[0]]


def test_prompt_state_serialises_the_verb_for_a_browser_console(app):
    sim = simulator(app)
    state = sim.start(f"{BASE}/voice")
    data = json.loads(json.dumps(state.to_dict()))

    assert data["verb"]["verb"] == "Gather"
    assert data["verb"]["action"] == "/menu" and data["verb"]["input"] == ["dtmf", "speech"]
    assert data["events"][-1]["line"] == f"Caller hears: {MENU}"
    sim.act(Press("1"))
    state = sim.act(DialResult("busy"))
    assert state.ended
    full = json.loads(json.dumps(sim.transcript.to_dict()))
    assert full["end_reason"] == "end_of_twiml"
    assert [r["label"] for r in full["requests"]] == ["incoming call", "gather action", "dial action"]
    assert full["requests"][0]["verbs"] == ["Gather", "Redirect"]


def test_hanging_up_in_the_queue_posts_queue_result_hangup(app):
    sim = simulator(app)
    sim.start(f"{BASE}/voice")
    assert sim.act(Press("4")).awaiting == "enqueue"
    state = sim.act(HangUp())

    assert state.end_reason == "caller_hangup"
    assert seen(app, "/queue-done")[0]["form"]["QueueResult"] == "hangup"
    assert "Queue result hangup." not in sim.transcript.heard


def test_hanging_up_at_pay_and_dial_posts_the_action_and_ignores_its_answer(app):
    sim = simulator(app)
    sim.start(f"{BASE}/voice")
    sim.act(Press("3"))
    assert sim.act(HangUp()).end_reason == "caller_hangup"
    paid = seen(app, "/paid")[0]["form"]
    assert (paid["Result"], paid["CallStatus"]) == ("caller-hung-up", "completed")
    assert not any(text.startswith("Payment failed") for text in sim.transcript.heard)

    other = make_app()
    sim = simulator(other)
    sim.start(f"{BASE}/voice")
    assert sim.act(Press("1")).accepts == ("DialResult", "HangUp")
    sim.act(HangUp())
    dialed = seen(other, "/dial-done")[0]["form"]
    assert (dialed["DialCallStatus"], dialed["CallStatus"]) == ("completed", "completed")
    assert sim.transcript.end_reason == "caller_hangup"
    assert not any(text.startswith("The call ended") for text in sim.transcript.heard)


def test_an_action_that_does_not_fit_the_wait_is_a_script_error(app):
    sim = simulator(app)
    with pytest.raises(SimulatorError, match="start"):
        sim.act(Press("1"))
    sim.start(f"{BASE}/voice")
    with pytest.raises(ScriptError, match="waits at <Gather> for one of Press, Say, Silence, HangUp"):
        sim.act(QueueResult("bridged"))
    sim.act(Press("9"))
    with pytest.raises(SimulatorError, match="ended"):
        sim.act(Press("1"))
    with pytest.raises(SimulatorError, match="already started"):
        sim.start(f"{BASE}/voice")


def test_input_the_gather_does_not_listen_for_is_ignored(app):
    sim = simulator(app)
    assert sim.start(f"{BASE}/pin").accepts == ("Press", "Silence", "HangUp")
    sim.act(Say("one two three four"))
    transcript = sim.transcript

    assert seen(app, "/pin-done") == []
    assert "Caller says: one two three four (ignored: this Gather listens for keys only)" in transcript.text()
    assert transcript.end_reason == "end_of_twiml"


def test_the_loop_guard_ends_a_call_that_never_waits(app):
    transcript = simulator(app, max_requests=5).run(f"{BASE}/loop", [])

    assert transcript.end_reason == "loop_guard"
    assert len(seen(app, "/loop")) == 5
    assert transcript.heard == ["Again."] * 5
    assert "loop guard: the call made 5 TwiML requests without ending" in transcript.errors[0]
    assert "Error: loop guard" in transcript.text()


def test_when_the_script_runs_out_the_caller_hangs_up(app):
    transcript = simulator(app).run(f"{BASE}/voice", [])

    assert transcript.end_reason == "script_exhausted"
    assert seen(app, "/menu") == []
    assert transcript.text().splitlines()[-2:] == ["Caller hangs up", "Call ends: script_exhausted"]
    assert transcript.ok


def test_silence_falls_through_each_time_until_the_ivr_hangs_up(app):
    transcript = simulator(app).run(f"{BASE}/empty-ok", [Silence()] * 3)

    assert len(seen(app, "/menu")) == 1 and len(seen(app, "/goodbye")) == 1
    assert transcript.end_reason == "hangup"
    assert transcript.unused_actions == [Silence()]


@pytest.mark.parametrize(
    ("path", "reason", "message"),
    [
        ("/broken", "http_error", "HTTP 500 instead of 200"),
        ("/not-xml", "invalid_twiml", "Content-Type 'text/plain; charset=utf-8' is not TwiML"),
        ("/bad-twiml", "invalid_twiml", "invalid TwiML: <Response>/<Dance>[2]: <Dance> is not a TwiML Voice verb"),
        ("/nowhere", "http_error", "HTTP 404"),
    ],
)
def test_a_bad_answer_is_recorded_as_an_error_and_ends_the_call(app, path, reason, message):
    sim = simulator(app, status_callback_url="/status")
    transcript = sim.run(f"{BASE}{path}", [Press("1")])

    assert transcript.end_reason == reason
    assert not transcript.ok and message in transcript.errors[0]
    assert transcript.heard == []
    assert transcript.unused_actions == [Press("1")]
    assert seen(app, "/status")[0]["form"]["CallStatus"] == "completed"
    with pytest.raises(AssertionError, match="simulated call had errors"):
        transcript.assert_ok()


def test_a_failing_callback_is_an_error_but_does_not_steer_the_call():
    app = make_app()
    sim = simulator(app, status_callback_url="/no-such-status")
    transcript = sim.run(f"{BASE}/voice", [Press("9")])

    assert transcript.end_reason == "hangup"
    assert transcript.errors == ["status callback: POST http://localhost/no-such-status: HTTP 404"]


def test_say_loop_and_play_are_rendered():
    app = make_app()

    @app.post("/looped")
    def looped():
        from tests.sim.ivr_app import twiml

        return twiml(
            '<Say loop="3">Hold on.</Say><Play loop="0">https://cdn.example.com/m.mp3</Play><Pause length="2"/>'
        )

    transcript = simulator(app).run(f"{BASE}/looped", [])
    assert transcript.text().splitlines() == [
        "Caller hears: Hold on. (x3)",
        "Caller hears audio: https://cdn.example.com/m.mp3 (repeated until the call moves on)",
        "(pause 2s)",
        "Call ends: end_of_twiml",
    ]
