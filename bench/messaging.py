"""Benchmark of messaging, in sections run by `main`: each is a function that prints its figures
and returns them.

- `timers_section`: durable timers scheduled and fired by one worker. N timers (10,000 by
  default) are scheduled from this process in transactions of ``--batch``, all due at one
  instant, while one worker process (`flask --app app worker`, one queue thread, its sweep beside
  it) runs; every firing is recorded by the bench's handler in a file. It prints timers scheduled
  per second, the delay from the due time to the first firing, timers fired per second (from the
  due time to the last firing), and how many were lost (never fired) or doubled (fired more than
  once): the goal is 0 and 0.
- `turns_section`: text-conversation turns beside voice turns, in one run on one app. One
  published flow serves both channels (bench/webhooks.py's FLOW: a menu, an account number, a
  second menu, a rating, goodbye), on one number. Each conversation and each call is 5 turns: a
  **voice turn** is a signed ``ivr-menu`` webhook of a simulated call (`sim.CallerSimulator`, as
  `bench.webhook_load.run_calls` drives it); a **message turn** is a signed ``sms`` webhook of a
  contact's text (``hi``, ``1``, ``1234``, ``1``, ``5``), posted as Twilio posts it (the
  stand-in's `receive_message`), which runs the conversation's turn, sends the flow's reply and
  writes its timers (the durable ``timer`` rows, in the turn's transaction). The send is stubbed:
  by default at the provider (`TwilioProvider.send_message` answers at once, so the whole send
  path up to the REST call runs), or with ``--stand-in`` through the Twilio REST stand-in
  (`upstream.twilio_fake`) over HTTP. Both run in-process through the Flask test client on a
  scratch SQLite database, one turn at a time, interleaved (a call, then a conversation, ...) so
  both see the same machine. Per turn we read the process's CPU time and the wall time; the
  report gives the median CPU ms per turn and the turns per second (1 / mean wall time) of each,
  and their ratio. Goal: a message turn costs no more than a voice turn. The verdict is paired
  by round (`round_ratios`): each round's conversation's mean CPU per turn over its call's, so
  the machine's drift over the run (other processes, CPU frequency) weighs on both sides of a
  ratio alike; it reports the median of those ratios with a 95% bootstrap interval over the
  rounds (`bootstrap_interval`), and says "met" only when the interval's upper bound is at most
  1.00 (a difference inside the noise is "NOT met"). Every conversation is checked afterwards:
  5 messages in, 5 out, ended.

Run: ``.venv/bin/python bench/messaging.py`` (``--quick`` for 1,000 timers and 40 rounds,
``--section timers|turns`` for one section, ``--queue redis`` for the timers on the machine's
Redis, ``--rounds N``, ``--stand-in``).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from services import timers  # noqa: E402

KIND = "bench.timer"
REDIS_URL = "redis://127.0.0.1:6379/0"


def record_firing(payload: dict) -> None:
    """The bench's timer handler (run in the worker): one line per firing, the timer's id and when."""
    fd = os.open(payload["file"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, f"{payload['id']} {time.time():.6f}\n".encode())
    finally:
        os.close(fd)


timers.register(KIND, record_firing)


@dataclass(frozen=True)
class TimerRun:
    count: int
    scheduled_per_second: float
    first_delay: float  # seconds from the due time to the first firing
    fired_per_second: float
    lost: int
    doubled: int
    left: int  # timer rows still in the table


def _environment(tmp: Path, database_url: str, tasks_url: str, tasks_name: str) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "PHONETREE_INSTANCE_PATH": str(tmp / "instance"),
        "SECRET_KEY": "bench-" + "x" * 40,
        "PHONETREE_ENCRYPTION_KEYS": Fernet.generate_key().decode(),
        "PHONETREE_TASKS_URL": tasks_url,
        "PHONETREE_TASKS_NAME": tasks_name,
        "PHONETREE_TIMER_HANDLERS": "bench.messaging",
        "LOG_LEVEL": "WARNING",
    }


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "flask", "--app", "app", "worker", "--threads", "1"]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while "Phonetree worker:" not in log.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the worker did not start:\n{log.read_text()}")
        time.sleep(0.1)
    return proc


def timer_throughput(count: int, batch: int = 500, queue: str = "sqlite", lead: float = 5.0) -> TimerRun:
    """Schedule ``count`` timers due together, let one worker fire them, and check each fired once."""
    from flask_migrate import upgrade

    from app import create_app
    from extensions import db
    from models import Timer

    tmp = Path(tempfile.mkdtemp(prefix="phonetree-bench-timers-"))
    tasks_name = f"bench-{uuid.uuid4().hex[:8]}"
    tasks_url = f"sqlite:///{tmp / 'tasks.db'}" if queue == "sqlite" else REDIS_URL
    env = _environment(tmp, f"sqlite:///{tmp / 'bench.db'}", tasks_url, tasks_name)
    fired_log = tmp / "fired.log"
    worker = None
    try:
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": env["DATABASE_URL"],
                "SECRET_KEY": env["SECRET_KEY"],
                "ENCRYPTION_KEYS": [env["PHONETREE_ENCRYPTION_KEYS"]],
                "TASKS_URL": tasks_url,
                "TASKS_NAME": tasks_name,
            }
        )
        with app.app_context():
            upgrade()
        worker = _start_worker(env, tmp / "worker.log")
        # all due `lead` seconds from now, or when the last one is scheduled if that takes longer
        due = datetime.now(UTC) + timedelta(seconds=lead)
        started = time.perf_counter()
        with app.app_context():
            for first in range(0, count, batch):
                for i in range(first, min(first + batch, count)):
                    timers.schedule(KIND, f"t{i}", {"file": str(fired_log), "id": i}, due)
                db.session.commit()
        scheduled_per_second = count / (time.perf_counter() - started)
        deadline = time.monotonic() + max(lead, 0) + 120 + count / 100
        while _lines(fired_log) < count and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # anything fired twice would show by now
        ids, stamps = [], []
        for line in fired_log.read_text().splitlines() if fired_log.exists() else []:
            ident, stamp = line.split()
            ids.append(int(ident))
            stamps.append(float(stamp))
        start = max(due.timestamp(), min(stamps)) if stamps else due.timestamp()
        with app.app_context():
            left = db.session.query(Timer).count()
            db.session.remove()
            db.engine.dispose()
        return TimerRun(
            count=count,
            scheduled_per_second=scheduled_per_second,
            first_delay=(min(stamps) - due.timestamp()) if stamps else float("nan"),
            fired_per_second=len(set(ids)) / max(max(stamps) - start, 1e-6) if stamps else 0.0,
            lost=count - len(set(ids)),
            doubled=len(ids) - len(set(ids)),
            left=left,
        )
    finally:
        if worker is not None and worker.poll() is None:
            worker.send_signal(signal.SIGINT)
            try:
                worker.wait(30)
            except subprocess.TimeoutExpired:
                worker.kill()
        if queue != "sqlite":
            _drop_redis_queue(tasks_name)
        shutil.rmtree(tmp, ignore_errors=True)


def _lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def _drop_redis_queue(name: str) -> None:
    import redis

    conn = redis.Redis.from_url(REDIS_URL)
    for key in conn.scan_iter(match=f"*{name}*"):
        conn.delete(key)
    conn.close()


def timers_section(count: int, batch: int, queue: str) -> TimerRun:
    """Print the timer figures of one run."""
    run = timer_throughput(count, batch, queue)
    print(f"timers: {run.count} scheduled (transactions of {batch}), fired by one worker process, queue {queue}")
    print(f"  scheduled: {run.scheduled_per_second:,.0f} timers/s")
    print(f"  first firing {run.first_delay:.2f} s after the due time")
    print(f"  fired: {run.fired_per_second:,.0f} timers/s")
    print(f"  lost: {run.lost}; doubled: {run.doubled}; rows left: {run.left} (goal 0, 0, 0)")
    return run


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
    from bench.webhook_load import NUMBER
    from bench.webhooks import FLOW, add_bare_route, seed
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
    from bench.webhook_load import run_calls

    return len(run_calls(BASE, lambda: meter, 1, 1, 600).sids) == 1


def conversation(meter: Meter, twilio: Any) -> str:
    """One contact's conversation of 5 texts, each posted signed by the Twilio stand-in's state
    `twilio` (`receive_message`, as Twilio posts an inbound text); the contact's number."""
    from bench.webhook_load import ACCOUNT_SID, NUMBER
    from upstream.twilio_fake.messaging import receive_message

    contact = f"+1556{uuid.uuid4().int % 10**7:07d}"
    for body in TEXTS:
        receive_message(twilio, ACCOUNT_SID, NUMBER, contact, body, post=meter.post)
    return contact


