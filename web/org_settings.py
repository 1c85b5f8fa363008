"""Settings → Organisation: the organisation's name and time zone (admins change them, others read them).

The time zone is the clock of the Calls list, of `call simulate --at`, and of new flows' starter
templates; it is picked from the IANA zones (a searchable list, no CDN).
"""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from extensions import db
from services.accounts import AccountError, time_zone_names, update_org
from web.context import page_auth

bp = Blueprint("org_settings", __name__, url_prefix="/settings/organisation")


@bp.get("")
@page_auth("viewer")
def index():
    """The organisation's name and time zone (admins: with the form to change them)."""
    return render_template("settings/organisation.html", zones=time_zone_names(), form=None)


@bp.post("")
@page_auth("admin")
def save():
    """Save the name and time zone; a bad value is shown with the form as typed and nothing changes."""
    form = {"name": request.form.get("name", ""), "timezone": request.form.get("timezone", "")}
    try:
        update_org(g.org, form["name"], form["timezone"])
        db.session.commit()
    except AccountError as err:
        db.session.rollback()
        return render_template("settings/organisation.html", zones=time_zone_names(), form=form, error=str(err)), 400
    flash(f"Saved: {g.org.name} keeps time in {g.org.timezone}.", "info")
    return redirect(url_for("org_settings.index"))
