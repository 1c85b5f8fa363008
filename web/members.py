"""The members page: who belongs to the organisation, their roles, invitations and presence."""

from __future__ import annotations

from flask import Blueprint, abort, g, render_template, request, url_for
from flask_login import current_user, login_user
from sqlalchemy import select

from extensions import db
from models import Membership, SoftphonePresence, User, utcnow
from services.accounts import AccountError, end_sessions, ensure_user, remove_membership, set_membership
from web.auth import invite_token
from web.context import page_auth

bp = Blueprint("members", __name__, url_prefix="/members")


def _rows():
    members = list(
        db.session.scalars(select(Membership).join(User).where(Membership.org_id == g.org.id).order_by(User.email))
    )
    online = set(
        db.session.scalars(
            select(SoftphonePresence.user_id).where(
                SoftphonePresence.org_id == g.org.id, SoftphonePresence.expires_at > utcnow()
            )
        )
    )
    return members, online


def _render(status: int = 200, **extra):
    members, online = _rows()
    template = "members/_list.html" if request.headers.get("HX-Request") else "members/index.html"
    return render_template(template, members=members, online=online, **extra), status


@bp.get("/")
@page_auth("viewer")
def index():
    """List the members of the current organisation."""
    return _render()


@bp.post("/")
@page_auth("admin")
def add():
    """Add an existing user, or invite a new one by e-mail, with a role."""
    email, role = request.form.get("email", ""), request.form.get("role", "viewer")
    try:
        user, created = ensure_user(email, name=request.form.get("name", "").strip())
        if user.membership_in(g.org.id):
            raise AccountError(f"{user.email} is already a member.")
        set_membership(g.org, user, role)
        db.session.commit()
    except AccountError as err:
        db.session.rollback()
        return _render(400, error=str(err), form=request.form)
    invite = None
    # The link sets the account's password, so it is only for someone invited here alone: for an
    # invitee of another organisation it would hand this admin that organisation's access too.
    if created or (not user.password_hash and all(m.org_id == g.org.id for m in user.memberships)):
        invite = url_for("auth.accept_invite", token=invite_token(user), _external=True)
    return _render(notice=f"{user.email} was added as {role}.", invite=invite, invited=user.email)


@bp.post("/<int:membership_id>/role")
@page_auth("admin")
def change_role(membership_id: int):
    """Change a member's role."""
    membership = _membership_or_404(membership_id)
    try:
        set_membership(g.org, membership.user, request.form.get("role", ""))
        db.session.commit()
    except AccountError as err:
        db.session.rollback()
        return _render(400, error=str(err))
    _stay_signed_in(membership.user)
    return _render(notice=f"{membership.user.email} is now {membership.role}.")


@bp.post("/<int:membership_id>/remove")
@page_auth("admin")
def remove(membership_id: int):
    """Remove a member from the organisation."""
    membership = _membership_or_404(membership_id)
    email = membership.user.email
    try:
        remove_membership(g.org, membership)
        db.session.commit()
    except AccountError as err:
        db.session.rollback()
        return _render(400, error=str(err))
    return _render(notice=f"{email} was removed.")


@bp.post("/<int:membership_id>/sessions/end")
@page_auth("admin")
def end_member_sessions(membership_id: int):
    """Sign a member out of every browser and API client (say, a lost laptop)."""
    membership = _membership_or_404(membership_id)
    end_sessions(membership.user)
    db.session.commit()
    _stay_signed_in(membership.user)
    return _render(notice=f"Every session and API token of {membership.user.email} was ended.")


def _stay_signed_in(changed) -> None:
    """An admin who changed their own role ended their own sessions too: keep this browser signed in."""
    if changed.id == current_user.id:
        login_user(changed)


def _membership_or_404(membership_id: int) -> Membership:
    membership = db.session.get(Membership, membership_id)
    if membership is None or membership.org_id != g.org.id:
        abort(404)
    return membership
