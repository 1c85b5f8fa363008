"""The built-in flows' node types and the engine operations they use (Finish's outcome and reason, hand_over)."""

from __future__ import annotations

from dataclasses import replace

from flows import Event, FakeServices, hand_over, run_turn
from flows.builtin import BUILTIN_FLOWS, builtin_definition
from flows.state import end_of, turn_of, waiting_node
from tests.engine.helpers import BASE, make_ctx

ALICE = "alice@x.example"
VOICE = f"{BASE}/voice?orgid=acme&amp;session=s1"


def _run(key: str, state=None, event=Event("start"), services=None, settings=None, **data):
    ctx = replace(make_ctx(services), flow_data=data)
    return run_turn(builtin_definition(key, settings), state, event, ctx)


def _steps(result):
    return [(s.node_id, s.event, s.outcome) for s in result.steps]


def test_a_voice_number_rings_its_users_then_hangs_up_when_answered():
    services = FakeServices(online={ALICE: "user:alice"}, assigned=["bob@x.example", ALICE])
    ringing = _run("voice-number", services=services)
    assert ringing.twiml.endswith(
        f'<Response><Dial action="{VOICE}&amp;turn=1" method="POST" timeout="25"><Client>user:alice</Client>'
        "</Dial></Response>"
    )
    assert services.calls[-1] == ("online_clients", (["bob@x.example", ALICE],))
    done = _run("voice-number", ringing.state, Event("dial", {"DialCallStatus": "completed"}), services)
    assert done.twiml.endswith("<Response><Hangup /></Response>") and done.done
    assert _steps(done) == [("softphones", "dial", "completed")] and end_of(done.state)["reason"] == "answered"


def test_nobody_online_goes_straight_to_the_voicemail_and_silence_ends_no_message():
    vm = _run("voice-number", voicemail_greeting="Leave it here.")
    assert _steps(vm) == [("softphones", None, "no_answer"), ("voicemail", None, None)]
    assert "<Say>Leave it here.</Say><Record action=" in vm.twiml and 'maxLength="120"' in vm.twiml
    assert f'transcribeCallback="{BASE}/transcription-status' in vm.twiml and waiting_node(vm.state) == "voicemail"
    silent = _run("voice-number", vm.state, Event("recording", {}))
    assert silent.twiml.endswith("<Response><Hangup /></Response>")
    assert end_of(silent.state)["reason"] == "no_message" and _steps(silent) == [("voicemail", "recording", "no_audio")]


def test_a_softphone_call_out_needs_a_caller_id_and_a_valid_number():
    nobody = _run("softphone-outbound", target="+14155550100", caller_id="")
    assert "This organisation has no phone number to call from." in nobody.twiml
    assert end_of(nobody.state)["reason"] == "no_caller_id"
    invalid = _run("softphone-outbound", target="not a number", caller_id="+14155550999")
    assert "<Say>Sorry, that number is not valid. Goodbye.</Say><Hangup />" in invalid.twiml
    assert end_of(invalid.state)["reason"] == "invalid_number"
    ok = _run("softphone-outbound", target="+14155550100", caller_id="+14155550999")
    assert (f'<Dial action="{VOICE}&amp;turn=1" answerOnBridge="true" callerId="+14155550999" method="POST" '
            'timeout="30"><Number>+14155550100</Number></Dial>') in ok.twiml  # Twilio's library sorts attributes


def test_a_call_to_an_empty_client_answers_an_empty_response():
    empty = _run("softphone-inbound", target="client:")
    assert empty.twiml.endswith("<Response />") and empty.done


def test_an_invalid_ai_transfer_answers_the_fallback():
    apology = {"fallback": {"action": "hangup", "message": "Sorry, we cannot take your call right now."}}
    result = _run("ai-transfer", target="nowhere", settings=apology)  # the org's fallback, as the runtime passes it
    assert '<Say language="en-US" voice="Polly.Joanna">Sorry, we cannot take your call right now.</Say>' in result.twiml
    assert end_of(result.state)["reason"] == "fallback"


def test_hand_over_starts_the_flow_on_a_live_call_and_keeps_counting_turns():
    streaming = _run("ai-call", gateway_url="wss://ai.example.com/s", stream_parameters={"org": "acme"})
    assert '<Stream url="wss://ai.example.com/s"><Parameter name="org" value="acme" />' in streaming.twiml
    ctx = replace(make_ctx(), flow_data={"target": "queue:billing"})
    moved = hand_over(builtin_definition("ai-transfer"), streaming.state, Event("continue", {"x": "1"}), ctx)
    assert turn_of(moved.state) == 2 and waiting_node(moved.state) == "transfer"
    assert f'action="{VOICE}&amp;turn=2"' in moved.twiml and ">billing</Enqueue>" in moved.twiml
    assert moved.state["vars"] == {} and _steps(moved) == [("transfer", None, None)]


def test_builtin_definitions_are_cached_per_settings():
    assert builtin_definition("voice-number") is builtin_definition(BUILTIN_FLOWS["voice-number"].ref)
    assert builtin_definition("voice-number", {"voice": "alice"}).settings.voice == "alice"
    assert builtin_definition("nothing") is None
