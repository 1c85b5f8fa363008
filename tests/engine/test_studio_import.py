"""Twilio Studio import: every fixture and shared export, report, validation and real calls."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import pytest
from twilio.request_validator import RequestValidator

from flows import DefinitionError, FakeServices, load_definition, validate
from flows.studio import detect_format, import_studio
from flows.studio.liquid import liquid_to_jinja
from flows.studio.liquid_export import jinja_to_liquid
from flows.studio.shape import STUDIO_WIDGET_TYPES
from tests.engine.helpers import CALL, Call, outcomes
from tests.studio_exports import PLACEHOLDERS

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "studio"
SHARED = ROOT.parent / "shared" / "studio-flows"
FLOW_FILES = sorted(FIXTURES.glob("*.json")) + sorted(SHARED.glob("*.json"))

# Expected report status of the widgets that are not plainly "mapped", per fixture.
NOT_MAPPED = {
    "ivr_main_menu.json": {},
    "voicemail.json": {"record_message": "partial"},
    "payments.json": {},
    "appointment_http.json": {},
    "every_widget.json": {
        "Trigger": "partial",
        "start_stream": "unsupported",
        "record_call": "unsupported",
        "no_input_vm": "partial",
        "subflow": "partial",
        "bot": "unsupported",
        "sms_reply": "mapped",
    },
    "sms_flow.json": {"Trigger": "partial", "ask_confirm": "mapped"},
}
VOICE_FIXTURES = ("ivr_main_menu.json", "voicemail.json", "payments.json", "appointment_http.json", "every_widget.json")


def load(name: str) -> dict[str, Any]:
    """A Studio fixture as parsed JSON."""
    return json.loads((FIXTURES / name).read_text())


def imported(name: str) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A fixture imported: (definition, report)."""
    return import_studio(load(name))


def nodes_of(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Nodes by id."""
    return {n["id"]: n for n in definition["nodes"]}


def studio_of(path: Path) -> dict[str, Any]:
    """A flow file's Studio Flow Definition (unwrapped from a REST API Flow resource)."""
    data = json.loads(path.read_text())
    return data.get("definition", data)


def missing_names(data: dict[str, Any]) -> set[str]:
    """Names that transitions of a Studio flow point at but no widget has."""
    names = {s["name"] for s in data["states"]}
    return {t["next"] for s in data["states"] for t in s.get("transitions") or [] if t.get("next")} - names


def is_voice(data: dict[str, Any]) -> bool:
    """True when the Trigger sends calls somewhere."""
    return any(
        t.get("event") == "incomingCall" and t.get("next")
        for s in data["states"]
        if s["type"] == "trigger"
        for t in s.get("transitions") or []
    )


def test_there_are_fixtures_for_every_widget_type() -> None:
    assert {p.name for p in FIXTURES.glob("*.json")} >= set(NOT_MAPPED)
    types = {s["type"] for p in FLOW_FILES for s in studio_of(p)["states"]}
    assert types >= STUDIO_WIDGET_TYPES - {"make-outgoing-call", "send-to-autopilot"}


# ---------------------------------------------------------------- every flow file


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: p.name)
def test_import_reports_every_widget(path: Path) -> None:
    data = json.loads(path.read_text())
    assert detect_format(data) == "studio"
    definition, report = import_studio(data)
    states = data.get("definition", data)["states"]
    assert [r["widget"] for r in report] == [s["name"] for s in states]
    assert [r["type"] for r in report] == [s["type"] for s in states]
    for row in report:
        assert set(row) == {"widget", "type", "status", "detail"}
        assert row["status"] in ("mapped", "partial", "unsupported") and row["detail"]
    if path.name in NOT_MAPPED:
        expected = {s["name"]: NOT_MAPPED[path.name].get(s["name"], "mapped") for s in states}
        assert {r["widget"]: r["status"] for r in report} == expected
    loaded = load_definition(definition)
    assert loaded.start is not None or not is_voice(states and data.get("definition", data))
    ids = {n.id for n in loaded.nodes}
    merged = definition["ui"]["studio"]["merged"]
    for state in states:
        if state["type"] == "trigger" or any(m["name"] == state["name"] for m in merged.values()):
            continue
        node = next(n for n in loaded.nodes if n.name == state["name"])
        offset = (state.get("properties") or {}).get("offset")
        if offset:
            assert definition["ui"]["nodes"][node.id] == {"x": offset["x"], "y": offset["y"]}
        dangling = set(node.outcomes.values()) - ids  # outcomes to widgets the export does not define
        missing = definition["ui"]["studio"].get("missing", {})
        assert dangling <= set(missing)
        row = next(r for r in report if r["widget"] == state["name"])
        for node_id in dangling:
            assert f"→ {missing[node_id]}: there is no widget by that name" in row["detail"]
            assert row["status"] == "partial"
    assert set(definition["ui"]["studio"].get("missing", {}).values()) == missing_names(data.get("definition", data))


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: p.name)
def test_imported_flows_validate(path: Path) -> None:
    """Every file imports without an error, except each transition to a missing widget (02's
    "Goodbye"): that is one missing_target error on the node, at the outcome, naming the widget;
    and each placeholder its authors left for a workflow SID or a Function URL."""
    definition, report = import_studio(json.loads(path.read_text()))
    errors = [i for i in validate(definition) if i.severity == "error"]
    placeholders = sorted((e.code, e.node_id, e.field) for e in errors if e.code != "missing_target")
    assert placeholders == PLACEHOLDERS.get(path.name, [])
    errors = [e for e in errors if e.code == "missing_target"]
    missing = definition["ui"]["studio"].get("missing", {})
    expected = sorted(
        (n["id"], f"outcomes.{outcome}", target)
        for n in definition["nodes"]
        for outcome, target in n["outcomes"].items()
        if target in missing
    )
    assert sorted((e.node_id, e.field, e.message.split("'")[3]) for e in errors) == expected
    assert bool(expected) == (path.name == "02-ca-regulatory-subflow-voicemail.json")


