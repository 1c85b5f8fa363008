"""Flow executions: POST /api/flows/<id>/executions places an outbound call through the Twilio stand-in,
which posts the call's signed webhooks; the flow runs from its request start with the request's
parameters as flow.data, and its outbound_call node routes on the answer (human or machine) or its absence."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from extensions import db
from models import CallSession, FlowExecution
from tests.calls.conftest import IVR_NUMBER, definition, node
from tests.engine.helpers import channel_branch
from tests.plugins.twilio_fake import TWILIO_FAKE_ACCOUNT_SID
from upstream.twilio_fake import CallDialer

CUSTOMER = "+14155550123"


def reminder_flow(**call_props: Any) -> dict[str, Any]:
    """An appointment reminder: a person hears it, a machine gets a message, busy/no answer are logged."""
    return definition(
        node(
            "call",
            "outbound_call",
            {"machine_detection": "Enable", **call_props},
            answered="who",
            busy="busy",
            no_answer="missed",
            failed="missed",
        ),
        node(
            "who",
            "branch",
            {
                "input": "{{ widgets.call.AnsweredBy }}",
                "conditions": [{"id": "human", "operator": "equal_to", "value": "human"}],
            },
            human="greet",
            no_match="machine",
        ),
        node(
            "greet",
            "say",
            {"prompt": {"say": "Hello {{ flow.data.name }}, see you at {{ flow.data.time }}."}},
            next="bye",
        ),
        node("bye", "hangup", {"say": "Goodbye."}),
        node("machine", "hangup", {"say": "This is a reminder for {{ flow.data.name }}. Please call us back."}),
        node("busy", "set_variables", {"assignments": [{"name": "outcome", "value": "busy"}]}),
        node(
            "missed", "set_variables", {"assignments": [{"name": "outcome", "value": "{{ widgets.call.CallStatus }}"}]}
        ),
    )


def both_channels_flow() -> dict[str, Any]:
    """A flow serving calls and texts from one start that branches on ``{{ trigger.channel }}``: a text
    conversation asks for a confirmation, a call (with machine detection) says the reminder."""
    return definition(
        channel_branch("which", texts="ask", calls="call"),
        node(
            "ask",
            "wait_for_reply",
            {"prompt": "Hi {{ flow.data.name }}, see you at {{ flow.data.time }}? Reply YES to confirm."},
            replied="thanks",
        ),
        node(
            "thanks", "send_message", {"body": "Thanks, {{ widgets.ask.inbound.Body }} noted ({{ trigger.channel }})."}
        ),
        node("call", "outbound_call", {"machine_detection": "Enable"}, answered="greet"),
        node(
            "greet",
            "hangup",
            {"say": "Hello {{ flow.data.name }}, see you at {{ flow.data.time }} ({{ trigger.channel }})."},
        ),
        channels=["voice", "messaging"],
    )


def flask_poster(client):
    """The stand-in's webhooks, posted in-process through the Flask test client."""

    def post(url: str, form, headers) -> tuple[int, str]:
        parts = urlsplit(url)
        resp = client.post(
            parts.path,
            query_string=parts.query,
            data=dict(form),
            headers=dict(headers),
            base_url=f"{parts.scheme}://{parts.netloc}",
        )
        return resp.status_code, resp.get_data(as_text=True)

    return post


@pytest.fixture
def execs(world, make, twilio_fake):
    """The call world on the Twilio stand-in: the org owns IVR_NUMBER there too; an editor's API headers."""
    world.app.config["TWILIO_API_BASE_URL"] = twilio_fake.url
    twilio_fake.state.add_owned_number(TWILIO_FAKE_ACCOUNT_SID, IVR_NUMBER)
    world.number(IVR_NUMBER)
    world.editor = make.api_headers(make.user("ed@example.com", role="editor", org=world.org), world.org)
    world.fake = twilio_fake
    world.dialer = CallDialer(twilio_fake.state, flask_poster(world.client))
    return world


def start(world, flow, to: str = CUSTOMER, from_: str = IVR_NUMBER, headers=None, channel=None, **parameters):
    body = {"to": to, "from": from_, "parameters": parameters}
    if channel is not None:
        body["channel"] = channel
    return world.client.post(f"/api/flows/{flow.id}/executions", json=body, headers=headers or world.editor)


