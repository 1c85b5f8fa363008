"""Every voice flow of the real Studio exports runs a call through the signed webhooks.

Each export is imported and published through the API as a user would (the placeholders its
authors left filled in, 02's missing widget added, its subflows pointed at a flow of the org),
then a simulated caller plays a call. A local server plays the Twilio Functions and HTTP APIs
and checks each Function request's X-Twilio-Signature. No TwiML answer may be the fallback
apology, and the call walks the widgets it should.
"""

from __future__ import annotations

import json
import time
import xml.etree.ElementTree as ET
from html import escape
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from extensions import db
from flows.definition import DEFAULT_SETTINGS
from flows.twiml import GOODBYE
from services.webhook_answers import DEFAULT_APOLOGY
from sim import DialResult, FlaskClientTransport, Press, QueueResult, RecordAudio, Say
from tests.calls.conftest import BASE, IVR_NUMBER, definition, node
from tests.calls.function_server import FunctionServer, Hit, SplitTransport
from tests.plugins.twilio_fake import TWILIO_FAKE_AUTH_TOKEN
from tests.studio_exports import REAL_EXPORTS, SHARED, fill_in, placeholders_on_calls

VOICE_EXPORTS = {
    p.name[:2]: p.name
    for p in REAL_EXPORTS
    if any(
        t.get("event") == "incomingCall" and t.get("next")
        for s in json.loads(p.read_text())["states"]
        if s["type"] == "trigger"
        for t in s.get("transitions") or []
    )
}
# The flow's fallback, the org's apology and the last-resort goodbye: none may ever be heard.
APOLOGIES = (DEFAULT_SETTINGS["fallback"]["message"], DEFAULT_APOLOGY, GOODBYE)


@pytest.fixture
def functions():
    server = FunctionServer(TWILIO_FAKE_AUTH_TOKEN)
    yield server
    server.close()


@pytest.fixture
def studio(world, client, make, app, functions):
    """`studio(number)`: import that export, fill it in, point its endpoints at the local server, publish."""
    app.config["PHONETREE_HTTP_ALLOW_PRIVATE"] = True  # the local server is on 127.0.0.1
    editor = make.user("ed@example.com", role="editor", org=world.org)
    headers = make.api_headers(editor, world.org)

    def load(number: str) -> dict[str, Any]:
        studio_flow = json.loads((SHARED / VOICE_EXPORTS[number]).read_text())
        body = client.post("/api/flows/import", json=studio_flow, headers=headers).get_json()
        assert placeholders_on_calls(body["report"], FUNCTIONS_AND_FLEX) == []
        flow = client.get(f"/api/flows/{body['id']}", headers=headers).get_json()
        fixed = fill_in(flow["definition"])
        case_flow = None
        for item in fixed["nodes"]:
            props = item["props"]
            if item["type"] in ("run_function", "http_request"):
                query = urlsplit(props["url"]).query
                props["url"] = functions.url(item["id"]) + (f"?{query}" if query else "")
            if item["type"] == "subflow":
                case_flow = case_flow or subflow(client, headers)
                props["flow"] = str(case_flow)
        if number == "02":  # the widget its menu names but the export forgot
            fixed["nodes"].append(node("Goodbye", "hangup", {"say": "Thank you. Goodbye."}))
        saved = client.put(
            f"/api/flows/{body['id']}",
            json={"definition": fixed, "draft_version": flow["draft_version"]},
            headers=headers,
        )
        assert [i for i in saved.get_json()["issues"] if i["severity"] == "error"] == []
        published = client.post(f"/api/flows/{body['id']}/publish", json={}, headers=headers)
        assert published.status_code == 200, published.get_json()
        world.number(IVR_NUMBER, flow_id=body["id"])
        return fixed

    return load


FUNCTIONS_AND_FLEX = ("run-function", "send-to-flex", "add-twiml-redirect")


def subflow(client, headers) -> int:
    """A published flow of the org for the export's subflows (a case-creating subflow, say)."""
    created = client.post("/api/flows", json={"name": "Create case"}, headers=headers).get_json()
    flow = client.get(f"/api/flows/{created['id']}", headers=headers).get_json()
    body = definition(node("case", "set_variables", {"assignments": [{"name": "case_id", "value": "500"}]}))
    client.put(
        f"/api/flows/{created['id']}",
        json={"definition": body, "draft_version": flow["draft_version"]},
        headers=headers,
    )
    assert client.post(f"/api/flows/{created['id']}/publish", json={}, headers=headers).status_code == 200
    return created["id"]


