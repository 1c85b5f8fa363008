"""`flask --app app ...` commands, one module per area."""

from flask import Flask


def register_cli(app: Flask) -> None:
    """Attach every command group to the app."""
    from cli import accounts, analytics, demo, twilio_fake, upstream, worker

    for module in (accounts, analytics, demo, twilio_fake, upstream, worker):
        module.register(app)
    from cli import calls, messages

    calls.register(app)
    messages.register(app)