def started(world, flow, **parameters) -> tuple[dict, dict]:
    """Start an execution; (its answer, the call the stand-in recorded)."""
    resp = start(world, flow, **parameters)
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    (call,) = world.fake.state.calls.values()
    return body, call


def detail(world, execution_id: str) -> dict:
    resp = world.client.get(f"/api/executions/{execution_id}", headers=world.editor)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()


def path(execution: dict) -> list[tuple[str, str, str | None]]:
    return [(s["node_id"], s["event"], s["outcome"]) for s in execution["steps"]]


def test_a_human_answers_and_hears_the_parameters(execs):
    flow = execs.flow(reminder_flow(), number=None)
    body, call = started(execs, flow, name="Ada", time="3 pm")
    assert body["status"] == "queued" and body["to"] == CUSTOMER and body["from"] == IVR_NUMBER
    assert body["call_sid"] == call["sid"] and body["parameters"] == {"name": "Ada", "time": "3 pm"}
    # the call as placed: the voice webhook with the execution marker, the status callback, machine detection
    url = urlsplit(call["_Url"])
    assert url.path.endswith("/connect/webhook/twilio/voice")
    assert parse_qs(url.query) == {"orgid": ["acme"], "session": [body["id"]], "turn": ["0"], "execution": ["1"]}
    assert "/connect/webhook/twilio/status?" in call["_StatusCallback"]
    assert call["_MachineDetection"] == "Enable" and call["_AsyncAmd"] is False and call["direction"] == "outbound-api"

    twiml = execs.dialer.answer(call["sid"], answered_by="human")
    assert "Hello Ada, see you at 3 pm." in twiml and "<Hangup" in twiml
    execs.dialer.hang_up(call["sid"])
    got = detail(execs, body["id"])
    assert path(got)[:3] == [("call", "enter", "answered"), ("who", "enter", "human"), ("greet", "enter", "next")]
    assert got["steps"][0]["detail"] == {"answered_by": "human"}
    assert got["status"] == "completed" and got["end_reason"] == "hangup"
    assert [p.status for p in execs.dialer.posted] == [200, 204]


def test_a_machine_answers_and_gets_the_message(execs):
    flow = execs.flow(reminder_flow(machine_detection="DetectMessageEnd"), number=None)
    body, call = started(execs, flow, name="Ada")
    assert call["_MachineDetection"] == "DetectMessageEnd"
    twiml = execs.dialer.answer(call["sid"], answered_by="machine_end_beep")
    assert "This is a reminder for Ada. Please call us back." in twiml
    assert path(detail(execs, body["id"])) == [
        ("call", "enter", "answered"),
        ("who", "enter", "no_match"),
        ("machine", "enter", None),
    ]


def test_async_machine_detection_resumes_the_waiting_node(execs):
    flow = execs.flow(reminder_flow(async_amd=True, machine_detection_timeout=10), number=None)
    body, call = started(execs, flow, name="Ada")
    assert call["_AsyncAmd"] is True
    assert parse_qs(urlsplit(call["_AsyncAmdStatusCallback"]).query)["amd"] == ["1"]
    twiml = execs.dialer.answer(call["sid"], answered_by="machine_start")
    # the answer paused and redirected; the AMD callback ran the turn; the redirect got its stored TwiML
    first = execs.dialer.posted[0].body
    assert "<Pause" in first and "<Redirect" in first
    assert "This is a reminder for Ada." in twiml
    got = detail(execs, body["id"])
    assert path(got) == [
        ("call", "enter", None),
        ("call", "continue", "answered"),
        ("who", "enter", "no_match"),
        ("machine", "enter", None),
    ]


@pytest.mark.parametrize(
    "status, outcome, node_id, value",
    [
        ("busy", "busy", "busy", "busy"),
        ("no-answer", "no_answer", "missed", "no-answer"),
        ("failed", "failed", "missed", "failed"),
    ],
)
def test_a_call_never_answered_takes_its_outcome(execs, status, outcome, node_id, value):
    flow = execs.flow(reminder_flow(), number=None)
    body, call = started(execs, flow)
    posted = execs.dialer.not_answered(call["sid"], status)
    assert posted is not None and posted.status == 204
    got = detail(execs, body["id"])
    assert path(got) == [("call", "enter", outcome), (node_id, "enter", "next")]
    assert got["status"] == status and got["ended_at"]
    listed = execs.client.get(f"/api/flows/{flow.id}/executions", headers=execs.editor).get_json()
    assert [e["id"] for e in listed["executions"]] == [body["id"]]
    assert listed["executions"][0]["status"] == status


