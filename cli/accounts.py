"""`flask --app app user create EMAIL --password PW --org SLUG --role admin`; `user end-sessions EMAIL`."""

import click
from flask import Flask
from flask.cli import AppGroup

from extensions import db
from models import ROLES, User
from services.accounts import AccountError, end_sessions, ensure_org, ensure_user, set_membership

user_cli = AppGroup("user", help="Manage users.")


@user_cli.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True, help="The user's password.")
@click.option("--org", "org_slug", required=True, help="Organisation slug (created if it does not exist).")
@click.option("--role", type=click.Choice(ROLES), default="viewer", show_default=True)
@click.option("--name", default="", help="Display name.")
def create_user(email: str, password: str, org_slug: str, role: str, name: str) -> None:
    """Create a user (or update their password) and make them a member of ORG with ROLE."""
    try:
        org = ensure_org(org_slug)
        user, created = ensure_user(email, password, name)
        set_membership(org, user, role)
        db.session.commit()
    except AccountError as err:
        db.session.rollback()
        raise click.ClickException(str(err)) from None
    click.echo(f"{'Created' if created else 'Updated'} {user.email} as {role} of {org.slug}.")


@user_cli.command("end-sessions")
@click.argument("email")
def end_user_sessions(email: str) -> None:
    """Sign EMAIL out of every browser and API client (their sessions and tokens stop working)."""
    user = User.by_email(email)
    if user is None:
        raise click.ClickException(f"No user {email}.")
    end_sessions(user)
    db.session.commit()
    click.echo(f"Ended every session and API token of {user.email}.")


def register(app: Flask) -> None:
    app.cli.add_command(user_cli)
