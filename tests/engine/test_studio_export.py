"""Twilio Studio export: round trips, every node type to its nearest widget, best-effort notes."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from flows import load_definition, validate
from flows.studio import detect_format, export_studio, import_studio
from flows.studio.shape import check_studio
from tests.engine.helpers import Call, outcomes
from tests.engine.test_studio_import import FIXTURES, FLOW_FILES


def states_by_name(studio: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Widgets by name."""
    return {s["name"]: s for s in studio["states"]}


def wiring(state: dict[str, Any]) -> list[tuple[str, str | None, str | None]]:
    """A widget's transitions as (event, next, conditions) in order."""
    return [
        (t["event"], t.get("next"), json.dumps(t.get("conditions"), sort_keys=True) if t.get("conditions") else None)
        for t in state.get("transitions") or []
    ]


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: p.name)
def test_studio_round_trip_is_identical(path: Path) -> None:
    """Studio → Phonetree → Studio gives the export back: every widget, in its order, with its
    type, transitions (order, conditions, unwired events, missing targets) and properties; and
    importing what was exported gives the same nodes, outcomes and props again."""
    original = json.loads(path.read_text())
    original = original.get("definition", original)
    definition, report = import_studio(original)
    back = export_studio(definition)
    check_studio(back)
    assert detect_format(back) == "studio"
    assert [s["name"] for s in back["states"]] == [s["name"] for s in original["states"]]
    for before, after in zip(original["states"], back["states"], strict=True):
        assert after == before, before["name"]
    assert back == original
    again, again_report = import_studio(back)
    assert again["nodes"] == definition["nodes"] and again["start"] == definition["start"]
    assert again_report == report


def test_fixture_round_trip_is_exact() -> None:
    for path in sorted(FIXTURES.glob("*.json")):
        original = json.loads(path.read_text())
        back = export_studio(import_studio(original)[0])
        assert back == original, path.name


def test_round_trip_goes_through_the_stored_definition() -> None:
    """The definition as saved and loaded (FlowDefinition.to_dict) exports the same."""
    original = json.loads((FIXTURES / "every_widget.json").read_text())
    definition, _ = import_studio(original)
    stored = load_definition(json.loads(json.dumps(definition))).to_dict()
    assert export_studio(stored) == original


def test_an_edited_node_is_exported_from_its_props() -> None:
    original = json.loads((FIXTURES / "ivr_main_menu.json").read_text())
    definition, _ = import_studio(original)
    edited = copy.deepcopy(definition)
    say = next(n for n in edited["nodes"] if n["id"] == "say_hours")
    say["props"]["prompt"]["say"] = "Open {{ vars.days | upper }}, call {{ call.to }}."
    menu = next(n for n in edited["nodes"] if n["id"] == "main_menu")
    menu["props"]["options"].append({"digit": "0", "label": "Operator"})
    menu["outcomes"]["0"] = "connect_sales"
    back = states_by_name(export_studio(edited))
    assert back["say_hours"]["properties"] == {
        "say": "Open {{flow.variables.days | upcase}}, call {{trigger.call.To}}.",
        "voice": "Polly.Joanna",
        "language": "en-US",
        "loop": 1,
        "offset": {"x": 440, "y": 720},
    }
    split = back["route_menu"]
    assert split["properties"]["offset"] == {"x": 110, "y": 460}
    assert [(t["event"], t.get("next")) for t in split["transitions"]][-1] == ("match", "connect_sales")
    assert split["transitions"][-1]["conditions"][0]["value"] == "0"
    assert back["main_menu"]["transitions"][0] == {"next": "route_menu", "event": "keypress"}


def test_unsupported_widgets_come_back_as_themselves() -> None:
    original = json.loads((FIXTURES / "every_widget.json").read_text())
    back = states_by_name(export_studio(import_studio(original)[0]))
    before = states_by_name(original)
    for name in ("start_stream", "record_call", "twiml_redirect", "bot", "flex", "fn", "sms_reply", "outbound_call"):
        assert back[name] == before[name]


