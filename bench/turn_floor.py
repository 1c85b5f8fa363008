"""What a webhook turn cannot do without, timed part by part beside the bare route.

Whatever the framework, a Twilio turn must check the request's signature, parse its form, run
the flow engine one step (which renders the TwiML), and in the database lock the call's row,
write the new state with the turn's steps and commit. This bench captures those inputs from a
real simulated call (the same flow as `bench/webhooks.py`), then times each part alone, one at
a time, with no Flask, no SQLAlchemy session and the driver called directly with the hot
path's own SQL (`services.call_store`'s statements, prepared). Beside them it times the bare
route's whole request through the Flask test client, as `bench/webhooks.py`'s in-process
figure does.

The parts' sum is a floor: a turn through the same client costs at least the bare request plus
these parts, so ``bare / (bare + parts)`` is a ceiling on the in-process turn/bare ratio with
nothing else done at all (no ORM session, no step rows or JSON built, no call context, no
idempotency check). PostgreSQL's figure is one turn at a time, as the in-process bench runs;
under gunicorn the server CPU it prints counts as well (both share the machine's cores).

The parts are timed interleaved, round after round (the machine's speed drifts), and each
part's median round is reported.

Run: ``.venv/bin/python bench/turn_floor.py`` (``--pg URL``: the server a scratch database is
created on; ``--rounds N``, ``--repeat N``: calls of each part per round).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from werkzeug.datastructures import MultiDict  # noqa: E402

from bench.webhook_load import bare_request, cpu_seconds, postgres_pids, run_calls  # noqa: E402
from bench.webhooks import in_process_app  # noqa: E402
from sim import FlaskClientTransport  # noqa: E402


@dataclass
class Captured:
    """Inputs of the turns of real calls: their requests, engine calls and database writes."""

    requests: list[tuple[str, dict[str, str], str]] = field(default_factory=list)  # url, form, signature
    engine: list[tuple[Any, ...]] = field(default_factory=list)  # run_turn's arguments
    persists: list[tuple[Any, ...]] = field(default_factory=list)  # persist_turn's arguments


def capture(app: Any, calls: int = 3) -> Captured:
    """Run `calls` bench calls through the test client, recording what each turn was given."""
    import services.call_flow as call_flow
    import services.call_turns as call_turns

    got = Captured()
    real_run_turn, real_persist = call_flow.run_turn, call_turns.persist_turn

    def run_turn(*args: Any) -> Any:
        got.engine.append(args)
        return real_run_turn(*args)

    def persist_turn(*args: Any) -> None:
        got.persists.append(args[:4])  # the turn's own rows; its analytics rollups are no part of the floor
        real_persist(*args)

    class Recording(FlaskClientTransport):
        def post(self, url: str, params: Any, headers: Any) -> Any:
            if "/ivr-" in url:
                got.requests.append((url, dict(params), headers["X-Twilio-Signature"]))
            return super().post(url, params, headers)

    call_flow.run_turn, call_turns.persist_turn = run_turn, persist_turn
    try:
        client = app.test_client()
        run_calls("http://localhost", lambda: Recording(client), calls, 1, 60)
    finally:
        call_flow.run_turn, call_turns.persist_turn = real_run_turn, real_persist
    return got


def per_call(work: Callable[[int], Any], count: int, pids: list[int] | None = None) -> tuple[float, float, float]:
    """(wall, this process's CPU, `pids`' CPU) in µs per call of work(i) for i < count."""
    before = cpu_seconds(pids) if pids else 0.0
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(count):
        work(i)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    other = (cpu_seconds(pids) - before) if pids else 0.0
    return 1e6 * wall / count, 1e6 * cpu / count, 1e6 * other / count


def bare_route(app: Any) -> Callable[[int], Any]:
    """The bare route's whole request through the test client, as `bench/webhooks.py` posts it."""
    client = FlaskClientTransport(app.test_client())
    url, form, headers = bare_request("http://localhost")
    return lambda _i: client.post(url, form, headers)