def call(world, client, functions, script: list) -> tuple[Any, list[tuple[str, str, str | None]]]:
    """Play a call to the IVR number; returns (transcript, path as (node, event, outcome))."""
    sim = world.caller(transport=FlaskClientTransport(client))
    transcript = sim.run(f"{BASE}/ivr-menu?orgid=acme", script)
    session = world.session(sim.call_sid)
    assert session is not None
    answers = [r.body for r in transcript.requests if r.kind == "voice"]
    assert answers and not [a for a in answers for sorry in APOLOGIES if sorry in (a or "")]
    assert transcript.errors == [], transcript.text()
    assert session.end_reason != "fallback"
    return transcript, world.path(session)


def visited(path: list[tuple[str, str, str | None]]) -> list[str]:
    """The node ids a call went through, in order, each once per visit."""
    out: list[str] = []
    for node_id, event, _ in path:
        if event == "enter":
            out.append(node_id)
    return out


def functions_signed(functions: FunctionServer, *names: str) -> list[dict[str, str]]:
    """The parameters each named Function got, asserting every request was a signed POST."""
    got = []
    for name in names:
        hits = functions.to(name)
        assert hits, f"{name} was not called"
        for hit in hits:
            assert hit.method == "POST" and hit.signed is True, (name, hit)
            got.append(hit.params)
    return got


def test_every_voice_export_is_here() -> None:
    assert sorted(VOICE_EXPORTS) == ["02", "03", "09", "11", "14", "19", "20", "21", "24", "25", "28", "30", "33"]


# Per export: the caller's script, what the local server answers (by node id), and the widgets the
# call walks. The Functions' answers steer the Splits after them, as they would on Twilio.
CALLS: dict[str, tuple[list, dict[str, Any], list[str]]] = {
    "02": (
        [Say("Texas"), Press("1"), RecordAudio(8), Press("1")],
        {},
        [
            "Welcome_message1",
            "Say_State",
            "CA_or_not_CA",
            "Not_CA_Redirect_To_Voicemail",
            "Record_Message_Intro",
            "Record_Voicemail",
            "Repeat_back_message",
            "Offer_To_Retry",
            "Goodbye",
        ],
    ),
    "03": ([Press("2")], {"send_demo_link": (200, {"sent": True})}, ["gather_input", "send_demo_link", "say_play_1"]),
    "09": (
        [Press("2"), RecordAudio(8), QueueResult("bridged", 20)],
        {},
        [
            "greet_and_offer_options",
            "gather_input",
            "gather_input_kind",
            "branch_on_input",
            "record_voicemail_1",
            "send_voicemail_to_flex",
        ],
    ),
    "11": (
        [Press("12345#"), DialResult("completed", 30)],
        {"allow_list": (200, {"matched": True}), "order_lookup": (200, "+15550002000")},
        ["allow_list", "allow_split", "order_no", "order_lookup", "say_play_1", "forward_call"],
    ),
    "14": (
        [Press("6"), Press("0"), DialResult("completed", 30)],
        {"function_1": (200, {"ok": True})},
        [
            "main_menu",
            "main_menu_kind",
            "main_menu_key_pressed",
            "function_1",
            "main_menu",
            "main_menu_kind",
            "main_menu_key_pressed",
            "call_say",
            "connect_call_1",
            "main_menu",
        ],
    ),
    "19": (
        [Press("1234"), QueueResult("bridged", 20)],
        {"FunctionGetWorkerByExtension": (200, {"success": True, "workerSid": "WK0123"})},
        [
            "GatherExtension",
            "SetExtensionLength",
            "SplitExtensionLength",
            "FunctionGetWorkerByExtension",
            "SplitGetWorkerByExtension",
            "SetWorkerSid",
            "SendToFlex",
        ],
    ),
    "20": (
        [Press("1234"), QueueResult("bridged", 20)],
        {},
        ["GatherExtension", "SetExtensionLength", "SplitExtensionLength", "SayRoutingToExtension", "SendToFlex"],
    ),
    "21": (
        [Press("123456"), QueueResult("bridged", 20)],
        {"consulta_usuario": (200, {"record": {"fields": {"View": "gold"}}})},
        ["boasvindas", "matricula", "consulta_usuario", "usuario_existe", "send_to_flex_1"],
    ),
    "24": (
        [QueueResult("bridged", 20)],
        {"FetchAnnouncement": (200, {"announcement": "We are closed on Friday."})},
        ["PlayWelcome", "FetchAnnouncement", "PlayAnnouncement", "PlayTransferMessage", "TransferToFlex"],
    ),
    "25": (
        [],
        {"check_schedule": (200, {"isOpen": False, "closedReason": "holiday"})},
        ["check_schedule", "is_open", "say_closed"],
    ),
    "28": (
        [Say("One"), Say("Yes"), Press("1")],
        {},
        [
            "voice_greeting",
            "get_branch",
            "get_branch_kind",
            "voice_confirmation",
            "voice_check_correct",
            "voice_thank_you",
            "voice_check_branch",
            "voice_repeat",
            "get_branch",
            "get_branch_kind",
            "key_input_check_branch",
        ],
    ),
    "30": (
        [Press("0")],
        {"function_1": (200, {"ok": True})},
        ["set_variables_2", "gather_1", "function_1", "say_play_2"],
    ),
    # Its calls start at a retired Autopilot assistant (a placeholder, reported): the call ends there.
    "33": ([], {}, ["VoiceAutopilot"]),
}