@pytest.mark.parametrize("path", FLOW_FILES, ids=lambda p: p.name)
def test_every_wired_transition_survives(path: Path) -> None:
    """Each Studio transition with a target is an outcome, or the report says why not."""
    data = json.loads(path.read_text())
    definition, report = import_studio(data)
    nodes = nodes_of(definition)
    by_name = {n["name"]: n for n in nodes.values()}
    details = {r["widget"]: r["detail"] for r in report}
    for state in data.get("definition", data)["states"]:
        node = by_name.get(state["name"])
        if node is None or state["type"] == "trigger":
            continue
        reachable = set(node["outcomes"].values())
        for aux in nodes.values():  # branches the import put behind an outcome
            if aux["id"] in reachable and aux["id"] in definition["ui"]["studio"]["aux"]:
                reachable |= set(aux["outcomes"].values())
        missing = definition["ui"]["studio"].get("missing", {})
        for t in state.get("transitions") or []:
            if t.get("next") and t["next"] in by_name:
                assert by_name[t["next"]]["id"] in reachable or t["event"] in details[state["name"]], (state["name"], t)
            elif t.get("next") and t["next"] not in {s["name"] for s in data.get("definition", data)["states"]}:
                # a widget the export does not define: a dead-end outcome, named in the report
                assert any(missing.get(target) == t["next"] for target in reachable), (state["name"], t)
                assert f"→ {t['next']}: there is no widget by that name" in details[state["name"]]


# ---------------------------------------------------------------- the mapping, fixture by fixture


def test_gather_and_digit_split_become_one_menu() -> None:
    definition, report = imported("ivr_main_menu.json")
    menu = nodes_of(definition)["main_menu"]
    assert menu["type"] == "menu"
    assert [o["digit"] for o in menu["props"]["options"]] == ["1", "2", "3"]
    assert menu["props"]["retries"] == 0 and menu["props"]["timeout"] == 5
    assert menu["props"]["prompt"]["voice"] == "Polly.Joanna"
    assert menu["outcomes"] == {
        "1": "connect_sales",
        "2": "connect_support",
        "3": "say_hours",
        "fallback": "invalid_choice",
    }
    assert "route_menu" not in nodes_of(definition)
    assert next(r for r in report if r["widget"] == "route_menu")["detail"].startswith("merged into menu main_menu")
    assert definition["start"] == "main_menu"
    assert nodes_of(definition)["goodbye"]["type"] == "hangup"
    sales = nodes_of(definition)["connect_sales"]
    assert sales["type"] == "transfer" and sales["props"] == {
        "target": "number",
        "number": "+14155550101",
        "timeout": 30,
    }
    assert sales["outcomes"] == dict.fromkeys(("answered", "no_answer", "busy", "failed"), "goodbye")


