"""Studio exports as they really are: Studio's own value sets, strings for booleans and numbers,
legacy widgets, missing widgets, splits without conditions and senders that are names."""

from __future__ import annotations

import copy
from typing import Any

from flows import validate
from flows.studio import export_studio, import_studio
from tests.engine.helpers import Call, bye, flow, node, outcomes
from tests.engine.test_studio_import import SHARED, nodes_of, studio_of


def trigger(first: str) -> dict[str, Any]:
    """A Studio Trigger sending calls to `first`."""
    return {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingCall", "next": first}],
            "properties": {"offset": {"x": 0, "y": 0}}}


def studio(*states: dict[str, Any]) -> dict[str, Any]:
    """A Studio flow of these widgets, called at the first."""
    return {"description": "t", "initial_state": "Trigger", "states": [trigger(states[0]["name"]), *states],
            "flags": {"allow_concurrent_calls": True}}


def state(name: str, wtype: str, properties: dict[str, Any], *transitions: tuple[str, str | None]) -> dict[str, Any]:
    """One widget; transitions as (event, next or None)."""
    return {"name": name, "type": wtype, "properties": properties,
            "transitions": [{"event": e, "next": n} if n else {"event": e} for e, n in transitions]}


END = state("end", "say-play", {"say": "Bye"}, ("audioComplete", None))

# Every enumerated, boolean and numeric property written as Studio's exports write them.
STRINGY = studio(
    state("account", "gather-input-on-call", {
        "say": "Account number or say it", "language": "en-GB", "voice": "Polly.Amy", "loop": "2",
        "number_of_digits": "4", "timeout": "7", "finish_on_key": "#",
        "gather_language": "fr-FR", "speech_model": "numbers_and_commands", "profanity_filter": "false",
        "stop_gather": "false",
        "speech_timeout": "Auto", "hints": "un, deux",
    }, ("keypress", "pay"), ("speech", "pay"), ("timeout", "end")),
    state("pay", "capture-payments", {
        "payment_amount": "19.99", "currency": "USD", "payment_connector": "Stripe", "language": "en-US",
        "payment_method": "credit-card", "payment_token_type": "one_time",
        "valid_card_types": ["visa", "master-card", "amex", "diners-club", "discover", "jcb", "maestro"],
        "max_attempts": "3", "timeout": "10", "postal_code": "false", "security_code": "true",
        "min_postal_code_length": "5", "bank_account_type": "commercial_savings",
    }, ("success", "vm"), ("maxFailedAttempts", "end"), ("providerError", "end"), ("payInterrupted", "end"),
        ("hangup", None), ("validationError", "end")),
    state("vm", "record-voicemail", {
        "play_beep": "false", "trim": "do_not_trim", "max_length": "300", "timeout": "3", "transcribe": "true",
        "finish_on_key": "#",
    }, ("recordingComplete", "agent"), ("noAudio", "end"), ("hangup", None)),
    state("agent", "connect-call-to", {"noun": "number", "to": "+14155550100", "record": "true", "timeout": "25"},
          ("callCompleted", "end"), ("hangup", None)),
    END,
)


def test_studio_value_sets_and_strings_are_mapped() -> None:
    definition, report = import_studio(copy.deepcopy(STRINGY))
    assert [(r["widget"], r["status"]) for r in report] == [
        (s["name"], "mapped") for s in STRINGY["states"]
    ], report
    nodes = nodes_of(definition)
    assert nodes["account"]["props"] == {
        "prompt": {"say": "Account number or say it", "voice": "Polly.Amy", "language": "en-GB", "loop": 2},
        "variable": "account", "input": "both", "retries": 0, "timeout": 7, "num_digits": 4, "finish_on_key": "",
        "speech_hints": "un, deux", "speech_language": "fr-FR", "speech_timeout": "auto",
        "speech_model": "numbers_and_commands", "profanity_filter": False,
    }
    assert nodes["pay"]["props"] == {
        "charge_amount": "19.99", "currency": "USD", "payment_connector": "Stripe", "language": "en-US",
        "payment_method": "credit-card", "token_type": "one-time",
        "valid_card_types": "visa mastercard amex diners-club discover jcb maestro",
        "max_attempts": 3, "timeout": 10, "postal_code": False, "security_code": True,
        "bank_account_type": "commercial-savings", "min_postal_code_length": 5,
    }
    assert nodes["vm"]["props"] == {"play_beep": False, "max_length": 300, "timeout": 3, "finish_on_key": "#",
                                    "trim": "do-not-trim", "transcribe": True}
    assert nodes["agent"]["props"] == {"target": "number", "number": "+14155550100", "timeout": 25, "record": True}
    assert [i.code for i in validate(definition) if i.severity == "error"] == []
    call = Call(definition)
    first = call.start()
    assert 'language="fr-FR"' in first.twiml and 'speechModel="numbers_and_commands"' in first.twiml
    assert 'profanityFilter="false"' in first.twiml and 'numDigits="4"' in first.twiml
    assert 'finishOnKey=""' in first.twiml  # Studio's "stop gathering on keypress": no
    assert '<Say language="en-GB" loop="2" voice="Polly.Amy">' in first.twiml
    second = call.send("input", Digits="1234")
    assert 'validCardTypes="visa mastercard amex diners-club discover jcb maestro"' in second.twiml
    assert 'chargeAmount="19.99"' in second.twiml and 'maxAttempts="3"' in second.twiml
    assert 'postalCode="false"' in second.twiml and 'securityCode="true"' in second.twiml
    third = call.send("payment", Result="success")
    assert outcomes(third)[0] == ("pay", "success")
    assert 'playBeep="false"' in third.twiml and 'trim="do-not-trim"' in third.twiml


