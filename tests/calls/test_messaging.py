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
from models import CallSession, CallStep, Message, Timer
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


def test_bad_sms_webhooks_answer_twiml_and_start_no_conversation_without_a_contact(texting, client):
    """Fields Twilio always sends, missing, or a Body past Twilio's 1,600 characters: valid TwiML,
    never a 5xx; a text with no From (no contact to answer) opens no conversation."""
    url = f"{BASE}/sms?orgid=acme"
    base = {"AccountSid": TWILIO_FAKE_ACCOUNT_SID, "To": texting.number, "From": CALLER, "Body": "hi"}
    for i, drop in enumerate(("From", "To", "Body", "MessageSid", ())):
        form = {k: v for k, v in {**base, "MessageSid": f"SM{i:032d}"}.items() if k != drop}
        resp = post(client, url, form)
        assert resp.status_code == 200 and resp.content_type.startswith("text/xml"), drop
        assert resp.get_data(as_text=True).startswith('<?xml version="1.0" encoding="UTF-8"?><Response')
    assert [s.from_number for s in db.session.scalars(select(CallSession))] == [CALLER]
    huge = post(client, url, {**base, "From": OTHER, "MessageSid": "SM" + "e" * 32, "Body": "é" * 100_000})
    assert huge.status_code == 200 and huge.get_data(as_text=True).endswith("<Response />")
    (theirs,) = texting.sessions(OTHER)
    stored = db.session.scalar(select(Message).where(Message.session_id == theirs.id, Message.direction == "inbound"))
    assert stored.body == "é" * 1600 and theirs.ended_at is None


def _text_form(texting, sid: str, body: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": TWILIO_FAKE_ACCOUNT_SID,
        "From": CALLER,
        "To": texting.number,
        "Body": body,
    }


def _everything(texting) -> dict:
    """What a text can change: sessions, steps, messages, timers, and what went out through Twilio."""
    db.session.expire_all()
    return {
        "sessions": [
            (s.id, s.turn, s.step_count, json.dumps(s.state, sort_keys=True), s.updated_at, s.ended_at, s.live_key)
            for s in texting.sessions()
        ],
        "steps": texting.world.count(CallStep),
        "messages": [
            (m.id, m.session_id, m.direction, m.sid, m.body)
            for m in db.session.scalars(select(Message).order_by(Message.id))
        ],
        "timers": sorted((t.kind, t.key, t.fire_at) for t in db.session.scalars(select(Timer))),
        "sent": texting.sent(),
    }


def test_a_retried_text_to_a_live_conversation_changes_nothing(texting, client):
    url = f"{BASE}/sms?orgid=acme"
    opening = _text_form(texting, "SM" + "1" * 32, "hello")
    post(client, url, opening)
    reply = _text_form(texting, "SM" + "2" * 32, "1")
    post(client, url, reply)  # the wait answered: the menu asks and waits, with its timers
    before = _everything(texting)
    assert before["sessions"][0][1] == 2 and before["sent"][-1] == "Sure? Reply YES or NO"
    texting.world.clock.now += timedelta(seconds=30)  # a retry comes a little later
    for form in (reply, opening, reply):  # the last text again, the first one again
        again = post(client, url, form)
        assert again.status_code == 200 and "<Message" not in again.get_data(as_text=True)
    assert _everything(texting) == before  # no step, message, send, timer or session change


def test_a_retried_text_to_an_ended_conversation_changes_nothing(texting, client):
    url = f"{BASE}/sms?orgid=acme"
    forms = [_text_form(texting, f"SM{i:032d}", body) for i, body in enumerate(("hello", "1", "oui"))]
    for form in forms:
        post(client, url, form)
    before = _everything(texting)
    ((_, turn, *_, ended_at, live_key),) = before["sessions"]
    assert turn == 3 and ended_at is not None and live_key is None
    for form in reversed(forms):  # the last text (no conversation live: it would start one), then the first
        again = post(client, url, form)
        assert again.status_code == 200 and "<Message" not in again.get_data(as_text=True)
    assert _everything(texting) == before  # no new conversation, nothing stored or sent
    texting.text("hi again")  # a new text starts a new one
    assert len(texting.sessions()) == 2