def test_gather_with_speech_becomes_collect_input_and_branches() -> None:
    definition, _ = imported("appointment_http.json")
    nodes = nodes_of(definition)
    announce = nodes["announce"]
    assert announce["type"] == "collect_input"
    assert announce["props"]["input"] == "both" and announce["props"]["speech_hints"] == "agent,front desk"
    assert announce["outcomes"] == {"success": "announce_kind", "no_input": "announce"}
    assert nodes["announce_kind"]["outcomes"] == {"keypress": "confirm_choice", "no_match": "speech_choice"}
    assert "{{widgets.lookup.parsed.doctor | upcase}}" in announce["props"]["prompt"]["say"]
    choice = nodes["confirm_choice"]
    assert choice["type"] == "branch" and choice["props"]["input"] == "{{widgets.announce.Digits}}"
    assert [(c["id"], c["operator"], c["value"]) for c in choice["props"]["conditions"]] == [
        ("1", "equal_to", "1"),
        ("2", "equal_to", "2"),
    ]
    assert choice["outcomes"] == {"no_match": "announce", "1": "confirm_http", "2": "cancel_http"}
    cancel = nodes["cancel_http"]["props"]
    assert cancel["body"] == "id={{ (widgets.lookup.parsed.id) | urlencode }}&action=cancel"
    assert cancel["content_type"] == "application/x-www-form-urlencoded"
    assert nodes["front_desk"]["outcomes"] == {"error": "closing", "hangup": "closing"}


def test_capture_payments_failures_fan_out_only_when_targets_differ() -> None:
    definition, _ = imported("payments.json")
    pay = nodes_of(definition)["take_payment"]
    assert pay["type"] == "pay"
    assert pay["outcomes"] == {"success": "paid", "failed": "payment_failed"}
    assert pay["props"] == {
        "charge_amount": "{{flow.variables.amount}}",
        "currency": "usd",
        "payment_connector": "Stripe_Connector",
        "language": "en-US",
        "description": "Account {{flow.variables.account_number}}",
        "payment_method": "credit-card",
        "token_type": "one-time",
        "valid_card_types": "visa mastercard amex",
        "max_attempts": 2,
        "timeout": 5,
        "postal_code": False,
        "security_code": True,
    }
    definition, _ = imported("every_widget.json")
    nodes = nodes_of(definition)
    assert nodes["pay"]["outcomes"] == {"success": "goodbye", "failed": "pay_failure"}
    failure = nodes["pay_failure"]
    assert failure["props"]["input"] == "{{ widgets.pay.Result }}"
    assert [c["id"] for c in failure["props"]["conditions"]] == ["maxFailedAttempts", "payInterrupted"]
    assert failure["outcomes"] == {
        "maxFailedAttempts": "transfer",
        "payInterrupted": "main_menu",
        "no_match": "goodbye",
    }


def test_unsupported_widgets_keep_their_transitions() -> None:
    definition, report = imported("every_widget.json")
    nodes = nodes_of(definition)
    bot = nodes["bot"]
    assert bot["type"] == "branch" and bot["props"]["input"] == "{{ widgets.bot.event }}"
    assert bot["outcomes"] == {"return": "main_menu", "no_match": "main_menu"}
    row = next(r for r in report if r["widget"] == "bot")
    assert row["status"] == "unsupported" and "Dialogflow" in row["detail"]
    assert definition["ui"]["studio"]["widgets"]["fn"]["properties"]["function_sid"].startswith("ZH")
    note = definition["ui"]["notes"][0]["text"]
    assert note.startswith("Imported from Twilio Studio") and "- bot (connect-virtual-agent, unsupported)" in note


def test_functions_flex_and_twiml_redirects_run() -> None:
    """run-function, send-to-flex, enqueue-call to a workflow and add-twiml-redirect map to nodes that run."""
    definition, report = imported("every_widget.json")
    nodes = nodes_of(definition)
    assert {r["widget"]: r["status"] for r in report if r["widget"] in ("fn", "flex", "queue", "twiml_redirect")} == {
        "fn": "mapped",
        "flex": "mapped",
        "queue": "mapped",
        "twiml_redirect": "mapped",
    }
    fn = nodes["fn"]
    assert fn["type"] == "run_function" and fn["outcomes"] == {"success": "say_result", "failed": "goodbye"}
    assert fn["props"] == {"url": "https://tour-1234.twil.io/balance", "parameters": {"phone": "{{trigger.call.From}}"}}
    flex = nodes["flex"]
    assert flex["type"] == "enqueue" and flex["outcomes"] == {"error": "no_input_vm", "hangup": "no_input_vm"}
    assert flex["props"] == {
        "target": "workflow",
        "workflow_sid": "WW0123456789abcdef0123456789abcdef",
        "task_attributes": '{"name": "{{trigger.call.From}}"}',
    }
    assert nodes["queue"]["props"]["priority"] == 5 and nodes["queue"]["props"]["task_timeout"] == 600
    redirect = nodes["twiml_redirect"]
    assert redirect["type"] == "twiml_redirect"
    assert redirect["props"] == {"url": "https://twiml.example.com/hold", "method": "POST", "timeout": 14400}
    assert redirect["outcomes"] == {"return": "main_menu", "timeout": "goodbye", "failed": "transfer"}