def test_every_voice_export_has_a_call() -> None:
    assert sorted(CALLS) == sorted(VOICE_EXPORTS)


@pytest.mark.parametrize("number", sorted(CALLS))
def test_voice_export_runs_a_call(world, client, studio, functions, number: str) -> None:
    fixed = studio(number)
    script, answers, walk = CALLS[number]
    functions.routes.update({f"/{name}": answer for name, answer in answers.items()})
    transcript, path = call(world, client, functions, script)
    assert visited(path) == walk
    assert transcript.unused_actions == []
    # Every Function the call ran got a signed, form-encoded POST (checked by the server with the auth token).
    ran = [n["id"] for n in fixed["nodes"] if n["type"] == "run_function" and n["id"] in walk]
    functions_signed(functions, *ran)
    assert {h.path for h in functions.hits} == {f"/{name}" for name in ran}


def test_functions_get_their_parameters_and_steer_the_flow(world, client, studio, functions) -> None:
    """11 starts with a Function: the caller no longer hears nothing. Its answer's fields steer the Split
    and fill the number the call is connected to; a failing Function takes Studio's fail path."""
    studio("11")
    functions.routes["/allow_list"] = (200, {"matched": True})
    functions.routes["/order_lookup"] = (200, "+15550002000")
    transcript, _ = call(world, client, functions, [Press("12345#"), DialResult("completed", 30)])
    assert functions_signed(functions, "allow_list", "order_lookup") == [
        {"storeNumber": "+15557654321"},
        {"orderNumber": "12345"},
    ]
    assert "+15550002000" in transcript.requests_labelled("gather action")[-1].body
    functions.hits.clear()
    functions.routes["/allow_list"] = (200, {"matched": False})
    transcript, path = call(world, client, functions, [])
    assert visited(path) == ["allow_list", "allow_split", "error"]
    assert transcript.heard[0].startswith("Sorry, the number you are trying to reach cannot accept your call.")


def test_a_failing_function_takes_the_fail_path(world, client, studio, functions) -> None:
    """25 starts with a Function: a 500 is Studio's fail, which this flow sends to Flex; 2xx open goes there too."""
    studio("25")
    functions.routes["/check_schedule"] = (500, {"error": "boom"})
    _, path = call(world, client, functions, [QueueResult("bridged", 20)])
    assert path[:2] == [("check_schedule", "enter", "failed"), ("send_to_flex", "enter", None)]
    functions.routes["/check_schedule"] = (200, {"isOpen": True})
    _, path = call(world, client, functions, [QueueResult("bridged", 20)])
    assert path[:3] == [
        ("check_schedule", "enter", "success"),
        ("is_open", "enter", "true"),
        ("send_to_flex", "enter", None),
    ]


def test_send_to_flex_enqueues_a_taskrouter_task(world, client, studio, functions) -> None:
    """19's Send to Flex: <Enqueue workflowSid><Task priority>{attributes rendered}</Task></Enqueue>."""
    studio("19")
    functions.routes["/FunctionGetWorkerByExtension"] = (200, {"success": True, "workerSid": "WK0123"})
    transcript, path = call(world, client, functions, [Press("1234"), QueueResult("hangup", 20)])
    assert path[-1] == ("SendToFlex", "queue", "hangup")  # Studio's callFailure
    twiml = next(r.body for r in transcript.requests if "<Enqueue" in (r.body or ""))
    enqueue = ET.fromstring(twiml).find("Enqueue")
    assert enqueue.get("workflowSid") == "WW00000000000000000000000000000000"
    assert enqueue.get("waitUrl").startswith(f"{BASE}/ivr-queue-music?") and enqueue.get("action")
    task = enqueue.find("Task")
    assert task.get("priority") == "1000"
    assert json.loads(task.text) == {
        "type": "inbound",
        "name": "+15557654321",
        "isDirectCall": True,
        "targetWorker": "WK0123",
    }