def test_a_text_to_a_live_conversation_reads_neither_the_route_nor_the_integration(texting, monkeypatch):
    # the number's route is read only to start a conversation, the retry check is the inbound row's insert,
    # and the reply goes out through the provider the front door validated the request with
    from sqlalchemy import event

    from db_raw import RawStatement

    texting.text("hello")
    statements: list[str] = []
    real = RawStatement._run

    def spy(self, params):
        statements.append(next(iter(self.sql.values())))
        return real(self, params)

    def orm(conn, cursor, statement, *args):
        statements.append(statement)

    monkeypatch.setattr(RawStatement, "_run", spy)
    event.listen(db.engine, "before_cursor_execute", orm)
    try:
        texting.text("1")
    finally:
        event.remove(db.engine, "before_cursor_execute", orm)
    assert texting.sent()[-1] == "Sure? Reply YES or NO"
    flat = [" ".join(s.split()) for s in statements]
    assert not [s for s in flat if "FROM phone_number" in s or "FROM upstream_integration" in s]
    assert not [s for s in flat if s.startswith("SELECT") and "FROM message" in s]
    assert [s for s in flat if s.startswith("INSERT INTO message")][0].endswith("DO NOTHING")  # in, then out


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


def test_a_reply_timeout_longer_than_the_inactivity_limit_still_fires(world, client, twilio_app, twilio_fake):
    """A wait of 3 days in a flow whose inactivity limit is 24 h: the conversation is not inactive
    while it waits on its own timer, so it does not expire first; the timeout branch runs, and the
    limit counts again from then."""
    flow = definition(
        node("ask", "wait_for_reply", {"prompt": "Reply within 3 days", "timeout": 3 * 24 * 3600},
             replied="end", timeout="late"),
        node("late", "wait_for_reply", {"prompt": "Still there?", "timeout": 3600}, replied="end"),
        node("end", "hangup", {}),
        channels=["messaging"],
    )
    texting = Texting(world, client, twilio_fake, flow)
    texting.text("hi")
    (session,) = texting.sessions()
    assert texting.wait(24 * 3600) == 1  # the expiry timer: the session waits on its reply timeout, re-armed
    db.session.refresh(session)
    assert session.ended_at is None
    texting.wait(2 * 24 * 3600)
    db.session.refresh(session)
    assert ("ask", "timeout", "timeout") in texting.path(session) and texting.sent()[-1] == "Still there?"
    assert session.ended_at is None
    texting.wait(3600)  # the second wait's own timeout: it ran out, and the flow ends
    db.session.refresh(session)
    assert session.end_reason == "completed"
    texting.text("late reply")  # a new conversation
    assert len(texting.sessions()) == 2


def test_stop_ends_the_conversation_opted_out_and_later_sends_fail_with_21610(world, client, twilio_app, twilio_fake):
    flow = definition(
        node("first", "send_message", {"body": "Welcome"}, sent="ask", failed="log"),
        node("ask", "wait_for_reply", {"prompt": "Anything else?"}, replied="again", failed="log"),
        node("again", "send_message", {"body": "Noted"}, sent="ask", failed="log"),
        node("log", "set_variables", {"assignments": [{"name": "why", "value": "{{ widgets.first.error }}"}]}),
        channels=["messaging"],
    )
    texting = Texting(world, client, twilio_fake, flow)
    texting.text("hi")
    texting.text(" Stop")  # Twilio opts the contact out, and still posts the message
    (session,) = texting.sessions()
    assert session.end_reason == "opted_out" and session.live_key is None
    assert session.state["end"]["detail"] == "STOP"
    assert texting.path(session)[-1] == ("ask", "input", None)  # the wait did not run: nothing was sent
    assert texting.sent() == ["Welcome", "Anything else?"]
    assert db.session.scalar(select(func.count()).select_from(Timer)) == 0  # its reply timeout and expiry dropped
    texting.text("hello again")  # still opted out: Twilio posts the text, and refuses every reply
    first, second = texting.sessions()
    assert first.id == session.id and second.state["vars"]["why"] == "21610" and second.end_reason == "completed"
    failed = db.session.scalars(select(Message).where(Message.status == "failed")).all()
    assert [(m.body, m.error_code) for m in failed] == [("Welcome", "21610")]


