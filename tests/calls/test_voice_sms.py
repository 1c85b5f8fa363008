"""Voice-mode numbers and softphones, SMS, AI streams and transfers, and the engine's services."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from extensions import db
from models import CallStep, Message, Recording, SoftphonePresence
from services.accounts import ensure_user, set_membership
from sim import DialResult, RecordAudio, assert_valid_twiml
from tests.calls.conftest import BASE, CALLER, IVR_NUMBER, definition, node
from tests.calls.test_front_door import call_form, post

VOICE_NUMBER = "+15550003000"


def _user(world, email: str, online: bool):
    user, _ = ensure_user(email)
    set_membership(world.org, user, "viewer")
    if online:
        db.session.add(
            SoftphonePresence(
                org_id=world.org.id,
                user_id=user.id,
                identity=f"user:{email}",
                expires_at=world.clock.now + timedelta(minutes=5),
            )
        )
    db.session.commit()
    return user


@pytest.fixture
def team(world):
    """alice (online) and bob (offline) answer the voice-mode number."""
    alice, bob = _user(world, "alice@acme.example", True), _user(world, "bob@acme.example", False)
    number = world.number(VOICE_NUMBER, mode="voice")
    number.assigned_users = [alice, bob]
    db.session.commit()
    return alice, bob


def test_voice_number_rings_online_softphones(world, team):
    transcript, session = world.call([DialResult("completed", 60)], to=VOICE_NUMBER, service="voice")
    first = transcript.requests_labelled("incoming call")[0].body
    assert "<Client>user:alice@acme.example</Client>" in first and "bob" not in first
    assert world.path(session) == [("softphones", "enter", None), ("softphones", "dial", "completed")]
    assert session.end_reason == "answered" and session.status == "completed"


def test_voice_number_goes_to_voicemail_when_nobody_answers(world, team):
    transcript, session = world.call(
        [DialResult("no-answer"), RecordAudio(9, transcript="Ring me back.")], to=VOICE_NUMBER, service="voice"
    )
    assert "Please leave a message after the beep." in transcript.heard[0]
    assert transcript.heard[-1] == "Thank you for your message. Goodbye."
    assert ("softphones", "dial", "no_answer") in world.path(session)
    rec = db.session.scalar(select(Recording))
    assert rec.session_id == session.id and rec.node_id == "voicemail"
    assert rec.transcription_text == "Ring me back."


def test_voice_number_with_nobody_online_takes_a_message(world, team):
    db.session.execute(SoftphonePresence.__table__.delete())
    db.session.commit()
    transcript, session = world.call([RecordAudio(4)], to=VOICE_NUMBER, service="voice")
    assert "<Dial" not in transcript.requests_labelled("incoming call")[0].body
    assert session.end_reason == "voicemail" and world.count(Recording) == 1


def test_softphone_call_out_uses_the_users_number_as_caller_id(world, team):
    transcript, session = world.call(
        [DialResult("completed", 20)], to="+14155550123", from_="client:user:alice@acme.example", service="voice"
    )
    body = transcript.requests_labelled("incoming call")[0].body
    assert f'callerId="{VOICE_NUMBER}"' in body and "<Number>+14155550123</Number>" in body
    assert session.direction == "outbound" and session.phone_number_id is not None
    assert world.path(session)[-1] == ("dial", "dial", "completed")


def test_softphone_call_to_an_invalid_number_is_refused(world, team):
    transcript, _ = world.call([], to="not a number", from_="client:user:alice@acme.example", service="voice")
    assert transcript.heard == ["Sorry, that number is not valid. Goodbye."]


def test_call_to_a_client_rings_that_softphone(world, team):
    transcript, _ = world.call([DialResult("completed")], to="client:user:bob@acme.example", service="voice")
    assert "<Client>user:bob@acme.example</Client>" in transcript.requests_labelled("incoming call")[0].body


def test_voice_webhook_on_an_ivr_number_runs_its_flow(world):
    world.flow(definition(node("hi", "hangup", {"say": "Hello from the flow."})))
    transcript, session = world.call([], service="voice")
    assert transcript.heard == ["Hello from the flow."] and session.flow_id is not None


def test_flow_transfer_to_users_rings_their_softphones(world, team):
    world.flow(
        definition(
            node(
                "ring",
                "transfer",
                {"target": "users", "users": ["alice@acme.example", "bob@acme.example"]},
                answered="bye",
                no_answer="bye",
            ),
            node("bye", "hangup", {"say": "Bye."}),
        )
    )
    transcript, session = world.call([DialResult("completed")])
    assert "<Client>user:alice@acme.example</Client>" in transcript.requests_labelled("incoming call")[0].body
    assert ("ring", "dial", "answered") in world.path(session)


def test_sms_is_stored_and_auto_replied_once(world, client):
    world.number(IVR_NUMBER, sms_auto_reply="Thanks! We will text you back.")
    form = {
        "MessageSid": "SM" + "a" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": CALLER,
        "To": IVR_NUMBER,
        "Body": "Are you open today?",
    }
    first = post(client, f"{BASE}/sms?orgid=acme", form)
    again = post(client, f"{BASE}/sms?orgid=acme", form)
    assert first.status_code == 200 and first.content_type.startswith("text/xml")
    assert "<Message>Thanks! We will text you back.</Message>" in first.get_data(as_text=True)
    assert again.get_data() == first.get_data()
    rows = db.session.scalars(select(Message).order_by(Message.id)).all()
    assert [(m.direction, m.body) for m in rows] == [
        ("inbound", "Are you open today?"),
        ("outbound", "Thanks! We will text you back."),
    ]


def test_racing_retries_of_an_auto_replied_sms_store_it_once(world, app):
    from tests.calls.test_safety import _concurrent_posts, world_token

    world.number(IVR_NUMBER, sms_auto_reply="Thanks! We will text you back.")
    url = "/connect/webhook/twilio/sms?orgid=acme"
    form = {"MessageSid": "SM" + "c" * 32, "From": CALLER, "To": IVR_NUMBER, "Body": "Open today?"}
    headers = {"X-Twilio-Signature": RequestValidator(world_token()).compute_signature("http://localhost" + url, form)}
    results = _concurrent_posts(app, url, form, headers, 6)
    assert {status for status, _ in results} == {200}
    assert all("<Message>Thanks! We will text you back.</Message>" in body for _, body in results)  # each answered
    db.session.expire_all()
    rows = db.session.scalars(select(Message).order_by(Message.id)).all()
    assert [(m.direction, m.body) for m in rows] == [
        ("inbound", "Open today?"),
        ("outbound", "Thanks! We will text you back."),
    ]


def test_an_opt_out_keyword_is_stored_without_the_auto_reply(world, client):
    """STOP and the like: Twilio confirms the opt-out itself and would refuse our reply."""
    world.number(IVR_NUMBER, sms_auto_reply="Thanks! We will text you back.")
    form = {"MessageSid": "SM" + "d" * 32, "From": CALLER, "To": IVR_NUMBER, "Body": "stop"}
    resp = post(client, f"{BASE}/sms?orgid=acme", form)
    assert resp.status_code == 200 and "<Message" not in resp.get_data(as_text=True)
    rows = db.session.scalars(select(Message)).all()
    assert [(m.direction, m.body) for m in rows] == [("inbound", "stop")]


def test_sms_without_a_message_sid_is_stored_each_time(world, client):
    world.number(IVR_NUMBER)
    form = {"From": CALLER, "To": IVR_NUMBER, "Body": "hello"}
    for _ in range(2):
        assert post(client, f"{BASE}/sms?orgid=acme", form).status_code == 200
    assert world.count(Message) == 2  # nothing to recognise a retry by: two texts


def test_sms_without_auto_reply_answers_empty_twiml(world, client):
    world.number(IVR_NUMBER)
    resp = post(
        client,
        f"{BASE}/sms?orgid=acme",
        {"MessageSid": "SM" + "b" * 32, "From": CALLER, "To": IVR_NUMBER, "Body": "hello"},
    )
    assert resp.status_code == 200 and "<Message" not in resp.get_data(as_text=True)
    assert world.count(Message) == 1


def test_ai_voice_streams_to_the_gateway(world, app):
    app.config["VOICE_GATEWAY_URL"] = "wss://voice.example.com/stream"
    world.number(IVR_NUMBER)
    transcript, session = world.call([], service="ai-voice")
    body = transcript.requests_labelled("incoming call")[0].body
    assert '<Stream url="wss://voice.example.com/stream">' in body
    assert f'<Parameter name="session" value="{session.id}" />' in body
    assert transcript.requests_labelled("connect action")[0].status == 200
    assert session.end_reason == "answered" or session.status == "completed"


def test_ai_voice_without_gateway_apologises(world, app):
    app.config["VOICE_GATEWAY_URL"] = ""
    transcript, session = world.call([], service="ai-voice")
    assert transcript.heard == ["Sorry, we cannot take your call right now."] and session is None


def test_ai_outbound_passes_query_parameters(world, app, client):
    app.config["VOICE_GATEWAY_URL"] = "wss://voice.example.com/stream"
    world.number(IVR_NUMBER)
    form = call_form(From=IVR_NUMBER, To=CALLER, Direction="outbound-api")
    resp = post(client, f"{BASE}/ivr-ai-outbound?orgid=acme&agent=reminders", form)
    body = resp.get_data(as_text=True)
    assert '<Parameter name="agent" value="reminders" />' in body
    assert '<Parameter name="direction" value="outbound" />' in body


@pytest.mark.parametrize(
    ("target", "expect"),
    [
        ("+14155550199", "<Number>+14155550199</Number>"),
        ("client:user:alice@acme.example", "<Client>user:alice@acme.example</Client>"),
        ("queue:billing", "<Enqueue"),
        ("nowhere", "Sorry, we cannot take your call right now."),
    ],
)
def test_ai_transfer(world, client, target, expect):
    world.number(IVR_NUMBER)
    resp = post(client, f"{BASE}/ivr-ai-transfer?orgid=acme&to={target}", call_form())
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and expect in body
    assert_valid_twiml(body)


class _Api(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        payload = json.dumps({"customer": {"name": "Dana"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        return


@pytest.fixture
def api_server():
    server = HTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _http_flow(url: str):
    return definition(
        node(
            "lookup",
            "http_request",
            {"url": url + "/customer", "variables": {"name": "customer.name"}},
            success="greet",
            failed="sorry",
        ),
        node("greet", "hangup", {"say": "Hello {{ vars.name }}."}),
        node("sorry", "hangup", {"say": "Lookup failed."}),
    )


def test_http_request_reaches_allowed_services(world, app, api_server):
    app.config["PHONETREE_HTTP_ALLOW_PRIVATE"] = True
    world.flow(_http_flow(api_server))
    transcript, _ = world.call([])
    assert transcript.heard == ["Hello Dana."]


def test_http_request_to_private_addresses_is_blocked(world, api_server):
    world.flow(_http_flow(api_server))
    transcript, session = world.call([])
    assert transcript.heard == ["Lookup failed."]
    step = db.session.scalar(select(CallStep).where(CallStep.session_id == session.id, CallStep.node_id == "lookup"))
    assert step.outcome == "failed" and step.detail["error"] == "BlockedRequest"


def test_send_sms_node_goes_through_the_org_provider(world, twilio_app, twilio_fake):
    fake = twilio_fake.client()
    owned = fake.available_phone_numbers("US").local.list(limit=1)[0].phone_number
    fake.incoming_phone_numbers.create(phone_number=owned)
    world.flow(
        definition(
            node("text", "send_sms", {"body": "Your code is 1234."}, sent="bye", failed="bye"),
            node("bye", "hangup", {"say": "Sent."}),
        ),
        number=owned,
    )
    transcript, session = world.call([], to=owned)
    assert ("text", "enter", "sent") in world.path(session)
    message = db.session.scalar(select(Message).where(Message.direction == "outbound"))
    assert message.sid.startswith("SM") and message.to_number == CALLER and message.from_number == owned
    assert message.session_id == session.id
    assert any(m["body"] == "Your code is 1234." for m in twilio_fake.state.messages.values())


def test_test_users_run_the_draft(world):
    flow = world.flow(definition(node("hi", "hangup", {"say": "Published."})), test_users=["+15551112222"])
    flow.draft = definition(node("hi", "hangup", {"say": "Draft."}))
    db.session.commit()
    tester, tester_session = world.call([], from_="+15551112222")
    caller, caller_session = world.call([])
    assert tester.heard == ["Draft."] and tester_session.uses_draft and tester_session.revision_id is None
    assert caller.heard == ["Published."] and not caller_session.uses_draft


class _HugeApi(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(800):  # 50 MB, far past what the engine reads
                self.wfile.write(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        return


def test_http_request_reads_a_huge_answer_only_up_to_the_cap(app):
    from services.call_capabilities import MAX_RESPONSE_CHARS, CallServices

    server = HTTPServer(("127.0.0.1", 0), _HugeApi)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app.config["PHONETREE_HTTP_ALLOW_PRIVATE"] = True
        services = CallServices.__new__(CallServices)
        url = f"http://127.0.0.1:{server.server_port}/"
        status, text = CallServices.http_request(services, "GET", url, {}, None, 5)
    finally:
        server.shutdown()
    assert status == 200 and len(text) == MAX_RESPONSE_CHARS
