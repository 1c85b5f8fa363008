"""Benchmark of text-conversation turns beside voice turns, in one run of one app.

In-process (Flask test client, scratch SQLite, one request at a time): whole calls of the
voice flow of `bench/webhooks.py` (5 turns each), then whole conversations of the same logic
over texts (a menu, an account number, a second menu, a rating: 5 inbound messages each)
through the signed ``sms`` webhook, sending stubbed (recorded, as `flask message simulate`
does). Prints each kind's turns per second and latency and the ratio message/voice (goal: a
message turn costs no more than a voice turn, ratio >= 100%), then counts every conversation's
steps and inbound messages: none may be lost or doubled. (Timers fired per second by one worker
are the timer worker's own benchmark.)

Run: ``.venv/bin/python bench/messaging.py [--conversations 200]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from twilio.request_validator import RequestValidator  # noqa: E402

from bench.webhook_load import ACCOUNT_SID, AUTH_TOKEN, pct, run_calls  # noqa: E402
from bench.webhooks import FLOW, in_process_app  # noqa: E402
from sim import FlaskClientTransport  # noqa: E402

TEXT_NUMBER = "+15550009999"
SCRIPT = ("hi", "1", "12345", "1", "5")  # opens the conversation, then answers each wait
STEPS_PER_CONVERSATION = 9


def texting_flow() -> dict:
    """The voice flow's logic, for texts: the same nodes, serving messaging."""
    return {**FLOW, "settings": {"channels": ["messaging"]}}


def seed_texts(app) -> None:
    """The messaging flow on TEXT_NUMBER (org `bench`, seeded by `bench.webhooks.seed`)."""
    from extensions import db
    from models import Organization, PhoneNumber
    from services.flow_revisions import create_flow, publish

    with app.app_context():
        org = Organization.by_slug("bench")
        flow = create_flow(org, None, "Bench texts", texting_flow())
        publish(org, None, flow)
        db.session.add(
            PhoneNumber(
                org_id=org.id, phone_number=TEXT_NUMBER, mode="voice", messaging_flow_id=flow.id, capabilities={}
            )
        )
        db.session.commit()


def conversations(client, count: int) -> list[float]:
    """`count` whole conversations, one text at a time; the latency of each inbound text (seconds)."""
    path = "/connect/webhook/twilio/sms?orgid=bench"
    validator = RequestValidator(AUTH_TOKEN)
    latencies: list[float] = []
    for i in range(count):
        contact = f"+1555{i:07d}"
        for body in SCRIPT:
            sid = "SM" + uuid.uuid4().hex
            form = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "From": contact, "To": TEXT_NUMBER, "Body": body}
            headers = {"X-Twilio-Signature": validator.compute_signature("http://localhost" + path, form)}
            started = time.perf_counter()
            response = client.post(path, data=form, headers=headers)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise SystemExit(f"text {body!r} of conversation {i} answered {response.status_code}")
    return latencies


def verify(url: str, count: int) -> tuple[int, int, int]:
    """(conversations with lost steps, inbound messages not stored once, conversations not ended)."""
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.id, s.step_count, s.ended_at IS NOT NULL, COUNT(c.id) FROM call_session s "
                "LEFT JOIN call_step c ON c.session_id = s.id WHERE s.channel = 'messaging' GROUP BY s.id"
            )
        ).all()
        inbound = conn.execute(
            text("SELECT COUNT(*), COUNT(DISTINCT sid) FROM message WHERE direction = 'inbound'")
        ).one()
    engine.dispose()
    lost = sum(1 for _, declared, _, counted in rows if declared != counted or counted != STEPS_PER_CONVERSATION)
    lost += count - len(rows)
    doubled = abs(inbound[0] - count * len(SCRIPT)) + (inbound[0] - inbound[1])
    open_ = sum(1 for _, _, ended, _ in rows if not ended)
    return lost, doubled, open_


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=200)
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="phonetree-bench-msg-"))
    try:
        url = f"sqlite:///{tmp / 'bench.db'}"
        app = in_process_app(url)
        app.config["PHONETREE_MESSAGES_DRY_RUN"] = True
        seed_texts(app)
        client = app.test_client()
        run_calls("http://localhost", lambda: FlaskClientTransport(client), 5, 1, 60)  # warm-up
        conversations(client, 5)
        voice = run_calls("http://localhost", lambda: FlaskClientTransport(client), args.conversations, 1, 600).turns
        texts = conversations(client, args.conversations)
        print(f"in-process (Flask test client, SQLite, one request at a time), {args.conversations} of each:")
        for name, values in (("voice turns", voice), ("message turns", texts)):
            rate = len(values) / sum(values) if values else 0.0
            print(f"  {name:<14} {rate:8.1f}/s  p50 {pct(values, 0.5):7.2f} ms  p99 {pct(values, 0.99):7.2f} ms")
        ratio = (len(texts) / sum(texts)) / (len(voice) / sum(voice)) if texts and voice else 0.0
        print(f"  throughput ratio message/voice: {ratio:.1%} (goal >= 100%: a text costs no more than a voice turn)")
        lost, doubled, open_ = verify(url, args.conversations + 5)
        print(f"  conversations with lost steps: {lost}; inbound texts lost or doubled: {doubled}; not ended: {open_}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