def test_a_repeated_answer_replays_the_first(execs):
    flow = execs.flow(reminder_flow(), number=None)
    body, call = started(execs, flow, name="Ada")
    twiml = execs.dialer.answer(call["sid"], answered_by="human")
    again = execs.dialer._send(
        dict(execs.fake.state.calls[call["sid"]]), call["_Url"], {"CallStatus": "in-progress", "AnsweredBy": "human"}
    )
    assert again.body == twiml
    assert len(detail(execs, body["id"])["steps"]) == 4


def test_a_flow_without_an_outbound_node_runs_from_its_start(execs):
    flow = execs.flow(definition(node("hello", "say", {"prompt": {"say": "Hi {{ flow.data.name }}"}})), number=None)
    body, call = started(execs, flow, name="Bob")
    assert "_MachineDetection" in call and call["_MachineDetection"] is None
    assert "Hi Bob" in execs.dialer.answer(call["sid"])
    assert path(detail(execs, body["id"])) == [("hello", "enter", "next")]


@pytest.mark.parametrize(
    "to, from_, status, code, field",
    [
        ("4155550123", IVR_NUMBER, 422, "invalid_number", "to"),
        ("+1415555", IVR_NUMBER, 422, "invalid_number", "to"),
        (CUSTOMER, "not a number", 422, "invalid_number", "from"),
        (CUSTOMER, "+14155550199", 422, "unknown_from", "from"),
    ],
)
def test_bad_numbers_are_refused_before_any_call(execs, to, from_, status, code, field):
    flow = execs.flow(reminder_flow(), number=None)
    resp = start(execs, flow, to=to, from_=from_)
    assert resp.status_code == status
    assert resp.get_json()["error"]["code"] == code and resp.get_json()["field"] == field
    assert execs.fake.state.calls == {} and db.session.scalar(select(FlowExecution)) is None


def test_bad_bodies_unpublished_and_unknown_flows(execs):
    flow = execs.flow(reminder_flow(), number=None)
    for body in ({"to": CUSTOMER}, {"to": CUSTOMER, "from": IVR_NUMBER, "parameters": []}, {"to": 1, "from": "x"}):
        resp = execs.client.post(f"/api/flows/{flow.id}/executions", json=body, headers=execs.editor)
        assert resp.status_code == 400 and resp.get_json()["error"]["code"] == "invalid_request"
    assert start(execs, type("F", (), {"id": 999999})()).status_code == 404
    from services.flow_revisions import create_flow

    draft = create_flow(execs.org, None, "Draft only", reminder_flow())
    db.session.commit()
    resp = start(execs, draft)
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "not_published"


def test_twilio_refusing_the_call_fails_the_execution(execs):
    flow = execs.flow(reminder_flow(), number=None)
    execs.fake.state.fail_next(
        r"/Calls\.json$", status=400, code=21215, message="Geo permissions refused", method="POST"
    )
    resp = start(execs, flow)
    assert resp.status_code == 502
    answer = resp.get_json()
    assert answer["error"]["code"] == "upstream_error" and answer["upstream"]["code"] == 21215
    execution = answer["execution"]
    assert execution["status"] == "failed" and execution["call_sid"] is None
    got = detail(execs, execution["id"])
    assert got["error"]["code"] == 21215 and got["end_reason"] == "provider_error"
    assert got["steps"][0]["detail"]["code"] == 21215


def test_an_unverified_caller_id_is_twilios_refusal(execs):
    flow = execs.flow(reminder_flow(), number=None)
    execs.number("+15550002000")  # the org's, but not in the Twilio account
    resp = start(execs, flow, from_="+15550002000")
    assert resp.status_code == 502 and resp.get_json()["upstream"]["code"] == 21210
    assert resp.get_json()["execution"]["status"] == "failed"


