"""Benchmark of the analytics readers over the rollups, at 10k, 100k and 1M calls, on PostgreSQL.

1. Creates a scratch database on the server of ``--pg`` (default
   ``postgresql+psycopg://postgres@127.0.0.1:5432/test``; BENCH_DATABASE_URL or TEST_DATABASE_URL
   also name it), migrates it and seeds org ``clinic`` with the clinic-like line of the call tests
   (menu, business-hours branch, transfer, account collect, pay, queue, voicemail recording).
2. Generates calls of realistic shape over the last 30 days (nine paths: transfers answered or
   busy, after-hours voicemail, payments, queue, hang-ups at the menu and at the account prompt,
   invalid input; 0.1% test-user calls on the draft; busier by day than by night), about six
   steps each, and COPYs the sessions and steps straight into the tables (their secondary
   indexes dropped meanwhile and built again afterwards, as a bulk load does). Their rollups
   are counted as they are generated, by the same code as the live path and the rebuild
   (`services.analytics_rollup.call_deltas`), and upserted; up to ``--verify-max`` calls,
   ``analytics rebuild`` then recounts them from the rows and must find the same rollups (its
   time is printed).
3. At each size prints the median time (``--repeat`` requests through the Flask test client,
   signed in as a viewer) of ``/calls/stats?flow=``, ``/flows/<id>/analytics?period=30d`` and,
   when those routes exist, the dashboards ``/flows/<id>/dashboard?period=30d`` and
   ``/dashboard?period=30d`` ("n/a" otherwise). Goals: each < 100 ms at 1M, within 2x of 10k.
4. Prints the webhook turn cost with rollups against without, in the same run: whole simulated
   calls (5 turns and a status callback) through the test client on the same database,
   alternating rounds with ``ANALYTICS_ROLLUPS`` on and off; the process's CPU time per
   webhook. Goal: at most 5% more.

The scratch database is dropped at the end (``--keep`` keeps it).

Run: ``.venv/bin/python bench/analytics.py`` (``--sizes 10000,100000`` to stop before 1M,
``--repeat 15``, ``--rounds 8 --calls-per-round 20`` for the webhook comparison).
"""

from __future__ import annotations

import argparse
import io
import os
import random
import re
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

PASSWORD = "bench-password-123"
NUMBER = "+15550007000"
CHUNK = 20_000  # calls per COPY


class Call(NamedTuple):
    """What `call_deltas` reads of a session."""

    id: str
    org_id: int
    flow_id: int | None
    revision_id: int | None
    phone_number_id: int | None
    started_at: datetime
    end_reason: str | None


