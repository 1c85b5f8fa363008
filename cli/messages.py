"""`flask --app app message simulate --number +1... --from +1... --script "hi,1,yes,wait:3600"`.

A text conversation played in-process through the app's own ``sms`` webhook, each message signed
with the org's Twilio auth token as Twilio signs it, so it takes the real path (signature check,
messaging session, step log) and is stored like any conversation. ``wait:<seconds>`` moves the
conversation's clock (the app's ``PHONETREE_CLOCK``) on and fires the durable timers due by then
as the timer worker would (`services.timers.run_due`: a reply timeout, the inactivity expiry).
The flow's replies are recorded, not sent, unless ``--send``.

The conversation is **simulated** (``PHONETREE_SIMULATION``): its sessions are marked
``simulated``, labelled on the calls pages and counted in no analytics rollup, rebuild, dashboard
or export, since a ``wait:`` dates what follows in the future. A conversation the script leaves
waiting is ended (``simulation_ended``) with its timers: no simulated conversation stays live to
catch the contact's real texts, and no timer of it waits in the future. A contact with a live real
conversation with the number is refused (the script's texts would join it).
"""

from __future__ import annotations

import contextvars
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from urllib.parse import urlsplit

import click
from flask import current_app
from flask.cli import AppGroup
from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from cli.calls import _credentials, _org_for
from extensions import db
from flows.state import end_reason_words
from models import CallSession, Message, Organization, utcnow
from services import messaging, timers
from services.call_store import lock_row
from services.webhook_urls import webhook_url

message_cli = AppGroup("message", help="Simulate text conversations through Phonetree's webhooks.")
SCRIPT_HELP = "Texts in order, comma-separated; wait:<seconds> lets that much time pass (timeouts fire)."


class _IsolatedClient(FlaskClient):
    """Each request in its own context, as in a server (the CLI already holds an app context)."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


class _Clock:
    """The conversation's clock: now, moved on by each ``wait:``."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self):
        return self.now


@contextmanager
def _configured(clock: _Clock, send: bool) -> Iterator[None]:
    config = current_app.config
    saved = {k: config.get(k) for k in ("PHONETREE_CLOCK", "PHONETREE_MESSAGES_DRY_RUN", "PHONETREE_SIMULATION")}
    config["PHONETREE_CLOCK"], config["PHONETREE_MESSAGES_DRY_RUN"] = clock, not send
    config["PHONETREE_SIMULATION"] = True
    try:
        yield
    finally:
        config.update(saved)


def _live(org: Organization, number: str, contact: str) -> CallSession | None:
    db.session.expire_all()
    return db.session.scalar(
        select(CallSession).where(CallSession.live_key == messaging.live_key(org.id, number, contact))
    )


def _wait(org: Organization, number: str, contact: str, clock: _Clock, seconds: int) -> list[str]:
    """Let `seconds` pass on the app clock, then fire the durable timers due by then (`timers.run_due`,
    what the timer worker does): a reply timeout, the inactivity expiry."""
    clock.now += timedelta(seconds=seconds)
    before = _live(org, number, contact)
    session_id, turn = (before.id, before.turn) if before is not None else (None, None)
    db.session.rollback()  # the timers fire in contexts of their own: hold no transaction open
    if session_id is None:
        return []
    # only this conversation's timers: the app's clock is moved on, and every other session's
    # timers must keep waiting for their real time (another org's, a real contact's)
    fired = timers.run_due(current_app._get_current_object(), where=messaging.session_timers([session_id]))
    if not fired:
        return []
    after = _live(org, number, contact)
    if after is None:
        return ["the conversation expired" if _ended(session_id) == "expired" else "the reply timeout fired"]
    return ["the reply timeout fired"] if after.turn != turn else []


def _close(org: Organization, session_id: str) -> bool:
    """End the conversation if the script left it waiting (``simulation_ended``, its timers dropped)."""
    db.session.rollback()
    row = lock_row(org.id, "id", session_id)
    if row is None or row.ended_at is not None or not row.simulated:
        db.session.rollback()
        return False
    messaging.expire(org, row, "simulation_ended")
    return True


