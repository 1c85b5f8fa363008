"""Text conversations end to end: signed ``sms`` webhooks posted by the Twilio stand-in, messages sent
through its Messages API, sessions, retries, STOP, timeouts and expiry (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from extensions import db
from flows.studio import import_studio
from models import CallSession, CallStep, Message
from services import messaging, timers
from sim import Press
from tests.calls.conftest import BASE, CALLER, IVR_NUMBER, definition, node
from tests.calls.test_front_door import post
from tests.plugins.twilio_fake import TWILIO_FAKE_ACCOUNT_SID
from upstream.twilio_fake.messaging import receive_message

pytestmark = pytest.mark.db
OTHER = "+15557654000"


class Texting:
    """An owned number routed to a messaging flow, contacts texting it through the stand-in."""

    def __init__(self, world, client, fake, flow_data) -> None:
        self.world, self.client, self.fake = world, client, fake
        self.number = fake.state.add_owned_number(TWILIO_FAKE_ACCOUNT_SID, sms_url=f"{BASE}/sms?orgid=acme")[
            "phone_number"
        ]
        self.flow = world.flow(flow_data, number=None)
        world.number(self.number, messaging_flow_id=self.flow.id)

    def text(self, body: str, from_: str = CALLER):
        """The contact texts `body`; the stand-in posts the signed webhook to the number's SMS URL."""

        def via_client(url, form, headers):
            return self.client.post(url.removeprefix("http://localhost"), data=form, headers=headers)

        response = receive_message(self.fake.state, TWILIO_FAKE_ACCOUNT_SID, self.number, from_, body, post=via_client)
        assert response.status_code == 200 and "<Message" not in response.get_data(as_text=True)
        db.session.expire_all()
        return response

    def sent(self, to: str = CALLER) -> list[str]:
        """Bodies the flow sent to `to` through the stand-in's Messages API, in order."""
        return [m["body"] for m in self.fake.state.messages.values() if m["to"] == to]

    def sessions(self, contact: str = CALLER) -> list[CallSession]:
        return list(
            db.session.scalars(
                select(CallSession)
                .where(CallSession.from_number == contact, CallSession.channel == "messaging")
                .order_by(CallSession.started_at)
            )
        )

    def path(self, session) -> list[tuple[str, str, str | None]]:
        return self.world.path(session)

    def wait(self, seconds: float) -> int:
        """Let `seconds` pass on the app clock and fire the durable timers due (as the timer worker
        does); how many fired."""
        self.world.clock.now += timedelta(seconds=seconds)
        db.session.rollback()
        fired = timers.run_due(self.world.app)
        db.session.expire_all()
        return fired


SURVEY = definition(
    node(
        "ask",
        "wait_for_reply",
        {"prompt": "Hi! Reply 1 to confirm, 2 to cancel.", "timeout": 600},
        replied="check",
        timeout="late",
    ),
    node(
        "check",
        "menu",
        {
            "prompt": "Sure? Reply YES or NO",
            "retries": 1,
            "options": [{"digit": "1", "keywords": ["yes", "oui"]}, {"digit": "2", "keywords": ["no"]}],
        },
        **{"1": "done", "2": "bye", "fallback": "bye"},
    ),
    node("done", "send_message", {"body": "Confirmed, {{ widgets.ask.inbound.Body }}."}, sent="end", failed="end"),
    node("late", "send_message", {"body": "We did not hear back."}),
    node("bye", "hangup", {"say": "Cancelled."}),
    node("end", "hangup", {}),
    channels=["messaging"],
)


@pytest.fixture
def texting(world, client, twilio_app, twilio_fake) -> Texting:
    return Texting(world, client, twilio_fake, SURVEY)