# The paths a call takes: (share, steps, end reason). A step is (node, type, event, outcome, seconds
# before it: a fixed number or a (low, high) range).
PATHS: list[tuple[float, list[tuple[str, str, str, str | None, Any]], str]] = [
    (
        0.28,
        [
            ("main", "menu", "enter", None, 0),
            ("main", "menu", "input", "1", (3, 9)),
            ("hours", "business_hours", "enter", "open", 0),
            ("sales", "transfer", "enter", None, 0),
            ("sales", "transfer", "dial", "answered", (40, 400)),
            ("bye", "hangup", "enter", None, 0),
        ],
        "hangup",
    ),
    (
        0.07,
        [
            ("main", "menu", "enter", None, 0),
            ("main", "menu", "input", "1", (3, 9)),
            ("hours", "business_hours", "enter", "open", 0),
            ("sales", "transfer", "enter", None, 0),
            ("sales", "transfer", "dial", "busy", (2, 25)),
            ("closed_vm", "voicemail", "enter", None, 0),
            ("closed_vm", "voicemail", "recording", "recorded", (10, 90)),
        ],
        "voicemail",
    ),
    (
        0.10,
        [
            ("main", "menu", "enter", None, 0),
            ("main", "menu", "input", "1", (3, 9)),
            ("hours", "business_hours", "enter", "closed", 0),
            ("closed_vm", "voicemail", "enter", None, 0),
            ("closed_vm", "voicemail", "recording", "recorded", (10, 90)),
        ],
        "voicemail",
    ),
    (
        0.20,
        [
            ("main", "menu", "enter", None, 0),
            ("main", "menu", "input", "2", (3, 9)),
            ("account", "collect_input", "enter", None, 0),
            ("account", "collect_input", "input", "success", (6, 20)),
            ("pay", "pay", "enter", None, 0),
            ("pay", "pay", "payment", "success", (25, 90)),
            ("paid", "hangup", "enter", None, 0),
        ],
        "hangup",
    ),
    (
        0.05,
        [
            ("main", "menu", "enter", None, 0),
            ("main", "menu", "input", "2", (3, 9)),
            ("account", "collect_input", "enter", None, 0),
            ("account", "collect_input", "input", "success", (6, 20)),
            ("pay", "pay", "enter", None, 0),
            ("pay", "pay", "payment", "failed", (25, 90)),
            ("pay_failed", "hangup", "enter", None, 0),
        ],
        "hangup",
    ),
    (
        0.12,
        [
            ("main", "menu", "enter", None, 0),
            ("main", "menu", "input", "3", (3, 9)),
            ("hold", "enqueue", "enter", None, 0),
            ("hold", "enqueue", "queue", "bridged", (30, 900)),
            ("bye", "hangup", "enter", None, 0),
        ],
        "hangup",
    ),
    (
        0.10,
        [("main", "menu", "enter", None, 0), ("main", "menu", "hangup", None, (2, 12))],
        "caller_hangup",
    ),
    (
        0.05,
        [
            ("main", "menu", "enter", None, 0),
            ("main", "menu", "input", "2", (3, 9)),
            ("account", "collect_input", "enter", None, 0),
            ("account", "collect_input", "hangup", None, (5, 30)),
        ],
        "caller_hangup",
    ),
    (
        0.03,
        [
            ("main", "menu", "enter", None, 0),
            ("main", "menu", "input", None, (3, 9)),
            ("main", "menu", "timeout", None, (5, 6)),
            ("main", "menu", "input", "fallback", (3, 9)),
            ("bye", "hangup", "enter", None, 0),
        ],
        "hangup",
    ),
]
_WEIGHTS = [share for share, _, _ in PATHS]
# Calls per local hour of the day (a clinic's line: busy 8-18, quiet at night).
HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 14, 16, 16, 15, 14, 15, 15, 14, 12, 9, 6, 4, 3, 2, 1, 1]
DRAFT_SHARE = 0.001  # test users calling the draft (revision 0)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def _ts(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f+00")


