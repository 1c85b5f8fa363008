"""Benchmark of Twilio webhook turns: whole simulated calls, against a bare constant-TwiML route.

Each setup is measured beside a bare Flask route answering a constant TwiML document (same
app, transport and run), and reported as a ratio of throughputs:

1. in-process: the Flask test client, one call at a time, on a scratch SQLite database;
2. gunicorn, 2 workers, on a scratch PostgreSQL database (created and dropped here), driven
   over HTTP by a thread pool of caller simulators: first closed-loop (each thread starts its
   next call at once: the saturated throughput), then open-loop ladders of new calls per
   second (the sustained rate and its latency). A call is 5 webhook turns plus its status
   callback. The server's CPU time per turn is read from /proc.

Afterwards every call's steps are counted in the database: none may be lost.

Run: ``.venv/bin/python bench/webhooks.py`` (``--quick`` for a short run; ``--rates 50,100``
``--seconds 10`` for the ladder; ``--pg URL`` names the server the scratch database is created
on, default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``; ``--no-gunicorn``, ``--no-in-process``;
``--open-threads`` simulators in the ladder).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.webhook_load import (  # noqa: E402
    ACCOUNT_SID,
    AUTH_TOKEN,
    NUMBER,
    STEPS_PER_CALL,
    Run,
    cpu_seconds,
    pct,
    postgres_pids,
    process_tree,
    run_bare,
    run_calls,
)
from sim import FlaskClientTransport, HttpTransport  # noqa: E402

# gunicorn's default sync worker, as README's production command runs it: one request at a time
# per worker measured fastest here (threads in one worker contend for its GIL and its database
# connection's round trips). BENCH_WORKER_CLASS=gthread BENCH_WORKER_THREADS=4 compares.
WORKER_CLASS = os.environ.get("BENCH_WORKER_CLASS", "sync")
WORKER_THREADS = int(os.environ.get("BENCH_WORKER_THREADS", "4"))
WORKER_ARGS = ["-k", WORKER_CLASS] + (["--threads", str(WORKER_THREADS)] if WORKER_CLASS == "gthread" else [])

BARE_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Gather action="/bench/bare" input="dtmf" numDigits="1">'
    "<Say>Press 1 for sales.</Say></Gather><Redirect>/bench/bare</Redirect></Response>"
)


def _node(node_id: str, node_type: str, props: dict, **outcomes: str) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "name": node_id, "props": props, "outcomes": outcomes}


FLOW = {
    "spec": "phonetree/1",
    "start": "main",
    "settings": {},
    "nodes": [
        _node(
            "main",
            "menu",
            {"prompt": {"say": "Press 1 for accounts."}, "options": [{"digit": "1"}]},
            **{"1": "account", "fallback": "bye"},
        ),
        _node(
            "account",
            "collect_input",
            {"prompt": {"say": "Enter your account number, then hash."}, "variable": "account", "digits_only": True},
            success="confirm",
            invalid="bye",
            no_input="bye",
        ),
        _node(
            "confirm",
            "menu",
            {"prompt": {"say": "Account {{ vars.account }}. Press 1 to rate us."}, "options": [{"digit": "1"}]},
            **{"1": "rate", "fallback": "bye"},
        ),
        _node(
            "rate",
            "collect_input",
            {"prompt": {"say": "From 1 to 5, then hash."}, "variable": "rating", "max_length": 1},
            success="bye",
            invalid="bye",
            no_input="bye",
        ),
        _node("bye", "hangup", {"say": "Thank you, goodbye."}),
    ],
}


def bench_app():
    """The app as gunicorn runs it, plus the bare route (``bench.webhooks:bench_app()``)."""
    from app import create_app

    app = create_app()
    add_bare_route(app)
    return app


def add_bare_route(app) -> None:
    """POST /bench/bare: a constant TwiML document, the floor any webhook is compared with."""
    from flask import Response

    from extensions import csrf

    def bare():
        return Response(BARE_TWIML, content_type="text/xml; charset=utf-8")

    app.add_url_rule("/bench/bare", "bench_bare", bare, methods=["POST"])
    csrf.exempt(bare)


def seed(app) -> None:
    """Migrate, then create org `bench` with Twilio connected and the flow on NUMBER."""
    from flask_migrate import upgrade

    from extensions import db
    from models import PhoneNumber
    from services.accounts import ensure_org
    from services.flow_revisions import create_flow, publish
    from upstream.integrations import save_integration

    with app.app_context():
        upgrade()
        org = ensure_org("bench", "Bench")
        config = {
            "accountSid": ACCOUNT_SID,
            "authToken": AUTH_TOKEN,
            "appSid": "AP" + "d" * 32,
            "apiKey": "SK" + "e" * 32,
            "apiKeySecret": "f" * 32,
        }
        save_integration(org, "TwilioProvider", "Bench", config, verify=False)
        flow = create_flow(org, None, "Bench flow", FLOW)
        publish(org, None, flow)
        db.session.add(PhoneNumber(org_id=org.id, phone_number=NUMBER, mode="ivr", flow_id=flow.id, capabilities={}))
        db.session.commit()


def verify_steps(database_url: str, sids: list[str], per_call: int) -> tuple[int, int]:
    """(calls whose step log is incomplete, calls not marked completed) among `sids`."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.call_sid, s.status, s.step_count, COUNT(c.id) FROM call_session s "
                "LEFT JOIN call_step c ON c.session_id = s.id GROUP BY s.id, s.call_sid, s.status, s.step_count"
            )
        ).all()
    engine.dispose()
    found = {sid: (status, declared, counted) for sid, status, declared, counted in rows}
    lost = sum(1 for sid in sids if sid not in found or found[sid][2] != per_call or found[sid][1] != per_call)
    open_calls = sum(1 for sid in sids if sid in found and found[sid][0] != "completed")
    return lost, open_calls


