"""`flask --app app twilio-fake`: serve the local Twilio REST stand-in for development."""

import click
from flask import Flask


@click.command("twilio-fake")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8765, show_default=True, type=int)
@click.option("--account-sid", default="AC" + "0" * 31 + "1", show_default=True)
@click.option("--auth-token", default="fake-auth-token", show_default=True)
def twilio_fake(host: str, port: int, account_sid: str, auth_token: str) -> None:
    """Serve a stateful stand-in for Twilio's REST API (point TWILIO_API_BASE_URL at it)."""
    from upstream.twilio_fake import serve

    serve(host, port, account_sid, auth_token)


def register(app: Flask) -> None:
    app.cli.add_command(twilio_fake)