def test_stop_as_the_first_text_opens_a_conversation_that_ends_at_once(texting):
    texting.text("UNSUBSCRIBE")
    (session,) = texting.sessions()
    assert session.end_reason == "opted_out" and session.live_key is None
    assert session.state["end"]["detail"] == "UNSUBSCRIBE"
    assert texting.sent() == [] and db.session.scalar(select(func.count()).select_from(Timer)) == 0
    inbound = db.session.scalars(select(Message).where(Message.session_id == session.id)).all()
    assert [(m.direction, m.body) for m in inbound] == [("inbound", "UNSUBSCRIBE")]


def test_an_opt_out_type_from_advanced_opt_out_counts_whatever_the_word(texting):
    """A Messaging Service with Advanced Opt-Out may add its own keywords: Twilio says so with OptOutType."""
    texting.text("hi")
    form = {"MessageSid": "SM" + "7" * 32, "AccountSid": TWILIO_FAKE_ACCOUNT_SID, "From": CALLER,
            "To": texting.number, "Body": "arrete", "OptOutType": "STOP"}
    assert post(texting.client, f"{BASE}/sms?orgid=acme", form).status_code == 200
    db.session.expire_all()
    (session,) = texting.sessions()
    assert session.end_reason == "opted_out" and session.state["end"]["detail"] == "ARRETE"


def test_a_refused_text_on_a_node_with_no_failed_outcome_ends_the_conversation_not_sent(texting, caplog):
    """A menu has no failed outcome: its retry prompt refused (21610: the contact opted out of the
    number elsewhere, say through its Messaging Service) ends the conversation ``not_sent``, with no
    fallback apology (it would be refused too) and no error logged."""
    texting.text("hi")
    texting.text("1")  # the menu asks "Sure? Reply YES or NO"
    texting.fake.state.opt_outs.add((CALLER, texting.number))
    with caplog.at_level("INFO"):
        texting.text("maybe")
    (session,) = texting.sessions()
    assert session.end_reason == "not_sent" and session.live_key is None
    assert session.state["end"]["detail"] == "21610"
    assert texting.path(session)[-1] == ("check", "input", None)
    refused = db.session.scalars(select(Message).where(Message.status == "failed")).all()
    assert [(m.body, m.error_code) for m in refused] == [("Sorry, that is not a valid choice.", "21610")]
    assert [r.getMessage() for r in caplog.records if r.levelno >= 40] == []
    assert db.session.scalar(select(func.count()).select_from(Timer)) == 0  # the ended session keeps no timer
    from models.analytics import CallRollup, NodeRollup
    from services.analytics_rollup import rebuild
    from tests.calls.test_analytics_rollups import _rows

    live_nodes, live_calls = _rows(NodeRollup), _rows(CallRollup)
    assert {row[5] for row in live_calls} == {"", "not_sent"}  # started, and its end
    rebuild()
    db.session.expire_all()
    assert _rows(NodeRollup) == live_nodes and _rows(CallRollup) == live_calls


def test_texts_go_to_the_contact_from_the_number_or_a_messaging_service(world, client, twilio_app, twilio_fake):
    """`to` defaults to the contact and `from` to the number texted; a Messaging Service SID (MG...)
    sends through that service (Twilio picks the sender from its pool)."""
    service = "MG" + "a" * 32
    flow = definition(
        node("plain", "send_message", {"body": "From the number"}, sent="pooled", failed="pooled"),
        node("pooled", "send_message", {"body": "From the pool", "from": service}, sent="ask", failed="ask"),
        node("ask", "wait_for_reply", {"prompt": "Reply anything"}, replied="end"),
        node("end", "hangup", {}),
        channels=["messaging"],
    )
    texting = Texting(world, client, twilio_fake, flow)
    texting.text("hi")
    sent = list(twilio_fake.state.messages.values())
    assert [(m["body"], m["to"], m["from"], m["messaging_service_sid"]) for m in sent] == [
        ("From the number", CALLER, texting.number, None),
        ("From the pool", CALLER, None, service),
        ("Reply anything", CALLER, texting.number, None),
    ]
    (session,) = texting.sessions()
    assert [p[2] for p in texting.path(session)] == ["sent", "sent", None]


