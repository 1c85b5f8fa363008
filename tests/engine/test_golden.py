"""Golden TwiML: exactly what Twilio receives for each kind of wait (UPDATE_GOLDEN=1 rewrites)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from flows import FakeServices, fallback_twiml, queue_music_twiml
from tests.engine.helpers import Call, bye, flow, make_ctx, node, url_for

GOLDEN = Path(__file__).parent / "golden"


def _first(definition: dict, services: FakeServices | None = None) -> str:
    return Call(definition, services).start().twiml


def menu() -> str:
    return _first(flow(
        node("hi", "say", {"prompt": {"say": "Thanks for calling Acme."}}, next="main"),
        node("main", "menu", {"prompt": {"say": "Press 1 for sales, 2 for support."},
                              "options": [{"digit": "1", "keywords": ["sales"]}, {"digit": "2"}]},
             **{"1": "bye", "2": "bye", "fallback": "bye"}),
        bye(),
    ))


def menu_retry() -> str:
    call = Call(flow(node("main", "menu", {"prompt": {"play": "https://cdn.example.com/menu.mp3"},
                                           "options": [{"digit": "1"}]}, **{"1": "bye"}), bye()))
    call.start()
    return call.send("input", Digits="5").twiml


def collect_input() -> str:
    return _first(flow(node("acct", "collect_input",
                            {"prompt": {"say": "Enter your account number, then press pound."},
                             "variable": "account", "max_length": 10}, success="bye"), bye()))


def record() -> str:
    return _first(flow(node("rec", "record", {"prompt": "Record your message after the beep.", "transcribe": True},
                            recorded="bye"), bye()))


def voicemail() -> str:
    return _first(flow(node("vm", "voicemail", {})))


def pay() -> str:
    return _first(flow(node("pay", "pay", {"charge_amount": "19.99", "description": "Order 42"}, success="bye"),
                       bye()))


def transfer_number() -> str:
    return _first(flow(node("t", "transfer", {"number": "+14155550100", "caller_id": "+14155550999"},
                            answered="bye"), bye()))


def transfer_users() -> str:
    services = FakeServices(online={"alice@example.com": "user:alice@example.com"})
    return _first(flow(node("t", "transfer", {"target": "users", "users": ["alice@example.com"], "record": True},
                            answered="bye"), bye()), services)


def enqueue() -> str:
    return _first(flow(node("q", "enqueue", {"queue": "support"}, bridged="bye"), bye()))


def queue_music() -> str:
    definition = flow(node("q", "enqueue", {"queue": "support", "hold_message": "All agents are busy."}))
    call = Call(definition)
    call.start()
    return queue_music_twiml(definition, call.state, make_ctx())


def ai_agent() -> str:
    return _first(flow(node("ai", "ai_agent", {"gateway_url": "wss://ai.example.com/voice",
                                              "parameters": {"tenant": "acme"}}, next="bye"), bye()))


def hangup() -> str:
    return _first(flow(node("s", "say", {"prompt": "Our office is closed."}, next="h"),
                       node("h", "hangup", {"say": "Goodbye."})))


def flow_end() -> str:
    return _first(flow(node("s", "say", {"prompt": "That is all."})))


def fallback() -> str:
    return fallback_twiml({"fallback": {"action": "voicemail", "message": "Sorry, please leave a message."}},
                          "golden", url_for=lambda s, **p: url_for(s, turn=3, **p))


CASES: dict[str, Callable[[], str]] = {f.__name__: f for f in (
    menu, menu_retry, collect_input, record, voicemail, pay, transfer_number, transfer_users, enqueue,
    queue_music, ai_agent, hangup, flow_end, fallback,
)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden_twiml(name: str) -> None:
    twiml = CASES[name]()
    path = GOLDEN / f"{name}.xml"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(twiml + "\n", encoding="utf-8")
    assert path.exists(), f"missing {path}; run with UPDATE_GOLDEN=1"
    assert twiml == path.read_text(encoding="utf-8").rstrip("\n")


def test_no_stray_golden_files() -> None:
    assert {p.stem for p in GOLDEN.glob("*.xml")} == set(CASES)
