"""`flask --app app call simulate --number +1... --press 1,2`: a whole call, in-process, printed.

The call runs through the app's own webhooks with the caller simulator over the test client,
each request signed with the org's Twilio auth token exactly as Twilio signs it, so it takes
the same path (signature check, flow, step log) as a real call and is stored like one, marked
``simulated``: labelled on the calls pages, counted in no analytics (``--at`` may date it anywhere).
"""

from __future__ import annotations

import contextvars
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from flask.testing import FlaskClient
from sqlalchemy import select

from extensions import db
from models import CallSession, Organization, PhoneNumber
from sim import (
    Action,
    CallerSimulator,
    DialResult,
    FlaskClientTransport,
    HangUp,
    PayResult,
    Press,
    QueueResult,
    RecordAudio,
    Say,
    ScriptError,
    Silence,
    webhook_url,
)
from upstream.integrations import get_integration
from upstream.secrets import decrypt_secrets

call_cli = AppGroup("call", help="Simulate calls through Phonetree's webhooks.")

SCRIPT_HELP = (
    "Actions in order, comma-separated: keys (1, 123#), say:<words>, silence, record:<seconds>[:<transcript>], "
    "pay, pay:fail, dial:<status>, queue:<result>, hangup."
)


class _IsolatedClient(FlaskClient):
    """Each request in its own context, as in a server (the CLI already holds an app context)."""

    def open(self, *args, **kwargs):
        return contextvars.Context().run(super().open, *args, **kwargs)


def parse_script(text: str) -> list[Action]:
    """Actions from a script like ``1,say:sales,silence,record:5:Call me,pay,dial:no-answer``."""
    actions: list[Action] = []
    for raw in (t.strip() for t in text.split(",")):
        if not raw:
            continue
        kind, _, rest = raw.partition(":")
        kind = kind.lower()
        if kind == "say":
            actions.append(Say(rest))
        elif kind == "silence":
            actions.append(Silence())
        elif kind == "record":
            seconds, _, words = rest.partition(":")
            actions.append(RecordAudio(int(seconds or 5), transcript=words or None))
        elif kind == "pay":
            failed = PayResult(success=False, result="payment-connector-error")
            actions.append(failed if rest == "fail" else PayResult())
        elif kind == "dial":
            actions.append(DialResult(rest or "completed"))
        elif kind == "queue":
            actions.append(QueueResult(rest or "bridged"))
        elif kind == "hangup":
            actions.append(HangUp())
        else:
            actions.append(Press(raw))
    return actions


# What the caller can do at each verb the flow may wait at, in the script's words.
WAIT_HINTS = {
    "Gather": "a key press or words (1, 123#, say:<words>, silence)",
    "Record": "a recording (record:<seconds>[:<transcript>], silence)",
    "Pay": "a card payment (pay, pay:fail)",
    "Dial": "the outcome of a transfer (dial:completed, dial:busy, dial:no-answer)",
    "Enqueue": "the outcome of a queue (queue:bridged, queue:hangup)",
}