class World:
    """The scratch database, the app on it, and the seeded org, flow, revision and number."""

    def __init__(self, url: str) -> None:
        from flask_migrate import upgrade

        from app import create_app
        from tests.plugins.db import base_config

        self.url = url
        self.app = create_app({**base_config(url, Path("/tmp")), "TESTING": False})
        with self.app.app_context():
            upgrade()
            self._seed()
        self.generated = 0
        self.rng = random.Random(16)
        self.now = datetime.now(UTC)

    def _seed(self) -> None:
        from extensions import db
        from models import PhoneNumber
        from services.accounts import ensure_org, ensure_user, set_membership
        from services.flow_revisions import create_flow, publish
        from tests.calls.flows import acme

        org = ensure_org("clinic", "Clinic")
        org.timezone = "America/New_York"
        user, _ = ensure_user("viewer@clinic.example", PASSWORD, "Viewer")
        set_membership(org, user, "viewer")
        flow = create_flow(org, None, "Clinic line", acme())
        revision = publish(org, None, flow, "first")
        number = PhoneNumber(org_id=org.id, phone_number=NUMBER, mode="ivr", flow_id=flow.id, capabilities={})
        db.session.add(number)
        db.session.commit()
        self.org_id, self.flow_id, self.revision_id, self.number_id = org.id, flow.id, revision.id, number.id

    def generate(self, count: int) -> float:
        """COPY `count` more calls (and steps) and upsert their rollups; answers the seconds taken."""
        from extensions import db
        from services.analytics_rollup import Deltas, call_deltas, write

        started = time.perf_counter()
        with self.app.app_context():
            indexes = self._drop_indexes()
            raw = db.engine.raw_connection()
            try:
                with raw.driver_connection.cursor() as cur:
                    cur.execute("SET synchronous_commit = off")
                done, deltas = 0, Deltas()  # the rollups' keys are bounded (hours x nodes): one write at the end
                while done < count:
                    n = min(CHUNK, count - done)
                    sessions, steps = self._chunk(n, deltas, call_deltas)
                    with raw.driver_connection.cursor() as cur:
                        with cur.copy(
                            "COPY call_session (id, org_id, call_sid, phone_number_id, flow_id, revision_id, "
                            "uses_draft, simulated, from_number, to_number, direction, status, state, turn, "
                            "step_count, end_reason, started_at, updated_at, ended_at, duration) FROM STDIN"
                        ) as copy:
                            copy.write(sessions)
                        with cur.copy(
                            "COPY call_step (org_id, session_id, seq, turn, node_id, node_type, event, outcome, "
                            "detail, at) FROM STDIN"
                        ) as copy:
                            copy.write(steps)
                    raw.driver_connection.commit()
                    done += n
                write(deltas)
                db.session.commit()
            finally:
                raw.close()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("SET maintenance_work_mem = '256MB'"))
                for definition in indexes:
                    conn.execute(text(definition))
                conn.execute(text("VACUUM ANALYZE call_session"))
                conn.execute(text("VACUUM ANALYZE call_step"))
                conn.execute(text("VACUUM ANALYZE node_rollup"))
                conn.execute(text("VACUUM ANALYZE call_rollup"))
        return time.perf_counter() - started

    def _drop_indexes(self) -> list[str]:
        """Drop the calls' secondary indexes (COPY is far faster without); answers their definitions."""
        from extensions import db

        query = text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN ('call_session', 'call_step') "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
        )
        with db.engine.begin() as conn:
            found = conn.execute(query).all()
            for name, _ in found:
                conn.execute(text(f'DROP INDEX "{name}"'))
        return [definition for _, definition in found]

    def _chunk(self, n: int, deltas, call_deltas) -> tuple[str, str]:
        rng, sessions, steps = self.rng, io.StringIO(), io.StringIO()
        first_day = (self.now - timedelta(days=30)).replace(hour=0, minute=0, second=0, microsecond=0)
        for _ in range(n):
            i = self.generated
            self.generated += 1
            sid = f"b{i:031x}"
            while True:  # a day of the last 30, an hour of the line's day (New York), a second in it
                local_hour = rng.choices(range(24), HOUR_WEIGHTS)[0]
                offset = timedelta(days=rng.randrange(31), hours=local_hour + 5, seconds=rng.random() * 3600)
                start = first_day + offset
                if self.now - timedelta(days=30) <= start < self.now:
                    break
            _, path, reason = rng.choices(PATHS, _WEIGHTS)[0]
            draft = rng.random() < DRAFT_SHARE
            at, tuples = start, []
            for seq, (node_id, node_type, event, outcome, wait) in enumerate(path):
                at += timedelta(seconds=wait if isinstance(wait, int) else rng.uniform(*wait))
                tuples.append((node_id, event, outcome, at))
                steps.write(
                    f"{self.org_id}\t{sid}\t{seq}\t{seq // 2}\t{node_id}\t{node_type}\t{event}\t"
                    f"{outcome if outcome is not None else chr(92) + 'N'}\t{{}}\t{_ts(at)}\n"
                )
            end_node = path[-1][0]
            ended = at + timedelta(seconds=1)
            state = f'{{"v": 1, "status": "done", "end": {{"reason": "{reason}", "node": "{end_node}"}}}}'
            revision = r"\N" if draft else str(self.revision_id)
            sessions.write(
                f"{sid}\t{self.org_id}\tCA{i:032x}\t{self.number_id}\t{self.flow_id}\t{revision}\t"
                f"{'t' if draft else 'f'}\tf\t+1555{i % 10**7:07d}\t{NUMBER}\tinbound\tcompleted\t{state}\t"
                f"{len(path) // 2 + 1}\t{len(path)}\t{reason}\t{_ts(start)}\t{_ts(ended)}\t{_ts(ended)}\t"
                f"{int((ended - start).total_seconds())}\n"
            )
            call = Call(
                sid, self.org_id, self.flow_id, None if draft else self.revision_id, self.number_id, start, reason
            )
            call_deltas(deltas, call, tuples, end_node)
        return sessions.getvalue(), steps.getvalue()

    def snapshot(self) -> tuple[list, list]:
        from extensions import db

        with self.app.app_context():
            tables = ("node_rollup", "call_rollup")
            out = []
            for table in tables:
                cols = [c.name for c in db.metadata.tables[table].columns if c.name != "id"]
                rows = db.session.execute(text(f"SELECT {', '.join(cols)} FROM {table} ORDER BY {', '.join(cols)}"))
                out.append([tuple(r) for r in rows])
            return out[0], out[1]

    def verify_rebuild(self) -> float:
        """Run the rebuild over everything and check it finds the rollups the generator wrote."""
        from services.analytics_rollup import rebuild

        before = self.snapshot()
        started = time.perf_counter()
        with self.app.app_context():
            rebuild()
        took = time.perf_counter() - started
        if self.snapshot() != before:
            raise SystemExit("the rebuild's rollups differ from the generated ones")
        return took