def signature_check(app: Any, got: Captured) -> Callable[[int], Any]:
    """The Twilio provider's own check of a captured request's signature."""
    from upstream.webhook_orgs import webhook_org

    with app.app_context():
        _org, provider = webhook_org("bench")
    requests = [(url, MultiDict(form), signature) for url, form, signature in got.requests]

    def check(i: int) -> None:
        url, form, signature = requests[i % len(requests)]
        if not provider.validate_webhook(url, form, signature):
            raise RuntimeError(f"captured signature does not validate for {urlsplit(url).path}")

    return check


def form_parse(got: Captured) -> Callable[[int], Any]:
    """A captured request's url-encoded body into a MultiDict, as the front door reads it."""
    bodies = [urlencode(list(form.items())) for _, form, _ in got.requests]
    return lambda i: MultiDict(parse_qsl(bodies[i % len(bodies)], keep_blank_values=True))


def engine_turn(got: Captured) -> Callable[[int], Any]:
    """One engine turn (its TwiML rendered) on a captured turn's inputs."""
    from flows import run_turn

    turns = got.engine
    return lambda i: run_turn(*turns[i % len(turns)])


def _statements(app: Any) -> dict[str, tuple[str, dict[str, Any], list[Any]]]:
    """The hot path's statements as prepared for the app's database: (SQL, bind processors, result processors)."""
    from services.call_store import _LOCK, _PG_PERSIST, _SESSION_UPDATE, _STEP_INSERT, _TOUCH, _TURN_INSERT

    with app.app_context():
        from extensions import db

        dialect = db.engine.dialect
        statements = {"touch": _TOUCH["id"], "lock": _LOCK["id"]}
        if dialect.name == "postgresql":
            statements["persist"] = _PG_PERSIST
        else:
            statements.update(step=_STEP_INSERT, turn=_TURN_INSERT, session=_SESSION_UPDATE)
        return {name: statement._prepare(dialect) for name, statement in statements.items()}


