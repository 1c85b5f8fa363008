"""The signed-in user's current organisation for pages, and the role-checking decorator views use."""

from __future__ import annotations

from functools import wraps

from flask import abort, flash, g, redirect, request, session, url_for
from flask_login import current_user
from sqlalchemy import select

from extensions import db
from models import Membership, Organization
from models.accounts import ROLE_RANK


def memberships_of(user) -> list[Membership]:
    """The user's memberships, ordered by organisation name."""
    return list(
        db.session.scalars(
            select(Membership).join(Organization).where(Membership.user_id == user.id).order_by(Organization.name)
        )
    )


def load_current_org() -> None:
    """Set g.org and g.membership from the session's chosen org (falling back to the first).

    Twilio's webhooks (the ``connect`` blueprint) carry no user: their org comes from the signed
    ``orgid``, so neither the user nor their memberships are loaded for them.
    """
    g.org = g.membership = None
    if request.blueprint == "connect" or not current_user.is_authenticated:
        return
    mships = memberships_of(current_user)
    g.memberships = mships
    chosen = session.get("org_id")
    membership = next((m for m in mships if m.org_id == chosen), None) or (mships[0] if mships else None)
    if membership:
        session["org_id"] = membership.org_id
        g.org, g.membership = membership.org, membership


def page_auth(role: str = "viewer"):
    """Decorator for pages: signed in, a member of the current org, with at least `role`."""

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if g.get("membership") is None:
                flash("You are not a member of any organisation yet. Ask an admin to add you.", "error")
                return redirect(url_for("auth.no_org"))
            if ROLE_RANK[g.membership.role] < ROLE_RANK[role]:
                abort(403, f"This page needs the {role} role; you are {g.membership.role} in {g.org.name}.")
            return view(*args, **kwargs)

        return wrapper

    return decorator


def can(role: str) -> bool:
    """Template helper: does the current membership have at least this role?"""
    m = g.get("membership")
    return bool(m) and ROLE_RANK[m.role] >= ROLE_RANK[role]
