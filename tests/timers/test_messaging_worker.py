"""A reply timeout fired by a real worker process (the one `flask --app app worker` and `make run` start):
a contact texts, never answers, and the worker alone continues the conversation on `timeout` and
sends the flow's text through the Twilio stand-in. A restart of the worker in between loses nothing."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from extensions import db
from models import CallSession, CallStep, PhoneNumber
from services import timers
from services.accounts import ensure_org
from services.flow_revisions import create_flow, publish
from tests.calls.conftest import BASE, CALLER, definition, node
from tests.plugins.twilio_fake import (
    TWILIO_FAKE_ACCOUNT_SID,
    TWILIO_FAKE_API_KEY,
    TWILIO_FAKE_API_KEY_SECRET,
    TWILIO_FAKE_AUTH_TOKEN,
)
from upstream.integrations import save_integration
from upstream.twilio_fake.messaging import receive_message

pytestmark = pytest.mark.db

WAIT_SECONDS = 2
FLOW = definition(
    node(
        "ask",
        "wait_for_reply",
        {"prompt": "Reply 1 to confirm.", "timeout": WAIT_SECONDS},
        replied="end",
        timeout="late",
    ),
    node("late", "send_message", {"body": "We did not hear back."}, sent="end", failed="end"),
    node("end", "hangup", {}),
    channels=["messaging"],
)


def _path(session_id: str) -> list[tuple[str, str, str | None]]:
    db.session.rollback()
    steps = db.session.scalars(select(CallStep).where(CallStep.session_id == session_id).order_by(CallStep.seq))
    return [(s.node_id, s.event, s.outcome) for s in steps]


def test_the_worker_process_fires_a_reply_timeout_when_no_reply_comes(
    timer_app, workers, twilio_fake, monkeypatch, tmp_path
):
    monkeypatch.setenv("TWILIO_API_BASE_URL", twilio_fake.url)  # the worker process sends to the stand-in
    app = timer_app("sqlite", TWILIO_API_BASE_URL=twilio_fake.url, TWILIO_TIMEOUT_SECONDS=5)
    org = ensure_org("acme", "Acme Corp")
    config = {
        "accountSid": TWILIO_FAKE_ACCOUNT_SID,
        "authToken": TWILIO_FAKE_AUTH_TOKEN,
        "apiKey": TWILIO_FAKE_API_KEY,
        "apiKeySecret": TWILIO_FAKE_API_KEY_SECRET,
    }
    save_integration(org, "TwilioProvider", "Acme Twilio", config, verify=False)
    number = twilio_fake.state.add_owned_number(TWILIO_FAKE_ACCOUNT_SID, sms_url=f"{BASE}/sms?orgid=acme")[
        "phone_number"
    ]
    flow = create_flow(org, None, "Texts", FLOW)
    publish(org, None, flow)
    db.session.add(
        PhoneNumber(
            org_id=org.id, phone_number=number, friendly_name="Texts", capabilities={}, messaging_flow_id=flow.id
        )
    )
    db.session.commit()

    pool = workers(app)
    first = pool.start()
    client = app.test_client()

    def via_client(url, form, headers):
        return client.post(url.removeprefix("http://localhost"), data=form, headers=headers)

    response = receive_message(twilio_fake.state, TWILIO_FAKE_ACCOUNT_SID, number, CALLER, "hello", post=via_client)
    assert response.status_code == 200
    db.session.rollback()
    session = db.session.scalar(select(CallSession).where(CallSession.channel == "messaging"))
    assert _path(session.id) == [("ask", "enter", None)]
    assert timers.pending("reply-timeout", f"{session.id}:1") is not None
    sent_before = [m["body"] for m in twilio_fake.state.messages.values() if m["to"] == CALLER]
    assert sent_before == ["Reply 1 to confirm."]

    pool.kill(first)  # the worker dies while the conversation waits: the timer is in the database
    pool.start()
    deadline = time.monotonic() + 60
    while ("ask", "timeout", "timeout") not in _path(session.id):
        if time.monotonic() > deadline:
            raise AssertionError(f"the worker did not fire the reply timeout\n{pool.logs()}")
        time.sleep(0.2)
    time.sleep(1.0)  # a second firing, if there were one, would show by now
    path = _path(session.id)
    assert path[1:] == [("ask", "timeout", "timeout"), ("late", "enter", "sent"), ("end", "enter", None)], path
    sent = [m["body"] for m in twilio_fake.state.messages.values() if m["to"] == CALLER]
    assert sent == ["Reply 1 to confirm.", "We did not hear back."]  # sent once, by the worker
    assert timers.pending("reply-timeout", f"{session.id}:1") is None
    db.session.rollback()
    assert db.session.get(CallSession, session.id).status != "in_progress"