def hot_share(database_url: str) -> float:
    """The share of call_session's updates PostgreSQL made in place (HOT: no new index entries)."""
    engine = create_engine(database_url)
    with engine.connect() as conn:
        updates, hot = conn.execute(
            text("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'call_session'")
        ).one()
    engine.dispose()
    return hot / updates if updates else 0.0


def report(label: str, calls: Run, bare: Run, sequential: bool = False) -> None:
    """Print turns/s and latency beside the bare route's, and their throughput ratio.

    One request at a time (`sequential`), throughput is 1 / mean latency: the simulator's own
    work between requests is no part of the server's. Concurrent, it is requests per second.
    """

    def rate(run: Run) -> float:
        if sequential:
            return len(run.turns) / sum(run.turns) if run.turns else 0.0
        return run.turn_rate

    for name, run in ((f"{label} turns", calls), ("bare route", bare)):
        p50, p99 = pct(run.turns, 0.5), pct(run.turns, 0.99)
        print(f"  {name:<22} {rate(run):8.1f}/s  p50 {p50:7.2f} ms  p99 {p99:7.2f} ms")
    ratio = rate(calls) / rate(bare) if rate(bare) else 0.0
    print(f"  throughput ratio turn/bare: {ratio:.1%} (goal >= 50%)")


def in_process_app(url: str):
    """The app on database `url` for the Flask test client: migrated, seeded, with the bare route."""
    from app import create_app
    from tests.plugins.db import IsolatedClient

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench-" + "x" * 40,
            "ENCRYPTION_KEYS": [Fernet.generate_key().decode()],
            "PUBLIC_BASE_URL": "http://localhost",
        }
    )
    add_bare_route(app)
    app.test_client_class = IsolatedClient
    seed(app)
    return app


