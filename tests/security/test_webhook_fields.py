"""Hostile values in every field Twilio posts, on every service id, signed as Twilio would sign them
(SQLite and PostgreSQL: ``db``). The answer is valid TwiML or 204, nobody hears the fallback apology
where the turn would otherwise succeed, and the turns, recordings and SMS are stored."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import select

from extensions import db
from flows.twiml import GOODBYE
from flows.webhooks import SERVICE_IDS
from models import CallSession, CallStep, Message, Recording
from services.webhook_answers import DEFAULT_APOLOGY
from sim import CallerSimulator, DialResult, PayResult, Press, QueueResult, RecordAudio, assert_valid_twiml
from sim.params import sign
from tests.calls.conftest import BASE, CALLER, IVR_NUMBER, CallWorld
from tests.calls.flows import acme
from tests.plugins.twilio_fake import TWILIO_FAKE_ACCOUNT_SID, TWILIO_FAKE_AUTH_TOKEN
from upstream.twilio_fields import MAX_INT, NUMERIC

APOLOGIES = (DEFAULT_APOLOGY, GOODBYE, "Sorry, something went wrong. Goodbye.")
HUGE = "99999999999999999999999"
# Fields whose value decides the path of the call: an overlong one would change what happens.
PATH_FIELDS = {"To", "Digits", "SpeechResult", "CallStatus", "DialCallStatus", "QueueResult", "Result",
               "RecordingStatus", "TranscriptionStatus", "AccountSid"}


def nul_and_controls(key: str, value: str) -> str:
    """A NUL inside the value and control characters after it."""
    return value[:1] + "\x00" + value[1:] + "\x07\x1b\x7f\x00"


def huge_numbers(key: str, value: str) -> str:
    """Numbers past any integer column, and a NUL in every other field."""
    return HUGE if key in NUMERIC else nul_and_controls(key, value)


def overlong(key: str, value: str) -> str:
    """100 kB more in every field that does not choose the path (the CallSid included)."""
    return value if key in PATH_FIELDS else value + "x" * 100_000


MUTATORS = {"nul_and_controls": nul_and_controls, "huge_numbers": huge_numbers, "overlong": overlong}


class HostileCaller(CallerSimulator):
    """A simulated caller whose every request carries mutated fields, signed over what is sent."""

    def __init__(self, *args: Any, mutate, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.mutate = mutate
        self.services: set[str] = set()

    def request(self, kind, label, url, params, method="POST"):  # noqa: D102  (the simulator's own)
        self.services.add(urlsplit(url).path.rsplit("/", 1)[-1])
        hostile = {key: self.mutate(key, str(value)) for key, value in params.items()}
        return super().request(kind, label, url, hostile, method)


@pytest.fixture
def world(app, client, make) -> CallWorld:
    return CallWorld(app, client, make)


def _hostile_call(world: CallWorld, mutate, script: list, service: str = "ivr-menu"):
    sim = HostileCaller(
        _transport(world), mutate=mutate, account_sid=TWILIO_FAKE_ACCOUNT_SID, auth_token=TWILIO_FAKE_AUTH_TOKEN,
        from_=CALLER, to=IVR_NUMBER, status_callback_url=f"{BASE}/status?orgid=acme",
    )
    transcript = sim.run(f"{BASE}/{service}?orgid=acme", script)
    db.session.expire_all()
    stored_sid = mutate("CallSid", sim.call_sid).replace("\x00", "")[:64]
    stored_sid = "".join(c for c in stored_sid if c.isprintable())
    session = db.session.scalar(select(CallSession).where(CallSession.call_sid.in_([sim.call_sid, stored_sid])))
    return sim, transcript, session


def _transport(world: CallWorld):
    from sim import FlaskClientTransport

    return FlaskClientTransport(world.client)


SCRIPTS = {
    "sales_transfer": ([Press("1"), DialResult("completed", 42)], "Goodbye.", ("sales", "dial", "answered")),
    "account_and_payment": (
        [Press("2"), Press("654321#"), PayResult(card_number="4111111111111111", card_type="visa")],
        "Payment received. Thank you.",
        ("pay", "payment", "success"),
    ),
    "queue": ([Press("3"), QueueResult("bridged", 95)], "Goodbye.", ("hold", "queue", "bridged")),
    "voicemail": (
        [Press("1"), DialResult("no-answer"), RecordAudio(12, transcript="Please call me back.")],
        None,
        ("closed_vm", "recording", None),
    ),
}


@pytest.mark.parametrize("mutator", list(MUTATORS))
def test_hostile_fields_on_every_ivr_service_keep_the_call_whole(world, mutator):
    world.flow(acme())
    mutate = MUTATORS[mutator]
    reached: set[str] = set()
    for name, (script, last_heard, step) in SCRIPTS.items():
        sim, transcript, session = _hostile_call(world, mutate, script)
        reached |= sim.services
        assert transcript.errors == [], (name, transcript.errors)
        for record in transcript.requests:
            assert record.status in (200, 204), (name, record.label, record.status, record.body[:300])
            if record.status == 200 and record.body.strip():
                assert_valid_twiml(record.body)
        assert not any(apology in transcript.heard for apology in APOLOGIES), (name, transcript.heard)
        if last_heard:
            assert transcript.heard[-1] == last_heard, (name, transcript.heard)
        assert session is not None, name
        path = [(s.node_id, s.event, s.outcome) for s in db.session.scalars(
            select(CallStep).where(CallStep.session_id == session.id).order_by(CallStep.seq))]
        assert path[0][0] == "main" and any(p[:2] == step[:2] for p in path), (name, path)
        assert session.status == "completed" and session.ended_at is not None, (name, session.status)
        expected = MAX_INT if mutator == "huge_numbers" else None
        if expected is not None:
            assert session.duration == expected
        assert "\x00" not in (session.from_number or "") and len(session.from_number) <= 64
    recording = db.session.scalar(select(Recording))
    assert recording is not None and recording.transcription_text.startswith("Please call me back.")
    assert "\x00" not in recording.transcription_text
    assert {"ivr-menu", "ivr-menu-input", "ivr-input", "ivr-continue", "ivr-payment-status", "ivr-queue-music",
            "ivr-recording", "recording-status", "transcription-status", "status"} <= reached


def _post(world: CallWorld, service: str, form: dict[str, str], query: str = "orgid=acme"):
    url = f"{BASE}/{service}?{query}"
    headers = {"X-Twilio-Signature": sign(TWILIO_FAKE_AUTH_TOKEN, url, form)}
    return world.client.post(url.removeprefix("http://localhost"), data=form, headers=headers)


def _call_form(**extra: str) -> dict[str, str]:
    return {"AccountSid": TWILIO_FAKE_ACCOUNT_SID, "CallSid": "CA" + "7" * 32, "From": CALLER, "To": IVR_NUMBER,
            "CallStatus": "ringing", "Direction": "inbound", "ApiVersion": "2010-04-01", "CallerName": "Dana",
            "FromCity": "Oakland", **extra}


@pytest.mark.parametrize("mutator", list(MUTATORS))
def test_hostile_fields_on_sms_are_stored(world, mutator):
    world.number(IVR_NUMBER, sms_auto_reply="Thanks!")
    mutate = MUTATORS[mutator]
    form = {"MessageSid": "SM" + "a" * 32, "SmsSid": "SM" + "a" * 32, "AccountSid": TWILIO_FAKE_ACCOUNT_SID,
            "From": CALLER, "To": IVR_NUMBER, "Body": "hi there", "NumMedia": "0", "NumSegments": "1",
            "SmsStatus": "received", "FromCity": "Oakland"}
    resp = _post(world, "sms", {k: mutate(k, v) for k, v in form.items()})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert_valid_twiml(resp.get_data(as_text=True))
    assert "<Message>Thanks!</Message>" in resp.get_data(as_text=True)
    db.session.expire_all()
    inbound = db.session.scalar(select(Message).where(Message.direction == "inbound"))
    assert inbound is not None and inbound.body.startswith("hi there") and "\x00" not in inbound.body


@pytest.mark.parametrize("mutator", list(MUTATORS))
def test_hostile_fields_on_a_conversation_and_on_delivery_status(world, mutator):
    flow = world.flow(
        {"spec": "phonetree/1", "start": "ask", "settings": {"channels": ["messaging"]},
         "nodes": [{"id": "ask", "type": "wait_for_reply", "props": {"prompt": "Name?"}, "outcomes": {}}]},
        number=None,
    )
    world.number(IVR_NUMBER, messaging_flow_id=flow.id)
    world.app.config["PHONETREE_MESSAGES_DRY_RUN"] = True
    mutate = MUTATORS[mutator]
    form = {"MessageSid": "SM" + "b" * 32, "AccountSid": TWILIO_FAKE_ACCOUNT_SID, "From": CALLER, "To": IVR_NUMBER,
            "Body": "hi there", "NumMedia": "0", "NumSegments": "1", "MediaUrl0": "https://x.example/a.png"}
    resp = _post(world, "sms", {k: mutate(k, v) for k, v in form.items()})
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert_valid_twiml(resp.get_data(as_text=True))
    db.session.expire_all()
    out = db.session.scalar(select(Message).where(Message.direction == "outbound"))
    assert out is not None and out.body == "Name?"
    status = {"MessageSid": out.sid, "MessageStatus": "undelivered", "ErrorCode": "30003",
              "AccountSid": TWILIO_FAKE_ACCOUNT_SID}
    resp = _post(world, "message-status", {k: mutate(k, v) for k, v in status.items()})
    assert resp.status_code == 204
    db.session.expire_all()
    assert "\x00" not in (db.session.get(Message, out.id).status or "")


@pytest.mark.parametrize("mutator", list(MUTATORS))
@pytest.mark.parametrize(("service", "query"), [
    ("voice", "orgid=acme"),
    ("ai-voice", "orgid=acme"),
    ("ivr-ai-outbound", "orgid=acme&agent=reminders"),
    ("ivr-ai-transfer", "orgid=acme&to=%2B14155550199"),
])
def test_hostile_fields_on_voice_and_ai_services_answer_twiml(world, app, mutator, service, query):
    app.config["VOICE_GATEWAY_URL"] = "wss://voice.example.com/stream"
    world.number(IVR_NUMBER, mode="voice")
    mutate = MUTATORS[mutator]
    form = {k: mutate(k, v) for k, v in _call_form(CallDuration="5", QueueTime="3").items()}
    resp = _post(world, service, form, query)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.content_type.startswith("text/xml"), body[:300]
    assert_valid_twiml(body)
    assert not any(apology in body for apology in APOLOGIES), body
    db.session.expire_all()
    if service != "ivr-ai-transfer":
        session = db.session.scalar(select(CallSession))
        assert session is not None and session.from_number.startswith(CALLER) and "\x00" not in session.from_number


def test_every_service_id_of_the_contract_is_probed():
    probed = {"voice", "ivr-menu", "sms", "status", "recording-status", "transcription-status", "ivr-continue",
              "ivr-input", "ivr-menu-input", "ivr-recording", "ivr-payment-status", "ivr-queue-music",
              "ivr-ai-outbound", "ivr-ai-transfer", "ai-voice", "message-status"}
    assert probed == SERVICE_IDS


def _raw_post(world: CallWorld, service: str, pairs: list[tuple[str, str]], decoded: dict[str, str]):
    url = f"{BASE}/{service}?orgid=acme"
    body = "&".join(f"{quote(k)}={v}" for k, v in pairs)  # values already percent-encoded, on purpose
    headers = {"X-Twilio-Signature": sign(TWILIO_FAKE_AUTH_TOKEN, url, decoded),
               "Content-Type": "application/x-www-form-urlencoded"}
    return world.client.post(url.removeprefix("http://localhost"), data=body.encode("ascii"), headers=headers)


def test_bad_utf8_percent_escapes_are_read_and_stored(world):
    world.flow(acme())
    world.number(IVR_NUMBER, mode="ivr", flow_id=world.flow(acme(), name="Second", number=None).id)
    sms = [("MessageSid", "SM" + "c" * 32), ("From", quote(CALLER)), ("To", quote(IVR_NUMBER)),
           ("Body", "caf%C3%A9%FF%FE%00end")]
    decoded = {"MessageSid": "SM" + "c" * 32, "From": CALLER, "To": IVR_NUMBER, "Body": "café\ufffd\ufffd\x00end"}
    resp = _raw_post(world, "sms", sms, decoded)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    db.session.expire_all()
    assert db.session.scalar(select(Message.body)) == "café\ufffd\ufffdend"
    call = [("CallSid", "CA" + "e" * 32), ("From", quote(CALLER)), ("To", quote(IVR_NUMBER)),
            ("CallStatus", "ringing"), ("CallerName", "%FF%C3%28%00")]
    decoded = {"CallSid": "CA" + "e" * 32, "From": CALLER, "To": IVR_NUMBER, "CallStatus": "ringing",
               "CallerName": "\ufffd\ufffd(\x00"}
    resp = _raw_post(world, "ivr-menu", call, decoded)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "Press 1 for sales" in body, body[:300]
    assert_valid_twiml(body)