def stand_in_state(state: Any = None) -> Any:
    """The stand-in's state with the bench account owning NUMBER, whose SMS URL is the sms webhook."""
    from bench.webhook_load import ACCOUNT_SID, AUTH_TOKEN, NUMBER
    from sim import webhook_url
    from upstream.twilio_fake import FakeTwilioState

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


def round_ratios(voice: list[list[float]], texts: list[list[float]]) -> list[float]:
    """Per round, the conversation's mean CPU per turn over the call's (the rounds paired in order)."""
    return [statistics.fmean(t) / statistics.fmean(v) for v, t in zip(voice, texts, strict=True) if v and t]


def bootstrap_interval(
    values: list[float], level: float = 0.95, resamples: int = 2000, seed: int = 17
) -> tuple[float, float, float]:
    """The median of `values` and a percentile bootstrap interval of it: `resamples` draws of as
    many values with replacement, their medians' (1 - level) / 2 and (1 + level) / 2 quantiles
    (a fixed seed: the same figures give the same interval)."""
    draw = random.Random(seed).choices
    medians = sorted(statistics.median(draw(values, k=len(values))) for _ in range(resamples))
    low = medians[int((1 - level) / 2 * resamples)]
    high = medians[min(int((1 + level) / 2 * resamples), resamples - 1)]
    return statistics.median(values), low, high


