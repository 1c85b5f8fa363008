"""run_function (signed POST), the queue's TaskRouter workflow target, and twiml_redirect."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
from twilio.request_validator import RequestValidator

from flows import FakeServices, NullServices, load_definition, validate
from flows.studio import export_studio, import_studio
from flows.webhooks import event_from_webhook
from tests.engine.helpers import CALL, NOW, Call, bye, flow, node, outcomes

FN = "https://lookup-1234.twil.io/order"
WORKFLOW = "WW0123456789abcdef0123456789abcdef"

FUNCTION_FLOW = flow(
    node(
        "fn",
        "run_function",
        {"url": FN, "parameters": {"caller": "{{ call.from }}", "store": "7"}},
        success="ok",
        failed="ko",
    ),
    node("ok", "hangup", {"say": "Order {{ widgets.fn.parsed.order.id }} is {{ widgets.fn.parsed.order.status }}"}),
    bye("ko", "Lookup failed"),
)


def test_run_function_posts_its_parameters_signed_with_the_auth_token() -> None:
    seen: dict[str, Any] = {}

    def function(method: str, url: str, headers: Any, body: str | None) -> tuple[int, str]:
        seen.update(method=method, url=url, headers=dict(headers), params=dict(parse_qsl(body or "")))
        return 200, json.dumps({"order": {"id": "A7", "status": "shipped"}})

    services = FakeServices(http={FN: function}, auth_token="secret-token")
    result = Call(FUNCTION_FLOW, services).start()
    assert outcomes(result) == [("fn", "success"), ("ok", None)]
    assert "Order A7 is shipped" in result.twiml
    assert seen["method"] == "POST" and seen["params"] == {"caller": CALL["From"], "store": "7"}
    assert seen["headers"]["Content-Type"] == "application/x-www-form-urlencoded"
    assert RequestValidator("secret-token").validate(FN, seen["params"], seen["headers"]["X-Twilio-Signature"])
    assert not RequestValidator("another-token").validate(FN, seen["params"], seen["headers"]["X-Twilio-Signature"])
    fn = result.state["results"]["fn"]
    assert fn["status_code"] == 200 and json.loads(fn["body"]) == fn["parsed"]


@pytest.mark.parametrize("answer", [(500, "{}"), (302, ""), (404, "no"), TimeoutError("slow"), ConnectionError("x")])
def test_run_function_fails_on_anything_but_2xx(answer: Any) -> None:
    result = Call(FUNCTION_FLOW, FakeServices(http={FN: answer})).start()
    assert outcomes(result) == [("fn", "failed"), ("ko", None)] and "Lookup failed" in result.twiml


def test_run_function_fails_when_nobody_can_sign() -> None:
    result = Call(FUNCTION_FLOW, NullServices()).start()
    assert outcomes(result) == [("fn", "failed"), ("ko", None)]
    assert result.state["results"]["fn"]["error"] == "unsigned"


def test_run_function_invalid_url_fails_without_a_request() -> None:
    definition = flow(node("fn", "run_function", {"url": "{{ vars.nothing }}"}, failed="ko"), bye("ko"))
    services = FakeServices()
    assert outcomes(Call(definition, services).start()) == [("fn", "failed"), ("ko", None)]
    assert services.calls == []


def _flex(attributes: str, **props: Any) -> dict[str, Any]:
    return flow(
        node(
            "flex",
            "enqueue",
            {"target": "workflow", "workflow_sid": WORKFLOW, "task_attributes": attributes, **props},
            bridged="done",
            hangup="done",
            error="broken",
        ),
        bye("done"),
        bye("broken", "Could not queue"),
    )


def test_workflow_target_enqueues_a_task_with_its_rendered_attributes() -> None:
    definition = _flex('{"type": "inbound", "name": "{{ call.from }}", "vip": true}', priority=5, task_timeout=600)
    call = Call(definition)
    result = call.start()
    enqueue = ET.fromstring(result.twiml).find("Enqueue")
    assert enqueue.get("workflowSid") == WORKFLOW and (enqueue.text or "").strip() == ""
    assert "ivr-continue" in enqueue.get("action") and "ivr-queue-music" in enqueue.get("waitUrl")
    task = enqueue.find("Task")
    assert task.get("priority") == "5" and task.get("timeout") == "600"
    assert json.loads(task.text) == {"type": "inbound", "name": CALL["From"], "vip": True}
    assert outcomes(call.send("queue", QueueResult="system-error")) == [("flex", "error"), ("broken", None)]


def test_workflow_attributes_that_are_not_json_take_the_error_outcome() -> None:
    result = Call(_flex('{"name": {{ call.from }}}')).start()  # unquoted: not JSON once rendered
    assert outcomes(result) == [("flex", "error"), ("broken", None)] and "<Enqueue" not in result.twiml
    assert result.state["results"]["flex"]["reason"] == "invalid_task_attributes"


def test_the_wait_url_is_honoured() -> None:
    definition = _flex("", wait_url="https://music.example.com/wait.xml", wait_url_method="GET")
    enqueue = ET.fromstring(Call(definition).start().twiml).find("Enqueue")
    assert enqueue.get("waitUrl") == "https://music.example.com/wait.xml" and enqueue.get("waitUrlMethod") == "GET"
    assert json.loads(enqueue.find("Task").text) == {}


@pytest.mark.parametrize(
    ("props", "codes"),
    [
        ({"target": "workflow", "workflow_sid": "YOUR-WORKFLOW-SID"}, [("error", "invalid_workflow")]),
        ({"target": "workflow"}, [("error", "required")]),
        (
            {"target": "workflow", "workflow_sid": WORKFLOW, "task_attributes": "{oops"},
            [("error", "invalid_task_attributes")],
        ),
        ({"target": "workflow", "workflow_sid": WORKFLOW, "task_attributes": '{"a": {{ x }}, "b": "{{ y }}"}'}, []),
        (
            {"target": "workflow", "workflow_sid": WORKFLOW, "task_attributes": '{"a": {{ x }} "b": 1}'},
            [("warning", "invalid_task_attributes")],
        ),
        ({"target": "workflow", "workflow_sid": "{{ vars.workflow }}"}, []),
        ({"target": "queue"}, [("error", "required")]),
        ({"queue": "support"}, []),
    ],
)
def test_queue_target_validation(props: dict[str, Any], codes: list[tuple[str, str]]) -> None:
    definition = flow(node("q", "enqueue", props), bye("done"))
    found = [(i.severity, i.code) for i in validate(definition) if i.node_id == "q" and i.code != "dead_end"]
    assert [c for c in found if c[1] != "unreachable"] == codes


REDIRECT_FLOW = flow(
    node(
        "away",
        "twiml_redirect",
        {"url": "https://apps.example.com/ivr?lang=fr", "method": "GET", "timeout": 600},
        **{"return": "back", "timeout": "late", "failed": "ko"},
    ),
    node("back", "hangup", {"say": "Back: {{ widgets.away.parameters.score }}"}),
    bye("late", "Too late"),
    bye("ko", "No URL"),
)


def test_twiml_redirect_gives_the_return_url_and_continues_on_return() -> None:
    call = Call(REDIRECT_FLOW)
    first = call.start()
    redirect = ET.fromstring(first.twiml).find("Redirect")
    assert redirect.get("method") == "GET"
    query = parse_qs(urlsplit(redirect.text).query)
    assert redirect.text.startswith("https://apps.example.com/ivr?lang=fr&FlowReturnUrl=") and query["lang"] == ["fr"]
    back_url = query["FlowReturnUrl"][0]
    assert "/ivr-continue?" in back_url and "turn=1" in back_url
    event = event_from_webhook(
        "ivr-continue",
        {"CallSid": CALL["CallSid"]},
        {**dict(parse_qsl(urlsplit(back_url).query)), "FlowEvent": "return", "score": "9"},
    )
    result = call.send(event.kind, **event.params)
    assert outcomes(result) == [("away", "return"), ("back", None)] and "Back: 9" in result.twiml
    assert result.state["results"]["away"]["FlowEvent"] == "return"


def test_twiml_redirect_coming_back_late_takes_timeout() -> None:
    call = Call(REDIRECT_FLOW)
    call.start()
    call.ctx = call.ctx.__class__(
        call=CALL, now=NOW + timedelta(seconds=601), url_for=call.ctx.url_for, services=call.services
    )
    assert outcomes(call.send("continue", FlowEvent="return")) == [("away", "timeout"), ("late", None)]


def test_twiml_redirect_with_no_timeout_hands_the_call_away() -> None:
    definition = flow(node("away", "twiml_redirect", {"url": "https://apps.example.com/ivr", "timeout": 0}))
    result = Call(definition).start()
    assert result.done and ET.fromstring(result.twiml).find("Redirect").text == "https://apps.example.com/ivr"


def test_twiml_redirect_bad_url_fails() -> None:
    definition = flow(node("away", "twiml_redirect", {"url": "{{ vars.none }}"}, failed="ko"), bye("ko"))
    assert outcomes(Call(definition).start()) == [("away", "failed"), ("ko", None)]


def test_a_return_is_a_continue_event_with_the_apps_parameters() -> None:
    query = {"orgid": "acme", "session": "s1", "turn": "3", "FlowEvent": "return", "foo": "bar"}
    event = event_from_webhook("ivr-continue", {"CallSid": "CA1"}, query)
    assert event.kind == "continue"
    assert event.params == {"CallSid": "CA1", "FlowEvent": "return", "FlowParameters": {"foo": "bar"}}
    assert event_from_webhook("ivr-continue", {"CallSid": "CA1"}, {"orgid": "acme"}).params == {"CallSid": "CA1"}


def test_handoff_nodes_cross_to_studio_and_back() -> None:
    """Drawn in Phonetree: Run Function, Send to Flex and TwiML Redirect widgets, imported back the same."""
    definition = flow(
        node(
            "fn",
            "run_function",
            {"url": FN, "parameters": {"store": "7"}},
            success="flex",
            failed="away",
        ),
        node(
            "flex",
            "enqueue",
            {
                "target": "workflow",
                "workflow_sid": WORKFLOW,
                "task_attributes": '{"type": "inbound"}',
                "priority": 5,
                "task_timeout": 600,
                "wait_url": "https://music.example.com/wait",
                "wait_url_method": "GET",
            },
            error="away",
        ),
        node(
            "away",
            "twiml_redirect",
            {"url": "https://apps.example.com/ivr", "method": "GET", "timeout": 60},
            **{"return": "bye", "timeout": "bye", "failed": "bye"},
        ),
        bye(),
    )
    studio = export_studio(definition)
    states = {s["name"]: s for s in studio["states"]}
    assert states["fn"]["type"] == "run-function"
    assert states["fn"]["properties"]["parameters"] == [{"key": "store", "value": "7"}]
    assert [t["event"] for t in states["fn"]["transitions"]] == ["success", "fail"]
    flex = states["flex"]
    assert flex["type"] == "send-to-flex" and flex["properties"]["workflow"] == WORKFLOW
    assert {k: flex["properties"][k] for k in ("priority", "timeout", "waitUrl", "waitUrlMethod")} == {
        "priority": "5",
        "timeout": "600",
        "waitUrl": "https://music.example.com/wait",
        "waitUrlMethod": "GET",
    }
    assert states["away"]["type"] == "add-twiml-redirect"
    assert [t["event"] for t in states["away"]["transitions"]] == ["return", "timeout", "fail"]
    back, report = import_studio(studio)
    assert {r["widget"]: r["status"] for r in report if r["widget"] in ("fn", "flex", "away")} == dict.fromkeys(
        ("fn", "flex", "away"), "mapped"
    )
    before = {n["id"]: n for n in definition["nodes"]}
    for item in back["nodes"]:
        if item["id"] in ("fn", "flex", "away"):
            assert (item["type"], item["outcomes"]) == (before[item["id"]]["type"], before[item["id"]]["outcomes"])
            assert load_definition(back).node(item["id"]).props == load_definition(definition).node(item["id"]).props


def test_a_studio_redirects_return_parameters_are_read_where_phonetree_keeps_them() -> None:
    """Studio's {{widgets.redir.score}} (a parameter of the return URL) is widgets.redir.parameters.score, and back."""
    studio = {
        "initial_state": "Trigger",
        "states": [
            {
                "name": "Trigger",
                "type": "trigger",
                "transitions": [{"event": "incomingCall", "next": "redir"}],
                "properties": {},
            },
            {
                "name": "redir",
                "type": "add-twiml-redirect",
                "transitions": [{"event": "return", "next": "said"}, {"event": "timeout"}, {"event": "fail"}],
                "properties": {"url": "https://apps.example.com/survey", "method": "POST", "timeout": "600"},
            },
            {
                "name": "said",
                "type": "say-play",
                "transitions": [{"event": "audioComplete"}],
                "properties": {"say": "You gave {{widgets.redir.score}} ({{widgets.redir.FlowEvent}})."},
            },
        ],
    }
    definition, report = import_studio(studio)
    said = next(n for n in definition["nodes"] if n["id"] == "said")
    assert (
        "widgets.redir.parameters.score" in said["props"]["say"] and "widgets.redir.FlowEvent" in said["props"]["say"]
    )
    call = Call(definition)
    call.start()
    result = call.send("continue", FlowEvent="return", FlowParameters={"score": "9"})
    assert outcomes(result) == [("redir", "return"), ("said", None)] and "You gave 9 (return)." in result.twiml
    said["props"]["say"] += " "  # edited: exported from its props, in Studio's names
    back = {s["name"]: s for s in export_studio(definition)["states"]}
    assert "{{widgets.redir.score}}" in back["said"]["properties"]["say"]
