"""`flask --app app seed-demo`: a demo organisation, an admin and a demo flow for `make run`."""

import os

import click
from flask import Flask, current_app
from sqlalchemy import select

from extensions import db
from models import Flow
from services.accounts import ensure_org, ensure_user, set_membership
from services.flow_revisions import create_flow, publish


@click.command("seed-demo")
@click.option("--email", default="admin@demo.example", show_default=True)
@click.option("--org", "org_slug", default="demo", show_default=True)
def seed_demo(email: str, org_slug: str) -> None:
    """Create (idempotently) the demo org, its admin and a demo flow, and print how to sign in."""
    password = os.environ.get("DEMO_PASSWORD", "phonetree-demo")
    org = ensure_org(org_slug, "Demo Company")
    user, _ = ensure_user(email, None, "Demo Admin")
    if not user.password_hash:
        user.set_password(password)
    set_membership(org, user, "admin")
    if db.session.scalar(select(Flow.id).where(Flow.org_id == org.id)) is None:
        if org.timezone in (None, "", "UTC"):
            org.timezone = "America/New_York"  # the demo's office hours and README's call examples are New York's
        flow = create_flow(
            org,
            user,
            "Main menu (demo)",
            template="main_menu",
            description="Business hours, a menu, ticket lookup and voicemail.",
        )
        publish(org, user, flow, "Demo flow as seeded")
    db.session.commit()
    click.echo(
        f"Demo organisation '{org.slug}' is ready. Sign in at {current_app.config.get('PUBLIC_BASE_URL') or 'http://127.0.0.1:5000'}"
        f" as {email}"
        f" with password '{password}' (unless you changed it)."
    )


def register(app: Flask) -> None:
    app.cli.add_command(seed_demo)
