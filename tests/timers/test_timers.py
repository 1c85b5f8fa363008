"""Durable timers in one process (services/timers.py): fire once at their time, cancel, replace,
the caller's transaction, failures and retries, a handler's commit consuming its timer, workers
racing. Runs on SQLite and PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from extensions import db
from models import RateLimitCounter, Timer
from services import task_queue, timers

KIND = "test.inprocess"


@pytest.fixture
def fired():
    """Handlers of the test kinds, recording their payloads."""
    seen: list[dict] = []
    timers.register(KIND, seen.append)
    return seen


@pytest.fixture
def app(timer_app, clock):
    return timer_app("sqlite", PHONETREE_CLOCK=clock)


def test_a_timer_fires_once_at_its_time_not_before(app, clock, fired):
    timers.schedule(KIND, "s1", {"n": 1}, clock.at + timedelta(seconds=60))
    db.session.commit()
    clock.at += timedelta(seconds=59)
    assert timers.run_due(app) == 0 and fired == []
    clock.at += timedelta(seconds=1)
    assert timers.run_due(app) == 1 and fired == [{"n": 1}]
    clock.at += timedelta(hours=1)
    assert timers.run_due(app) == 0 and fired == [{"n": 1}]
    assert db.session.scalar(select(Timer.id)) is None
    assert timers.pending(KIND, "s1") is None


def test_cancel_drops_the_timer(app, clock, fired):
    timers.schedule(KIND, "s1", {"n": 1}, clock.at + timedelta(seconds=5))
    timers.schedule(KIND, "s2", {"n": 2}, clock.at + timedelta(seconds=5))
    db.session.commit()
    timers.cancel(KIND, "s1")
    timers.cancel(KIND, "never-scheduled")
    db.session.commit()
    clock.at += timedelta(minutes=1)
    assert timers.run_due(app) == 1 and fired == [{"n": 2}]


def test_scheduling_again_replaces_time_and_payload(app, clock, fired):
    timers.schedule(KIND, "s1", {"v": "first"}, clock.at + timedelta(seconds=10))
    db.session.commit()
    timers.schedule(KIND, "s1", {"v": "second"}, clock.at + timedelta(seconds=20))
    db.session.commit()
    assert db.session.query(Timer).count() == 1
    clock.at += timedelta(seconds=15)
    assert timers.run_due(app) == 0
    clock.at += timedelta(seconds=5)
    assert timers.run_due(app) == 1 and fired == [{"v": "second"}]
    # the same key is free again once fired
    timers.schedule(KIND, "s1", {"v": "third"}, clock.at)
    db.session.commit()
    assert timers.run_due(app) == 1 and fired[-1] == {"v": "third"}


def test_a_timer_is_part_of_the_callers_transaction(app, clock, fired):
    timers.schedule(KIND, "rolled-back", {}, clock.at)
    db.session.rollback()
    timers.schedule(KIND, "kept", {"n": 1}, clock.at)
    db.session.commit()
    timers.cancel(KIND, "kept")
    db.session.rollback()  # the cancel did not commit: the timer stands
    assert timers.run_due(app) == 1 and fired == [{"n": 1}]


def test_a_naive_fire_at_is_utc_and_bad_arguments_are_refused(app, clock, fired):
    timers.schedule(KIND, "naive", {}, (clock.at + timedelta(seconds=1)).replace(tzinfo=None))
    db.session.commit()
    assert timers.pending(KIND, "naive").fire_at == clock.at + timedelta(seconds=1)
    for args in (("", "k", {}, clock.at), (KIND, "", {}, clock.at), (KIND, "k" * 256, {}, clock.at)):
        with pytest.raises(ValueError):
            timers.schedule(*args)
    with pytest.raises(TypeError):
        timers.schedule(KIND, "k", ["not", "a", "dict"], clock.at)
    with pytest.raises(TypeError):
        timers.schedule(KIND, "k", {}, "2026-01-01T00:00:00Z")
    with pytest.raises(TypeError):
        timers.register(KIND + ".bad", "not callable")


def test_a_handler_that_schedules_its_own_key_again_keeps_the_new_timer(app, clock):
    runs: list[int] = []

    def again(payload):
        runs.append(payload["n"])
        if payload["n"] < 3:
            timers.schedule("test.again", "chain", {"n": payload["n"] + 1}, clock.at + timedelta(seconds=10))

    timers.register("test.again", again)
    timers.schedule("test.again", "chain", {"n": 1}, clock.at)
    db.session.commit()
    for _ in range(4):
        timers.run_due(app)
        clock.at += timedelta(seconds=10)
    assert runs == [1, 2, 3] and db.session.query(Timer).count() == 0


def test_a_timer_is_consumed_by_its_handlers_commit_and_not_by_a_rolled_back_run(app, clock):
    """The row goes in the handler's own transaction: work committed means fired (a later error
    does not repeat it); an error before any commit leaves the timer to retry, with a backoff."""
    calls: list[str] = []

    def commits_then_fails(payload):
        calls.append("a")
        db.session.add(RateLimitCounter(key="handler-work", count=1, expires_at=0))
        db.session.commit()
        raise RuntimeError("after the commit")

    def fails_before_commit(payload):
        calls.append("b")
        db.session.add(RateLimitCounter(key="never-committed", count=1, expires_at=0))
        raise RuntimeError("before any commit")

    timers.register("test.commit-then-fail", commits_then_fails)
    timers.register("test.fail", fails_before_commit)
    timers.schedule("test.commit-then-fail", "k", {}, clock.at)
    timers.schedule("test.fail", "k", {}, clock.at)
    db.session.commit()
    assert timers.run_due(app) == 0
    assert sorted(calls) == ["a", "b"]
    assert db.session.get(RateLimitCounter, "handler-work") is not None
    assert db.session.get(RateLimitCounter, "never-committed") is None
    assert timers.pending("test.commit-then-fail", "k") is None
    row = timers.pending("test.fail", "k")
    assert row.state == "pending" and row.attempts == 1 and "before any commit" in row.last_error
    assert row.available_at == clock.at + timedelta(seconds=30)
    assert timers.run_due(app) == 0 and calls.count("b") == 1  # not before its retry time


def test_a_failing_handler_is_retried_then_kept_as_failed(timer_app, clock):
    app = timer_app("sqlite", PHONETREE_CLOCK=clock, TIMER_MAX_ATTEMPTS=3)
    outcomes = iter([RuntimeError("one"), RuntimeError("two"), RuntimeError("three")])

    def flaky(payload):
        raise next(outcomes)

    timers.register("test.flaky", flaky)
    timers.schedule("test.flaky", "k", {}, clock.at)
    db.session.commit()
    waits = []
    for _ in range(3):
        timers.run_due(app)
        db.session.expire_all()
        row = timers.pending("test.flaky", "k")
        waits.append((row.available_at - clock.at).total_seconds())
        clock.at = row.available_at
    assert row.state == "failed" and row.attempts == 3 and row.last_error == "RuntimeError: three"
    assert waits == [30, 60, 0]
    clock.at += timedelta(days=1)
    assert timers.run_due(app) == 0  # a failed timer stays for inspection, never fires again


def test_a_successful_retry_fires(app, clock):
    attempts: list[int] = []

    def once_broken(payload):
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("transient")

    timers.register("test.once-broken", once_broken)
    timers.schedule("test.once-broken", "k", {}, clock.at)
    db.session.commit()
    assert timers.run_due(app) == 0
    clock.at += timedelta(seconds=30)
    assert timers.run_due(app) == 1 and len(attempts) == 2 and timers.pending("test.once-broken", "k") is None


def test_a_kind_without_a_handler_waits_and_fires_once_one_is_registered(app, clock):
    timers.schedule("test.late-handler", "k", {"n": 1}, clock.at)
    db.session.commit()
    assert timers.run_due(app) == 0
    db.session.expire_all()
    row = timers.pending("test.late-handler", "k")
    assert row.state == "pending" and row.attempts == 0 and "no handler" in row.last_error
    seen: list[dict] = []
    timers.register("test.late-handler", seen.append)
    clock.at += timedelta(minutes=1)
    assert timers.run_due(app) == 1 and seen == [{"n": 1}]


def test_a_lease_that_ran_out_lets_another_worker_fire_it(app, clock, fired):
    """A worker that claimed a timer and died: its lease runs out, then another worker fires it, once."""
    timers.schedule(KIND, "k", {"n": 1}, clock.at)
    db.session.commit()
    dead = timers.claim(app)
    assert [t.key for t in dead] == ["k"] and timers.claim(app) == []
    clock.at += timedelta(seconds=119)
    assert timers.run_due(app) == 0
    clock.at += timedelta(seconds=1)
    assert timers.run_due(app) == 1 and fired == [{"n": 1}]
    assert timers.fire(app, dead[0]) is True  # the dead worker coming back runs its handler...
    assert timers.pending(KIND, "k") is None  # ...but the timer was already gone: nothing new is left behind


def test_two_workers_racing_fire_each_timer_once(app, clock):
    lock = threading.Lock()
    counts: dict[str, int] = {}

    def count(payload):
        with lock:
            counts[payload["k"]] = counts.get(payload["k"], 0) + 1

    timers.register("test.race", count)
    for i in range(300):
        timers.schedule("test.race", f"k{i}", {"k": f"k{i}"}, clock.at)
    db.session.commit()
    results: list[int] = []
    errors: list[BaseException] = []

    def worker():
        try:
            results.append(timers.run_due(app))
        except BaseException as err:  # noqa: BLE001  (reported below)
            errors.append(err)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(results) == 300 and len(counts) == 300 and set(counts.values()) == {1}
    assert db.session.query(Timer).count() == 0


def test_a_commit_sends_a_wake_up_for_each_fire_time_and_a_rollback_none(timer_app, clock, queue_kind):
    app = timer_app(queue_kind, PHONETREE_CLOCK=clock)
    clock.at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    huey = task_queue.queue(app)
    timers.register(KIND, lambda payload: None)
    timers.schedule(KIND, "gone", {}, clock.at)
    db.session.rollback()
    assert huey.pending_count() == huey.scheduled_count() == 0
    timers.schedule(KIND, "a", {}, clock.at + timedelta(seconds=30))
    timers.schedule(KIND, "b", {}, clock.at + timedelta(seconds=30))
    timers.schedule(KIND, "c", {}, clock.at + timedelta(seconds=90, milliseconds=500))
    db.session.commit()
    timers.schedule(KIND, "d", {}, clock.at + timedelta(seconds=90, milliseconds=200))
    db.session.commit()
    # straight into the queue's schedule, one per second with timers, at its latest: never before a timer's time
    assert sorted(task.eta for task in huey.scheduled()) == [
        (clock.at + timedelta(seconds=30)).replace(tzinfo=None),
        (clock.at + timedelta(seconds=90, milliseconds=200)).replace(tzinfo=None),  # another commit: its own
        (clock.at + timedelta(seconds=90, milliseconds=500)).replace(tzinfo=None),
    ]
    assert huey.pending_count() == 0
    timers.schedule(KIND, "due", {}, datetime.now(UTC) - timedelta(seconds=1))
    db.session.commit()
    assert huey.pending_count() == 1  # already due: queued for the next free worker thread


def test_a_timer_without_a_wake_up_is_fired_by_the_sweep(timer_app, clock, fired):
    app = timer_app("sqlite", PHONETREE_CLOCK=clock)
    huey = task_queue.queue(app)
    timers.schedule(KIND, "quiet", {"n": 1}, clock.at + timedelta(hours=24), wake=False)
    db.session.commit()
    assert huey.pending_count() == huey.scheduled_count() == 0  # nothing queued: the row is the truth
    clock.at += timedelta(hours=24)
    assert timers.run_due(app) == 1 and fired == [{"n": 1}]


def test_a_queue_that_is_down_loses_no_timer(timer_app, clock, fired):
    app = timer_app("sqlite", PHONETREE_CLOCK=clock)
    app.config["TASKS_URL"] = "redis://127.0.0.1:9/0"  # nothing listens there
    app.extensions.pop(task_queue.EXTENSION, None)
    timers.schedule(KIND, "k", {"n": 1}, clock.at)
    db.session.commit()  # the wake-up fails and is logged; the commit stands
    assert timers.pending(KIND, "k") is not None
    assert timers.run_due(app) == 1 and fired == [{"n": 1}]  # the worker's sweep fires it


def test_worker_once_fires_what_is_due(app, clock, fired):
    timers.schedule(KIND, "due", {"n": 1}, clock.at)
    timers.schedule(KIND, "later", {"n": 2}, clock.at + timedelta(hours=1))
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "Fired 1 timer(s)." in result.output and fired == [{"n": 1}]
    assert timers.pending(KIND, "later") is not None