# ---------------------------------------------------------------- a Phonetree-native flow


NATIVE: dict[str, Any] = {
    "spec": "phonetree/1",
    "start": "hours",
    "settings": {"timezone": "Europe/Paris"},
    "nodes": [
        {
            "id": "hours",
            "type": "business_hours",
            "name": "Hours",
            "props": {"hours": {"mon": [["09:00", "17:00"]], "fri": [["22:00", "02:00"]]}, "holidays": ["2025-12-25"]},
            "outcomes": {"open": "menu", "closed": "vm"},
        },
        {
            "id": "menu",
            "type": "menu",
            "name": "Menu",
            "props": {
                "prompt": {"say": "Press 1 or say sales, {{ call.from }}", "voice": "Polly.Amy"},
                "options": [
                    {"digit": "1", "label": "Sales", "keywords": ["sales"]},
                    {"digit": "2", "label": "Account"},
                ],
                "retries": 1,
            },
            "outcomes": {"1": "xfer", "2": "acct", "fallback": "vm"},
        },
        {
            "id": "acct",
            "type": "collect_input",
            "name": "Account",
            "props": {"prompt": {"say": "Account?"}, "variable": "acct_no", "num_digits": 6, "retries": 0},
            "outcomes": {"success": "lookup", "no_input": "vm"},
        },
        {
            "id": "lookup",
            "type": "http_request",
            "name": "Lookup",
            "props": {
                "method": "POST",
                "url": "https://api.example.com/a/{{ vars.acct_no }}",
                "body": '{"a": "{{ vars.acct_no | upper }}"}',
                "variables": {"balance": "data.balance"},
            },
            "outcomes": {"success": "check", "failed": "vm"},
        },
        {
            "id": "check",
            "type": "branch",
            "name": "Owes?",
            "props": {
                "input": "{{ vars.balance }}",
                "conditions": [
                    {"id": "owes", "label": "Owes money", "operator": "greater_than", "value": "0"},
                    {"id": "late", "label": "Late", "operator": "after_time", "value": "18:00"},
                ],
            },
            "outcomes": {"owes": "setv", "late": "vm", "no_match": "bye"},
        },
        {
            "id": "setv",
            "type": "set_variables",
            "name": "Set",
            "props": {"assignments": [{"name": "amount", "value": "{{ vars.balance }}"}]},
            "outcomes": {"next": "pay"},
        },
        {
            "id": "pay",
            "type": "pay",
            "name": "Pay",
            "props": {"prompt": {"say": "Let's pay."}, "charge_amount": "{{ vars.amount }}", "max_attempts": 2},
            "outcomes": {"success": "sms", "failed": "xfer"},
        },
        {
            "id": "sms",
            "type": "send_sms",
            "name": "SMS",
            "props": {"body": "Paid {{ vars.amount }}"},
            "outcomes": {"sent": "say", "failed": "say"},
        },
        {
            "id": "say",
            "type": "say",
            "name": "Say",
            "props": {"prompt": {"play": "https://x.example.com/a.mp3"}, "loop": 2},
            "outcomes": {"next": "rec"},
        },
        {
            "id": "rec",
            "type": "record",
            "name": "Rec",
            "props": {"prompt": {"say": "Feedback?"}, "transcribe": True},
            "outcomes": {"recorded": "sub", "no_audio": "sub", "hangup": "sub"},
        },
        {
            "id": "sub",
            "type": "subflow",
            "name": "Sub",
            "props": {"flow": "42", "parameters": {"x": "{{ vars.amount }}"}},
            "outcomes": {"completed": "q", "failed": "bot"},
        },
        {
            "id": "q",
            "type": "enqueue",
            "name": "Queue",
            "props": {"queue": "support", "hold_message": {"say": "Hold"}},
            "outcomes": {"bridged": "bye", "hangup": "bye", "leave": "vm", "error": "vm"},
        },
        {
            "id": "bot",
            "type": "ai_agent",
            "name": "Bot",
            "props": {"gateway_url": "wss://ai.example.com/s"},
            "outcomes": {"next": "bye"},
        },
        {
            "id": "xfer",
            "type": "transfer",
            "name": "Transfer",
            "props": {"number": "+14155550100", "whisper": {"say": "Connecting"}},
            "outcomes": {"answered": "bye", "no_answer": "vm", "busy": "vm", "failed": "bye"},
        },
        {"id": "vm", "type": "voicemail", "name": "VM", "props": {}, "outcomes": {"recorded": "bye"}},
        {"id": "bye", "type": "hangup", "name": "Bye", "props": {"say": "Bye {{ call.caller_name }}"}, "outcomes": {}},
    ],
    "ui": {"nodes": {"hours": {"x": 10, "y": 20}, "menu": {"x": 10, "y": 240}, "xfer": {"x": 600, "y": 900}}},
}


