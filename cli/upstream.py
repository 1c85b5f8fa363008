"""`flask --app app upstream rotate-keys`: re-encrypt stored vendor secrets under the newest key."""

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from upstream.secrets import rotate_all

upstream_cli = AppGroup("upstream", help="Vendor integrations (Twilio).")


@upstream_cli.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every stored secret under the first key of PHONETREE_ENCRYPTION_KEYS.

    Safe while the app runs: workers that know both keys read old and new tokens alike. Once this
    reports nothing unreadable, remove the old key from PHONETREE_ENCRYPTION_KEYS everywhere.
    """
    keys = current_app.config.get("ENCRYPTION_KEYS") or []
    try:
        report = rotate_all()
    except RuntimeError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"Re-encrypted {len(report.rotated)} integration(s) under the newest key; "
               f"{len(report.current)} already current ({len(keys)} key(s) configured).")
    if report.busy:
        ids = ", ".join(str(i) for i in report.busy)
        click.echo(f"{len(report.busy)} integration(s) kept changing during the rotation (ids {ids}).", err=True)
    if report.unreadable or report.busy:
        ids = ", ".join(str(i) for i in report.unreadable + report.busy)
        raise click.ClickException(
            f"{len(report.unreadable) + len(report.busy)} integration(s) could not be re-encrypted (ids {ids}): none "
            "of the configured keys opens them, or they kept changing. Keep the old key configured and run this again."
        )
    if len(keys) > 1:
        click.echo("Every secret now opens with the newest key: you may remove the older key(s).")


def register(app: Flask) -> None:
    """Attach the `upstream` command group."""
    app.cli.add_command(upstream_cli)
