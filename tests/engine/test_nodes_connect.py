"""transfer, enqueue and ai_agent through every outcome."""

from __future__ import annotations

import pytest

from flows import FakeServices, queue_music_twiml
from tests.engine.helpers import Call, bye, flow, make_ctx, node, outcomes

TRANSFER_FLOW = flow(
    node("t", "transfer", {"number": "(415) 555-0100", "caller_id": "{{ call.to }}", "timeout": 20,
                           "record": True, "whisper": "Connecting you"},
         answered="after", no_answer="na", busy="busy", failed="fail"),
    bye("after", "Thanks for calling"), bye("na", "Nobody answered"), bye("busy", "Line busy"), bye("fail", "Failed"),
)


def test_transfer_dials_a_number() -> None:
    result = Call(TRANSFER_FLOW).start()
    xml = result.twiml
    assert '<Dial action="https://ivr.example.com/connect/webhook/twilio/ivr-continue?' in xml
    assert 'callerId="+14155550999"' in xml and 'timeout="20"' in xml
    assert 'record="record-from-answer-dual"' in xml and "recording-status" in xml
    assert "<Number>+14155550100</Number>" in xml
    assert xml.index("Connecting you") < xml.index("<Dial")
    assert result.state["waiting"]["expects"] == ["dial"]


@pytest.mark.parametrize(
    ("status", "outcome", "target"),
    [("completed", "answered", "after"), ("answered", "answered", "after"), ("no-answer", "no_answer", "na"),
     ("busy", "busy", "busy"), ("failed", "failed", "fail"), ("canceled", "failed", "fail")],
)
def test_transfer_outcomes(status: str, outcome: str, target: str) -> None:
    call = Call(TRANSFER_FLOW)
    call.start()
    result = call.send("dial", DialCallStatus=status, DialCallSid="CA9", DialCallDuration="12")
    assert outcomes(result) == [("t", outcome), (target, None)]
    assert result.state["results"]["t"]["DialCallStatus"] == status


def test_transfer_generic_continue_event_is_read_as_dial() -> None:
    call = Call(TRANSFER_FLOW)
    call.start()
    result = call.send("continue", DialCallStatus="busy")
    assert outcomes(result)[0] == ("t", "busy")
    assert result.steps[0].event == "dial"


def test_transfer_invalid_number_fails_without_dialing() -> None:
    definition = flow(node("t", "transfer", {"number": "{{ vars.missing }}"}, failed="fail"), bye("fail"))
    result = Call(definition).start()
    assert outcomes(result) == [("t", "failed"), ("fail", None)] and "<Dial" not in result.twiml


def test_transfer_rings_online_softphones() -> None:
    services = FakeServices(online={"alice@example.com": "user:alice@example.com",
                                    "carol@example.com": "user:carol@example.com"})
    definition = flow(node("t", "transfer", {"target": "users",
                                            "users": ["alice@example.com", "bob@example.com", "carol@example.com"]},
                           no_answer="na"), bye("na"))
    result = Call(definition, services).start()
    assert "<Client>user:alice@example.com</Client><Client>user:carol@example.com</Client>" in result.twiml
    assert services.calls[0] == ("online_clients", (["alice@example.com", "bob@example.com", "carol@example.com"],))
    nobody = Call(definition, FakeServices()).start()
    assert outcomes(nobody) == [("t", "no_answer"), ("na", None)]
    assert nobody.steps[0].detail["reason"] == "no_user_online"


ENQUEUE_FLOW = flow(
    node("q", "enqueue", {"queue": "support-{{ call.to[-3:] }}", "hold_message": {"say": "Please hold."},
                          "hold_music_url": "https://cdn.example.com/hold.mp3"},
         bridged="done", hangup="gone", leave="left", error="err"),
    bye("done", "Bye"), node("gone", "set_variables", {"assignments": [{"name": "abandoned", "value": "1"}]}),
    bye("left", "You left the queue"), bye("err", "Queue error"),
)


def test_enqueue_waits_in_queue() -> None:
    result = Call(ENQUEUE_FLOW).start()
    xml = result.twiml
    assert '<Enqueue action="https://ivr.example.com/connect/webhook/twilio/ivr-continue?' in xml
    assert 'waitUrl="https://ivr.example.com/connect/webhook/twilio/ivr-queue-music?' in xml
    assert ">support-999</Enqueue>" in xml


@pytest.mark.parametrize(
    ("queue_result", "outcome", "target"),
    [("bridged", "bridged", "done"), ("hangup", "hangup", "gone"), ("leave", "leave", "left"),
     ("redirected", "leave", "left"), ("queue-full", "error", "err"), ("system-error", "error", "err")],
)
def test_enqueue_outcomes(queue_result: str, outcome: str, target: str) -> None:
    call = Call(ENQUEUE_FLOW)
    call.start()
    result = call.send("continue", QueueResult=queue_result, QueueTime="30")
    after = "next" if target == "gone" else None  # set_variables routes on; hangup nodes end
    assert outcomes(result) == [("q", outcome), (target, after)]
    assert result.state["results"]["q"]["QueueResult"] == queue_result


def test_enqueue_hold_music_document() -> None:
    call = Call(ENQUEUE_FLOW)
    call.start()
    xml = queue_music_twiml(ENQUEUE_FLOW, call.state, make_ctx())
    assert xml.endswith('<Say language="en-US" voice="Polly.Joanna">Please hold.</Say>'
                        "<Play>https://cdn.example.com/hold.mp3</Play></Response>")
    assert call.state["waiting"]["node"] == "q"  # unchanged
    assert queue_music_twiml(ENQUEUE_FLOW, None, make_ctx()).endswith('<Pause length="10" /></Response>')


AI_FLOW = flow(
    node("ai", "ai_agent", {"gateway_url": "wss://ai.example.com/stream", "greeting": "Connecting you to our assistant",
                            "parameters": {"lang": "{{ vars.lang | default('en') }}"}}, next="after"),
    bye("after", "Back from the assistant"),
)


def test_ai_agent_connects_a_stream_and_continues() -> None:
    call = Call(AI_FLOW)
    first = call.start()
    xml = first.twiml
    assert '<Connect action="https://ivr.example.com/connect/webhook/twilio/ivr-continue?' in xml
    assert '<Stream url="wss://ai.example.com/stream">' in xml
    assert '<Parameter name="call_sid" value="CA0123456789abcdef0123456789abcdef" />' in xml
    assert '<Parameter name="lang" value="en" />' in xml
    result = call.send("continue", CallStatus="in-progress")
    assert outcomes(result) == [("ai", "next"), ("after", None)]
