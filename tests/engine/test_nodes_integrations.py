"""http_request, send_message (the old send_sms type) and subflow through every outcome."""

from __future__ import annotations

import json

from flows import FakeServices
from tests.engine.helpers import Call, bye, flow, node, outcomes

CUSTOMER = {"customer": {"name": "Ada", "tier": "gold", "orders": [{"id": 7}]}}


def http_flow(**props: object) -> dict:
    base = {"method": "POST", "url": "https://crm.example.com/lookup?phone={{ call.from | urlencode }}",
            "headers": {"Authorization": "Bearer {{ vars.token | default('t0k') }}"},
            "body": '{"phone": "{{ call.from }}"}',
            "variables": {"name": "customer.name", "first_order": "customer.orders.0.id", "nope": "x.y"}}
    base.update(props)
    return flow(
        node("http", "http_request", base, success="hi", failed="err"),
        node("hi", "hangup", {"say": "Hello {{ vars.name }}, tier {{ widgets.http.parsed.customer.tier }}"}),
        node("err", "hangup", {"say": "Lookup failed {{ widgets.http.status_code }}"}),
    )


def test_http_request_success_parses_json_and_maps_variables() -> None:
    services = FakeServices(http={"https://crm.example.com/lookup": (200, json.dumps(CUSTOMER))})
    result = Call(http_flow(), services).start()
    assert outcomes(result) == [("http", "success"), ("hi", None)]
    assert result.state["vars"] == {"name": "Ada", "first_order": 7, "nope": ""}
    assert "Hello Ada, tier gold" in result.twiml
    method, url, headers, body, timeout = services.calls[0][1]
    assert (method, url) == ("POST", "https://crm.example.com/lookup?phone=%2B14155550123")
    assert headers == {"Authorization": "Bearer t0k", "Content-Type": "application/json"}
    assert json.loads(body) == {"phone": "+14155550123"} and timeout == 5.0
    assert result.steps[0].detail == {"status_code": 200, "url": "https://crm.example.com/lookup"}


def test_http_request_failed_on_status_error_and_bad_url() -> None:
    services = FakeServices(http={"https://crm.example.com/lookup": (503, "busy")})
    result = Call(http_flow(), services).start()
    assert outcomes(result) == [("http", "failed"), ("err", None)]
    assert result.state["results"]["http"] == {"status_code": 503, "body": "busy", "parsed": None}
    assert "Lookup failed 503" in result.twiml
    services = FakeServices(http={"https://crm.example.com/lookup": TimeoutError("slow")})
    result = Call(http_flow(timeout=2), services).start()
    assert outcomes(result)[0] == ("http", "failed")
    assert result.state["results"]["http"]["error"] == "TimeoutError"
    assert services.calls[0][1][4] == 2
    result = Call(http_flow(url="{{ vars.nothing }}")).start()
    assert outcomes(result)[0] == ("http", "failed") and result.steps[0].detail == {"error": "invalid_url"}


def test_http_request_get_sends_no_body() -> None:
    services = FakeServices(http={"https://crm.example.com/lookup": (204, "")})
    result = Call(http_flow(method="GET"), services).start()
    assert outcomes(result)[0] == ("http", "success")
    assert services.calls[0][1][3] is None and "Content-Type" not in services.calls[0][1][2]


SMS_FLOW = flow(
    node("sms", "send_sms", {"body": "Your code is {{ vars.code | default('1234') }}"}, sent="ok", failed="ko"),
    bye("ok", "Sent"), bye("ko", "Not sent"),
)


def test_send_sms_sent_to_caller_from_called_number() -> None:
    services = FakeServices()
    result = Call(SMS_FLOW, services).start()
    assert outcomes(result) == [("sms", "sent"), ("ok", None)]
    assert services.calls == [("send_message", ("+14155550123", "+14155550999", "Your code is 1234", []))]
    assert result.state["results"]["sms"]["sid"].startswith("SM")


