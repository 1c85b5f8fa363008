"""run_turn: continue-until-wait, guards, stale events, faults, determinism, fallback."""

from __future__ import annotations

import copy
import json
from datetime import datetime

import pytest

from flows import Event, FakeServices, TurnContext, event_from_webhook, fallback_twiml, run_turn
from flows.definition import Settings
from tests.engine.helpers import NOW, Call, bye, flow, make_ctx, node, outcomes, url_for

APOLOGY = "Sorry, something went wrong. Goodbye."
MENU = {"prompt": "Press 1", "options": [{"digit": "1"}], "retries": 0}


def test_continue_until_wait_then_resume() -> None:
    definition = flow(
        node("hi", "say", {"prompt": "Welcome"}, next="vars"),
        node("vars", "set_variables", {"assignments": [{"name": "x", "value": "1"}]}, next="m"),
        node("m", "menu", MENU, **{"1": "bye"}),
        bye(),
    )
    call = Call(definition)
    first = call.start()
    assert outcomes(first) == [("hi", "next"), ("vars", "next"), ("m", None)]
    assert first.steps[-1].detail["wait"] == "input"
    assert first.state["turn"] == 1 and first.state["status"] == "waiting"
    second = call.send("input", Digits="1")
    assert second.state["turn"] == 2 and second.steps[0].event == "input"
    assert second.state["status"] == "done" and second.state["waiting"] is None
    assert second.state["end"] == {"reason": "hangup", "node": "bye", "turn": 2, "detail": None}
    json.dumps(second.state)


def test_steps_per_turn_cap_ends_in_fallback() -> None:
    definition = flow(
        node("a", "say", {"prompt": "Spin"}, next="b"),
        node("b", "set_variables", {"assignments": [{"name": "x", "value": "{{ vars.x | default(0) | int + 1 }}"}]},
             next="a"),
        max_steps_per_turn=10,
    )
    result = Call(definition).start()
    assert result.done and result.twiml.endswith(f"{APOLOGY}</Say><Hangup /></Response>")
    assert len(result.steps) == 11  # 10 nodes entered, the 11th entry is refused
    assert result.steps[-1].detail["fallback"].startswith("too many steps")
    assert result.state["end"]["reason"] == "fallback"
    assert "Spin" not in result.twiml  # the fallback replaces what was queued


def test_node_visit_cap_across_turns() -> None:
    definition = flow(
        node("m", "menu", MENU, **{"1": "bye", "fallback": "again"}),
        node("again", "say", {"prompt": "Let's try again"}, next="m"),
        bye(),
        max_node_visits=3,
    )
    call = Call(definition)
    call.start()
    assert not call.send("timeout").done
    assert not call.send("timeout").done
    last = call.send("timeout")
    assert last.done and APOLOGY in last.twiml
    assert last.steps[-1].node_id == "m" and "visited more than 3 times" in last.steps[-1].detail["fallback"]


def test_mismatched_event_reprompts_the_waiting_node() -> None:
    definition = flow(node("m", "menu", {**MENU, "retries": 2}, **{"1": "bye"}), bye())
    call = Call(definition)
    call.start()
    call.send("input", Digits="9")
    assert call.state["attempts"] == {"m": 1}
    stale = call.send("recording", RecordingUrl="https://x")
    assert not stale.done
    assert stale.steps[0].event == "recording" and stale.steps[0].detail["stale_event"] is True
    assert "<Gather" in stale.twiml and "turn=3" in stale.twiml
    assert call.send("input", Digits="1").done


def test_events_after_the_end_just_hang_up() -> None:
    call = Call(flow(bye()))
    assert call.start().done
    late = call.send("input", Digits="1")
    assert late.done and late.twiml.endswith("<Response><Hangup /></Response>")
    assert late.steps[0].detail == {"ignored": "the call flow has ended"}


def test_start_begins_a_new_call() -> None:
    definition = flow(node("m", "menu", MENU, **{"1": "bye"}), bye())
    call = Call(definition)
    call.start()
    call.send("timeout")
    again = call.start()
    assert again.state["turn"] == 1 and again.state["visits"] == {"m": 1}


def test_faults_end_in_fallback_never_raise() -> None:
    class Exploding(FakeServices):
        def online_clients(self, users: list[str]) -> list[str]:
            raise RuntimeError("presence service down")

    presence = flow(node("t", "transfer", {"target": "users", "users": ["a"]}, failed="bye"), bye())
    result = Call(presence, Exploding()).start()
    assert outcomes(result) == [("t", "failed"), ("bye", None)]
    assert result.steps[0].detail == {"reason": "presence_unavailable", "error": "RuntimeError"}

    broken = flow(node("bh", "business_hours", {"timezone": "Mars/Olympus"}, open="bye"), bye())
    result = Call(broken).start()
    assert result.done and APOLOGY in result.twiml
    assert result.steps[-1].node_id == "bh"
    assert result.steps[-1].detail["fallback"] == "node error"
    assert result.steps[-1].detail["error"].startswith("ZoneInfoNotFoundError")

    unknown = flow(node("w", "teleport"))
    assert "unknown node type" in Call(unknown).start().steps[-1].detail["fallback"]
    dangling = flow(node("s", "say", {"prompt": "x"}, next="ghost"))
    assert "missing node 'ghost'" in Call(dangling).start().steps[-1].detail["fallback"]
    no_start = flow(bye())
    no_start["start"] = "nope"
    assert Call(no_start).start().steps[-1].detail["fallback"] == "the flow has no start node"
    malformed = run_turn({"nodes": 5}, None, Event("start"), make_ctx())
    assert malformed.done and APOLOGY in malformed.twiml
    assert malformed.steps[0].detail["fallback"] == "invalid definition"


