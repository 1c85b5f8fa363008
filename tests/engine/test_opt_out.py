"""Opt-out keywords in text conversations (`flows.opt_out`), on the engine alone."""

from __future__ import annotations

from dataclasses import replace

import pytest

from flows import Event, run_turn
from flows.opt_out import opt_out_keyword
from tests.engine.helpers import flow, make_ctx, node


@pytest.mark.parametrize(
    ("params", "keyword"),
    [
        ({"Body": "STOP"}, "STOP"),
        ({"Body": " stop \n"}, "STOP"),
        ({"Body": "Unsubscribe"}, "UNSUBSCRIBE"),
        ({"Body": "quit"}, "QUIT"),
        ({"Body": "please stop"}, None),  # Twilio matches the whole message
        ({"Body": "CANCEL APPT"}, None),
        ({"Body": "start"}, None),
        ({"Body": ""}, None),
        ({"Body": "arrete", "OptOutType": "STOP"}, "ARRETE"),  # Advanced Opt-Out's own keyword
        ({"Body": "", "OptOutType": "stop"}, "STOP"),
        ({"Body": "help", "OptOutType": "HELP"}, None),
    ],
)
def test_opt_out_keyword(params, keyword):
    assert opt_out_keyword(params) == keyword


def _sent(ctx) -> list[tuple]:
    return [args for name, args in ctx.services.calls if name == "send_message"]


TEXTS = flow(
    node("ask", "wait_for_reply", {"prompt": "Reply 1 or 2"}, replied="thanks", timeout="thanks"),
    node("thanks", "send_message", {"body": "Thanks"}),
    channels=["messaging"],
)


def test_an_opt_out_ends_the_conversation_where_it_waits_and_sends_nothing():
    ctx = make_ctx()
    texts = replace(ctx, channel="messaging")
    first = run_turn(TEXTS, None, Event("start", {"Body": "hi"}), texts)
    assert first.state["waiting"]["node"] == "ask" and len(_sent(ctx)) == 1
    result = run_turn(TEXTS, first.state, Event("input", {"Body": "Stop"}), texts)
    assert result.done and result.state["end"] == {"reason": "opted_out", "node": "ask", "turn": 2, "detail": "STOP"}
    assert [(s.node_id, s.event, s.outcome, s.detail) for s in result.steps] == [
        ("ask", "input", None, {"opted_out": "STOP"})
    ]
    assert len(_sent(ctx)) == 1  # the wait did not run on: no "Thanks"


def test_an_opt_out_as_the_first_text_runs_no_node():
    ctx = make_ctx()
    result = run_turn(TEXTS, None, Event("start", {"Body": "END"}), replace(ctx, channel="messaging"))
    assert result.done and result.state["end"]["reason"] == "opted_out" and _sent(ctx) == []
    assert result.state["trigger"]["Body"] == "END"  # the trigger is still the message


def test_calls_know_no_opt_out_words():
    voice = flow(node("ask", "collect_input", {"prompt": "Say something", "input": "speech"}, input="bye"),
                 node("bye", "hangup", {"say": "Bye"}))
    first = run_turn(voice, None, Event("start", {}), make_ctx())
    result = run_turn(voice, first.state, Event("input", {"SpeechResult": "stop", "Body": "stop"}), make_ctx())
    assert result.state["end"]["reason"] != "opted_out"