def test_viewers_read_but_do_not_start_and_other_orgs_see_nothing(execs, make):
    flow = execs.flow(reminder_flow(), number=None)
    body, _ = started(execs, flow)
    viewer = make.api_headers(make.user("vi@example.com", role="viewer", org=execs.org), execs.org)
    resp = start(execs, flow, headers=viewer)
    assert resp.status_code == 403
    assert execs.client.get(f"/api/executions/{body['id']}", headers=viewer).status_code == 200
    other = make.org("globex")
    stranger = make.api_headers(make.user("eve@example.com", role="admin", org=other), other)
    assert execs.client.get(f"/api/executions/{body['id']}", headers=stranger).status_code == 404
    assert execs.client.get(f"/api/flows/{flow.id}/executions", headers=stranger).status_code == 404
    assert start(execs, flow, headers=stranger).status_code == 404
    assert execs.client.get("/api/executions/not-an-id", headers=execs.editor).status_code == 404
    session = db.session.get(CallSession, body["id"])
    assert session.direction == "outbound-api" and session.flow_id == flow.id


def test_an_answer_before_the_create_was_stored_names_the_call(execs):
    flow = execs.flow(reminder_flow(), number=None)
    body, call = started(execs, flow, name="Ada")
    session = db.session.get(CallSession, body["id"])
    session.call_sid = f"pending-{session.id}"  # as if Twilio's answer to the create had not been stored yet
    db.session.commit()
    assert "Hello Ada" in execs.dialer.answer(call["sid"], answered_by="human")
    assert detail(execs, body["id"])["call_sid"] == call["sid"]


def test_a_plain_flow_never_answered_only_records_the_status(execs):
    flow = execs.flow(definition(node("hello", "say", {"prompt": {"say": "Hi"}})), number=None)
    body, call = started(execs, flow)
    execs.dialer.not_answered(call["sid"], "busy")
    got = detail(execs, body["id"])
    assert got["steps"] == [] and got["status"] == "busy" and got["end_reason"] == "busy"


def test_oversized_parameters_are_refused(execs):
    flow = execs.flow(reminder_flow(), number=None)
    resp = start(execs, flow, blob="x" * 20_000)
    assert resp.status_code == 400 and resp.get_json()["field"] == "parameters"
    assert execs.fake.state.calls == {}


@pytest.mark.parametrize("channel", ["voice", None])
def test_a_both_channel_flow_calls_when_asked_to_or_when_its_shared_start_does_not_say(execs, channel):
    flow = execs.flow(both_channels_flow(), number=None)
    body, call = started(execs, flow, channel=channel, name="Ada", time="3 pm")
    assert body["channel"] == "voice" and body["status"] == "queued" and body["call_sid"] == call["sid"]
    assert call["_MachineDetection"] == "Enable"  # the call's options: the outbound_call on the voice side
    assert execs.fake.state.messages == {}
    twiml = execs.dialer.answer(call["sid"], answered_by="human")
    assert "Hello Ada, see you at 3 pm (voice)." in twiml  # trigger.channel on the call
    got = detail(execs, body["id"])
    assert path(got)[:3] == [("which", "enter", "no_match"), ("call", "enter", "answered"), ("greet", "enter", None)]
    listed = execs.client.get(f"/api/flows/{flow.id}/executions", headers=execs.editor).get_json()["executions"]
    assert [(e["id"], e["channel"]) for e in listed] == [(body["id"], "voice")]


@pytest.mark.parametrize("channel", ["sms", "Voice", 1, ["voice"]])
def test_a_channel_other_than_voice_or_messaging_is_a_400_naming_the_field(execs, channel):
    flow = execs.flow(both_channels_flow(), number=None)
    resp = start(execs, flow, channel=channel)
    assert resp.status_code == 400, resp.get_json()
    answer = resp.get_json()
    assert answer["error"]["code"] == "invalid_request" and answer["field"] == "channel"
    assert answer["error"]["message"].startswith("channel: ") and "'voice' or 'messaging'" in answer["error"]["message"]
    assert execs.fake.state.calls == {} and db.session.scalar(select(FlowExecution)) is None


def test_a_channel_the_flow_does_not_serve_is_refused_before_anything_starts(execs):
    flow = execs.flow(reminder_flow(), number=None)
    resp = start(execs, flow, channel="messaging")
    assert resp.status_code == 422
    answer = resp.get_json()
    assert answer["error"]["code"] == "channel_not_served" and answer["field"] == "channel"
    assert answer["channels"] == ["voice"]
    assert answer["error"]["message"] == (
        "This flow does not serve text conversations: it serves calls. "
        'Its executions run on voice: name one in "channel".'
    )
    assert execs.fake.state.calls == {} and execs.fake.state.messages == {}
    assert db.session.scalar(select(FlowExecution)) is None and db.session.scalar(select(CallSession)) is None
    assert start(execs, flow, channel="voice").status_code == 201
