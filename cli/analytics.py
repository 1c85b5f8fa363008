"""`flask --app app analytics rebuild [--since YYYY-MM-DD] [--org SLUG]`: recount the rollups."""

from datetime import UTC, date, datetime, time

import click
from flask import Flask
from flask.cli import AppGroup

from models import Organization
from services.analytics_rollup import rebuild

analytics_cli = AppGroup("analytics", help="Analytics rollups.")


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        try:
            moment = datetime.combine(date.fromisoformat(value), time.min)
        except ValueError:
            raise click.BadParameter(f"{value!r} is not an ISO date or time.", param_hint="--since") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


@analytics_cli.command("rebuild")
@click.option("--since", "since", help="Recount calls started from this UTC date or time on (ISO; default: all).")
@click.option("--org", "org_slug", help="Only this organisation (default: every one).")
@click.option("--batch", default=2000, show_default=True, help="Calls read per query.")
def rebuild_command(since: str | None, org_slug: str | None, batch: int) -> None:
    """Delete the range's rollup rows and recount them from the stored calls and steps.

    Safe to re-run: the result is the same whatever the rows held. Counted from whole UTC hours
    (--since is floored to its hour). Turns of calls running in the range while it runs may be
    counted twice or missed: run it again afterwards (or when no calls run).
    """
    org_id = None
    if org_slug:
        org = Organization.by_slug(org_slug)
        if org is None:
            raise click.ClickException(f"No organisation {org_slug}.")
        org_id = org.id
    result = rebuild(_since(since), org_id, batch=max(batch, 1))
    click.echo(
        f"Recounted {result.calls} calls ({result.steps} steps): "
        f"{result.node_rows} node and {result.call_rows} call rollup rows upserted."
    )


def register(app: Flask) -> None:
    """Attach the `analytics` command group."""
    app.cli.add_command(analytics_cli)