def test_a_messaging_only_flow_runs_a_conversation(texting):
    texting.text("hello")
    (session,) = texting.sessions()
    assert session.channel == "messaging" and session.live_key and session.ended_at is None
    assert texting.sent() == ["Hi! Reply 1 to confirm, 2 to cancel."]
    timer = timers.pending("reply-timeout", f"{session.id}:1")
    assert timer.payload["wait_token"] == 1 and timer.fire_at == texting.world.clock.now + timedelta(seconds=600)
    assert timers.pending("session-expiry", session.id).fire_at == texting.world.clock.now + timedelta(hours=24)
    texting.text("1")
    texting.text("Oui")
    db.session.refresh(session)
    assert texting.sent()[1:] == ["Sure? Reply YES or NO", "Confirmed, 1."]
    assert texting.path(session) == [
        ("ask", "enter", None),
        ("ask", "input", "replied"),
        ("check", "enter", None),
        ("check", "input", "1"),
        ("done", "enter", "sent"),
        ("end", "enter", None),
    ]
    assert session.ended_at is not None and session.live_key is None and session.end_reason == "hangup"
    rows = db.session.scalars(select(Message).where(Message.session_id == session.id).order_by(Message.id)).all()
    assert [(m.direction, m.body) for m in rows] == [
        ("inbound", "hello"),
        ("outbound", "Hi! Reply 1 to confirm, 2 to cancel."),
        ("inbound", "1"),
        ("outbound", "Sure? Reply YES or NO"),
        ("inbound", "Oui"),
        ("outbound", "Confirmed, 1."),
    ]
    assert all(m.sid for m in rows) and rows[1].status == "queued"
    texting.text("hi again")  # the conversation has ended: a new one starts
    assert len(texting.sessions()) == 2


def test_a_retried_webhook_with_the_same_message_sid_changes_nothing(texting, client):
    texting.text("hello")
    (session,) = texting.sessions()
    form = {
        "MessageSid": "SM" + "d" * 32,
        "AccountSid": TWILIO_FAKE_ACCOUNT_SID,
        "From": CALLER,
        "To": texting.number,
        "Body": "2",
    }
    first = post(client, f"{BASE}/sms?orgid=acme", form)
    again = post(client, f"{BASE}/sms?orgid=acme", form)
    assert first.get_data() == again.get_data()
    db.session.expire_all()
    assert texting.world.count(Message) == 4  # hello, the prompt, "2", the menu prompt: once each
    assert db.session.get(CallSession, session.id).turn == 2
    first_again = {
        "MessageSid": session.call_sid,
        "AccountSid": TWILIO_FAKE_ACCOUNT_SID,
        "From": CALLER,
        "To": texting.number,
        "Body": "hello",
    }
    post(client, f"{BASE}/sms?orgid=acme", first_again)
    assert len(texting.sessions()) == 1 and texting.world.count(Message) == 4


def test_a_contact_texting_while_the_session_waits_goes_to_that_session(texting):
    texting.text("hello")
    texting.text("hello", from_=OTHER)  # another contact: a conversation of their own
    texting.text("what is this?")  # the waiting wait_for_reply takes it
    mine, theirs = texting.sessions(), texting.sessions(OTHER)
    assert len(mine) == 1 and len(theirs) == 1
    assert texting.path(mine[0])[1] == ("ask", "input", "replied")
    assert texting.path(theirs[0]) == [("ask", "enter", None)]
    step = db.session.scalar(select(CallStep).where(CallStep.session_id == mine[0].id, CallStep.event == "input"))
    assert step.detail["input"] == {"Body": "what is this?"}


def test_a_reply_timeout_continues_the_session_and_a_stale_one_does_nothing(texting):
    texting.text("hello")
    assert texting.wait(599) == 0
    assert texting.wait(1) == 1
    (session,) = texting.sessions()
    assert texting.path(session)[-2:] == [("ask", "timeout", "timeout"), ("late", "enter", "sent")]
    assert texting.sent()[-1] == "We did not hear back." and session.end_reason == "completed"
    assert timers.pending("session-expiry", session.id) is None  # an ended session drops its expiry
    texting.text("hello", from_=OTHER)
    (theirs,) = texting.sessions(OTHER)
    texting.text("1", from_=OTHER)  # the reply beats the timer (and cancels it, in the turn's transaction)
    assert timers.pending("reply-timeout", f"{theirs.id}:1") is None
    assert texting.wait(600) == 0
    assert [p[0:2] for p in texting.path(theirs)] == [("ask", "enter"), ("ask", "input"), ("check", "enter")]
    messaging.on_reply_timeout({"org_id": theirs.org_id, "session_id": theirs.id, "wait_token": 1})  # a late one
    db.session.expire_all()
    assert [p[0:2] for p in texting.path(theirs)] == [("ask", "enter"), ("ask", "input"), ("check", "enter")]


def test_a_session_expires_after_the_inactivity_limit(texting):
    texting.text("hello")
    texting.text("1")  # replied: the menu waits now (no reply timeout)
    assert texting.wait(3600) == 0
    texting.text("maybe")  # an hour later (the menu asks again): text turns do not move the expiry timer...
    (session,) = texting.sessions()
    assert texting.wait(23 * 3600) == 1  # ...which fires at 24 h, finds a message an hour old and re-arms
    db.session.refresh(session)
    assert session.ended_at is None
    assert timers.pending("session-expiry", session.id).fire_at == texting.world.clock.now + timedelta(hours=1)
    assert texting.wait(3600) == 1
    (session,) = texting.sessions()
    assert session.end_reason == "expired" and session.live_key is None and session.state["end"]["reason"] == "expired"
    texting.text("back")
    assert len(texting.sessions()) == 2