def signed_in(app):
    from tests.plugins.db import IsolatedClient

    app.test_client_class = IsolatedClient
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'csrf-token" content="([^"]+)"', html)
    resp = client.post(
        "/login", data={"email": "viewer@clinic.example", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    if resp.status_code not in (200, 302):
        raise SystemExit(f"sign-in failed: {resp.status_code}")
    return client


def pages(world: World) -> list[tuple[str, str | None]]:
    rules = {rule.rule for rule in world.app.url_map.iter_rules()}
    fid = world.flow_id
    dashboard = "/flows/<int:flow_id>/dashboard" in rules or "/flows/<flow_id>/dashboard" in rules
    return [
        ("stats page", f"/calls/stats?flow={fid}"),
        ("overlay 30d", f"/flows/{fid}/analytics?period=30d"),
        ("flow dashboard 30d", f"/flows/{fid}/dashboard?period=30d" if dashboard else None),
        ("org dashboard 30d", "/dashboard?period=30d" if "/dashboard" in rules or "/dashboard/" in rules else None),
    ]


def time_pages(world: World, client, repeat: int) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for label, url in pages(world):
        if url is None:
            out[label] = None
            continue
        times = []
        for i in range(repeat + 2):
            started = time.perf_counter()
            resp = client.get(url, headers={"Accept": "application/json"} if "analytics" in url else {})
            took = time.perf_counter() - started
            if resp.status_code != 200:
                raise SystemExit(f"{url} answered {resp.status_code}")
            if i >= 2:
                times.append(took)
        out[label] = statistics.median(times)
    return out


def check_counts(world: World, client) -> None:
    body = client.get(f"/flows/{world.flow_id}/analytics?period=30d", headers={"Accept": "application/json"}).get_json()
    if body["calls"] < world.generated * 0.95:  # the first hour of the 30 days may fall outside
        raise SystemExit(f"the overlay counts {body['calls']} calls of {world.generated}")


def webhook_cost(url: str, rounds: int, per_round: int) -> tuple[float, float, float]:
    """CPU seconds per webhook (turns and status callbacks) with rollups and without, and the median
    of the paired rounds' ratios: rounds alternate on, off, off, on, ... on the same database."""
    from bench.webhook_load import run_calls
    from bench.webhooks import in_process_app
    from sim import FlaskClientTransport

    app = in_process_app(url)
    client = app.test_client()

    def transport():
        return FlaskClientTransport(client)

    run_calls("http://localhost", transport, 10, 1, 60)  # warm-up
    per_hook: dict[bool, list[float]] = {True: [], False: []}
    for r in range(rounds * 2):
        on = (r % 2 == 0) != ((r // 2) % 2 == 1)  # on, off, off, on, on, off, ...
        app.config["ANALYTICS_ROLLUPS"] = on
        started = time.process_time()
        run = run_calls("http://localhost", transport, per_round, 1, 300)
        per_hook[on].append((time.process_time() - started) / (len(run.turns) + len(run.callbacks)))
        if run.broken_calls or run.failures:
            raise SystemExit(f"webhook run broke {run.broken_calls} calls, {run.failures} failures")
    ratios = [a / b for a, b in zip(per_hook[True], per_hook[False], strict=True)]
    return statistics.median(per_hook[True]), statistics.median(per_hook[False]), statistics.median(ratios)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Analytics readers over the rollups at 10k, 100k and 1M calls.")
    default_pg = (
        os.environ.get("BENCH_DATABASE_URL")
        or os.environ.get("TEST_DATABASE_URL")
        or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    )
    parser.add_argument("--pg", default=default_pg, help="a PostgreSQL URL; the scratch database is made beside it")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="call counts to measure at, ascending")
    parser.add_argument("--repeat", type=int, default=15, help="requests per page and size (median)")
    parser.add_argument("--verify-max", type=int, default=100_000, help="rebuild and compare up to this many calls")
    parser.add_argument("--rounds", type=int, default=12, help="webhook comparison: rounds each way")
    parser.add_argument("--calls-per-round", type=int, default=20, help="webhook comparison: calls per round")
    parser.add_argument("--no-webhooks", action="store_true", help="skip the webhook comparison")
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    args = parser.parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)

    admin = make_url(args.pg)
    name = f"phonetree_bench_analytics_{uuid.uuid4().hex[:8]}"
    admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.set(database=name).render_as_string(hide_password=False)
    results: dict[int, dict[str, float | None]] = {}
    try:
        world = World(url)
        client = signed_in(world.app)
        print(f"PostgreSQL scratch database {name}; clinic line, calls over the last 30 days")
        for size in sizes:
            took = world.generate(size - world.generated)
            line = f"{size:>9,} calls: generated in {took:6.1f} s"
            if size <= args.verify_max:
                line += f"; rebuild recounted them in {world.verify_rebuild():6.1f} s, same rollups"
            print(line, flush=True)
            check_counts(world, client)
            results[size] = time_pages(world, client, args.repeat)
            print(
                "    " + "  ".join(f"{k}: {ms(v) if v is not None else '    n/a'}" for k, v in results[size].items()),
                flush=True,
            )
        first, last = results[sizes[0]], results[sizes[-1]]
        print(f"median per request, {args.repeat} requests (goals: < 100 ms at 1M, within 2x of the first size):")
        for label in first:
            if first[label] is None:
                print(f"  {label:<20} n/a")
                continue
            ratio = last[label] / first[label]
            row = "  ".join(f"{size:>9,}: {ms(results[size][label])}" for size in sizes)
            print(f"  {label:<20} {row}   x{ratio:.2f}")
        if not args.no_webhooks:
            on, off, ratio = webhook_cost(url, args.rounds, args.calls_per_round)
            print(
                f"webhook CPU per request (in-process, test client, {args.rounds} alternating rounds of "
                f"{args.calls_per_round} calls each way, medians): with rollups {on * 1000:.3f} ms, "
                f"without {off * 1000:.3f} ms; paired rounds: {(ratio - 1) * 100:+.1f}% (goal <= +5%)"
            )
    finally:
        if not args.keep:
            from extensions import db

            try:
                with world.app.app_context():
                    db.engine.dispose()
            except NameError:
                pass
            with admin_engine.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin_engine.dispose()


if __name__ == "__main__":
    main()
