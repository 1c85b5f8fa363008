"""say, record, voicemail and hangup through every outcome."""

from __future__ import annotations

from tests.engine.helpers import Call, bye, flow, node, outcomes

RECORDING = {"RecordingUrl": "https://api.twilio.com/rec/RE1", "RecordingSid": "RE1", "RecordingDuration": "7"}


def test_say_accumulates_before_the_wait() -> None:
    definition = flow(
        node("hi", "say", {"prompt": {"say": "Hello {{ call.from }}", "voice": "alice", "language": "en-GB"},
                           "loop": 2}, next="music"),
        node("music", "say", {"prompt": {"play": "https://cdn.example.com/jingle.mp3"}, "pause_after": 1},
             next="m"),
        node("m", "menu", {"prompt": "Pick", "options": [{"digit": "1"}]}, **{"1": "bye"}),
        bye(),
    )
    result = Call(definition).start()
    assert outcomes(result) == [("hi", "next"), ("music", "next"), ("m", None)]
    xml = result.twiml
    assert '<Say language="en-GB" loop="2" voice="alice">Hello +14155550123</Say>' in xml
    assert "<Play>https://cdn.example.com/jingle.mp3</Play><Pause length=\"1\" />" in xml
    assert xml.index("Hello") < xml.index("jingle") < xml.index("<Gather")


def test_say_then_flow_end_hangs_up() -> None:
    result = Call(flow(node("hi", "say", {"prompt": "Bye now"}))).start()
    assert outcomes(result) == [("hi", "next")]
    assert result.done and result.twiml.endswith("Bye now</Say><Hangup /></Response>")
    assert result.state["end"]["reason"] == "completed"


def test_hangup_with_goodbye_and_silent() -> None:
    result = Call(flow(node("h", "hangup", {"say": "See you {{ vars.nobody }}!", "voice": "man"}))).start()
    assert '<Say language="en-US" voice="man">See you !</Say><Hangup />' in result.twiml
    assert result.done and result.state["end"] == {"reason": "hangup", "node": "h", "turn": 1, "detail": None}
    silent = Call(flow(node("h", "hangup"))).start()
    assert silent.twiml.endswith("<Response><Hangup /></Response>")


RECORD_FLOW = flow(
    node("rec", "record", {"prompt": "Say your name after the beep", "max_length": 30, "transcribe": True,
                           "variable": "name_audio"},
         recorded="thanks", no_audio="silence", hangup="log"),
    bye("thanks", "Thanks"),
    bye("silence", "No audio"),
    node("log", "set_variables", {"assignments": [{"name": "gone", "value": "yes"}]}),
)


def test_record_waits_with_callbacks() -> None:
    result = Call(RECORD_FLOW).start()
    xml = result.twiml
    assert '<Record action="https://ivr.example.com/connect/webhook/twilio/ivr-recording?' in xml
    assert 'recordingStatusCallback="https://ivr.example.com/connect/webhook/twilio/recording-status?' in xml
    assert 'transcribe="true"' in xml and "transcription-status" in xml
    assert 'maxLength="30"' in xml and 'playBeep="true"' in xml
    assert "ivr-recording?orgid=acme&amp;session=s1&amp;turn=1&amp;timeout=1</Redirect>" in xml
    assert result.state["waiting"]["expects"] == ["recording", "timeout"]


def test_record_recorded() -> None:
    call = Call(RECORD_FLOW)
    call.start()
    result = call.send("recording", **RECORDING, Digits="#")
    assert outcomes(result) == [("rec", "recorded"), ("thanks", None)]
    assert result.state["results"]["rec"]["RecordingUrl"] == RECORDING["RecordingUrl"]
    assert result.state["vars"]["name_audio"] == RECORDING["RecordingUrl"]


def test_record_no_audio_by_timeout_and_by_zero_duration() -> None:
    call = Call(RECORD_FLOW)
    call.start()
    assert outcomes(call.send("timeout")) == [("rec", "no_audio"), ("silence", None)]
    call = Call(RECORD_FLOW)
    call.start()
    empty = call.send("recording", RecordingUrl="https://api.twilio.com/rec/RE2", RecordingDuration="0")
    assert outcomes(empty)[0] == ("rec", "no_audio")


def test_record_hangup() -> None:
    call = Call(RECORD_FLOW)
    call.start()
    result = call.send("recording", **RECORDING, Digits="hangup")
    assert outcomes(result) == [("rec", "hangup"), ("log", "next")]
    assert result.state["vars"]["gone"] == "yes" and result.done


VOICEMAIL_FLOW = flow(node("vm", "voicemail", {}, no_audio="retry"), bye("retry", "We got nothing"))


def test_voicemail_recorded_thanks_and_hangs_up() -> None:
    call = Call(VOICEMAIL_FLOW)
    first = call.start()
    assert "Please leave a message after the beep." in first.twiml and 'transcribe="true"' in first.twiml
    result = call.send("recording", **RECORDING)
    assert outcomes(result) == [("vm", "recorded")]
    assert result.twiml.endswith("Thank you. Goodbye.</Say><Hangup /></Response>")
    assert result.done


def test_voicemail_no_audio() -> None:
    call = Call(VOICEMAIL_FLOW)
    call.start()
    result = call.send("timeout")
    assert outcomes(result) == [("vm", "no_audio"), ("retry", None)]
    assert "Thank you" not in result.twiml