def test_stop_makes_the_next_send_fail_with_21610_in_widgets_error(world, client, twilio_app, twilio_fake):
    flow = definition(
        node("first", "send_message", {"body": "Welcome"}, sent="ask", failed="ask"),
        node("ask", "wait_for_reply", {"prompt": "Anything else?"}, replied="again", failed="log"),
        node("again", "send_message", {"body": "Noted"}, sent="ask", failed="log"),
        node("log", "set_variables", {"assignments": [{"name": "why", "value": "{{ widgets.again.error }}"}]}),
        channels=["messaging"],
    )
    texting = Texting(world, client, twilio_fake, flow)
    texting.text("hi")
    texting.text("STOP")  # Twilio opts the contact out, and still posts the message
    (session,) = texting.sessions()
    assert ("again", "enter", "failed") in texting.path(session)
    assert session.state["vars"]["why"] == "21610" and session.end_reason == "completed"
    failed = db.session.scalar(select(Message).where(Message.status == "failed"))
    assert failed.error_code == "21610" and failed.body == "Noted"


def test_delivery_status_is_recorded_on_the_message(texting, client):
    texting.text("hello")
    out = db.session.scalar(select(Message).where(Message.direction == "outbound"))
    form = {
        "MessageSid": out.sid,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "AccountSid": TWILIO_FAKE_ACCOUNT_SID,
    }
    resp = post(client, f"{BASE}/message-status?orgid=acme&session={out.session_id}", form)
    assert resp.status_code == 204
    db.session.expire_all()
    assert (out.status, out.error_code) == ("undelivered", "30003")


def test_a_voice_and_sms_flow_answers_calls_and_texts(world, client, twilio_app, twilio_fake):
    both = definition(
        node(
            "which",
            "branch",
            {
                "input": "{{ trigger.channel }}",
                "conditions": [{"id": "text", "operator": "equal_to", "value": "messaging"}],
            },
            text="ask",
            no_match="menu",
        ),
        node(
            "menu",
            "menu",
            {"prompt": "Press 1 to get our address by text.", "options": [{"digit": "1"}]},
            **{"1": "link"},
        ),
        node("link", "send_message", {"body": "We are at 1 Main St."}, sent="bye", failed="bye"),
        node("bye", "hangup", {"say": "Sent. Goodbye."}),
        node("ask", "wait_for_reply", {"prompt": "Hi {{ trigger.message.From }}, what do you need?"}, replied="echo"),
        node("echo", "send_message", {"body": "You asked: {{ widgets.ask.inbound.Body }}"}),
        channels=["voice", "messaging"],
    )
    texting = Texting(world, client, twilio_fake, both)
    world.number(texting.number, flow_id=texting.flow.id, messaging_flow_id=texting.flow.id)
    transcript, call = world.call([Press("1")], to=texting.number)
    assert call.channel == "voice" and ("link", "enter", "sent") in world.path(call)
    assert "Sent. Goodbye." in transcript.heard
    texting.text("opening hours?")
    texting.text("Sunday?")
    (chat,) = texting.sessions()
    assert texting.sent() == [
        "We are at 1 Main St.",
        f"Hi {CALLER}, what do you need?",
        "You asked: Sunday?",
    ]
    assert chat.channel == "messaging" and chat.end_reason == "completed"


SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "studio-flows"
# Each messaging export: what its author must still do after import (the widgets only Twilio hosts
# stay placeholders), the texts the contact sends, and texts the flow must send back.
MESSAGING_EXPORTS = {
    "28-basic-ivr-template.json": ({}, ["hi"], ["Response message..."]),
    # its Functions answered by a stub web service (below)
    "30-frontline-airtable-bot.json": ({}, ["oi", "agente"], ["Bem vindo(a) de volta Ana!", "Um momento"]),
    # Autopilot is retired: text conversations start at the question to the contact
    "33-volunteer-center-voice-sms.json": (
        {"messaging_start": "AskToCoordinator"},
        ["hello", "coordinator"],
        ["If you would like to connect", "Redirecting to a coordinator now."],
    ),
    "34-webchat-conversations-flex.json": (
        {},
        ["hi", "Parking", "New", "Ana", "Lee", "1990-01-01"],
        ["Hello! In order", "Please select", "Are you a new", "Thank you!"],
    ),
    # started by a REST request in Studio, as its execution is here (test_message_executions.py);
    # a contact's text opening the reminder conversation needs a messaging start set by hand
    "38-patient-appointment-sms.json": ({"messaging_start": "send_remind"}, ["hi", "CONFIRM APPT"], ["Hello, "]),
}