def test_studio_card_names_are_accepted_in_the_pay_node_and_exported_as_studio_writes_them() -> None:
    cards = "visa master-card American_Express"
    pay = node("pay", "pay", {"charge_amount": "5", "valid_card_types": cards}, success="bye", failed="bye")
    definition = flow(pay, bye())
    assert [i.code for i in validate(definition) if i.severity == "error"] == []
    assert 'validCardTypes="visa mastercard amex"' in Call(definition).start().twiml
    exported = export_studio(definition)
    pay = next(s for s in exported["states"] if s["name"] == "pay")
    assert pay["properties"]["valid_card_types"] == ["visa", "master-card", "amex"]
    assert import_studio(exported)[0]["nodes"][0]["props"]["valid_card_types"] == "visa mastercard amex"
    wrong = flow(node("pay", "pay", {"valid_card_types": "visa carte-bleue"}, success="bye", failed="bye"), bye())
    issue = next(i for i in validate(wrong) if i.code == "invalid_card_type")
    assert issue.message == "Unknown card types: carte-bleue."


def test_values_outside_studio_sets_are_reported_not_dropped_silently() -> None:
    data = copy.deepcopy(STRINGY)
    pay = data["states"][2]["properties"]
    pay["payment_token_type"], pay["valid_card_types"] = "forever", ["visa", "carte-bleue"]
    data["states"][3]["properties"]["trim"] = "trim-everything"
    definition, report = import_studio(data)
    rows = {r["widget"]: r for r in report}
    assert rows["pay"]["status"] == "partial"
    assert "payment_token_type 'forever' is not one of one-time, payment-method, reusable" in rows["pay"]["detail"]
    assert "unknown card types carte-bleue" in rows["pay"]["detail"]
    assert "trim 'trim-everything' is not one of do-not-trim, trim-silence" in rows["vm"]["detail"]
    assert [i.code for i in validate(definition) if i.severity == "error"] == ["invalid_card_type"]


def test_a_legacy_widget_is_a_placeholder_keeping_transitions_and_properties() -> None:
    data = studio_of(SHARED / "33-volunteer-center-voice-sms.json")
    definition, report = import_studio(data)
    row = next(r for r in report if r["widget"] == "VoiceAutopilot")
    assert row["status"] == "unsupported" and "Autopilot is retired" in row["detail"]
    placeholder = nodes_of(definition)["VoiceAutopilot"]
    assert placeholder["type"] == "branch"
    assert [c["value"] for c in placeholder["props"]["conditions"]] == ["sessionEnded", "failure", "timeout"]
    assert placeholder["outcomes"] == {"sessionEnded": "VoiceCheckTask"}
    kept = definition["ui"]["studio"]["widgets"]["VoiceAutopilot"]
    assert kept["type"] == "send-to-auto-pilot" and kept["properties"]["timeout"] == 14400