def test_waiting_subflow_that_disappears_falls_back() -> None:
    child = flow(node("m", "menu", MENU, **{"1": "bye"}), bye())
    parent = flow(node("sub", "subflow", {"flow": "c"}, completed="bye"), bye())
    services = FakeServices(flows={"c": child})
    call = Call(parent, services)
    call.start()
    services.flows.clear()
    result = call.send("input", Digits="1")
    assert result.done and "no longer available" in result.steps[0].detail["fallback"]


def test_turns_are_deterministic_and_inputs_untouched() -> None:
    definition = flow(
        node("s", "set_variables", {"assignments": [{"name": "t", "value": "{{ call.sid }}"}]}, next="m"),
        node("m", "menu", MENU, **{"1": "bh"}),
        node("bh", "business_hours", {"timezone": "Europe/Paris"}, open="bye", closed="bye"),
        bye(),
    )
    snapshot = copy.deepcopy(definition)
    first = run_turn(definition, None, Event("start"), make_ctx())
    state = copy.deepcopy(first.state)
    a = run_turn(definition, first.state, Event("input", {"Digits": "1"}), make_ctx())
    b = run_turn(definition, first.state, Event("input", {"Digits": "1"}), make_ctx())
    assert first.state == state and definition == snapshot
    assert (a.state, a.twiml, a.done) == (b.state, b.twiml, b.done)
    assert [s.to_dict() for s in a.steps] == [s.to_dict() for s in b.steps]
    assert all(s.at == NOW.isoformat() for s in a.steps)


def test_event_and_context_checks() -> None:
    with pytest.raises(ValueError):
        Event("dtmf")
    with pytest.raises(ValueError):
        TurnContext(call={}, now=datetime(2025, 1, 1), url_for=url_for)


@pytest.mark.parametrize(
    ("service", "form", "query", "kind"),
    [
        ("ivr-menu", {"CallSid": "CA1"}, {}, "start"),
        ("voice", {}, {}, "start"),
        ("ivr-menu-input", {"Digits": "1"}, {"turn": "2"}, "input"),
        ("ivr-menu-input", {}, {"turn": "2", "timeout": "1"}, "timeout"),
        ("ivr-input", {}, {"timeout": "1"}, "timeout"),
        ("ivr-recording", {"RecordingUrl": "u"}, {}, "recording"),
        ("ivr-recording", {}, {"timeout": "1"}, "timeout"),
        ("ivr-payment-status", {"Result": "success"}, {}, "payment"),
        ("ivr-continue", {"DialCallStatus": "busy"}, {}, "dial"),
        ("ivr-continue", {"QueueResult": "bridged"}, {}, "queue"),
        ("ivr-continue", {}, {}, "continue"),
    ],
)
def test_event_from_webhook(service: str, form: dict, query: dict, kind: str) -> None:
    event = event_from_webhook(service, form, query)
    assert event is not None and event.kind == kind and dict(event.params) == form


def test_event_from_webhook_ignores_callbacks() -> None:
    assert event_from_webhook("recording-status", {}, {}) is None
    assert event_from_webhook("ivr-queue-music", {}, {}) is None


def test_fallback_twiml_variants() -> None:
    assert fallback_twiml(None, "x") == (
        '<?xml version="1.0" encoding="UTF-8"?><Response><Say language="en-US" voice="Polly.Joanna">'
        f"{APOLOGY}</Say><Hangup /></Response>")
    voicemail = {"fallback": {"action": "voicemail", "message": "Leave a message."}}
    xml = fallback_twiml(voicemail, "engine fault", url_for=lambda s, **p: url_for(s, turn=4, **p))
    assert "Leave a message.</Say><Record action=" in xml
    assert "ivr-recording?orgid=acme&amp;session=s1&amp;turn=4" in xml
    assert "fallback=1" in xml and xml.endswith("<Hangup /></Response>")
    assert "<Record" not in fallback_twiml(voicemail, "no url_for")
    transfer = Settings(fallback={"action": "transfer", "number": "+14155550100", "message": ""})
    assert fallback_twiml(transfer, "x").endswith('<Dial timeout="30">+14155550100</Dial><Hangup /></Response>')
    assert APOLOGY in fallback_twiml({"fallback": {"action": "explode"}}, "bad settings")


def test_voicemail_fallback_uses_the_turn_urls() -> None:
    definition = flow(node("w", "teleport"))
    definition["settings"] = {"fallback": {"action": "voicemail", "message": "Please leave a message."}}
    call = Call(definition)
    result = call.start()
    assert "<Record action=" in result.twiml and "turn=1" in result.twiml
    after = call.send("recording", RecordingUrl="https://x", RecordingDuration="4")
    assert after.done and after.twiml.endswith("<Response><Hangup /></Response>")