def turns_section(rounds: int, stand_in: bool) -> dict[str, float]:
    """Interleaved calls and conversations; prints and returns the figures."""
    from bench.webhook_load import ACCOUNT_SID, AUTH_TOKEN
    from sim import FlaskClientTransport

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
        broken, contacts, by_round = 0, [], []
        for _ in range(rounds):
            v0, t0 = len(voice.cpu), len(texts.cpu)
            broken += not call(voice)
            contacts.append(conversation(texts, twilio))
            by_round.append((voice.cpu[v0:], texts.cpu[t0:]))
        open_ones, short = verify(app, contacts)
    send = "the Twilio REST stand-in over HTTP" if stand_in else "stubbed at the provider"
    print(f"in-process (Flask test client, SQLite), one turn at a time; sends {send}")
    print(voice.line("voice turns"))
    print(texts.line("message turns"))
    v_cpu, m_cpu = statistics.median(voice.cpu), statistics.median(texts.cpu)
    v_rate, m_rate = len(voice.wall) / sum(voice.wall), len(texts.wall) / sum(texts.wall)
    ratio, low, high = bootstrap_interval(round_ratios([v for v, _ in by_round], [t for _, t in by_round]))
    verdict = "met" if high <= 1.0 else "NOT met"
    print(f"  message/voice: CPU {m_cpu / v_cpu:.2f}x (medians), throughput {m_rate / v_rate:.2f}x")
    print(
        f"  per round (a conversation's mean CPU per turn / its call's): median {ratio:.3f}x, "
        f"95% bootstrap interval {low:.3f}-{high:.3f} over {len(by_round)} rounds "
        f"(goal: a message turn costs no more than a voice turn, upper bound <= 1.00: {verdict})"
    )
    print(
        f"  broken calls {broken}; conversations not ended {open_ones}, with a message missing {short}; "
        f"HTTP errors {voice.failures + texts.failures}"
    )
    return {
        "voice_cpu_ms": v_cpu * 1000,
        "message_cpu_ms": m_cpu * 1000,
        "voice_rate": v_rate,
        "message_rate": m_rate,
        "round_ratio": ratio,
        "round_ratio_low": low,
        "round_ratio_high": high,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Messaging: timers per second, message turns beside voice turns.")
    parser.add_argument("--quick", action="store_true", help="a short run (1,000 timers, 40 rounds)")
    parser.add_argument("--section", choices=("timers", "turns"), action="append", help="run only these sections")
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="timers scheduled per transaction")
    parser.add_argument("--queue", choices=("sqlite", "redis"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=200, help="calls and conversations (5 turns each)")
    parser.add_argument("--stand-in", action="store_true", help="send texts through the Twilio REST stand-in")
    args = parser.parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sections = args.section or ["timers", "turns"]
    failed = False
    if "timers" in sections:
        run = timers_section(1_000 if args.quick else args.timers, args.batch, args.queue)
        failed |= bool(run.lost or run.doubled or run.left)
    if "turns" in sections:
        turns_section(40 if args.quick else args.rounds, args.stand_in)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
