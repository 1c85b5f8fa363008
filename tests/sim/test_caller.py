"""The caller simulator follows hand-written TwiML like Twilio and posts what Twilio posts."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from twilio.request_validator import RequestValidator

from sim import (
    CallerSimulator,
    DialResult,
    FlaskClientTransport,
    HangUp,
    PayResult,
    Press,
    QueueResult,
    RecordAudio,
    Say,
    Silence,
)
from tests.sim.ivr_app import ACCOUNT_SID, AUTH_TOKEN, MENU, PUBLIC, make_app, seen

BASE = "http://localhost"
CALLER = "+15551230000"
NUMBER = "+15559870000"


@pytest.fixture
def app():
    return make_app()


def simulator(app, **kwargs) -> CallerSimulator:
    return CallerSimulator(
        FlaskClientTransport(app.test_client()),
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_=CALLER,
        to=NUMBER,
        now=datetime(2025, 3, 4, 10, 0, tzinfo=UTC),
        **kwargs,
    )


def assert_all_signed(app) -> None:
    assert app.config["SEEN"], "no request reached the app"
    assert all(entry["signature_ok"] for entry in app.config["SEEN"]), app.config["SEEN"]


def test_incoming_call_posts_twilios_fields_and_press_reaches_the_dial(app):
    transcript = simulator(app).run(f"{BASE}/voice", [Press("1"), DialResult("no-answer")])

    assert transcript.heard == [MENU, "Connecting you to sales.", "The call ended with status no-answer."]
    assert transcript.end_reason == "end_of_twiml"
    assert transcript.ok
    assert_all_signed(app)
    first = seen(app, "/voice")[0]["form"]
    assert re.fullmatch(r"CA[0-9a-f]{32}", first["CallSid"])
    assert first["CallStatus"] == "ringing"
    assert first["AccountSid"] == ACCOUNT_SID
    assert first["ApiVersion"] == "2010-04-01"
    assert first["Direction"] == "inbound"
    assert (first["From"], first["Caller"], first["To"], first["Called"]) == (CALLER, CALLER, NUMBER, NUMBER)
    assert first["FromCountry"] == first["ToCountry"] == "US"
    assert {"FromCity", "FromState", "FromZip", "ToCity", "ToState", "ToZip", "CallerZip"} <= first.keys()
    menu = seen(app, "/menu")[0]["form"]
    assert (menu["Digits"], menu["FinishedOnKey"], menu["CallStatus"]) == ("1", "", "in-progress")
    assert menu["CallSid"] == first["CallSid"] == transcript.call_sid
    dial = seen(app, "/dial-done")[0]["form"]
    assert dial["DialCallStatus"] == "no-answer"
    assert re.fullmatch(r"CA[0-9a-f]{32}", dial["DialCallSid"])
    assert "DialCallDuration" not in dial


def test_transcript_text_reads_like_the_call(app):
    transcript = simulator(app).run(f"{BASE}/voice", [Press("1"), DialResult("completed", duration=42)])

    assert transcript.text() == "\n".join(
        [
            f"Caller hears: {MENU}",
            "Caller presses: 1",
            "Caller hears: Connecting you to sales.",
            "Call is connected to number +15550001111: completed",
            "Caller hears: The call ended with status completed.",
            "Call ends: end_of_twiml",
        ]
    )
    assert seen(app, "/dial-done")[0]["form"]["DialCallDuration"] == "42"
    assert [r.label for r in transcript.requests] == ["incoming call", "gather action", "dial action"]
    assert [r.status for r in transcript.requests] == [200, 200, 200]
    assert "POST http://localhost/menu -> 200" in transcript.text(include_requests=True)
    assert transcript.requests[1].verbs is not None and transcript.requests[1].params["Digits"] == "1"


def test_speech_is_posted_as_speech_result_with_confidence(app):
    simulator(app).run(f"{BASE}/voice", [Say("sales", confidence=0.87), DialResult()])

    menu = seen(app, "/menu")[0]["form"]
    assert menu["SpeechResult"] == "sales"
    assert float(menu["Confidence"]) == pytest.approx(0.87)
    assert "Digits" not in menu


def test_silence_falls_through_to_the_redirect_and_get_is_signed_with_its_query(app):
    transcript = simulator(app).run(f"{BASE}/voice", [Silence()])

    assert transcript.heard == [MENU, "Sorry, I did not catch that.", "Goodbye."]
    assert transcript.end_reason == "hangup"
    assert seen(app, "/menu") == []
    goodbye = seen(app, "/goodbye")[0]
    assert goodbye["method"] == "GET"
    assert goodbye["args"]["why"] == "silence"
    assert goodbye["args"]["CallSid"] == transcript.call_sid
    assert goodbye["form"] == {}
    assert_all_signed(app)
    assert "Caller stays silent" in transcript.text()


def test_action_on_empty_result_posts_empty_digits(app):
    transcript = simulator(app).run(f"{BASE}/empty-ok", [Silence()])

    assert seen(app, "/menu")[0]["form"]["Digits"] == ""
    assert transcript.heard[:2] == ["Anything?", "That is not an option."]
    assert transcript.end_reason == "script_exhausted"


def test_digits_stop_at_finish_on_key_and_at_num_digits(app):
    transcript = simulator(app).run(f"{BASE}/pin", [Press("1234#9")])
    form = seen(app, "/pin-done")[0]["form"]
    assert (form["Digits"], form["FinishedOnKey"]) == ("1234", "#")
    assert transcript.heard[-1] == "You entered 1234."

    other = make_app()
    simulator(other).run(f"{BASE}/voice", [Press("19")])
    assert seen(other, "/menu")[0]["form"]["Digits"] == "1"


def test_record_posts_the_recording_then_the_status_and_transcription_callbacks(app):
    audio = RecordAudio(duration=12, transcript="Please call me back")
    transcript = simulator(app).run(f"{BASE}/voice", [Press("2"), audio])

    assert transcript.heard[-1] == "Thanks, your message of 12 seconds was saved."
    assert transcript.end_reason == "hangup"
    paths = [entry["path"] for entry in app.config["SEEN"]]
    assert paths == ["/voice", "/menu", "/recorded", "/recording-status", "/transcription"]
    recorded = seen(app, "/recorded")[0]["form"]
    sid = recorded["RecordingSid"]
    assert re.fullmatch(r"RE[0-9a-f]{32}", sid)
    assert recorded["RecordingUrl"] == f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/{sid}"
    assert (recorded["RecordingDuration"], recorded["Digits"]) == ("12", "#")
    status = seen(app, "/recording-status")[0]["form"]
    assert (status["RecordingSid"], status["RecordingStatus"], status["RecordingDuration"]) == (sid, "completed", "12")
    text = seen(app, "/transcription")[0]["form"]
    assert (text["TranscriptionText"], text["TranscriptionStatus"]) == ("Please call me back", "completed")
    assert re.fullmatch(r"TR[0-9a-f]{32}", text["TranscriptionSid"]) and text["RecordingSid"] == sid
    assert_all_signed(app)
    assert 'Caller records 12s of audio: "Please call me back"' in transcript.text()


def test_record_without_audio_skips_the_action_and_goes_on(app):
    transcript = simulator(app).run(f"{BASE}/voice", [Press("2"), RecordAudio(duration=0)])

    assert seen(app, "/recorded") == [] and seen(app, "/recording-status") == []
    assert transcript.heard[-1] == "No message recorded."
    assert transcript.end_reason == "end_of_twiml"


def test_hanging_up_during_record_posts_digits_hangup_and_ignores_the_answer(app):
    audio = RecordAudio(duration=8, transcript="Bye", hang_up=True)
    transcript = simulator(app).run(f"{BASE}/voice", [Press("2"), audio])

    recorded = seen(app, "/recorded")[0]["form"]
    assert (recorded["Digits"], recorded["CallStatus"]) == ("hangup", "completed")
    assert "Thanks, your message of 8 seconds was saved." not in transcript.heard
    assert len(seen(app, "/transcription")) == 1
    assert transcript.end_reason == "caller_hangup"

    other = make_app()
    transcript = simulator(other).run(f"{BASE}/voice", [Press("2"), HangUp()])
    assert seen(other, "/recorded") == [] and transcript.end_reason == "caller_hangup"


def test_pay_success_posts_twilios_result_fields(app):
    transcript = simulator(app).run(f"{BASE}/voice", [Press("3"), PayResult(success=True)])

    paid = seen(app, "/paid")[0]["form"]
    assert paid["Result"] == "success"
    assert paid["PaymentCardNumber"] == "xxxx-xxxx-xxxx-1111"
    assert paid["PaymentCardType"] == "visa"
    assert paid["PaymentConfirmationCode"].startswith("ch_")
    assert {"PaymentToken", "ExpirationDate", "PaymentCardPostalCode", "PaymentMethod"} <= paid.keys()
    assert transcript.heard[-1] == f"Payment {paid['PaymentConfirmationCode']} received."
    opened, closed = (entry["form"] for entry in seen(app, "/pay-status"))
    assert re.fullmatch(r"PK[0-9a-f]{32}", opened["Sid"]) and closed["Sid"] == opened["Sid"]
    assert (opened["ChargeAmount"], opened["PaymentConnector"]) == ("10.00", "Stripe")
    assert opened["DateCreated"].endswith("Z") and "Result" not in opened
    assert (closed["Result"], closed["PaymentCardNumber"]) == ("success", "xxxx-xxxx-xxxx-1111")
    assert [entry["path"] for entry in app.config["SEEN"]][-3:] == ["/pay-status", "/pay-status", "/paid"]


def test_pay_failure_posts_the_error(app):
    result = PayResult(success=False, result="too-many-failed-attempts", error="Card declined", error_code="64015")
    transcript = simulator(app).run(f"{BASE}/voice", [Press("3"), result])

    paid = seen(app, "/paid")[0]["form"]
    assert (paid["Result"], paid["PaymentError"], paid["ErrorCode"]) == (
        "too-many-failed-attempts",
        "Card declined",
        "64015",
    )
    assert "PaymentConfirmationCode" not in paid
    assert transcript.heard[-1] == "Payment failed: Card declined"

    other = make_app()
    simulator(other).run(f"{BASE}/voice", [Press("3"), PayResult(success=False)])
    assert seen(other, "/paid")[0]["form"]["Result"] == "payment-connector-error"


def test_enqueue_reads_the_wait_url_once_then_posts_the_queue_result(app):
    transcript = simulator(app).run(f"{BASE}/voice", [Press("4"), QueueResult("bridged", wait=45)])

    hold = seen(app, "/hold")
    assert len(hold) == 1
    wait = hold[0]["form"]
    assert (wait["QueuePosition"], wait["CurrentQueueSize"], wait["QueueTime"]) == ("1", "1", "0")
    assert {"AvgQueueTime", "QueueSid"} <= wait.keys()
    done = seen(app, "/queue-done")[0]["form"]
    assert (done["QueueResult"], done["QueueTime"], done["QueueSid"]) == ("bridged", "45", wait["QueueSid"])
    assert transcript.heard[1:] == ["All agents are busy.", "https://cdn.example.com/hold.mp3", "Queue result bridged."]


def test_hangup_ends_the_call_and_posts_the_final_status_callback(app):
    sim = simulator(app, status_callback_url="/status")
    transcript = sim.run(f"{BASE}/voice", [Press("9"), Press("1")])

    assert transcript.end_reason == "hangup"
    assert transcript.unused_actions == [Press("1")]
    status = seen(app, "/status")[0]["form"]
    assert status["CallStatus"] == "completed"
    assert status["CallSid"] == transcript.call_sid
    assert int(status["CallDuration"]) == transcript.duration > 0
    assert status["Duration"] == "1"
    assert status["Timestamp"].startswith("Tue, 04 Mar 2025 10:00:")
    assert transcript.requests[-1].label == "status callback"


def test_reject_ends_unanswered_with_busy_status(app):
    transcript = simulator(app, status_callback_url=f"{BASE}/status").run(f"{BASE}/reject", [])

    assert transcript.end_reason == "rejected"
    status = seen(app, "/status")[0]["form"]
    assert (status["CallStatus"], status["CallDuration"]) == ("busy", "0")


def test_connect_stream_is_noted_and_its_action_followed(app):
    transcript = simulator(app).run(f"{BASE}/stream", [])

    connect = [e for e in transcript.events if e.kind == "connect"][0]
    assert connect.data["nouns"][0]["url"] == "wss://media.example.com/s"
    assert connect.data["nouns"][0]["parameters"] == {"flow": "main"}
    assert transcript.heard == ["Stream over."]


def test_public_base_url_is_what_gets_signed(app):
    public_app = make_app(public_base_url=PUBLIC)
    transcript = simulator(public_app, public_base_url=PUBLIC).run(f"{BASE}/voice-absolute", [Press("9")])

    assert transcript.ok and transcript.end_reason == "hangup"
    assert_all_signed(public_app)
    first, menu = transcript.requests[0], transcript.requests[1]
    assert first.url == f"{BASE}/voice-absolute" and first.signed_url == f"{PUBLIC}/voice-absolute"
    assert menu.url == f"{BASE}/menu" and menu.signed_url == f"{PUBLIC}/menu"
    validator = RequestValidator(AUTH_TOKEN)
    signature = menu.headers["X-Twilio-Signature"]
    assert validator.validate(f"{PUBLIC}/menu", menu.params, signature)
    assert not validator.validate(f"{BASE}/menu", menu.params, signature)


def test_without_public_base_url_the_request_url_is_signed_and_a_public_app_refuses_it():
    public_app = make_app(public_base_url=PUBLIC)
    transcript = simulator(public_app).run(f"{BASE}/voice", [])

    assert transcript.requests[0].signed_url == f"{BASE}/voice"
    assert transcript.requests[0].status == 403
    assert transcript.end_reason == "http_error"
    assert "HTTP 403" in transcript.errors[0]


def test_with_public_base_url_foreign_hosts_are_requested_and_signed_as_they_are():
    public_app = make_app(public_base_url=PUBLIC)
    transcript = simulator(public_app, public_base_url=PUBLIC).run(f"{BASE}/away", [])

    away = transcript.requests[1]
    assert away.url == away.signed_url == "https://other.example.org/menu?x=1"
    assert away.status == 403 and transcript.end_reason == "http_error"