def test_trigger_events_other_than_calls_are_reported() -> None:
    definition, report = imported("sms_flow.json")
    assert definition["start"] == "text_only"
    trigger = report[0]
    assert trigger["widget"] == "Trigger" and trigger["status"] == "partial"
    assert "text conversations start at ask_confirm" in trigger["detail"]
    assert "executions (incomingRequest) start at ask_confirm" in trigger["detail"]
    settings = definition["settings"]
    assert settings == {"channels": ["voice", "messaging"], "messaging_start": "ask_confirm"}
    check = nodes_of(definition)["check_reply"]
    assert check["props"]["input"] == "{{widgets.ask_confirm.inbound.Body | downcase | strip}}"
    assert check["props"]["conditions"][0]["operator"] == "matches_any_of"


def test_widget_names_become_valid_unique_node_ids() -> None:
    data = {
        "initial_state": "Trigger",
        "states": [
            {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingCall", "next": "say-hello"}]},
            {
                "name": "say-hello",
                "type": "say-play",
                "transitions": [{"event": "audioComplete", "next": "say_hello"}],
                "properties": {"say": "Hi {{widgets.say-hello.x}}"},
            },
            {
                "name": "say_hello",
                "type": "say-play",
                "transitions": [{"event": "audioComplete", "next": "1st"}],
                "properties": {"say": "Again"},
            },
            {
                "name": "1st",
                "type": "say-play",
                "transitions": [{"event": "audioComplete"}],
                "properties": {"say": "Bye {{flow.variables.first}}"},
            },
        ],
    }
    definition, report = import_studio(data)
    assert [n["id"] for n in definition["nodes"]] == ["say_hello", "say_hello_2", "w_1st"]
    assert [n["name"] for n in definition["nodes"]] == ["say-hello", "say_hello", "1st"]
    assert definition["nodes"][0]["outcomes"] == {"next": "say_hello_2"}
    assert definition["nodes"][0]["props"]["prompt"]["say"] == "Hi {{ widgets.say_hello.x }}"
    assert report[1]["status"] == "partial" and "'widgets.say-hello' → 'widgets.say_hello'" in report[1]["detail"]
    assert [i.code for i in validate(definition)] == ["read_before_set"]


# ---------------------------------------------------------------- calls through imported flows


def test_call_through_the_main_menu() -> None:
    definition, _ = imported("ivr_main_menu.json")
    call = Call(definition)
    first = call.start()
    assert outcomes(first) == [("main_menu", None)]
    assert 'numDigits="1"' in first.twiml and "For support, press 2." in first.twiml
    second = call.send("input", Digits="2")
    assert outcomes(second) == [("main_menu", "2"), ("connect_support", None)]
    assert "<Number>+14155550102</Number>" in second.twiml and 'timeout="20"' in second.twiml
    assert 'record="record-from-answer-dual"' in second.twiml
    assert second.state["results"]["main_menu"]["Digits"] == "2"
    third = call.send("dial", DialCallStatus="completed")
    assert outcomes(third) == [("connect_support", "answered"), ("goodbye", None)]
    assert third.done and third.twiml.endswith("Thank you for calling Acme. Goodbye.</Say><Hangup /></Response>")


def test_call_with_a_wrong_key_goes_to_studio_no_match_at_once() -> None:
    definition, _ = imported("ivr_main_menu.json")
    call = Call(definition)
    call.start()
    result = call.send("input", Digits="9")
    assert outcomes(result) == [("main_menu", "fallback"), ("invalid_choice", "next"), ("main_menu", None)]
    assert result.twiml.index("didn't catch that") < result.twiml.index("<Gather")
    assert outcomes(call.send("timeout"))[:2] == [("main_menu", "fallback"), ("invalid_choice", "next")]
    assert outcomes(call.send("input", Digits="3")) == [("main_menu", "3"), ("say_hours", "next"), ("goodbye", None)]


def test_call_leaves_a_voicemail_and_posts_it() -> None:
    definition, _ = imported("voicemail.json")
    services = FakeServices(http={"https://hooks.example.com/voicemail/new": (200, '{"ok": true}')})
    call = Call(definition, services)
    first = call.start()
    assert outcomes(first) == [("greeting", "next"), ("record_message", None)]
    assert 'transcribe="true"' in first.twiml and 'maxLength="120"' in first.twiml
    assert 'finishOnKey="#"' in first.twiml and 'voice="Polly.Matthew"' in first.twiml
    done = call.send("recording", RecordingUrl="https://api.twilio.com/rec/RE1", RecordingDuration="12")
    assert outcomes(done) == [("record_message", "recorded"), ("notify_team", "success"), ("thanks", None)]
    assert "Thank you, caller. We will call you back" in done.twiml and done.done
    method, url, _, body, _ = services.calls[0][1]
    assert (method, url) == ("POST", "https://hooks.example.com/voicemail/new")
    assert json.loads(body) == {"from": CALL["From"], "recording": "https://api.twilio.com/rec/RE1", "duration": "12"}
    silent = Call(definition, services)
    silent.start()
    result = silent.send("recording", RecordingDuration="0")
    assert outcomes(result) == [("record_message", "no_audio"), ("no_message", None)]
    assert "<Play>https://assets.example.com/audio/no-message-goodbye.mp3</Play><Hangup />" in result.twiml


def test_call_pays_a_bill_and_gets_a_receipt() -> None:
    definition, _ = imported("payments.json")
    services = FakeServices()
    call = Call(definition, services)
    first = call.start()
    assert outcomes(first) == [("intro", "next"), ("get_account", None)]
    assert 'numDigits="8"' in first.twiml and 'finishOnKey="#"' in first.twiml
    second = call.send("input", Digits="12345678")
    assert outcomes(second) == [("get_account", "success"), ("save_account", "next"), ("take_payment", None)]
    assert 'chargeAmount="25.00"' in second.twiml and 'description="Account 12345678"' in second.twiml
    assert 'paymentConnector="Stripe_Connector"' in second.twiml
    third = call.send("payment", Result="success", PaymentConfirmationCode="ch_9")
    assert outcomes(third) == [("take_payment", "success"), ("paid", "next"), ("sms_receipt", "sent")]
    assert "payment of 25.00 dollars was received. Your confirmation code is ch_9." in third.twiml
    assert services.calls[-1] == (
        "send_message",
        (CALL["From"], CALL["To"], "City Utilities: payment of $25.00 received for account 12345678.", []),
    )
    failed = Call(definition)
    failed.start()
    failed.send("input", Digits="12345678")
    result = failed.send("payment", Result="too-many-failed-attempts")
    assert outcomes(result) == [("take_payment", "failed"), ("payment_failed", "next"), ("agent", None)]
    assert "<Number>+14155550199</Number>" in result.twiml


APPOINTMENT = {
    "status": "Scheduled",
    "first_name": "ana",
    "date": "May 3",
    "time": "10 AM",
    "doctor": "Dr. Lee",
    "id": "42",
}


def test_call_confirms_an_appointment_over_http() -> None:
    definition, _ = imported("appointment_http.json")
    services = FakeServices(
        http={
            "https://api.example-clinic.com/appointments/next": (200, json.dumps(APPOINTMENT)),
            "https://api.example-clinic.com/appointments/confirm": (200, "{}"),
        }
    )
    call = Call(definition, services)
    first = call.start()
    assert outcomes(first) == [("lookup", "success"), ("has_appointment", "scheduled"), ("announce", None)]
    assert services.calls[0][1][1] == "https://api.example-clinic.com/appointments/next?phone=%2B14155550123"
    assert "Hello Ana. Your next appointment is on May 3 at 10 AM with DR. LEE." in first.twiml
    assert 'input="dtmf speech"' in first.twiml
    second = call.send("input", Digits="1")
    assert outcomes(second) == [
        ("announce", "success"),
        ("announce_kind", "keypress"),
        ("confirm_choice", "1"),
        ("confirm_http", "success"),
        ("confirmed", None),
    ]
    assert json.loads(services.calls[-1][1][3]) == {"id": "42", "action": "confirm"}
    assert "Your appointment is confirmed." in second.twiml and second.done


def test_call_asks_for_an_agent_by_voice_and_when_lookup_fails() -> None:
    definition, _ = imported("appointment_http.json")
    services = FakeServices(http={"https://api.example-clinic.com/appointments/next": (200, json.dumps(APPOINTMENT))})
    call = Call(definition, services)
    call.start()
    result = call.send("input", SpeechResult="Agent please")
    assert outcomes(result) == [
        ("announce", "success"),
        ("announce_kind", "no_match"),
        ("speech_choice", "agent"),
        ("front_desk", None),
    ]
    assert ">front-desk</Enqueue>" in result.twiml
    assert outcomes(call.send("queue", QueueResult="error")) == [("front_desk", "error"), ("closing", None)]
    down = Call(definition, FakeServices(http={"https://api.example-clinic.com/appointments/next": (503, "")}))
    result = down.start()
    assert outcomes(result) == [("lookup", "failed"), ("lookup_failed", "next"), ("front_desk", None)]


def test_call_through_placeholders_and_a_balance_lookup() -> None:
    definition, _ = imported("every_widget.json")
    services = FakeServices(http={"https://api.example.com/balance": (200, '{"balance": "12.50"}')})
    call = Call(definition, services)
    first = call.start()
    assert outcomes(first) == [
        ("welcome", "next"),
        ("start_stream", "no_match"),
        ("record_call", "no_match"),
        ("set_defaults", "next"),
        ("main_menu", None),
    ]
    assert first.state["vars"] == {"caller": CALL["From"], "city": ""}
    assert 'input="dtmf speech"' in first.twiml and 'hints="operator,voicemail"' in first.twiml
    second = call.send("input", Digits="4")
    assert outcomes(second) == [
        ("main_menu", "success"),
        ("main_menu_kind", "keypress"),
        ("route", "4"),
        ("lookup_http", "success"),
        ("say_result", "next"),
        ("goodbye", None),
    ]
    assert services.calls[0][1][1] == "https://api.example.com/balance?phone=%2B14155550123"
    assert "Your balance is 12.50 dollars." in second.twiml and second.done
    function = Call(definition, services)
    function.start()
    assert outcomes(function.send("input", Digits="9"))[-2:] == [("fn", "failed"), ("goodbye", None)]  # a 404

    def balance(method: str, url: str, headers: Any, body: str | None) -> tuple[int, str]:
        params = dict(parse_qsl(body or ""))
        assert method == "POST" and params == {"phone": CALL["From"]}
        assert headers["Content-Type"] == "application/x-www-form-urlencoded"
        assert RequestValidator(services.auth_token).validate(url, params, headers["X-Twilio-Signature"])
        return 200, '{"balance": "3.00"}'

    services.http["https://tour-1234.twil.io/balance"] = balance
    signed = Call(definition, services)
    signed.start()
    assert outcomes(signed.send("input", Digits="9"))[-3:] == [
        ("fn", "success"),
        ("say_result", "next"),
        ("goodbye", None),
    ]
    assert signed.state["results"]["fn"]["parsed"] == {"balance": "3.00"}
    spoken = Call(definition, services)
    spoken.start()
    assert outcomes(spoken.send("input", SpeechResult="operator"))[:3] == [
        ("main_menu", "success"),
        ("main_menu_kind", "no_match"),
        ("speech_route", "operator"),
    ]


def test_call_to_an_sms_flow_is_told_to_text() -> None:
    definition, _ = imported("sms_flow.json")
    assert [i.code for i in validate(definition) if i.severity == "error"] == []
    result = Call(definition).start()
    assert outcomes(result) == [("text_only", None)]
    assert "This number only accepts text messages. Goodbye.</Say><Hangup />" in result.twiml


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ([1, 2], "", "expected an object with 'initial_state' and 'states' (Twilio Studio) or 'spec' and 'nodes'"),
        ({"hello": 1}, "", "found keys: hello"),
        ({"states": "x", "initial_state": "T"}, "states", "must be a list of widgets, got a string"),
        ({"states": [], "initial_state": "T"}, "states", "at least one widget"),
        (
            {
                "initial_state": "T",
                "states": [
                    {"name": "T", "type": "trigger"},
                    {"name": "a", "type": "say-play"},
                    {"name": "b", "type": ""},
                ],
            },
            "states[2].type",
            "type must be a non-empty string",
        ),
        (
            {"initial_state": "T", "states": [{"name": "T", "type": "trigger"}, {"type": "say-play"}]},
            "states[1].name",
            "name must be a non-empty string",
        ),
        (
            {"initial_state": "T", "states": [{"name": "T", "type": "trigger"}, {"name": "T", "type": "say-play"}]},
            "states[1].name",
            "duplicate widget name 'T'",
        ),
        (
            {
                "initial_state": "T",
                "states": [{"name": "T", "type": "trigger", "transitions": [{"event": "incomingCall", "next": 3}]}],
            },
            "states[0].transitions[0].next",
            "next must name a widget, got a number",
        ),
        (
            {"initial_state": "T", "states": [{"name": "T", "type": "trigger", "transitions": [{"next": "T"}]}]},
            "states[0].transitions[0].event",
            "event must be a non-empty string",
        ),
        ({"initial_state": "X", "states": [{"name": "T", "type": "trigger"}]}, "initial_state", "no widget named 'X'"),
        ({"states": [{"name": "T", "type": "trigger"}]}, "initial_state", "missing"),
        (
            {"initial_state": "T", "states": [{"name": "T", "type": "trigger", "properties": {"offset": {"x": "1"}}}]},
            "states[0].properties.offset.x",
            "must be a number, got a string",
        ),
        (
            {"initial_state": "T", "states": [{"name": "T", "type": "trigger", "properties": []}]},
            "states[0].properties",
            "properties must be an object",
        ),
        (
            {
                "initial_state": "T",
                "states": [
                    {"name": "T", "type": "trigger"},
                    {
                        "name": "s",
                        "type": "split-based-on",
                        "transitions": [{"event": "match", "conditions": {"a": 1}}],
                    },
                ],
            },
            "states[1].transitions[0].conditions",
            "conditions must be a list",
        ),
        ({"spec": "phonetree/9", "nodes": []}, "spec", "unsupported spec 'phonetree/9'"),
        (
            {"spec": "phonetree/1", "nodes": [{"id": "a", "type": ""}]},
            "nodes[0].type",
            "type must be a non-empty string",
        ),
    ],
)
def test_bad_input_says_what_and_where(data: Any, path: str, message: str) -> None:
    with pytest.raises(DefinitionError) as info:
        detect_format(data)
    assert info.value.path == path and message in info.value.message
    if isinstance(data, dict) and "spec" not in data and "states" in data:
        with pytest.raises(DefinitionError) as again:
            import_studio(data)
        assert again.value.path == path


