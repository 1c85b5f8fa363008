"""`flask --app app worker`: background work (reconciling number changes pending on Twilio).

Runs on APScheduler, embedded in this one process (no broker): a job every
``PHONE_SAGA_RETRY_SECONDS``, the first at start, so a change left pending by a crash is settled as
soon as the worker starts. Run one worker beside gunicorn's web workers (a second one is harmless:
every intent is leased before it is settled). ``--once`` runs a single pass (cron, health checks).
"""

from __future__ import annotations

import logging
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


@click.command("worker")
@click.option("--once", is_flag=True, help="Run one reconciliation pass, then exit.")
@click.option("--interval", type=float, default=None, help="Seconds between passes [PHONE_SAGA_RETRY_SECONDS].")
def worker(once: bool, interval: float | None) -> None:
    """Settle number changes still pending on Twilio, now and then every few seconds."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if once:
        result = reconcile_once(app)
        click.echo(f"Settled {result['tried']} pending number change(s); {result['pending']} still pending.")
        return
    seconds = interval if interval is not None else float(app.config.get("PHONE_SAGA_RETRY_SECONDS", 30))
    if seconds <= 0:
        raise click.BadParameter("must be positive", param_hint="--interval")
    from apscheduler.schedulers.blocking import BlockingScheduler

    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(
        reconcile_once,
        "interval",
        args=[app],
        seconds=seconds,
        next_run_time=datetime.now(UTC),
        id="settle-number-changes",
        max_instances=1,
        coalesce=True,
    )
    click.echo(f"Phonetree worker: settling pending number changes every {seconds:g}s (Ctrl-C stops).")
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        click.echo("Phonetree worker stopped.")


def register(app: Flask) -> None:
    app.cli.add_command(worker)