def test_native_flow_is_valid_to_begin_with() -> None:
    assert [i.code for i in validate(NATIVE) if i.severity == "error"] == []


def test_every_node_type_exports_to_its_nearest_widget() -> None:
    studio = export_studio(NATIVE)
    check_studio(studio)
    states = states_by_name(studio)
    assert {n: s["type"] for n, s in states.items()} == {
        "Trigger": "trigger",
        "hours": "split-based-on",
        "menu": "gather-input-on-call",
        "menu_split": "split-based-on",
        "menu_speech": "split-based-on",
        "acct": "gather-input-on-call",
        "acct_store": "set-variables",
        "lookup": "make-http-request",
        "lookup_vars": "set-variables",
        "check": "split-based-on",
        "setv": "set-variables",
        "pay_prompt": "say-play",
        "pay": "capture-payments",
        "sms": "send-message",
        "say": "say-play",
        "rec_prompt": "say-play",
        "rec": "record-voicemail",
        "sub": "run-subflow",
        "q": "enqueue-call",
        "bot": "connect-virtual-agent",
        "xfer_whisper": "say-play",
        "xfer": "connect-call-to",
        "xfer_status": "split-based-on",
        "vm_greeting": "say-play",
        "vm": "record-voicemail",
        "vm_thanks": "say-play",
        "bye": "say-play",
    }
    assert states["Trigger"]["transitions"][1] == {"next": "hours", "event": "incomingCall"}
    assert states["hours"]["properties"]["offset"] == {"x": 10, "y": 20}
    assert states["xfer"]["properties"]["offset"] == {"x": 600, "y": 900}
    assert states["xfer_whisper"]["properties"]["offset"] == {"x": 600, "y": 740}


