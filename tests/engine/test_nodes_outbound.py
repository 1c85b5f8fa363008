"""The outbound_call node (Studio's make-outgoing-call-v2) and where executions start (flows.executions)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flows import Event, run_turn, validate
from flows.executions import call_options, for_request, places_call, request_channel, request_start
from flows.studio import export_studio, import_studio
from tests.engine.helpers import CALL, bye, flow, make_ctx, node

OUTBOUND = {**CALL, "Direction": "outbound-api", "CallStatus": "in-progress"}
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "studio"


def reminder(**props: Any) -> dict[str, Any]:
    return flow(
        node("call", "outbound_call", props, answered="hello", busy="busy", no_answer="busy", failed="busy"),
        bye("hello", "Hello {{ widgets.call.AnsweredBy }}"),
        node("busy", "set_variables", {"assignments": [{"name": "why", "value": "{{ widgets.call.CallStatus }}"}]}),
    )


def turn(definition: dict[str, Any], call: dict[str, Any], state=None, kind: str = "start", **params: Any):
    return run_turn(definition, state, Event(kind, params), make_ctx(call=call))


def steps(result) -> list[tuple[str, str | None, str | None]]:
    return [(s.node_id, s.event, s.outcome) for s in result.steps]


def test_an_answered_call_with_synchronous_detection_routes_answered_with_answered_by():
    result = turn(reminder(machine_detection="Enable"), {**OUTBOUND, "AnsweredBy": "machine_start"})
    assert steps(result)[0] == ("call", None, "answered")
    assert result.state["results"]["call"]["AnsweredBy"] == "machine_start"
    assert "Hello machine_start" in result.twiml


def test_without_detection_an_answer_is_answered_at_once():
    result = turn(reminder(), OUTBOUND)
    assert steps(result)[0] == ("call", None, "answered") and result.state["results"]["call"]["CallStatus"]
    assert "AnsweredBy" not in result.state["results"]["call"]


@pytest.mark.parametrize(
    "status, outcome", [("busy", "busy"), ("no-answer", "no_answer"), ("failed", "failed"), ("canceled", "failed")]
)
def test_a_call_never_answered_routes_on_its_status(status, outcome):
    result = turn(reminder(machine_detection="Enable"), {**OUTBOUND, "CallStatus": status})
    assert steps(result) == [("call", None, outcome), ("busy", None, "next")]
    assert result.state["vars"]["why"] == status


def test_an_inbound_call_fails():
    result = turn(reminder(), CALL)
    assert steps(result)[0] == ("call", None, "failed")
    assert result.state["results"]["call"]["reason"] == "not_outbound"


def test_asynchronous_detection_waits_then_takes_the_result_or_unknown():
    definition = reminder(machine_detection="DetectMessageEnd", async_amd=True, machine_detection_timeout=5)
    first = turn(definition, OUTBOUND)
    assert first.state["waiting"]["node"] == "call" and first.state["waiting"]["expects"] == ["continue"]
    assert "<Pause" in first.twiml and "ivr-continue" in first.twiml and "<Redirect" in first.twiml
    result = turn(definition, OUTBOUND, first.state, "continue", AnsweredBy="human")
    assert steps(result)[0] == ("call", "continue", "answered") and "Hello human" in result.twiml
    # no result: pause again until the time limit, then unknown
    state = first.state
    for _ in range(2):
        again = turn(definition, OUTBOUND, state, "continue")
        assert again.state["waiting"]["node"] == "call"
        state = again.state
    last = turn(definition, OUTBOUND, state, "continue")
    assert steps(last)[0] == ("call", "continue", "answered") and "Hello unknown" in last.twiml


def test_call_options_come_from_the_request_start():
    options = call_options(reminder(machine_detection="DetectMessageEnd", async_amd=True, speech_threshold=2400))
    assert options == {
        "Timeout": "60",
        "MachineDetection": "DetectMessageEnd",
        "MachineDetectionTimeout": "30",
        "MachineDetectionSpeechThreshold": "2400",
        "AsyncAmd": "true",
    }
    assert call_options(reminder(timeout=20)) == {"Timeout": "20"}
    assert places_call(reminder()) and not places_call(flow(bye()))
    assert call_options(flow(bye())) == {}


def test_bad_machine_detection_is_an_error_issue():
    issues = [i for i in validate(reminder(machine_detection="sometimes")) if i.severity == "error"]
    assert [(i.code, i.node_id, i.field) for i in issues] == [("invalid_choice", "call", "machine_detection")]


# ---------------------------------------------------------------- Studio


def studio(outbound_props: dict[str, Any], trigger: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "description": "Reminder",
        "states": [
            {"name": "Trigger", "type": "trigger", "transitions": trigger, "properties": {"offset": {"x": 0, "y": 0}}},
            {
                "name": "call_user",
                "type": "make-outgoing-call-v2",
                "transitions": [
                    {"next": "greet", "event": "answered"},
                    {"event": "busy"},
                    {"next": "greet", "event": "noAnswer"},
                    {"event": "failed"},
                ],
                "properties": {"offset": {"x": 0, "y": 200}, **outbound_props},
            },
            {
                "name": "greet",
                "type": "say-play",
                "transitions": [{"event": "audioComplete"}],
                "properties": {"offset": {"x": 0, "y": 400}, "say": "Hello"},
            },
        ],
        "initial_state": "Trigger",
        "flags": {"allow_concurrent_calls": True},
    }


AMD_PROPS = {
    "to": "{{contact.channel.address}}",
    "from": "{{flow.channel.address}}",
    "timeout": "45",
    "detect_answering_machine": "true",
    "machine_detection": "DetectMessageEnd",
    "machine_detection_timeout": "20",
    "machine_detection_speech_threshold": "2400",
    "machine_detection_speech_end_threshold": "1200",
    "machine_detection_silence_timeout": "5000",
    "record": False,
}


def test_make_outgoing_call_v2_imports_with_its_machine_detection():
    data = studio(AMD_PROPS, [{"next": "call_user", "event": "incomingRequest"}])
    definition, report = import_studio(data)
    row = next(r for r in report if r["widget"] == "call_user")
    assert row["status"] == "mapped"
    call = next(n for n in definition["nodes"] if n["id"] == "call_user")
    assert call["type"] == "outbound_call" and call["outcomes"] == {"answered": "greet", "no_answer": "greet"}
    assert call["props"]["machine_detection"] == "DetectMessageEnd" and call["props"]["timeout"] == 45
    assert call["props"]["machine_detection_timeout"] == 20 and call["props"]["speech_threshold"] == 2400
    assert request_start(definition) == "call_user" == definition["start"]
    assert call_options(definition)["MachineDetection"] == "DetectMessageEnd"
    assert export_studio(definition) == data  # unchanged: written back as it came


def test_an_edited_outgoing_call_exports_its_props():
    data = studio(AMD_PROPS, [{"next": "call_user", "event": "incomingRequest"}])
    definition, _ = import_studio(data)
    call = next(n for n in definition["nodes"] if n["id"] == "call_user")
    call["props"].update(machine_detection="Enable", async_amd=True)
    call["outcomes"]["busy"] = "greet"
    widget = next(s for s in export_studio(definition)["states"] if s["name"] == "call_user")
    assert widget["type"] == "make-outgoing-call-v2"
    assert widget["properties"]["machine_detection"] == "Enable" and widget["properties"]["async_amd"] == "true"
    assert widget["properties"]["detect_answering_machine"] is True
    events = {t["event"]: t.get("next") for t in widget["transitions"]}
    assert events == {"answered": "greet", "busy": "greet", "noAnswer": "greet", "failed": None}
    again, report = import_studio(export_studio(definition))
    back = next(n for n in again["nodes"] if n["id"] == "call_user")
    assert back["props"]["machine_detection"] == "Enable" and back["props"]["async_amd"] is True


def test_a_request_trigger_beside_a_call_trigger_is_where_executions_start():
    data = studio(
        {"detect_answering_machine": False},
        [{"next": "greet", "event": "incomingCall"}, {"next": "call_user", "event": "incomingRequest"}],
    )
    definition, report = import_studio(data)
    assert definition["start"] == "greet" and request_start(definition) == "call_user"
    trigger = next(r for r in report if r["type"] == "trigger")
    assert "executions (incomingRequest) start at call_user" in trigger["detail"]
    assert for_request(definition).start == "call_user"
    assert export_studio(definition) == data
    result = run_turn(for_request(definition), None, Event("start", {}), make_ctx(call=OUTBOUND))
    assert [s.node_id for s in result.steps][:2] == ["call_user", "greet"]


def test_the_every_widget_fixture_maps_its_outgoing_call():
    data = json.loads((FIXTURES / "every_widget.json").read_text())
    definition, report = import_studio(data)
    assert next(r for r in report if r["widget"] == "outbound_call")["status"] == "mapped"
    assert request_start(definition) == "outbound_call" != definition["start"]


def test_the_outgoing_call_may_come_after_steps_that_do_not_wait():
    definition = flow(
        node("prep", "set_variables", {"assignments": [{"name": "x", "value": "1"}]}, next="check"),
        node("check", "branch", {"input": "{{ vars.x }}", "conditions": []}, no_match="call"),
        node("call", "outbound_call", {"machine_detection": "Enable"}, answered="hello"),
        bye("hello"),
    )
    assert places_call(definition) and call_options(definition)["MachineDetection"] == "Enable"
    waits_first = flow(
        node("ask", "menu", {"prompt": "Press 1", "options": [{"digit": "1"}]}, **{"1": "call"}),
        node("call", "outbound_call", {"machine_detection": "Enable"}),
    )
    assert not places_call(waits_first) and call_options(waits_first) == {}
    result = turn(definition, {**OUTBOUND, "CallStatus": "busy"})
    assert [s.node_id for s in result.steps] == ["prep", "check", "call"] and result.steps[-1].outcome == "busy"


def test_the_request_channel_is_messaging_for_a_texts_only_flow_or_a_request_start_on_the_text_side():
    ask = node("ask", "wait_for_reply", {"prompt": "Reply YES"}, replied="done")
    done = node("done", "send_message", {"body": "Thanks"})
    assert request_channel(flow(bye())) == "voice"
    texts = flow(ask, done, channels=["messaging"])
    assert request_channel(texts) == "messaging" and for_request(texts, "messaging").start == "ask"
    both = flow(bye(), ask, done, channels=["voice", "messaging"], messaging_start="ask")
    assert request_channel(both) == "voice"  # the request start is the call's start
    both["ui"]["studio"] = {"trigger": {"request": "ask"}}
    assert request_channel(both) == "messaging"
    opened = for_request(both, "messaging")
    assert opened.start == "ask" and opened.settings.start_for("messaging", opened.start) == "ask"
    shared = flow(ask, done, channels=["voice", "messaging"], start="ask")
    assert request_channel(shared) == "messaging"  # a start both channels share: its path's first node texts