def in_process(calls: int) -> None:
    """Whole calls through the test client, one at a time, on a scratch SQLite database."""
    tmp = Path(tempfile.mkdtemp(prefix="phonetree-bench-"))
    try:
        url = f"sqlite:///{tmp / 'bench.db'}"
        app = in_process_app(url)
        client = app.test_client()

        def transport():
            return FlaskClientTransport(client)

        run_calls("http://localhost", transport, 5, 1, 60)  # warm-up
        full = run_calls("http://localhost", transport, calls, 1, 300)
        bare = run_bare("http://localhost", transport, len(full.turns), 1)
        print(f"in-process (Flask test client, SQLite, one call at a time): {len(full.sids)} calls of 5 turns")
        report("full webhook", full, bare, sequential=True)
        lost, open_calls = verify_steps(url, full.sids, STEPS_PER_CALL)
        print(f"  calls with lost steps: {lost}; calls not completed: {open_calls}; broken calls: {full.broken_calls}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 30) -> None:
    import requests

    end = time.time() + timeout
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            requests.post(url + "/bench/bare", timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start in time")


def _start_gunicorn(url: str, secret: str, keys: str, tmp: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": secret,
        "PHONETREE_ENCRYPTION_KEYS": keys,
        "PUBLIC_BASE_URL": base,
        "LOG_LEVEL": "WARNING",
        "PHONETREE_INSTANCE_PATH": str(tmp),
    }
    gunicorn = str(Path(sys.executable).with_name("gunicorn"))
    proc = subprocess.Popen(
        [gunicorn, "-w", "2", *WORKER_ARGS, "-b", f"127.0.0.1:{port}"]
        + ["--log-level", "warning", "bench.webhooks:bench_app()"],
        cwd=ROOT,
        env=env,
    )
    _wait_up(base, proc)
    return proc, base


def _with_cpu(work: Callable[[], Run], groups: tuple[list[int], list[int], list[int]]) -> tuple[Run, str]:
    """A load run, and the CPU each of its requests cost the server, the simulators and PostgreSQL."""
    before = [cpu_seconds(pids) for pids in groups]
    run = work()
    server, own, pg = (cpu_seconds(pids) - start for pids, start in zip(groups, before, strict=True))
    per = 1000 / max(len(run.turns) + len(run.callbacks), 1)
    busy = (server + own + pg) / run.seconds if run.seconds else 0.0
    return run, (
        f"CPU per request: server {server * per:.2f} ms, simulators {own * per:.2f} ms, "
        f"PostgreSQL {pg * per:.2f} ms; cores busy {busy:.2f}"
    )


def under_gunicorn(admin_url: str, rates: list[float], seconds: float, threads: int, open_threads: int) -> None:
    """Saturated throughput and a ladder of call rates against gunicorn (2 workers) on scratch PostgreSQL."""
    from app import create_app

    admin = make_url(admin_url)
    name = f"phonetree_bench_{os.getpid()}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    keys, secret = Fernet.generate_key().decode(), "bench-" + uuid.uuid4().hex * 2
    tmp = Path(tempfile.mkdtemp(prefix="phonetree-bench-"))
    proc = None
    sids: list[str] = []
    try:
        seed(create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": secret, "ENCRYPTION_KEYS": [keys]}))
        proc, base = _start_gunicorn(url, secret, keys, tmp)
        pids = process_tree(proc.pid)

        def transport():
            return HttpTransport(timeout=10)

        sids += run_calls(base, transport, 20, 4, 30).sids  # warm-up: both workers, caches, connections
        print(
            f"gunicorn -w 2 {' '.join(WORKER_ARGS)} on PostgreSQL; simulators in this process "
            f"({threads} threads closed loop, {open_threads} open loop); {os.cpu_count()} CPUs shared by all"
        )
        groups = (pids, [os.getpid()], postgres_pids())  # server, simulators, PostgreSQL
        full, cpu = _with_cpu(lambda: run_calls(base, transport, 10**6, threads, seconds), groups)
        sids += full.sids
        bare, bare_cpu = _with_cpu(lambda: run_bare(base, transport, len(full.turns), threads), groups)
        print(f"  closed loop, {seconds:g} s: {full.call_rate:.1f} calls/s, HTTP errors {full.failures}, {cpu}")
        print(f"  bare route: {bare_cpu}")
        report("full webhook", full, bare)
        for rate in rates:
            ladder, cpu = _with_cpu(
                lambda rate=rate: run_calls(base, transport, int(rate * seconds), open_threads, seconds * 2 + 10, rate),
                groups,
            )
            print(f"    {cpu}")
            sids += ladder.sids
            ok = ladder.call_rate >= rate * 0.95 and pct(ladder.turns, 0.99) < 100 and not ladder.failures
            print(
                f"  open loop {rate:g} new calls/s for {seconds:g} s: {len(ladder.sids)} calls in "
                f"{ladder.seconds:.1f} s = {ladder.call_rate:.1f} calls/s, turns p50 {pct(ladder.turns, 0.5):.1f} ms "
                f"p99 {pct(ladder.turns, 0.99):.1f} ms, start lag p99 {pct(ladder.lags, 0.99):.0f} ms, "
                f"errors {ladder.failures} -> {'sustained' if ok else 'NOT sustained'}"
            )
        lost, open_calls = verify_steps(url, sids, STEPS_PER_CALL)
        print(f"  {len(sids)} calls checked in the database: {lost} with lost steps, {open_calls} not completed")
        print(f"  call_session updates made in place (HOT): {hot_share(url):.0%}")
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    """Parse the options and run both setups."""
    parser = argparse.ArgumentParser(description="Webhook turns per second and latency, against a bare route.")
    parser.add_argument("--quick", action="store_true", help="a short run")
    parser.add_argument("--calls", type=int, default=200, help="in-process calls")
    parser.add_argument("--rates", default="25,50,100", help="new calls per second to try under gunicorn")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each gunicorn run")
    parser.add_argument("--threads", type=int, default=6, help="simulator threads, closed loop")
    parser.add_argument("--open-threads", type=int, default=24, help="simulator threads, open loop")
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--no-gunicorn", action="store_true")
    parser.add_argument("--no-in-process", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    calls, seconds = (50, 3.0) if args.quick else (args.calls, args.seconds)
    if not args.no_in_process:
        in_process(calls)
    if not args.no_gunicorn:
        rates = [float(r) for r in args.rates.split(",") if r]
        under_gunicorn(args.pg, rates, seconds, args.threads, args.open_threads)


if __name__ == "__main__":
    main()