def _web_service(method, url, headers, body, timeout):
    """The exports' own web services (Twilio Functions, an EHR): a known customer, no open conversation."""
    if "get-convo-name" in url:
        return 200, "{}"
    return 200, json.dumps({"customer": {"display_name": "Ana"}, "success": True})


@pytest.mark.parametrize("name", sorted(MESSAGING_EXPORTS))
def test_studio_messaging_exports_import_publish_and_hold_a_conversation(
    name, world, client, twilio_app, twilio_fake, monkeypatch
):
    edits, replies, expected = MESSAGING_EXPORTS[name]
    data, report = import_studio(json.loads((SHARED / name).read_text()))
    messaging_types = {"send-message", "send-and-wait-for-reply"}
    assert [r for r in report if r["type"] in messaging_types and r["status"] == "unsupported"] == []
    assert "messaging" in data["settings"]["channels"]
    data["settings"].update(edits)
    for item in data["nodes"]:  # the exports' Flex workflows are blank: the designer asks for one
        if item["type"] == "enqueue" and item["props"].get("target") == "workflow":
            item["props"]["workflow_sid"] = item["props"]["workflow_sid"] or "WW" + "0" * 32
    monkeypatch.setattr("services.call_capabilities.CallServices.http_request", lambda self, *a: _web_service(*a))
    texting = Texting(world, client, twilio_fake, data)  # publishes: raises on errors
    for body in replies:
        texting.text(body)
    sent = texting.sent()
    for start in expected:
        assert any(text.startswith(start) for text in sent), (start, sent)
    (session, *later) = texting.sessions()
    assert later == [] and session.end_reason != "fallback"
    replied = [p for p in texting.path(session) if p[1] == "input"]
    assert len(replied) == len(replies) - 1  # the first text opens the session, each later one is a reply


def test_the_calls_pages_show_a_conversation_with_its_messages(texting, make, client):
    texting.text("hello")
    texting.text("1")
    (session,) = texting.sessions()
    make.user("viewer@acme.example", "viewer", texting.world.org)
    make.login("viewer@acme.example")
    listing = client.get("/calls/?channel=messaging").get_data(as_text=True)
    assert "1 conversation" in listing and ">text</span>" in listing
    assert "0 calls" in client.get("/calls/?channel=voice").get_data(as_text=True)
    assert "1 call or conversation" in client.get("/calls/").get_data(as_text=True)
    page = client.get(f"/calls/{session.id}").get_data(as_text=True)
    assert "Conversation with" in page and "Contact texted “1”" in page and "waits for a reply" in page
    assert page.index("Hi! Reply 1 to confirm") < page.index("Sure? Reply YES or NO")
    assert "<strong>In</strong>" in page and "<strong>Out</strong>" in page
    texting.text("yes")  # the flow's Hang up closes the conversation: no one hung up a phone
    listing = client.get("/calls/?channel=messaging").get_data(as_text=True)
    assert "closed by the flow" in listing and "hangup" not in listing
    page = client.get(f"/calls/{session.id}").get_data(as_text=True)
    assert "ended: closed by the flow" in page and '<span class="badge">End conversation</span>' in page


def test_cli_message_simulate_plays_a_conversation_with_a_wait(world, runner):
    flow = world.flow(SURVEY, number=None)
    world.number(IVR_NUMBER, messaging_flow_id=flow.id)
    world.app.config.pop("PHONETREE_CLOCK")  # the command keeps its own clock
    script = "hi,wait:700,hello again,1,yes"
    args = ["message", "simulate", "--number", IVR_NUMBER, "--from", CALLER, "--script", script]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:5] == [
        "> hi",
        "< Hi! Reply 1 to confirm, 2 to cancel.",
        "… 700 s pass; the reply timeout fired",
        "< We did not hear back.",
        "> hello again",
    ]
    assert "> 1" in lines and lines.count("< Sure? Reply YES or NO") == 1
    assert lines[-2].endswith("ended: completed.") and lines[-1].endswith("ended: closed by the flow.")
    sessions = db.session.scalars(select(CallSession).where(CallSession.channel == "messaging")).all()
    assert len(sessions) == 2 and sessions[0].end_reason == "completed"
    assert all(
        m.status == "simulated" for m in db.session.scalars(select(Message).where(Message.direction == "outbound"))
    )


