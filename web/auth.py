"""Sign-in, sign-out, the organisation switcher and accepting an invitation."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select

from extensions import db, login_manager
from models import User, utcnow
from services.accounts import authenticate
from web.throttle import log_failed_login, throttle_invitation, throttle_login

bp = Blueprint("auth", __name__)
INVITE_MAX_AGE = 7 * 24 * 3600


@login_manager.user_loader
def _load_user(session_token: str):
    """The user whose current session token the cookie holds; none once their sessions were ended."""
    if not session_token or len(session_token) > 64:
        return None
    return db.session.scalar(select(User).where(User.session_token == session_token))


def _safe_next(target: str | None) -> str:
    """Only follow same-site relative redirects after sign-in."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and target.isprintable()  # no CR/LF (header injection) or other control characters
        and "\\" not in target
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("main.home")


@bp.route("/login", methods=["GET", "POST"])
@throttle_login
def login():
    """The sign-in form."""
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip()
        user = authenticate(email, request.form.get("password", ""))
        if user is None:
            log_failed_login(email, "wrong e-mail or password")
            flash("The e-mail address or password is wrong.", "error")
            return render_template("auth/login.html", email=email), 401
        session.clear()
        login_user(user, remember=bool(request.form.get("remember")))
        user.last_login_at = utcnow()
        db.session.commit()
        return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", email=email)


@bp.post("/logout")
def logout():
    """Sign out everywhere (POST, with CSRF, so a link elsewhere cannot sign people out).

    The user's session token is rotated, so a copy of this cookie, a remember-me cookie or an API
    token of the same user stops working too.
    """
    if current_user.is_authenticated:
        current_user.end_sessions()
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.get("/account")
@login_required
def account():
    """The signed-in user's own account: who they are, their organisations, sign out everywhere."""
    return render_template("auth/account.html")


@bp.post("/account/sign-out-everywhere")
@login_required
def sign_out_everywhere():
    """End every session and API token of the signed-in user, on every device, this one included."""
    current_user.end_sessions()
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out on every device, and your API tokens no longer work.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/switch-org")
@login_required
def switch_org():
    """Make another of the user's organisations the current one."""
    wanted = request.form.get("org_id", type=int)
    if any(m.org_id == wanted for m in g.get("memberships", [])):
        session["org_id"] = wanted
    else:
        flash("You are not a member of that organisation.", "error")
    return redirect(url_for("main.home"))


@bp.get("/no-organisation")
@login_required
def no_org():
    """Shown to a signed-in user who belongs to no organisation."""
    return render_template("auth/no_org.html")


def _invites() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="phonetree-invite")


def invite_token(user: User) -> str:
    """A signed, expiring token that lets an invited user set a password once."""
    return _invites().dumps({"uid": user.id, "h": (user.password_hash or "")[-12:]})


@bp.route("/invite/<token>", methods=["GET", "POST"])
@throttle_invitation
def accept_invite(token: str):
    """An invited user chooses a password, then is signed in."""
    try:
        data = _invites().loads(token, max_age=INVITE_MAX_AGE)
    except SignatureExpired:
        return render_template(
            "error.html",
            status=400,
            title="Invitation expired",
            message="This invitation has expired. Ask your admin for a new one.",
        ), 400
    except BadSignature:
        return render_template(
            "error.html", status=400, title="Invalid invitation", message="This invitation link is not valid."
        ), 400
    user = db.session.get(User, data.get("uid"))
    if user is None or (user.password_hash or "")[-12:] != data.get("h"):
        return render_template(
            "error.html",
            status=400,
            title="Invitation used",
            message="This invitation was already used. Sign in instead.",
        ), 400
    if request.method == "POST":
        password = request.form.get("password", "")
        if len(password) < 10:
            flash("Choose a password of at least 10 characters.", "error")
            return render_template("auth/invite.html", user=user), 400
        if password != request.form.get("confirm", ""):
            flash("The two passwords differ.", "error")
            return render_template("auth/invite.html", user=user), 400
        user.set_password(password)
        db.session.commit()
        login_user(user)
        flash("Welcome to Phonetree.", "info")
        return redirect(url_for("main.home"))
    return render_template("auth/invite.html", user=user)