def _bound(binds: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
    return {k: (binds[k](v) if k in binds else v) for k, v in params.items()}


def _persist_params(got: Captured, count: int) -> list[tuple[str, dict, dict, list[dict], str]]:
    """`count` persists of the captured turns, each with a turn number of its own (CallTurn is unique per turn)."""
    from datetime import datetime

    out = []
    for i in range(count):
        values, turn_row, rows, steps_json = got.persists[i % len(got.persists)]
        turn = {f"t_{k}": v for k, v in turn_row.items()} | {"t_turn": 10_000 + i}
        steps = [{**row, "at": datetime.fromisoformat(row["at"])} for row in rows]
        out.append((values["s_id"], values, turn, steps, steps_json))
    return out


def sqlite_turn(app: Any, path: str, got: Captured, count: int) -> tuple[Callable[[int], Any], Callable[[], None]]:
    """Lock, persist and commit one turn with sqlite3 itself (up to `count` of them), and how to close it."""
    sql = _statements(app)
    touch, lock, step_insert, turn_insert, update = (sql[k] for k in ("touch", "lock", "step", "turn", "session"))
    work = []
    for sid, values, turn, steps, _json in _persist_params(got, count):
        work.append(
            (sid, _bound(update[1], values), _bound(turn_insert[1], turn), [_bound(step_insert[1], s) for s in steps])
        )
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")

    todo = iter(work)

    def turn(_i: int) -> None:
        sid, values, turn_params, steps = next(todo)
        conn.execute("BEGIN")
        conn.execute(touch[0], {"key": sid})
        conn.execute(lock[0], {"key": sid}).fetchone()
        for row in steps:
            conn.execute(step_insert[0], row)
        conn.execute(turn_insert[0], turn_params)
        conn.execute(update[0], values)
        conn.execute("COMMIT")

    return turn, conn.close


def postgres_turn(
    app: Any, url: str, got: Captured, count: int
) -> tuple[Callable[[int], Any], Callable[[], None], list[int]]:
    """Lock, persist and commit one turn with psycopg itself (prepared; 4 round trips), up to `count` of them;
    how to close the connection, and its server process."""
    import psycopg

    sql = _statements(app)
    lock, persist = sql["lock"], sql["persist"]
    work = []
    for sid, values, turn, _steps, steps_json in _persist_params(got, count):
        work.append((sid, _bound(persist[1], {**values, **turn, "steps": steps_json})))
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    before = set(postgres_pids())
    conn = psycopg.connect(conninfo, prepare_threshold=0)
    backend = [pid for pid in postgres_pids() if pid not in before] or postgres_pids()

    todo = iter(work)

    def turn(_i: int) -> None:
        sid, params = next(todo)
        with conn.cursor() as cur:
            cur.execute(lock[0], {"key": sid})
            cur.fetchone()
            cur.execute(persist[0], params)
        conn.commit()

    return turn, conn.close, backend


def report(bare: float, parts: dict[str, float], database: str, db_us: float) -> None:
    """The floor on one database, and the ceiling it puts on the ratio."""
    floor = sum(parts.values()) + db_us
    print(f"  {'database: ' + database:<50} {db_us:8.1f} µs")
    print(f"  {'parts in all':<50} {floor:8.1f} µs = {floor / bare:.0%} of the bare request")
    print(f"  ceiling of the turn/bare ratio with nothing else done: {bare / (bare + floor):.1%} (goal >= 50%)")


def measure(parts: dict[str, tuple[Callable[[int], Any], list[int] | None]], rounds: int, per: int) -> dict[str, list]:
    """Each part `per` times a round, the parts one after the other in each of `rounds` rounds
    (the machine's speed drifts: interleaved, every part sees the same drift); medians of the
    rounds' (wall, CPU, other CPU) µs per call."""
    got: dict[str, list[tuple[float, float, float]]] = {name: [] for name in parts}
    for work, _ in parts.values():
        work(-1)  # warm-up
    for _ in range(rounds):
        for name, (work, pids) in parts.items():
            got[name].append(per_call(work, per, pids))
    return {name: [statistics.median(values) for values in zip(*runs, strict=True)] for name, runs in got.items()}


def main(argv: list[str] | None = None) -> None:
    """Capture a call's turns on SQLite and on scratch PostgreSQL, then time the parts, interleaved."""
    parser = argparse.ArgumentParser(
        description="A webhook turn's irreducible parts, timed alone beside the bare route."
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=400, help="calls of each part per round")
    parser.add_argument(
        "--pg", default=os.environ.get("BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    rounds, per = args.rounds, args.repeat
    total = rounds * per + 1
    tmp = Path(tempfile.mkdtemp(prefix="phonetree-floor-"))
    admin = make_url(args.pg)
    name = f"phonetree_floor_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    closers: list[Callable[[], None]] = []
    pg = None
    try:
        path = str(tmp / "floor.db")
        lite = in_process_app(f"sqlite:///{path}")
        got = capture(lite)
        with admin_engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = admin.set(database=name).render_as_string(hide_password=False)
        pg = in_process_app(url)
        got_pg = capture(pg)
        sqlite_work, close = sqlite_turn(lite, path, got, total)
        closers.append(close)
        pg_work, close, backend = postgres_turn(pg, url, got_pg, total)
        closers.append(close)
        with lite.app_context():
            times = measure(
                {
                    "bare": (bare_route(lite), None),
                    "signature check (the provider's, one HMAC)": (signature_check(lite, got), None),
                    "form parse": (form_parse(got), None),
                    "flow engine turn with its TwiML": (engine_turn(got), None),
                    "sqlite": (sqlite_work, None),
                    "postgresql": (pg_work, backend),
                },
                rounds,
                per,
            )
        bare = times.pop("bare")[0]
        lite_wall = times.pop("sqlite")[0]
        pg_wall, pg_client, pg_server = times.pop("postgresql")
        parts = {label: cpu for label, (_wall, cpu, _other) in times.items()}
        print(f"A turn's parts, one at a time ({len(got.requests)} turns captured; median of {rounds} rounds of {per})")
        print(f"  {'bare route, whole request (Flask test client)':<50} {bare:8.1f} µs")
        for label, us in parts.items():
            print(f"  {label:<50} {us:8.1f} µs")
        print("SQLite (lock, steps, turn, session, commit: sqlite3 itself)")
        report(bare, parts, "SQLite", lite_wall)
        print(
            f"PostgreSQL (lock, persist, commit: psycopg itself; CPU client {pg_client:.1f}, server {pg_server:.1f} µs)"
        )
        report(bare, parts, "PostgreSQL (wall)", pg_wall)
    finally:
        for close in closers:
            close()
        if pg is not None:
            with pg.app_context():
                from extensions import db

                db.engine.dispose()
        with admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