def test_racing_texts_share_one_session_and_a_racing_retry_counts_once(texting, app):
    from twilio.request_validator import RequestValidator

    from tests.calls.test_safety import _concurrent_posts, world_token

    url = "/connect/webhook/twilio/sms?orgid=acme"

    def signed(form):
        return {"X-Twilio-Signature": RequestValidator(world_token()).compute_signature("http://localhost" + url, form)}

    base = {"AccountSid": TWILIO_FAKE_ACCOUNT_SID, "From": CALLER, "To": texting.number}
    forms = [{**base, "MessageSid": f"SM{i:032d}", "Body": f"text {c}"} for i, c in enumerate("abcd")]  # no choice
    results = []
    threads = [
        threading.Thread(target=lambda f=f: results.extend(_concurrent_posts(app, url, f, signed(f), 1))) for f in forms
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert [status for status, _ in results] == [200] * 4
    db.session.expire_all()
    (session,) = texting.sessions()
    inbound = db.session.scalars(select(Message).where(Message.direction == "inbound")).all()
    assert sorted(m.body for m in inbound) == [f"text {c}" for c in "abcd"]
    assert {m.session_id for m in inbound} == {session.id} and session.turn == 4
    assert session.end_reason == "hangup"  # two replies the menu did not understand: its fallback ended it
    retry = {**base, "MessageSid": "SM" + "e" * 32, "Body": "2"}
    assert {status for status, _ in _concurrent_posts(app, url, retry, signed(retry), 6)} == {200}
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Message).where(Message.sid == retry["MessageSid"])) == 1
    first, second = texting.sessions()
    assert second.call_sid == retry["MessageSid"] and second.turn == 1  # one new conversation, started once


def test_an_unpublished_messaging_flow_leaves_texts_to_the_auto_reply_but_test_users_run_its_draft(world, client):
    from services.flow_revisions import create_flow

    flow = create_flow(world.org, None, "Draft texts", SURVEY)
    flow.test_users = [OTHER]
    db.session.commit()
    world.number(IVR_NUMBER, messaging_flow_id=flow.id, sms_auto_reply="We will text you back.")
    form = {
        "MessageSid": "SM" + "f" * 32,
        "AccountSid": TWILIO_FAKE_ACCOUNT_SID,
        "From": CALLER,
        "To": IVR_NUMBER,
        "Body": "hi",
    }
    assert "<Message>We will text you back.</Message>" in post(client, f"{BASE}/sms?orgid=acme", form).get_data(
        as_text=True
    )
    world.app.config["PHONETREE_MESSAGES_DRY_RUN"] = True
    tester = {**form, "MessageSid": "SM" + "9" * 32, "From": OTHER}
    assert "<Message" not in post(client, f"{BASE}/sms?orgid=acme", tester).get_data(as_text=True)
    db.session.expire_all()
    (session,) = db.session.scalars(select(CallSession).where(CallSession.channel == "messaging")).all()
    assert session.uses_draft and session.from_number == OTHER and session.current_node == "ask"


def test_text_turns_are_rolled_up_as_the_rebuild_counts_them(texting):
    from models.analytics import CallRollup, NodeRollup
    from services.analytics_rollup import rebuild
    from tests.calls.test_analytics_rollups import _rows

    texting.text("hello")
    texting.world.clock.now += timedelta(seconds=40)
    texting.text("1")
    texting.text("Oui")  # ends: hangup
    texting.text("hello", from_=OTHER)
    texting.text("1", from_=OTHER)
    texting.wait(25 * 3600)  # OTHER's conversation expires
    ended = {s.end_reason for s in texting.sessions() + texting.sessions(OTHER)}
    assert ended == {"hangup", "expired"}
    live_nodes, live_calls = _rows(NodeRollup), _rows(CallRollup)
    assert {row[5] for row in live_calls} == {"", "hangup", "expired"}  # started, and each end
    ask = db.session.scalar(select(NodeRollup).where(NodeRollup.node_id == "ask", NodeRollup.outcome == ""))
    assert ask.n == 2 and ask.dwell_n == 2 and ask.dwell_ms >= 40_000
    rebuild()
    db.session.expire_all()
    assert _rows(NodeRollup) == live_nodes and _rows(CallRollup) == live_calls