def test_export_writes_liquid_names_and_transitions() -> None:
    states = states_by_name(export_studio(NATIVE))
    assert states["menu"]["properties"]["say"] == "Press 1 or say sales, {{trigger.call.From}}"
    assert wiring(states["menu"])[:2] == [("keypress", "menu_split", None), ("speech", "menu_speech", None)]
    assert [(e, n) for e, n, _ in wiring(states["menu_split"])] == [
        ("noMatch", "vm_greeting"),
        ("match", "xfer_whisper"),
        ("match", "acct"),
    ]
    assert states["lookup"]["properties"]["url"] == "https://api.example.com/a/{{flow.variables.acct_no}}"
    assert states["lookup"]["properties"]["body"] == '{"a": "{{flow.variables.acct_no | upcase}}"}'
    assert states["lookup_vars"]["properties"]["variables"] == [
        {"key": "balance", "value": "{{widgets.lookup.parsed.data.balance}}"}
    ]
    assert states["acct_store"]["properties"]["variables"][0]["key"] == "acct_no"
    check = states["check"]["transitions"]
    assert check[0] == {"next": "bye", "event": "noMatch"}
    assert check[2]["conditions"][0] == {
        "friendly_name": "Late",
        "arguments": ["{{flow.variables.balance}}"],
        "type": "is_after_time",
        "value": "18:00",
    }
    pay = states["pay"]
    assert [(t["event"], t.get("next")) for t in pay["transitions"]] == [
        ("success", "sms"),
        *[
            (e, "xfer_whisper")
            for e in ("maxFailedAttempts", "providerError", "payInterrupted", "hangup", "validationError")
        ],
    ]
    assert pay["properties"]["payment_amount"] == "{{flow.variables.amount}}"
    assert states["sms"]["properties"]["to"] == "{{contact.channel.address}}"
    status = states["xfer_status"]
    assert states["xfer"]["transitions"][0] == {"next": "xfer_status", "event": "callCompleted"}
    assert [(t["event"], t.get("next")) for t in status["transitions"]] == [
        ("noMatch", "bye"),
        ("match", "vm_greeting"),
        ("match", "vm_greeting"),
    ]
    assert states["vm"]["transitions"][0] == {"next": "vm_thanks", "event": "recordingComplete"}
    assert states["bye"]["transitions"] == [{"event": "audioComplete"}]
    assert states["bye"]["properties"]["say"] == "Bye {{trigger.call.CallerName}}"


def test_business_hours_become_a_split_on_the_time_and_notes_say_so() -> None:
    studio = export_studio(NATIVE)
    hours = states_by_name(studio)["hours"]
    names = [t["conditions"][0]["friendly_name"] for t in hours["transitions"][1:]]
    assert names == ["Holiday", "Mon 09:00-17:00", "Fri 22:00-24:00", "Sat 00:00-02:00"]
    monday = hours["transitions"][2]["conditions"]
    assert [(c["type"], c["value"]) for c in monday] == [
        ("equal_to", "Mon"),
        ("is_after_time", "09:00"),
        ("is_before_time", "17:00"),
    ]
    notes = studio["description"].split("Phonetree export notes:\n")[1].splitlines()
    assert (
        "- hours (business_hours): business hours became a split on the current time in UTC; "
        "the hours are in Europe/Paris" in notes
    )
    assert any(n.startswith("- q (enqueue): the hold message is not exported") for n in notes)
    assert any(n.startswith("- bot (ai_agent): the AI agent became a Connect Virtual Agent") for n in notes)
    assert any(n.startswith("- sub (subflow): runs Phonetree flow 42") for n in notes)


def test_phonetree_to_studio_to_phonetree_still_runs() -> None:
    """A native flow exported and imported again validates and takes the same call path."""
    studio = export_studio(NATIVE)
    definition, report = import_studio(studio)
    assert [i.code for i in validate(definition) if i.severity == "error"] == []
    assert {r["widget"]: r["status"] for r in report}["pay"] == "mapped"
    call = Call(definition)
    result = call.start()
    assert outcomes(result)[0] == ("hours", "no_match")  # the time split cannot be evaluated here
    assert result.waiting is not None


def test_hangup_without_words_ends_transitions_and_is_noted() -> None:
    flow = {
        "spec": "phonetree/1",
        "start": "hi",
        "nodes": [
            {"id": "hi", "type": "say", "props": {"prompt": "Hi"}, "outcomes": {"next": "end"}},
            {"id": "end", "type": "hangup", "props": {}, "outcomes": {}},
        ],
    }
    studio = export_studio(flow)
    assert [s["name"] for s in studio["states"]] == ["Trigger", "hi"]
    assert studio["states"][1]["transitions"] == [{"event": "audioComplete"}]
    assert "end (hangup): hangs up without a message" in studio["description"]
    assert studio["states"][1]["properties"] == {"say": "Hi", "loop": 1, "offset": {"x": 0, "y": 0}}
