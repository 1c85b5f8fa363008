"""`flask --app app worker`: background work, and `flask --app app serve`: the dev server with its worker.

The worker is one process running two things:

- durable timers (services/timers.py) on the task queue (services/task_queue.py, Huey): its
  consumer runs in the main thread with ``PHONETREE_TASKS_WORKERS`` threads; a wake-up for every
  due timer is queued at start, and a sweep (on APScheduler) claims due timers every
  ``PHONETREE_TIMER_SWEEP_SECONDS``, whatever woke the worker (a lost wake-up only delays);
- reconciling number changes pending on Twilio (services/phone_reconcile.py), on APScheduler in
  a thread: a job every ``PHONE_SAGA_RETRY_SECONDS``, the first at start, so a change left pending
  by a crash is settled as soon as the worker starts.

Several workers (one per server) are safe: every timer and every pending intent is leased before
it is run. ``--once`` runs a single pass of both (cron, health checks). Ctrl-C (SIGINT) stops
gracefully (running timers finish); SIGTERM stops at once (a timer cut short is fired again
when its lease runs out).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import click
from flask import Flask, current_app

log = logging.getLogger("phonetree.worker")


def reconcile_once(app: Flask) -> dict[str, int]:
    """One reconciliation pass in its own app context (each scheduler thread gets a fresh session)."""
    from services.phone_reconcile import settle_due

    with app.app_context():
        result = settle_due()
    if result["tried"] or result["pending"]:
        log.info("Settled %(tried)s pending number change(s); %(pending)s still pending.", result)
    return result


def _exit_with_parent() -> None:
    """Stop this worker (gracefully, as Ctrl-C does) when the process that started it is gone."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def run_worker(app: Flask, interval: float, workers: int) -> None:
    """Run the timers' queue consumer (main thread) and the number-change job until stopped."""
    from apscheduler.schedulers.background import BackgroundScheduler

    from services import task_queue, timers

    timers.load_handlers(app)
    huey = task_queue.queue(app)
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(
        reconcile_once,
        "interval",
        args=[app],
        seconds=interval,
        next_run_time=datetime.now(UTC),
        id="settle-number-changes",
        max_instances=1,
        coalesce=True,
    )
    # The sweep: due timers are claimed at start (they came due while no worker ran) and then every few
    # seconds, whatever the queue says (a wake-up lost with a Redis restarted empty only delays).
    sweep = float(app.config.get("TIMER_SWEEP_SECONDS", 10))
    scheduler.add_job(
        timers.run_due,
        "interval",
        args=[app],
        seconds=sweep,
        next_run_time=datetime.now(UTC),
        id="sweep-timers",
        max_instances=1,
        coalesce=True,
    )
    # An idle thread polls a SQLite queue at most a second apart (Huey's default backs off to 10 s;
    # Redis and PostgreSQL queues block on the queue instead of polling).
    consumer = huey.create_consumer(
        workers=workers, worker_type="thread", periodic=False, scheduler_interval=1, max_delay=1.0
    )
    scheduler.start()
    click.echo(
        f"Phonetree worker: timers on {task_queue.describe(huey)} ({workers} thread(s), a sweep every {sweep:g}s); "
        f"settling pending number changes every {interval:g}s (Ctrl-C stops)."
    )
    try:
        consumer.run()
    finally:
        scheduler.shutdown(wait=False)
        click.echo("Phonetree worker stopped.")


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one pass (due timers, pending number changes), then exit.")
@click.option("--interval", type=float, default=None, help="Seconds between passes [PHONE_SAGA_RETRY_SECONDS].")
@click.option("--threads", type=int, default=None, help="Threads running timers [PHONETREE_TASKS_WORKERS].")
@click.option("--exit-with-parent", is_flag=True, help="Stop when the process that started this one exits.")
def worker(once: bool, interval: float | None, threads: int | None, exit_with_parent: bool) -> None:
    """Fire due timers and settle number changes still pending on Twilio, until stopped."""
    from services import timers

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        timers.load_handlers(app)
        fired = timers.run_due(app)
        result = reconcile_once(app)
        click.echo(f"Fired {fired} timer(s).")
        click.echo(f"Settled {result['tried']} pending number change(s); {result['pending']} still pending.")
        return
    seconds = interval if interval is not None else float(app.config.get("PHONE_SAGA_RETRY_SECONDS", 30))
    if seconds <= 0:
        raise click.BadParameter("must be positive", param_hint="--interval")
    count = threads if threads is not None else int(app.config.get("TASKS_WORKERS", 2))
    if count <= 0:
        raise click.BadParameter("must be positive", param_hint="--threads")
    if exit_with_parent:
        _exit_with_parent()
    run_worker(app, seconds, count)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", type=int, default=5000, show_default=True)
def serve(host: str, port: int) -> None:
    """The development server with a worker beside it (`make run`): Ctrl-C stops both."""
    from werkzeug.serving import run_simple

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    command = [sys.executable, "-m", "flask", "--app", "app", "worker", "--exit-with-parent"]
    # A session of its own: the terminal's Ctrl-C reaches this process only, which then stops the
    # worker with one SIGINT (a second one would cut its graceful stop short).
    child = subprocess.Popen(command, cwd=app.root_path, start_new_session=True)
    click.echo(f"Phonetree worker started (pid {child.pid}) beside the web server.")

    def stop(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, stop)
    try:
        run_simple(host, port, app, threaded=True)
    except KeyboardInterrupt:
        pass
    finally:
        _stop_child(child)


def _stop_child(child: subprocess.Popen) -> None:
    """Stop the worker: SIGINT (it finishes running timers), then SIGTERM, then SIGKILL; wait for it."""
    for sig, wait in ((signal.SIGINT, 15), (signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        if child.poll() is not None:
            return
        child.send_signal(sig)
        try:
            child.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def register(app: Flask) -> None:
    app.cli.add_command(worker)
    app.cli.add_command(serve)