def call_moment(at: str, tz_name: str | None, org: Organization) -> datetime:
    """The moment `--at` names: an ISO date and time, in `--tz`, else the org's time zone (an offset wins)."""
    try:
        moment = datetime.fromisoformat(at.strip())
    except ValueError:
        raise click.BadParameter(
            f"{at!r} is not a date and time such as 2026-12-07T10:00.", param_hint="--at"
        ) from None
    if moment.tzinfo is not None:
        return moment
    name = tz_name or org.timezone or "UTC"
    try:
        return moment.replace(tzinfo=ZoneInfo(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise click.BadParameter(
            f"{name!r} is not an IANA time zone such as America/New_York.", param_hint="--tz"
        ) from None


@contextmanager
def _clock_from(start: datetime | None) -> Iterator[None]:
    """Run the call as a simulation (``PHONETREE_SIMULATION``: its session is ``simulated``), on a
    clock that starts at `start` and then moves with real time (none: as it is)."""
    config = current_app.config
    simulating = config.get("PHONETREE_SIMULATION")
    config["PHONETREE_SIMULATION"] = True
    try:
        with _moved_clock(start):
            yield
    finally:
        config["PHONETREE_SIMULATION"] = simulating


@contextmanager
def _moved_clock(start: datetime | None) -> Iterator[None]:
    if start is None:
        yield
        return
    config = current_app.config
    began = time.monotonic()
    clock: Callable[[], datetime] = lambda: start + timedelta(seconds=time.monotonic() - began)  # noqa: E731
    had, previous = "PHONETREE_CLOCK" in config, config.get("PHONETREE_CLOCK")
    config["PHONETREE_CLOCK"] = clock
    try:
        yield
    finally:
        if had:
            config["PHONETREE_CLOCK"] = previous
        else:
            config.pop("PHONETREE_CLOCK", None)


def _misfit(sim: CallerSimulator, err: ScriptError) -> str:
    """Why the script stopped, in the script's words rather than the simulator's."""
    verb = type(sim.waiting).__name__ if sim.waiting is not None else ""
    if verb not in WAIT_HINTS:
        return str(err)
    return (
        f"The call waits for {WAIT_HINTS[verb]}, but the script has nothing that fits there. "
        "Add that action to --press/--script at this point (the transcript above shows where the call is)."
    )


def _org_for(number: str, slug: str | None) -> tuple[Organization, PhoneNumber | None]:
    if slug:
        org = Organization.by_slug(slug)
        if org is None:
            raise click.ClickException(f"There is no organisation {slug!r}.")
        row = db.session.scalar(
            select(PhoneNumber).where(PhoneNumber.org_id == org.id, PhoneNumber.phone_number == number)
        )
        return org, row
    rows = list(db.session.scalars(select(PhoneNumber).where(PhoneNumber.phone_number == number)))
    if not rows:
        raise click.ClickException(f"No organisation has the number {number}; pass --org to call it anyway.")
    if len(rows) > 1:
        raise click.ClickException(f"{number} belongs to several organisations; pass --org.")
    return db.session.get(Organization, rows[0].org_id), rows[0]


def _credentials(org: Organization) -> tuple[str, str]:
    """The org's account SID and auth token, to sign the simulated webhooks (never printed)."""
    integration = get_integration(org)
    if integration is None or integration.type != "TwilioProvider":
        raise click.ClickException(f"{org.slug} has no Twilio integration; connect one under Settings → Twilio.")
    token = decrypt_secrets(integration.secrets_encrypted).get("authToken", "")
    return str((integration.config or {}).get("accountSid", "")), token


@call_cli.command("simulate")
@click.option("--number", required=True, help="The number called (E.164), one of the org's.")
@click.option("--org", "org_slug", default=None, help="The organisation (default: the one owning --number).")
@click.option("--press", "presses", multiple=True, help="Keys at successive prompts, comma-separated: 1,2 or 123#.")
@click.option("--say", "says", multiple=True, help="Words spoken at a prompt (repeatable), after the presses.")
@click.option("--silence", is_flag=True, help="Stay silent at the next prompt (after presses and says).")
@click.option("--script", default="", help=SCRIPT_HELP)
@click.option("--from", "from_", default="+15550100000", show_default=True, help="The caller's number.")
@click.option("--requests", "show_requests", is_flag=True, help="Also print every webhook request made.")
@click.option(
    "--at", "at", default=None, help="The call's clock, e.g. 2026-12-07T10:00 (in --tz, else the org's time zone)."
)
@click.option("--tz", "tz_name", default=None, help="IANA time zone of --at, e.g. Europe/Paris.")
def simulate(
    number: str,
    org_slug: str | None,
    presses: tuple[str, ...],
    says: tuple[str, ...],
    silence: bool,
    script: str,
    from_: str,
    show_requests: bool,
    at: str | None,
    tz_name: str | None,
) -> None:
    """Call NUMBER in-process through the signed webhooks and print what the caller heard and did."""
    org, row = _org_for(number, org_slug)
    if tz_name and not at:
        raise click.BadParameter("--tz names the time zone of --at; give --at too.", param_hint="--tz")
    start = call_moment(at, tz_name, org) if at else None
    account_sid, token = _credentials(org)
    actions = parse_script(script) if script else [Press(k.strip()) for p in presses for k in p.split(",") if k.strip()]
    if not script:
        actions += [Say(text) for text in says] + ([Silence()] if silence else [])
    base = (current_app.config.get("PUBLIC_BASE_URL") or "http://localhost").rstrip("/")
    service = "voice" if row is not None and row.mode == "voice" and row.flow_id is None else "ivr-menu"
    app = current_app._get_current_object()  # the client outlives this context in each request
    client = _IsolatedClient(app, app.response_class, use_cookies=False)
    sim = CallerSimulator(
        FlaskClientTransport(client),
        account_sid=account_sid,
        auth_token=token,
        from_=from_,
        to=number,
        status_callback_url=webhook_url(base, "status", orgid=org.slug),
    )
    if start is not None:
        click.echo(f"Call at {start.strftime('%A %d %B %Y %H:%M %Z')}.")
    with _clock_from(start):
        try:
            transcript = sim.run(webhook_url(base, service, orgid=org.slug), actions)
        except ScriptError as err:
            message = _misfit(sim, err)
            if not sim.ended:  # the caller gives up: Twilio's final status callback ends the stored call
                sim.act(HangUp())
            click.echo(sim.transcript.text(include_requests=show_requests))
            raise click.ClickException(message) from None
    click.echo(transcript.text(include_requests=show_requests))
    session = db.session.scalar(select(CallSession).where(CallSession.call_sid == sim.call_sid))
    if session is not None:
        click.echo(
            f"Stored as simulated call {session.id}: {session.step_count} steps, ended: {session.end_reason or '-'}."
        )
    if transcript.errors:
        sys.exit(1)


def register(app: Flask) -> None:
    """Add the `call` command group."""
    app.cli.add_command(call_cli)
