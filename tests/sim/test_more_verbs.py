"""Less common paths: GET actions, queue wait music that leaves, SMS, streams, record limits."""

from __future__ import annotations

import pytest

from sim import CallerSimulator, FlaskClientTransport, PayResult, Press, QueueResult, RecordAudio, Silence
from tests.sim.ivr_app import ACCOUNT_SID, AUTH_TOKEN, PUBLIC, add_pages, make_app, seen

BASE = "http://localhost"


def call(app, path, script, **kwargs):
    sim = CallerSimulator(
        FlaskClientTransport(app.test_client()),
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        from_="+15551230000",
        to="+15559870000",
        **kwargs,
    )
    return sim.run(f"{BASE}{path}", script)


@pytest.mark.parametrize("public", [None, PUBLIC])
def test_a_get_gather_action_carries_the_input_in_the_signed_query(public):
    app = add_pages(
        make_app(public_base_url=public),
        {"/ask": '<Gather method="GET" action="/answer?step=2"><Say>Go</Say></Gather>', "/answer": "<Say>Got it</Say>"},
    )
    transcript = call(app, "/ask", [Press("42#")], public_base_url=public)

    answer = seen(app, "/answer")[0]
    assert answer["method"] == "GET" and answer["form"] == {}
    assert (answer["args"]["step"], answer["args"]["Digits"], answer["args"]["FinishedOnKey"]) == ("2", "42", "#")
    assert all(entry["signature_ok"] for entry in app.config["SEEN"])
    assert transcript.heard == ["Go", "Got it"]
    assert transcript.requests[1].signed_url.startswith(f"{public or BASE}/answer?step=2&")


def test_leave_in_the_wait_music_leaves_the_queue_at_once():
    app = add_pages(
        make_app(),
        {
            "/q": '<Enqueue waitUrl="/wait" action="/left">sales</Enqueue>',
            "/wait": "<Say>Nobody is here.</Say><Leave/>",
            "/left": "<Say>Left the queue.</Say>",
        },
    )
    transcript = call(app, "/q", [QueueResult("bridged")])

    assert transcript.heard == ["Nobody is here.", "Left the queue."]
    assert seen(app, "/left")[0]["form"]["QueueResult"] == "leave"
    assert transcript.unused_actions == [QueueResult("bridged")]


def test_enqueue_without_action_goes_on_with_the_next_verb_and_hangup_in_wait_music_ends():
    app = add_pages(
        make_app(),
        {"/q": "<Enqueue>sales</Enqueue><Say>After the queue.</Say>", "/q2": '<Enqueue waitUrl="/w2">x</Enqueue>'},
    )
    add_pages(app, {"/w2": "<Say>Closed.</Say><Hangup/>"})
    transcript = call(app, "/q", [QueueResult("redirected", wait=3)])
    assert transcript.heard == ["After the queue."]
    assert "Caller waits in queue 'sales': redirected" in transcript.text()

    transcript = call(app, "/q2", [])
    assert transcript.heard == ["Closed."] and transcript.end_reason == "hangup"


def test_sms_start_and_stop_are_noted_and_the_sms_action_is_followed():
    app = add_pages(
        make_app(),
        {
            "/s": '<Start><Stream url="wss://x.example.com/a"/></Start><Sms action="/sent">Your code is 1</Sms>'
            "<Say>unreachable</Say>",
            "/sent": '<Stop><Stream name="a"/></Stop><Message to="+15550001111"><Body>Hi</Body></Message>',
        },
    )
    transcript = call(app, "/s", [])

    sent = seen(app, "/sent")[0]["form"]
    assert sent["SmsStatus"] == "sent" and sent["SmsSid"].startswith("SM")
    assert transcript.text().splitlines() == [
        "Call is connected to Stream wss://x.example.com/a",
        "Text message sent to +15551230000: Your code is 1",
        "Text message sent to +15550001111: Hi",
        "Call ends: end_of_twiml",
    ]


def test_record_is_cut_at_max_length_and_a_silent_transcription_fails():
    app = add_pages(
        make_app(),
        {
            "/r": '<Record action="/done" maxLength="10" transcribe="true" transcribeCallback="/tx" playBeep="false"/>',
            "/done": "<Hangup/>",
            "/tx": "<Response/>",
        },
    )
    call(app, "/r", [RecordAudio(duration=30, transcript=None)])

    done = seen(app, "/done")[0]["form"]
    assert (done["RecordingDuration"], done["Digits"]) == ("10", "")
    tx = seen(app, "/tx")[0]["form"]
    assert (tx["TranscriptionStatus"], tx["TranscriptionText"]) == ("failed", "")


def test_silence_at_record_means_no_audio_and_at_pay_an_input_timeout():
    app = add_pages(
        make_app(),
        {
            "/r": '<Record action="/done"/><Pay action="/paid" tokenType="reusable"/>',
            "/done": "<Hangup/>",
            "/paid": "<Say>ok</Say>",
        },
    )
    call(app, "/r", [Silence(), Silence()])
    assert seen(app, "/done") == []
    paid = seen(app, "/paid")[0]["form"]
    assert paid["Result"] == "input-timeout"


def test_a_tokenizing_pay_returns_a_token_and_no_confirmation_code():
    app = add_pages(make_app(), {"/p": '<Pay action="/paid"/>', "/paid": "<Say>ok</Say>"})
    call(app, "/p", [PayResult(card_number="5555555555554444", card_type="mastercard")])

    paid = seen(app, "/paid")[0]["form"]
    assert paid["PaymentToken"].startswith("tok_") and paid["PaymentConfirmationCode"] == ""
    assert (paid["PaymentCardNumber"], paid["PaymentCardType"]) == ("xxxx-xxxx-xxxx-4444", "mastercard")


def test_invalid_actions_are_refused_when_built():
    with pytest.raises(ValueError, match="keys are 0-9"):
        Press("1a")
    with pytest.raises(ValueError, match="not one of"):
        QueueResult("vanished")
    with pytest.raises(ValueError, match="cannot have a failure result"):
        PayResult(success=True, result="too-many-failed-attempts")