def test_detect_format_recognises_both_and_the_rest_api_wrapper() -> None:
    studio = load("voicemail.json")
    assert detect_format(studio) == "studio"
    assert detect_format({"sid": "FW1", "friendly_name": "x", "definition": studio}) == "studio"
    definition, _ = import_studio({"sid": "FW1", "definition": studio})
    assert detect_format(definition) == "phonetree"
    assert detect_format({"nodes": [], "start": None}) == "phonetree"


# ---------------------------------------------------------------- Liquid


@pytest.mark.parametrize(
    ("liquid", "jinja"),
    [
        ("{{widgets.menu.Digits}}", "{{widgets.menu.Digits}}"),
        ("Hi {{trigger.call.From}} {{flow.data.name}}", "Hi {{trigger.call.From}} {{flow.data.name}}"),
        ("{{ x | upcase }}", "{{ x | upcase }}"),
        ("{{x | default: 'n/a'}}", "{{ x | default('n/a', true) }}"),
        ("{{ a | append: '!' }}", "{{ a | append('!') }}"),
        ("{{ flow.variables.n | plus: 2 }}", "{{ flow.variables.n | plus(2) }}"),
        ("{{ x | truncate: 5 }}", "{{ x | truncate(5, true, '...', 0) }}"),
        ("{{ list.size }}", "{{ (list.size | default(list | size)) }}"),
        (
            "{% if x contains 'a' %}y{% elsif z <> 1 %}w{% endif %}",
            "{% if x is containing('a') %}y{% elif z != 1 %}w{% endif %}",
        ),
        ("{% unless x %}no{% endunless %}", "{% if not (x is truthy) %}no{% endif %}"),
        ("{% assign n = x | downcase %}{{n}}", "{% set n = x | downcase %}{{n}}"),
        (
            "{% case d %}{% when '1' %}a{% when '2', '3' %}b{% else %}c{% endcase %}",
            "{% if d == '1' %}a{% elif d == '2' or d == '3' %}b{% else %}c{% endif %}",
        ),
        ("{{contact.channel.address}}", "{{ trigger.call.From }}"),
    ],
)
def test_liquid_becomes_jinja(liquid: str, jinja: str) -> None:
    converted, notes = liquid_to_jinja(liquid, {"contact.channel.address": "trigger.call.From"})
    assert converted == jinja
    assert not any(n.startswith("cannot translate") for n in notes)