def test_a_reply_with_a_picture_reaches_the_flow_as_inbound_media(world, client, twilio_app, twilio_fake):
    flow = definition(
        node("ask", "wait_for_reply", {"prompt": "Send a photo"}, replied="echo"),
        node(
            "echo",
            "send_message",
            {
                "body": "Got “{{ widgets.ask.inbound.Body }}”, {{ widgets.ask.inbound.media | size }} picture(s)",
                "media_url": "{{ widgets.ask.inbound.MediaUrl0 }}",
            },
        ),
        channels=["messaging"],
    )
    texting = Texting(world, client, twilio_fake, flow)
    texting.text("hi")
    picture = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1"

    def via_client(url, form, headers):
        return client.post(url.removeprefix("http://localhost"), data=form, headers=headers)

    receive_message(twilio_fake.state, TWILIO_FAKE_ACCOUNT_SID, texting.number, CALLER, "my car", [picture], via_client)
    db.session.expire_all()
    (echo,) = [m for m in twilio_fake.state.messages.values() if m["body"].startswith("Got")]
    assert echo["body"] == "Got “my car”, 1 picture(s)" and echo["_MediaUrl"] == [picture]
    inbound = db.session.scalars(select(Message).where(Message.direction == "inbound").order_by(Message.id)).all()
    assert inbound[-1].media == [picture]


def test_delivery_status_is_recorded_on_the_message(texting, client):
    texting.text("hello")
    out = db.session.scalar(select(Message).where(Message.direction == "outbound"))
    form = {
        "MessageSid": out.sid,
        "MessageStatus": "undelivered",
        "ErrorCode": "30003",
        "AccountSid": TWILIO_FAKE_ACCOUNT_SID,
    }
    callback = texting.fake.state.messages[out.sid]["_StatusCallback"]  # what the send asked Twilio to call
    assert callback == f"{BASE}/message-status?orgid=acme&session={out.session_id}"
    resp = post(client, callback, form)
    assert resp.status_code == 204
    db.session.expire_all()
    assert (out.status, out.error_code) == ("undelivered", "30003")
    unknown = post(client, callback, {**form, "MessageSid": "SM" + "f" * 32})  # not ours: nothing to record
    assert unknown.status_code == 204 and texting.world.count(Message) == 2


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


def test_cli_message_simulate_leaves_nothing_in_the_future_where_it_counts(world, runner, client, make):
    """``wait:90000`` dates what follows 25 hours ahead: the conversation is marked simulated and
    labelled, counted in no rollup (live or rebuilt), dashboard export or list of real traffic, and
    the one the script leaves waiting is ended with its timers (nothing live, nothing pending)."""
    from models.analytics import CallRollup, NodeRollup
    from models.base import utcnow
    from services.analytics_rollup import rebuild

    flow = world.flow(SURVEY, number=None)
    world.number(IVR_NUMBER, messaging_flow_id=flow.id)
    world.app.config.pop("PHONETREE_CLOCK")  # the command keeps its own clock
    script = "hi,1,wait:90000,hi again"  # the menu waits: the first conversation expires; the second waits
    result = runner.invoke(args=["message", "simulate", "--number", IVR_NUMBER, "--from", CALLER, "--script", script])
    assert result.exit_code == 0, result.output
    assert "… 90000 s pass; the conversation expired" in result.output
    assert result.output.splitlines()[-1].endswith("ended: left waiting by the script, ended by the simulation.")
    assert "config" not in result.output and world.app.config.get("PHONETREE_SIMULATION") in (None, False)
    sessions = db.session.scalars(select(CallSession).order_by(CallSession.started_at)).all()
    assert [(s.simulated, s.end_reason, s.live_key) for s in sessions] == [
        (True, "expired", None),
        (True, "simulation_ended", None),
    ]
    later = utcnow() + timedelta(hours=20)
    assert sessions[1].started_at > later  # the simulation's own rows are dated ahead ...
    assert world.count(Timer) == 0  # ... but nothing waits on them
    assert world.count(CallRollup) == 0 and world.count(NodeRollup) == 0  # and nothing counts them
    rebuild()
    db.session.expire_all()
    assert world.count(CallRollup) == 0 and world.count(NodeRollup) == 0
    make.user("viewer@acme.example", "viewer", world.org)
    make.login("viewer@acme.example")
    csv = client.get("/dashboard/calls.csv?period=today", buffered=True).get_data(as_text=True)
    assert sessions[0].id not in csv
    sessions[0].simulated = False  # the same conversation, were it real, would be exported and counted
    db.session.commit()
    assert sessions[0].id in client.get("/dashboard/calls.csv?period=today", buffered=True).get_data(as_text=True)
    rebuild()
    db.session.expire_all()
    assert world.count(CallRollup) > 0
    sessions[0].simulated = True
    db.session.commit()
    rebuild()
    db.session.expire_all()
    assert world.count(CallRollup) == 0
    listing = client.get("/calls/").get_data(as_text=True)
    assert listing.count(">simulated</span>") == 2
    page = client.get(f"/calls/{sessions[1].id}").get_data(as_text=True)
    assert ">simulated</span>" in page and "simulation ended" in page
    texting_now = [m for m in db.session.scalars(select(Message)) if m.session_id == sessions[1].id]
    assert texting_now and all(m.created_at > later for m in texting_now)


