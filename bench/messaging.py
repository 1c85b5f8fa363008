"""Benchmark of messaging's background side: durable timers scheduled and fired by one worker.

Run: ``.venv/bin/python bench/messaging.py`` (``--quick`` for 1,000 timers, ``--queue redis`` for
the production queue on the machine's Redis).

Each section is a function that prints its figures and returns them; `main` runs the sections.
`timers_section`: N timers (10,000 by default) are scheduled from this process in transactions of
``--batch``, all due at one instant, while one worker process (`flask --app app worker`, one
queue thread, its sweep beside it) runs; every firing is recorded by the bench's handler in a file. It prints timers
scheduled per second, the delay from the due time to the first firing, timers fired per second
(from the due time to the last firing), and how many were lost (never fired) or doubled (fired
more than once): the goal is 0 and 0.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Messaging's background side: timers scheduled and fired per second.")
    parser.add_argument("--quick", action="store_true", help="a short run (1,000 timers)")
    parser.add_argument("--timers", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500, help="timers scheduled per transaction")
    parser.add_argument("--queue", choices=("sqlite", "redis"), default="sqlite")
    args = parser.parse_args(argv)
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    run = timers_section(1_000 if args.quick else args.timers, args.batch, args.queue)
    return 1 if run.lost or run.doubled or run.left else 0


if __name__ == "__main__":
    sys.exit(main())