def test_send_sms_failed() -> None:
    result = Call(SMS_FLOW, FakeServices(sms_error=RuntimeError("21211 invalid To"))).start()
    assert outcomes(result) == [("sms", "failed"), ("ko", None)]
    assert "21211" in result.state["results"]["sms"]["error"]
    bad = flow(node("sms", "send_sms", {"to": "not a number", "body": "x"}, failed="ko"), bye("ko"))
    assert Call(bad).start().steps[0].detail == {"error": "invalid_to"}


CHILD = flow(
    node("ask", "collect_input", {"prompt": "Account number?", "variable": "account"}, success="greet"),
    node("greet", "say", {"prompt": "Thanks {{ vars.who }}"}),
)
PARENT = flow(
    node("sub", "subflow", {"flow": "child-1", "parameters": {"who": "{{ call.from[-4:] }}"}},
         completed="after", failed="fail"),
    node("after", "hangup", {"say": "Account {{ widgets.sub.variables.account }}, bye"}),
    bye("fail", "Subflow failed"),
)


def test_subflow_runs_and_comes_back() -> None:
    services = FakeServices(flows={"child-1": CHILD})
    call = Call(PARENT, services)
    first = call.start()
    assert outcomes(first) == [("sub", None), ("ask", None)]
    assert first.steps[1].detail["flow"] == "child-1"
    assert first.state["flow"] == "child-1" and len(first.state["stack"]) == 1
    assert first.state["vars"] == {"who": "0123"}
    result = call.send("input", Digits="998877")
    assert outcomes(result) == [("ask", "success"), ("greet", "next"), ("sub", "completed"), ("after", None)]
    assert "Thanks 0123" in result.twiml and "Account 998877, bye" in result.twiml
    assert result.state["stack"] == [] and result.state["flow"] is None
    assert result.state["vars"] == {}  # the parent's variables are its own


def test_subflow_failed_when_missing_or_invalid_or_too_deep() -> None:
    assert outcomes(Call(PARENT, FakeServices()).start()) == [("sub", "failed"), ("fail", None)]
    broken = FakeServices(flows={"child-1": {"spec": "phonetree/1", "nodes": "nope"}})
    assert Call(PARENT, broken).start().steps[0].detail["error"] == "invalid"
    recursive = flow(node("sub", "subflow", {"flow": "self"}, failed="fail"), bye("fail", "Too deep"))
    recursive["settings"]["max_subflow_depth"] = 2
    result = Call(recursive, FakeServices(flows={"self": recursive})).start()
    assert [s.outcome for s in result.steps] == [None, None, "failed", None]
    assert result.state["results"]["sub"]["error"] == "too_deep"


def test_control_characters_from_an_api_never_break_the_twiml() -> None:
    import xml.etree.ElementTree as ET

    customer = {"customer": {"name": "A\x00d\x1ba\x0b\ufffe", "tier": "gold\x07", "orders": []}}
    services = FakeServices(http={"https://crm.example.com/lookup": (200, json.dumps(customer))})
    result = Call(http_flow(), services).start()
    say = ET.fromstring(result.twiml).find("Say")
    assert say is not None and say.text == "Hello Ada, tier gold"


def test_control_characters_in_speech_never_break_the_twiml() -> None:
    import xml.etree.ElementTree as ET

    ask = node("ask", "collect_input", {"prompt": "Name?", "variable": "name", "input": "speech"}, success="echo")
    echo = node("echo", "hangup", {"say": "You said {{ vars.name }}"})
    call = Call(flow(ask, echo))
    call.start()
    result = call.send("input", SpeechResult="Bob\x01\x1f <b>&")
    assert ET.fromstring(result.twiml).find("Say").text == "You said Bob <b>&"


def test_a_subflow_that_cannot_be_loaded_on_a_later_turn_is_the_fallback_not_an_exception() -> None:
    services = FakeServices(flows={"child-1": CHILD})
    call = Call(PARENT, services)
    call.start()
    services.flows = {}
    services.load_flow = lambda flow_id: (_ for _ in ()).throw(ConnectionError("database went away"))
    result = call.send("input", Digits="998877")
    assert result.done and result.state["end"]["reason"] == "fallback"
    assert "<Hangup />" in result.twiml and result.steps[0].detail["fallback"]