def test_cli_message_simulate_refuses_a_contact_in_a_real_conversation(texting, runner):
    texting.text("hi")  # a real conversation, waiting for the contact's reply
    (real,) = texting.sessions()
    args = ["message", "simulate", "--number", texting.number, "--from", CALLER, "--script", "1"]
    result = runner.invoke(args=args)
    assert result.exit_code == 1 and "has a live conversation" in result.output and "another --from" in result.output
    db.session.expire_all()
    (session,) = texting.sessions()
    assert session.id == real.id and session.live_key and session.turn == real.turn and not session.simulated


def test_cli_message_simulate_fires_only_its_own_timers(texting, runner):
    """``wait:`` moves the command's clock on: the timers of every other conversation (a real
    contact's reply timeout and expiry) keep waiting for their real time."""
    texting.text("hi")  # a real conversation waits for the contact's reply, its timeout 600 s away
    (real,) = texting.sessions()
    pending = {(t.kind, t.key) for t in db.session.scalars(select(Timer))}
    assert ("reply-timeout", f"{real.id}:1") in pending and ("session-expiry", real.id) in pending
    args = ["message", "simulate", "--number", texting.number, "--from", OTHER, "--script", "hi,wait:90000"]
    result = runner.invoke(args=args)
    assert result.exit_code == 0 and "the reply timeout fired" in result.output, result.output
    db.session.expire_all()
    (session,) = texting.sessions()
    assert session.live_key and session.ended_at is None and session.turn == real.turn and not session.simulated
    assert {(t.kind, t.key) for t in db.session.scalars(select(Timer))} == pending
    assert texting.sent() == ["Hi! Reply 1 to confirm, 2 to cancel."]  # no timeout text went to the real contact


def test_a_text_whose_turn_fails_answers_503_with_twiml(texting, monkeypatch, caplog):
    """The database went away mid-turn (or anything failed): a 503, so Twilio posts the text to the
    number's fallback URL or retries it (the inbound MessageSid makes a retry count once)."""
    from sqlalchemy.exc import OperationalError

    import services.call_webhooks

    def down(*args, **kwargs):
        raise OperationalError("UPDATE call_session", {}, Exception("server closed the connection"))

    monkeypatch.setattr(services.call_webhooks, "inbound_message", down)
    form = {"MessageSid": "SM" + "8" * 32, "AccountSid": TWILIO_FAKE_ACCOUNT_SID, "From": CALLER,
            "To": texting.number, "Body": "hi"}
    with caplog.at_level("ERROR"):
        resp = post(texting.client, f"{BASE}/sms?orgid=acme", form)
    assert resp.status_code == 503 and resp.content_type.startswith("text/xml")
    assert resp.get_data(as_text=True).endswith("<Response />")
    assert texting.sessions() == [] and texting.sent() == []


def test_cli_message_simulate_refuses_a_script_that_texts_nothing(world, runner):
    flow = world.flow(SURVEY, number=None)
    world.number(IVR_NUMBER, messaging_flow_id=flow.id)
    for script in (",", "wait:60", "hi,wait:soon"):
        result = runner.invoke(args=["message", "simulate", "--number", IVR_NUMBER, "--script", script])
        assert result.exit_code == 2 and "Invalid value for --script" in result.output, result.output
    assert world.count(CallSession) == 0


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