def test_a_function_on_a_private_address_fails_without_a_5xx(world, client, studio, functions, app) -> None:
    """The blocking of private addresses holds for Functions: 25's Function on 127.0.0.1 takes `failed`."""
    studio("25")
    app.config["PHONETREE_HTTP_ALLOW_PRIVATE"] = False
    functions.routes["/check_schedule"] = (200, {"isOpen": False})
    _, path = call(world, client, functions, [QueueResult("bridged", 20)])
    assert path[0] == ("check_schedule", "enter", "failed") and functions.hits == []


def test_twiml_redirect_hands_the_call_away_and_takes_it_back(world, client, functions, app) -> None:
    """The outside app gets FlowReturnUrl, plays its TwiML and redirects there with FlowEvent=return;
    the call continues in the same session through `return`, with the app's parameters."""
    app.config["PHONETREE_HTTP_ALLOW_PRIVATE"] = True

    def outside(hit: Hit) -> tuple[int, str]:
        back = escape(hit.query["FlowReturnUrl"] + "&FlowEvent=return&survey=done")
        return 200, f'<?xml version="1.0"?><Response><Say>Outside TwiML.</Say><Redirect>{back}</Redirect></Response>'

    functions.routes["/outside"] = outside
    flow = definition(
        node("hello", "say", {"prompt": {"say": "Hello."}}, next="away"),
        node("away", "twiml_redirect", {"url": functions.url("outside")}, **{"return": "back", "failed": "bye"}),
        node("back", "hangup", {"say": "Back with {{ widgets.away.parameters.survey }}."}),
        node("bye", "hangup", {"say": "Could not redirect."}),
    )
    world.flow(flow)
    sim = world.caller(transport=SplitTransport(functions, FlaskClientTransport(client)))
    transcript = sim.run(f"{BASE}/ivr-menu?orgid=acme", [])
    assert transcript.errors == [] and transcript.heard == ["Hello.", "Outside TwiML.", "Back with done."]
    session = world.session(sim.call_sid)
    assert world.path(session) == [
        ("hello", "enter", "next"),
        ("away", "enter", None),
        ("away", "continue", "return"),
        ("back", "enter", None),
    ]
    assert [h.method for h in functions.to("outside")] == ["POST"]
    returned = transcript.requests_to("FlowEvent=return")
    assert len(returned) == 1 and "/connect/webhook/twilio/ivr-continue?" in returned[0].url
    assert session.state["results"]["away"]["FlowEvent"] == "return"


def test_a_return_without_a_signature_changes_nothing(world, client, functions) -> None:
    """The return comes through the signed ivr-continue webhook: unsigned, it is refused."""
    flow = definition(
        node("away", "twiml_redirect", {"url": "https://apps.example.com/ivr"}, **{"return": "back"}),
        node("back", "hangup", {"say": "Back."}),
    )
    world.flow(flow)
    sim = world.caller()
    sim.start(f"{BASE}/ivr-menu?orgid=acme")
    session = world.session(sim.call_sid)
    answer = sim.transcript.requests[0].body
    url = ET.fromstring(answer).find("Redirect").text
    assert url.startswith("https://apps.example.com/ivr?FlowReturnUrl=")
    back = parse_qs(urlsplit(url).query)["FlowReturnUrl"][0] + "&FlowEvent=return"
    refused = client.post(back, data={"CallSid": sim.call_sid}, headers={"X-Twilio-Signature": "forged"})
    assert refused.status_code == 403
    db.session.expire_all()
    # (the simulated app at apps.example.com does not exist: the call then ended, and nothing returned)
    assert session is not None and ("away", "continue", "return") not in world.path(world.session(sim.call_sid))


def test_a_slow_function_times_out_into_its_fail_path(world, client, functions, app) -> None:
    """The timeout holds: a Function slower than the node's timeout is `failed`, and the caller hears the flow."""
    app.config["PHONETREE_HTTP_ALLOW_PRIVATE"] = True

    def slow(hit: Hit) -> tuple[int, dict]:
        time.sleep(1.5)
        return 200, {"late": True}

    functions.routes["/slow"] = slow
    world.flow(
        definition(
            node("fn", "run_function", {"url": functions.url("slow"), "timeout": 0.5}, success="ok", failed="ko"),
            node("ok", "hangup", {"say": "In time."}),
            node("ko", "hangup", {"say": "The lookup is slow today."}),
        )
    )
    transcript, path = call(world, client, functions, [])
    assert path[0] == ("fn", "enter", "failed") and transcript.heard == ["The lookup is slow today."]
    assert [h.signed for h in functions.to("slow")] == [True]
