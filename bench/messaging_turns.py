"""Benchmark of text-conversation turns beside voice turns, in one run on one app.

One published flow serves both channels (bench/webhooks.py's FLOW: a menu, an account number, a
second menu, a rating, goodbye), on one number. Each conversation and each call is 5 turns:

- a **voice turn** is a signed ``ivr-menu`` webhook of a simulated call (`sim.CallerSimulator`, as
  `bench.webhook_load.run_calls` drives it);
- a **message turn** is a signed ``sms`` webhook of a contact's text (``hi``, ``1``, ``1234``,
  ``1``, ``5``), posted as Twilio posts it (the stand-in's `receive_message`), which runs the
  conversation's turn and sends the flow's reply. The send is
  stubbed: by default at the provider (`TwilioProvider.send_message` answers at once, so the
  whole send path up to the REST call runs), or with ``--stand-in`` through the Twilio REST
  stand-in (`upstream.twilio_fake`) over HTTP.

Both run in-process through the Flask test client on a scratch SQLite database, one turn at a
time, interleaved (a call, then a conversation, ...) so both see the same machine. Per turn we
read the process's CPU time and the wall time; the report gives the median CPU ms per turn and
the turns per second (1 / mean wall time) of each, and their ratio. Goal: a message turn costs
no more than a voice turn. Every conversation is checked afterwards: 5 messages in, 5 out, ended.

Run: ``.venv/bin/python bench/messaging_turns.py`` (``--quick``, ``--rounds N``, ``--stand-in``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from bench.webhook_load import ACCOUNT_SID, AUTH_TOKEN, NUMBER, run_calls  # noqa: E402
from bench.webhooks import FLOW, add_bare_route, seed  # noqa: E402
from sim import FlaskClientTransport, webhook_url  # noqa: E402
from upstream.twilio_fake import FakeTwilioState  # noqa: E402
from upstream.twilio_fake.messaging import receive_message  # noqa: E402

TEXTS = ("hi", "1", "1234", "1", "5")  # the call of bench/webhook_load.SCRIPT, texted: 5 turns
BASE = "http://localhost"


class Meter:
    """Per-turn CPU and wall seconds of the requests one transport posts (status callbacks apart)."""

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.cpu: list[float] = []
        self.wall: list[float] = []
        self.failures = 0

    def post(self, url, params, headers):
        cpu, wall = time.process_time(), time.perf_counter()
        answer = self.transport.post(url, params, headers)
        if "/status?" not in url:
            self.cpu.append(time.process_time() - cpu)
            self.wall.append(time.perf_counter() - wall)
            self.failures += answer.status >= 400
        return answer

    def get(self, url, headers):
        return self.transport.get(url, headers)

    def clear(self) -> None:
        self.cpu.clear()
        self.wall.clear()

    def line(self, label: str) -> str:
        cpu = statistics.median(self.cpu) * 1000 if self.cpu else float("nan")
        rate = len(self.wall) / sum(self.wall) if self.wall else 0.0
        return f"  {label:<14} {len(self.cpu):5d} turns  median CPU {cpu:6.2f} ms/turn  {rate:7.1f} turns/s"


def make_app(database_url: str, twilio_base: str | None = None):
    """The app on a scratch database, seeded with bench/webhooks.py's org and flow, the flow
    serving calls and texts and the number routing both to it."""
    from app import create_app
    from extensions import db
    from models import Flow, Organization, PhoneNumber
    from services.flow_revisions import publish, save_draft
    from tests.plugins.db import IsolatedClient

    config = {
        "SQLALCHEMY_DATABASE_URI": database_url,
        "SECRET_KEY": "bench-" + "x" * 40,
        "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
        "PUBLIC_BASE_URL": BASE,
    }
    if twilio_base:
        config["TWILIO_API_BASE_URL"] = twilio_base
    app = create_app(config)
    add_bare_route(app)
    app.test_client_class = IsolatedClient
    seed(app)
    with app.app_context():
        flow = db.session.scalar(db.select(Flow).where(Flow.name == "Bench flow"))
        org = db.session.get(Organization, flow.org_id)
        both = {**FLOW, "settings": {**FLOW["settings"], "channels": ["voice", "messaging"]}}
        flow = save_draft(org, None, flow, both, flow.draft_version)
        publish(org, None, flow)
        number = db.session.scalar(db.select(PhoneNumber).where(PhoneNumber.phone_number == NUMBER))
        number.messaging_flow_id = flow.id
        db.session.commit()
    return app


def call(meter: Meter) -> bool:
    """One simulated call of 5 turns (`bench.webhook_load.run_calls`'s); whether it ended as the flow ends."""
    return len(run_calls(BASE, lambda: meter, 1, 1, 600).sids) == 1


def conversation(meter: Meter, twilio: Any) -> str:
    """One contact's conversation of 5 texts, each posted signed by the Twilio stand-in's state
    `twilio` (`receive_message`, as Twilio posts an inbound text); the contact's number."""
    contact = f"+1556{uuid.uuid4().int % 10**7:07d}"
    for body in TEXTS:
        receive_message(twilio, ACCOUNT_SID, NUMBER, contact, body, post=meter.post)
    return contact


def stand_in_state(state: Any = None) -> Any:
    """The stand-in's state with the bench account owning NUMBER, whose SMS URL is the sms webhook."""
    state = state if state is not None else FakeTwilioState()
    if ACCOUNT_SID not in state.accounts:
        state.add_account(ACCOUNT_SID, AUTH_TOKEN)
    state.add_owned_number(ACCOUNT_SID, NUMBER, sms_url=webhook_url(BASE, "sms", orgid="bench"))
    return state


def verify(app, contacts: list[str]) -> tuple[int, int]:
    """(conversations not ended by the flow, conversations missing a message in or out)."""
    from sqlalchemy import func, select

    from extensions import db
    from models import CallSession, Message

    with app.app_context():
        sessions = {
            s.from_number: s for s in db.session.scalars(select(CallSession).where(CallSession.channel == "messaging"))
        }
        counts = dict(
            db.session.execute(select(Message.session_id, func.count(Message.id)).group_by(Message.session_id)).all()
        )
    open_ones = sum(1 for c in contacts if c not in sessions or sessions[c].end_reason != "hangup")
    short = sum(1 for c in contacts if c in sessions and counts.get(sessions[c].id, 0) != 2 * len(TEXTS))
    return open_ones, short


def stub_provider_send() -> Any:
    """Make the Twilio provider's REST send answer at once (what the bench stubs by default)."""
    from upstream.twilio_provider import TwilioProvider

    real = TwilioProvider.send_message

    def send_message(self, to, from_, body, media=None, status_callback=None):
        return {"sid": "SM" + uuid.uuid4().hex, "status": "queued", "to": to, "from": from_}

    TwilioProvider.send_message = send_message

    def restore() -> None:
        TwilioProvider.send_message = real

    return restore


def run(rounds: int, stand_in: bool) -> dict[str, float]:
    """Interleaved calls and conversations; prints and returns the figures."""
    tmp = Path(tempfile.mkdtemp(prefix="phonetree-bench-msg-"))
    with ExitStack() as stack:
        stack.callback(shutil.rmtree, tmp, ignore_errors=True)
        twilio_base = None
        if stand_in:
            from upstream.twilio_fake import FakeTwilioServer

            fake = FakeTwilioServer().start()
            stack.callback(fake.stop)
            fake.provision(ACCOUNT_SID, AUTH_TOKEN)
            twilio, twilio_base = stand_in_state(fake.state), fake.url
        else:
            stack.callback(stub_provider_send())
            twilio = stand_in_state()
        app = make_app(f"sqlite:///{tmp / 'bench.db'}", twilio_base)
        client = app.test_client()
        voice, texts = Meter(FlaskClientTransport(client)), Meter(FlaskClientTransport(client))
        for _ in range(5):  # warm-up: caches, provider, first-time imports
            call(voice)
            conversation(texts, twilio)
        voice.clear()
        texts.clear()
        broken, contacts = 0, []
        for _ in range(rounds):
            broken += not call(voice)
            contacts.append(conversation(texts, twilio))
        open_ones, short = verify(app, contacts)
    send = "the Twilio REST stand-in over HTTP" if stand_in else "stubbed at the provider"
    print(f"in-process (Flask test client, SQLite), one turn at a time; sends {send}")
    print(voice.line("voice turns"))
    print(texts.line("message turns"))
    v_cpu, m_cpu = statistics.median(voice.cpu), statistics.median(texts.cpu)
    v_rate, m_rate = len(voice.wall) / sum(voice.wall), len(texts.wall) / sum(texts.wall)
    verdict = "met" if m_cpu <= v_cpu else "NOT met"
    print(
        f"  message/voice: CPU {m_cpu / v_cpu:.2f}x, throughput {m_rate / v_rate:.2f}x "
        f"(goal: a message turn costs no more than a voice turn: {verdict})"
    )
    print(
        f"  broken calls {broken}; conversations not ended {open_ones}, with a message missing {short}; "
        f"HTTP errors {voice.failures + texts.failures}"
    )
    return {"voice_cpu_ms": v_cpu * 1000, "message_cpu_ms": m_cpu * 1000, "voice_rate": v_rate, "message_rate": m_rate}


def main(argv: list[str] | None = None) -> None:
    """Parse the options and run."""
    parser = argparse.ArgumentParser(description="Message turns beside voice turns: CPU per turn and turns/s.")
    parser.add_argument("--rounds", type=int, default=200, help="calls and conversations (5 turns each)")
    parser.add_argument("--quick", action="store_true", help="a short run (40 rounds)")
    parser.add_argument("--stand-in", action="store_true", help="send through the Twilio REST stand-in")
    args = parser.parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    run(40 if args.quick else args.rounds, args.stand_in)


if __name__ == "__main__":
    main()
