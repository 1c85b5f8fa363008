"""Timers through real worker processes (the queue consumer of `flask --app app worker`), on each
task queue (a SQLite file, Redis) and each database (SQLite, PostgreSQL with TEST_DATABASE_URL):
a delayed continuation survives a worker restart and fires once; a worker killed in the middle
of a handler loses nothing; two workers do not fire a timer twice."""

from __future__ import annotations

import re
import signal
import time
from datetime import timedelta

import pytest

from extensions import db
from models import Timer, utcnow
from services import timers
from tests.timers.handlers import KIND, fired


def _wait_for(predicate, seconds: float, what: str, workers) -> None:
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{workers.logs()}")
        time.sleep(0.1)


def _remaining() -> int:
    db.session.rollback()
    return db.session.query(Timer).count()


def test_a_timer_survives_a_worker_restart_and_fires_once(timer_app, queue_kind, workers, tmp_path):
    app = timer_app(queue_kind)
    pool = workers(app)
    out = tmp_path / "fired.log"
    first = pool.start()
    at = utcnow() + timedelta(seconds=3)
    timers.schedule(KIND, "restart", {"file": str(out), "id": "restart"}, at)
    db.session.commit()
    pool.kill(first)  # the worker dies before the timer's time (no graceful stop)
    time.sleep(max(0.0, (at - utcnow()).total_seconds()) + 0.5)
    assert fired(out) == []  # no worker ran: nothing fired, and the timer is still there
    assert _remaining() == 1
    pool.start()  # a new worker process
    _wait_for(lambda: fired(out), 30, "the timer to fire after the restart", pool)
    time.sleep(1.5)  # the first worker's wake-up and the new one's both ran by now
    assert fired(out) == ["restart"] and _remaining() == 0
    stamp = float(out.read_text().split()[-1])
    assert stamp >= at.timestamp()


def test_a_queue_emptied_while_no_worker_ran_loses_no_timer(timer_app, queue_kind, workers, tmp_path):
    """The queue loses its wake-ups (a Redis restarted without persistence): the timers are in the
    database, and a worker claims them when it starts."""
    from services import task_queue

    app = timer_app(queue_kind)
    pool = workers(app)
    out = tmp_path / "fired.log"
    for name in ("due", "soon"):
        at = utcnow() - timedelta(seconds=1) if name == "due" else utcnow() + timedelta(seconds=2)
        timers.schedule(KIND, name, {"file": str(out), "id": name}, at)
    db.session.commit()
    huey = task_queue.queue(app)
    assert huey.pending_count() + huey.scheduled_count() == 2
    huey.flush()
    assert huey.pending_count() + huey.scheduled_count() == 0
    pool.start()
    _wait_for(lambda: len(fired(out)) == 2, 30, "both timers to fire", pool)
    assert sorted(fired(out)) == ["due", "soon"] and _remaining() == 0


def test_a_worker_killed_inside_a_handler_loses_nothing(timer_app, queue_kind, workers, tmp_path):
    app = timer_app(queue_kind, TIMER_LEASE_SECONDS=3)
    pool = workers(app)
    out = tmp_path / "fired.log"
    first = pool.start()
    payload = {"file": str(out), "id": "held", "hold_once": str(tmp_path / "held.marker"), "hold": 60}
    timers.schedule(KIND, "held", payload, utcnow())
    db.session.commit()
    _wait_for(lambda: out.exists() and "start held" in out.read_text(), 30, "the handler to start", pool)
    pool.kill(first)  # SIGKILL in the middle of the handler: its transaction never commits
    pool.start()  # fires it when the dead worker's lease runs out (3 s): a wake-up was queued for then
    _wait_for(lambda: fired(out), 90, "the timer to fire in the second worker", pool)
    time.sleep(1)
    assert fired(out) == ["held"] and _remaining() == 0


def test_two_worker_processes_fire_each_timer_once(timer_app, queue_kind, workers, tmp_path):
    app = timer_app(queue_kind)
    pool = workers(app)
    out = tmp_path / "fired.log"
    pool.start()
    pool.start()
    at = utcnow() + timedelta(seconds=2)
    ids = [f"t{i}" for i in range(300)]
    for i, name in enumerate(ids):
        timers.schedule(KIND, name, {"file": str(out), "id": name}, at + timedelta(milliseconds=5 * i))
    db.session.commit()
    for _ in range(8):  # more wake-ups at the same time: every thread of both workers drains at once
        app.extensions[timers.WAKE_TASK].schedule(eta=at)
    _wait_for(lambda: len(fired(out)) >= len(ids), 60, "every timer to fire", pool)
    time.sleep(1.5)
    seen = fired(out)
    assert sorted(seen) == sorted(ids), "each timer fired exactly once"
    assert _remaining() == 0


def test_serve_runs_the_worker_beside_the_web_server_and_ctrl_c_stops_both(timer_app, tmp_path):
    """`make run`'s command: the dev server answers, its worker fires timers, SIGINT stops both."""
    import os
    import socket
    import subprocess
    import sys
    import urllib.request

    from tests.timers.conftest import ROOT

    app = timer_app("sqlite")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "PHONETREE_TASKS_URL": app.config["TASKS_URL"],
        "SECRET_KEY": app.config["SECRET_KEY"],
        "PHONETREE_ENCRYPTION_KEYS": ",".join(app.config["ENCRYPTION_KEYS"]),
        "PHONETREE_INSTANCE_PATH": app.instance_path,
        "LOG_LEVEL": "WARNING",
    }
    env["PHONETREE_TIMER_HANDLERS"] = "tests.timers.handlers"  # the worker imports the tests' handlers
    log = tmp_path / "serve.log"
    command = [sys.executable, "-m", "flask", "--app", "app", "serve", "--port", str(port)]
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
    try:
        out = tmp_path / "fired.log"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as resp:
                    assert resp.status == 200
                break
            except OSError:
                assert time.monotonic() < deadline and proc.poll() is None, log.read_text()
                time.sleep(0.2)
        timers.schedule(KIND, "served", {"file": str(out), "id": "served"}, utcnow())
        db.session.commit()
        deadline = time.monotonic() + 60
        while not fired(out):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert fired(out) == ["served"] and _remaining() == 0
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        proc.wait(30)
    text = log.read_text()
    assert "Phonetree worker stopped." in text, text
    worker_pid = int(re.search(r"worker started \(pid (\d+)\)", text).group(1))
    with pytest.raises(ProcessLookupError):
        os.kill(worker_pid, 0)