def test_untranslatable_liquid_is_kept_and_reported() -> None:
    text, notes = liquid_to_jinja("{{ x | md5 }} and {% cycle 'a', 'b' %}")
    assert text == "{{ x | md5 }} and {% cycle 'a', 'b' %}"
    assert notes == [
        "cannot translate Liquid filter 'md5': fix the template in the designer before publishing",
        "cannot translate Liquid tag 'cycle': fix the template in the designer before publishing",
    ]
    text, notes = liquid_to_jinja("{{ oops")
    assert text == "{{ oops" and notes[0].startswith("cannot translate the template (unexpected end of template")


def test_jinja_goes_back_to_liquid() -> None:
    names = {"vars.n": "flow.variables.n", "call.from": "trigger.call.From"}
    back = jinja_to_liquid(
        "{{ vars.n | upper }} {{ call.from | default('x', true) }} {{ ((vars.n) | int + 2) }}",
        lambda p: names.get(p, p),
    )
    assert back == "{{flow.variables.n | upcase}} {{trigger.call.From | default: 'x'}} {{flow.variables.n | plus: 2}}"
    assert jinja_to_liquid("{% if a %}x{% elif b %}y{% endif %}") == "{% if a %}x{% elsif b %}y{% endif %}"


def test_dial_and_queue_event_names_map_to_their_outcomes() -> None:
    data = {
        "initial_state": "Trigger",
        "states": [
            {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingCall", "next": "dial"}]},
            {
                "name": "dial",
                "type": "connect-call-to",
                "properties": {"noun": "number", "to": "+14155550100", "caller_id": "{{flow.channel.address}}"},
                "transitions": [
                    {"event": "answered", "next": "queue"},
                    {"event": "noAnswer", "next": "bye"},
                    {"event": "busy", "next": "bye"},
                    {"event": "callFailed", "next": "Trigger"},
                    {"event": "hangup", "next": "bye"},
                    {"event": "ringing", "next": "bye"},
                ],
            },
            {
                "name": "queue",
                "type": "enqueue-call",
                "properties": {"queue_name": "sales"},
                "transitions": [
                    {"event": "bridged", "next": "bye"},
                    {"event": "failedToEnqueue", "next": "bye"},
                    {"event": "callFailure"},
                ],
            },
            {
                "name": "bye",
                "type": "say-play",
                "properties": {"say": "Bye"},
                "transitions": [{"event": "audioComplete"}],
            },
        ],
    }
    definition, report = import_studio(data)
    nodes = nodes_of(definition)
    assert nodes["dial"]["outcomes"] == {"answered": "queue", "no_answer": "bye", "busy": "bye"}
    assert nodes["dial"]["props"]["caller_id"] == "{{flow.channel.address}}"
    detail = report[1]["detail"]
    assert report[1]["status"] == "partial"
    assert "'hangup' → bye cannot be told apart" in detail
    assert "event 'ringing' has no Phonetree outcome; its transition to bye is dropped" in detail
    assert "'failed' → Trigger is dropped (a transition back to the Trigger)" in detail
    assert nodes["queue"]["outcomes"] == {"bridged": "bye", "error": "bye"}
    assert report[2]["status"] == "mapped"
    call = Call(definition)
    call.start()
    assert outcomes(call.send("dial", DialCallStatus="busy")) == [("dial", "busy"), ("bye", None)]


@pytest.mark.parametrize(
    ("properties", "status", "node_type", "props"),
    [
        (
            {"noun": "number-multi", "to": "+14155550100,+14155550101"},
            "partial",
            "transfer",
            {"target": "number", "number": "+14155550100"},
        ),
        (
            {"noun": "client", "to": "alice@example.com"},
            "partial",
            "transfer",
            {"target": "users", "users": ["alice@example.com"]},
        ),
        ({"noun": "sip", "sip_endpoint": "sip:desk@example.com"}, "unsupported", "branch", None),
    ],
)
def test_connect_call_to_nouns(properties: dict[str, Any], status: str, node_type: str, props: Any) -> None:
    data = {
        "initial_state": "Trigger",
        "states": [
            {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingCall", "next": "dial"}]},
            {
                "name": "dial",
                "type": "connect-call-to",
                "properties": properties,
                "transitions": [{"event": "callCompleted"}, {"event": "hangup"}],
            },
        ],
    }
    definition, report = import_studio(data)
    assert report[1]["status"] == status
    node = definition["nodes"][0]
    assert node["type"] == node_type
    if props is not None:
        assert node["props"] == props
    else:
        assert "connecting to a sip is not supported" in report[1]["detail"]
    assert [i.code for i in validate(definition) if i.severity == "error"] == []