def _ended(session_id: str) -> str | None:
    session = db.session.get(CallSession, session_id)
    return session.end_reason if session is not None else None


def _script(script: str) -> list[str]:
    """The script's items, checked before anything is texted: whole seconds in each wait, and a text."""
    items = [part.strip() for part in script.split(",") if part.strip()]
    for item in items:
        if item.startswith("wait:") and not item.removeprefix("wait:").isdigit():
            raise click.BadParameter(f"{item!r}: wait takes whole seconds, e.g. wait:3600", param_hint="--script")
    if all(item.startswith("wait:") for item in items):
        raise click.BadParameter('it texts nothing: give at least one message, e.g. "hi,1"', param_hint="--script")
    return items


@message_cli.command("simulate")
@click.option("--number", required=True, help="The number texted (E.164), one of the org's.")
@click.option("--from", "from_", default="+15550100000", show_default=True, help="The contact's number.")
@click.option("--script", required=True, help=SCRIPT_HELP)
@click.option("--org", "org_slug", default=None, help="The organisation (default: the one owning --number).")
@click.option("--send", is_flag=True, help="Really send the flow's replies through the org's Twilio account.")
def simulate(number: str, from_: str, script: str, org_slug: str | None, send: bool) -> None:
    """Text NUMBER in-process through the signed webhooks and print the conversation."""
    org, _ = _org_for(number, org_slug)
    account_sid, token = _credentials(org)
    app = current_app._get_current_object()
    client = _IsolatedClient(app, app.response_class, use_cookies=False)
    url = webhook_url(org.slug, "sms")
    clock, failed, seen = _Clock(), False, set()
    sessions: list[str] = []
    items = _script(script)
    live = _live(org, number, from_)
    if live is not None and not live.simulated:  # the texts would join a real conversation
        raise click.ClickException(
            f"{from_} has a live conversation with {number} (not a simulation); simulate with another --from."
        )
    with _configured(clock, send):
        try:
            for item in items:
                if item.startswith("wait:"):
                    seconds = item.removeprefix("wait:")
                    what = _wait(org, number, from_, clock, int(seconds))
                    click.echo(f"… {seconds} s pass" + "".join(f"; {f}" for f in what))
                else:
                    sid = "SM" + uuid.uuid4().hex
                    form = {
                        "MessageSid": sid,
                        "SmsSid": sid,
                        "AccountSid": account_sid,
                        "From": from_,
                        "To": number,
                        "Body": item,
                        "NumMedia": "0",
                    }
                    signature = RequestValidator(token).compute_signature(url, form)
                    parts = urlsplit(url)
                    response = client.post(
                        f"{parts.path}?{parts.query}", data=form, headers={"X-Twilio-Signature": signature}
                    )
                    click.echo(f"> {item}")
                    if response.status_code != 200:
                        click.echo(f"! the webhook answered {response.status_code}")
                        failed = True
                live = _live(org, number, from_)
                if live is not None and live.id not in sessions:
                    sessions.append(live.id)
                for session_id in sessions:
                    rows = db.session.scalars(
                        select(Message)
                        .where(Message.session_id == session_id, Message.direction == "outbound")
                        .order_by(Message.id)
                    )
                    for row in rows:
                        if row.id not in seen:
                            seen.add(row.id)
                            code = f" (error {row.error_code})" if row.error_code else ""
                            sent = "< " if row.status != "failed" else "< not sent: "
                            click.echo(f"{sent}{row.body}{code}")
        finally:  # a script that fails half-way leaves no simulated conversation waiting for real texts
            closed = [session_id for session_id in sessions if _close(org, session_id)]
    for session_id in sessions:
        session = db.session.get(CallSession, session_id)
        db.session.refresh(session)
        ended = end_reason_words(session.end_reason, "messaging")
        if session.id in closed:
            ended = "left waiting by the script, ended by the simulation"
        click.echo(f"Stored as simulated conversation {session.id}: {session.step_count} steps, ended: {ended}.")
    if not sessions:
        click.echo("No conversation: the number has no messaging flow (its auto-reply, if any, answered).")
    if failed:
        sys.exit(1)


def register(app) -> None:
    """Add the `message` command group."""
    app.cli.add_command(message_cli)