def test_a_transition_to_a_missing_widget_is_a_dead_end_until_connected() -> None:
    data = studio(
        state("ask", "gather-input-on-call", {"say": "Press 1", "number_of_digits": 1}, ("keypress", "pick"),
              ("timeout", "Nowhere Land")),
        state("pick", "split-based-on", {"input": "{{widgets.ask.Digits}}"}, ("noMatch", "end")),
        END,
    )
    definition, report = import_studio(data)
    ask = nodes_of(definition)["ask"]
    assert ask["outcomes"]["no_input"] == "Nowhere_Land" and "Nowhere_Land" not in nodes_of(definition)
    assert definition["ui"]["studio"]["missing"] == {"Nowhere_Land": "Nowhere Land"}
    assert "'no_input' → Nowhere Land: there is no widget by that name" in report[1]["detail"]
    errors = [i for i in validate(definition) if i.severity == "error"]
    assert [(e.code, e.node_id, e.field) for e in errors] == [("missing_target", "ask", "outcomes.no_input")]
    assert export_studio(definition)["states"][1]["transitions"][1] == {"event": "timeout", "next": "Nowhere Land"}
    fixed = copy.deepcopy(definition)
    nodes_of(fixed)["ask"]["outcomes"]["no_input"] = "end"
    assert [i for i in validate(fixed) if i.severity == "error"] == []
    assert export_studio(fixed)["states"][1]["transitions"][-1] == {"next": "end", "event": "timeout"}


def test_a_split_without_conditions_sends_every_call_through_no_match() -> None:
    data = studio(state("split", "split-based-on", {}, ("noMatch", "end")), END)
    definition, report = import_studio(data)
    assert report[1]["status"] == "mapped"
    assert nodes_of(definition)["split"]["props"] == {"input": "", "conditions": []}
    assert [i.code for i in validate(definition) if i.severity == "error"] == []
    assert outcomes(Call(definition).start()) == [("split", "no_match"), ("end", None)]
    needs_input = flow(node("b", "branch", {"conditions": [{"id": "x", "operator": "equal_to", "value": "1"}]},
                            x="bye", no_match="bye"), bye())
    assert [(i.code, i.field) for i in validate(needs_input) if i.severity == "error"] == [("required", "input")]


def test_an_alphanumeric_sender_is_valid_with_a_warning_and_is_used() -> None:
    definition = flow(node("sms", "send_sms", {"from": "ACME Clinic", "body": "Hi"}, sent="bye", failed="bye"), bye())
    issues = validate(definition)
    assert [i.code for i in issues if i.severity == "error"] == []
    warning = next(i for i in issues if i.code == "alphanumeric_sender")
    assert warning.field == "from" and "some countries" in warning.message
    call = Call(definition)
    assert outcomes(call.start())[0] == ("sms", "sent")
    assert call.services.calls[0] == ("send_message", ("+14155550123", "ACME Clinic", "Hi", []))
    long_name = flow(node("sms", "send_sms", {"from": "Cloud City Healthcare", "body": "Hi"}, sent="bye",
                          failed="bye"), bye())
    issues = validate(long_name)
    assert [i.code for i in issues if i.severity == "error"] == []
    assert any(i.code == "invalid_sender" and "at most 11" in i.message for i in issues)
    assert outcomes(Call(long_name).start())[0] == ("sms", "failed")


def test_a_flow_started_only_by_messages_still_gets_a_start_node() -> None:
    definition, report = import_studio(studio_of(SHARED / "34-webchat-conversations-flex.json"))
    assert definition["start"] == "loop_1"
    assert "start node: loop_1 (text conversations only)" in report[0]["detail"]
    assert "Conversations-only properties (service, channel, attributes) are ignored" in report[0]["detail"]
    assert definition["settings"] == {"channels": ["messaging"]}
    assert [i.code for i in validate(definition) if i.severity == "error"] == []


def test_an_ach_debit_keeps_its_bank_account_type() -> None:
    data = copy.deepcopy(STRINGY)
    data["states"][2]["properties"].update(payment_method="ACH_DEBIT", postal_code="true")
    definition, report = import_studio(data)
    pay = nodes_of(definition)["pay"]["props"]
    assert (pay["payment_method"], pay["bank_account_type"]) == ("ach-debit", "commercial-savings")
    call = Call(definition)
    call.start()
    twiml = call.send("input", Digits="1234").twiml
    assert 'paymentMethod="ach-debit"' in twiml and 'bankAccountType="commercial-savings"' in twiml
    assert 'minPostalCodeLength="5"' in twiml and "validCardTypes" not in twiml


def test_original_transitions_are_kept_only_while_their_targets_are() -> None:
    definition, _ = import_studio(studio_of(SHARED / "28-basic-ivr-template.json"))
    back = export_studio(definition)
    assert back == studio_of(SHARED / "28-basic-ivr-template.json")
    target = next(t["next"] for s in back["states"] if s["name"] == "voice_check_branch" for t in s["transitions"])
    edited = copy.deepcopy(definition)
    edited["nodes"] = [n for n in edited["nodes"] if n["name"] != target]
    again = export_studio(edited)
    names = {s["name"] for s in again["states"]}
    assert target not in names
    for s in again["states"]:
        assert all(t.get("next") in names for t in s["transitions"] if t.get("next")), s["name"]
