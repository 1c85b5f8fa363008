"""The channel of a flow execution (flows.executions): the one the request names when the flow serves it
there, else the one the flow's drawing implies; and ``{{ trigger.channel }}`` in each, so a start both
channels share may branch on it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from flows import Event, FakeServices, run_turn, validate
from flows.executions import (
    channel_refusal,
    execution_channels,
    for_request,
    outbound_node,
    request_channel,
)
from tests.engine.helpers import CALL, bye, channel_branch, flow, make_ctx, node

BOTH = ["voice", "messaging"]
CONTACT, NUMBER = "+14155550123", "+14155550999"
OPENED = {"From": CONTACT, "To": NUMBER, "Body": "", "Direction": "outbound-api"}  # as an execution opens one
PLACED = {**CALL, "Direction": "outbound-api", "CallStatus": "in-progress", "AnsweredBy": "human"}


def shared_start(**settings: Any) -> dict[str, Any]:
    """A flow serving calls and texts from one start that branches on the channel."""
    return flow(
        channel_branch("which", texts="ask", calls="call"),
        node("ask", "wait_for_reply", {"prompt": "Hi {{ flow.data.name }}, reply YES to confirm"}, replied="thanks"),
        node("thanks", "send_message", {"body": "Thanks, see you."}),
        node("call", "outbound_call", {"machine_detection": "Enable"}, answered="hello"),
        bye("hello", "Hello {{ flow.data.name }}, this is {{ trigger.channel }}"),
        channels=BOTH,
        **settings,
    )


def run(definition: dict[str, Any], channel: str):
    """The execution's first turn on `channel`, from the request start, as the services run it."""
    services = FakeServices()
    ctx = make_ctx(services, call=OPENED if channel == "messaging" else PLACED)
    ctx = replace(ctx, channel=channel, flow_data={"name": "Ada"})
    result = run_turn(for_request(definition, channel), None, Event("start", {}), ctx)
    return result, [args[2] for name, args in services.calls if name == "send_message"]


def test_a_shared_start_serves_both_and_each_execution_takes_its_channels_branch():
    definition = shared_start()
    assert [i for i in validate(definition) if i.severity == "error"] == []
    assert execution_channels(definition) == BOTH
    assert channel_refusal(definition, "voice") is None and channel_refusal(definition, "messaging") is None

    texted, sent = run(definition, "messaging")
    assert [(s.node_id, s.outcome) for s in texted.steps][0] == ("which", "texts")
    assert sent == ["Hi Ada, reply YES to confirm"] and texted.state["waiting"]["node"] == "ask"

    called, sent = run(definition, "voice")
    assert [(s.node_id, s.outcome) for s in called.steps][:2] == [("which", "no_match"), ("call", "answered")]
    assert "Hello Ada, this is voice" in called.twiml and sent == []


def test_the_channel_branch_is_not_followed_to_guess_and_a_call_takes_its_voice_side():
    definition = shared_start()
    assert request_channel(definition) == "voice"  # the flow asks the channel there: the request names it, or a call
    assert outbound_node(definition).id == "call"  # the call's options come from its voice side
    assert outbound_node(definition, None) is None


def _both(*nodes: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return flow(*nodes, channels=BOTH, **settings)


SET = node("prep", "set_variables", {"assignments": [{"name": "x", "value": "1"}]}, next="then")
TEXT = node("then", "send_message", {"body": "Your code is 1234"})
ASK = node("then", "wait_for_reply", {"prompt": "Reply YES"})
CALLS = node("then", "outbound_call", {})
RECORD = node("then", "record", {"prompt": {"say": "Speak"}}, next="text")
MENU = node("then", "menu", {"prompt": {"say": "Press 1"}, "options": [{"digit": "1"}]}, **{"1": "text"})
SAY = node("then", "say", {"prompt": {"say": "Hi"}}, next="text")
LATER_TEXT = node("text", "send_message", {"body": "Hi"}, next="call")
LATER_CALL = node("call", "outbound_call", {})


@pytest.mark.parametrize(
    "nodes, channel",
    [
        ((SET, TEXT), "messaging"),  # a text before anything of a call's
        ((SET, ASK), "messaging"),
        ((SET, CALLS), "voice"),  # an outgoing call
        ((SET, SAY, LATER_TEXT, LATER_CALL), "voice"),  # an outgoing call before anything waits wins
        ((SET, RECORD, LATER_TEXT), "voice"),  # a node of calls only comes first
        ((SET, MENU, LATER_TEXT), "voice"),  # the menu waits (on either channel): nothing decided
        ((SET, SAY, LATER_TEXT), "messaging"),  # a Say works on both: the text decides
        ((SET,), "voice"),  # nothing decides: a call, as before
    ],
)
def test_a_start_both_channels_share_takes_the_channel_of_its_path(nodes, channel):
    assert request_channel(_both(*nodes)) == channel


def test_a_request_start_on_one_channels_side_is_that_channel():
    ask = node("ask", "wait_for_reply", {"prompt": "Reply YES"}, replied="done")
    done = node("done", "send_message", {"body": "Thanks"})
    call = node("call", "outbound_call", {}, answered="bye")
    one_sided = _both(call, bye(), ask, done, messaging_start="ask")
    assert request_channel(one_sided) == "voice"
    one_sided["ui"]["studio"] = {"trigger": {"request": "ask"}}  # a Studio import's incomingRequest
    assert request_channel(one_sided) == "messaging"
    assert execution_channels(one_sided) == ["messaging"]  # the wait for a reply cannot run on a call
    refused = channel_refusal(one_sided, "voice")
    assert refused.code == "wrong_channel" and refused.node_id == "ask" and refused.field == "channel"
    assert "wait for reply" in refused.message.casefold() and "text conversations only" in refused.message


def test_a_request_start_neither_channel_reaches_takes_the_channel_of_its_path():
    texts = _both(bye(), node("req", "send_message", {"body": "Hi"}), node("hi", "say", {"prompt": {"say": "Hi"}}))
    texts["settings"]["messaging_start"] = "hi"
    texts["ui"]["studio"] = {"trigger": {"request": "req"}}
    assert request_channel(texts) == "messaging" and execution_channels(texts) == BOTH


def test_a_channel_the_flow_does_not_serve_is_refused():
    calls_only = flow(node("call", "outbound_call", {}, answered="bye"), bye())
    refused = channel_refusal(calls_only, "messaging")
    assert refused.code == "channel_not_served" and refused.field == "channel"
    assert refused.message == "This flow does not serve text conversations: it serves calls."
    assert execution_channels(calls_only) == ["voice"]
    texts_only = flow(node("t", "send_message", {"body": "Hi"}), channels=["messaging"])
    assert channel_refusal(texts_only, "voice").code == "channel_not_served"
    assert request_channel(texts_only) == "messaging" and execution_channels(texts_only) == ["messaging"]


def test_a_request_path_reaching_a_node_of_the_other_channel_is_refused():
    definition = _both(node("hi", "say", {"prompt": {"say": "Hi"}}, next="rec"), node("rec", "record", {}))
    refused = channel_refusal(definition, "messaging")
    assert refused.code == "wrong_channel" and refused.node_id == "rec"
    assert channel_refusal(definition, "voice") is None
