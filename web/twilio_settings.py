"""Settings → Twilio: connect, replace, test and disconnect the organisation's Twilio account.

Admins manage it; editors and viewers see a read-only summary (whether Twilio is connected,
which account, which secrets are set), because flows and numbers depend on it and nothing shown
is secret. Secret fields are never sent back to the browser: the form leaves them blank and a
blank secret keeps the stored one.
"""

from __future__ import annotations

import logging

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy.exc import IntegrityError

from extensions import db
from upstream.errors import IntegrationConfigError, SecretsUnreadable, UpstreamError
from upstream.integrations import delete_integration, get_integration, public_summary, save_integration
from upstream.provider_cache import get_provider
from upstream.twilio_provider import TwilioProvider
from web.context import page_auth

bp = Blueprint("twilio_settings", __name__, url_prefix="/settings/twilio")
log = logging.getLogger("phonetree.web.twilio_settings")
TEST_LIMIT = 50


def _htmx() -> bool:
    return bool(request.headers.get("HX-Request"))


def _render(status: int = 200, form: dict | None = None, **extra):
    """The page, or just its `_twilio.html` partial for htmx."""
    integration = get_integration(g.org)
    summary = public_summary(integration) if integration else None
    if form is None:
        form = {"name": summary["name"], **{k: v or "" for k, v in summary["config"].items()}} if summary else {}
    template = "settings/_twilio.html" if _htmx() else "settings/twilio.html"
    return render_template(template, integration=integration, summary=summary, form=form,
                           fields=TwilioProvider.fields, **extra), status


@bp.get("")
@page_auth("viewer")
def index():
    """Show the connection (admins: with the forms to change it)."""
    return _render()


@bp.post("")
@page_auth("admin")
def save():
    """Connect or replace the Twilio account; Twilio checks changed credentials first."""
    submitted = {f.name: request.form.get(f.name, "") for f in TwilioProvider.fields}
    name = request.form.get("name", "")
    public_form = {"name": name, **{f.name: submitted[f.name] for f in TwilioProvider.fields if not f.secret}}
    replacing = get_integration(g.org) is not None
    try:
        integration = save_integration(g.org, TwilioProvider.type_name, name, submitted)
        db.session.commit()
    except IntegrationConfigError as err:  # includes CredentialsRejected
        db.session.rollback()
        return _render(400, form=public_form, error=err.message, error_field=err.field)
    except UpstreamError as err:
        db.session.rollback()
        return _render(400, form=public_form, error=f"Could not check the credentials with Twilio, so nothing was "
                                                    f"saved. {err.message}")
    except IntegrityError:
        db.session.rollback()
        return _render(409, form=public_form, error="Someone else saved the Twilio settings at the same moment; "
                                                     "nothing was saved. Reload and try again.")
    notice = (f"Twilio {'settings replaced' if replacing else 'connected'}: account {integration.config['accountSid']}"
              " accepted the credentials.")
    if not _htmx():
        flash(notice, "info")
        return redirect(url_for(".index"))
    return _render(notice=notice)


@bp.post("/test")
@page_auth("admin")
def test():
    """Ask Twilio for the account's numbers and show them, or Twilio's error."""
    numbers, error = None, None
    try:
        provider = get_provider(g.org)
        if provider is None:
            error = "Twilio is not connected yet: fill in the form below first."
        else:
            numbers = provider.list_phone_numbers(limit=TEST_LIMIT)
    except SecretsUnreadable as err:
        error = str(err)
    except UpstreamError as err:
        error = err.message
    return render_template("settings/_twilio_test.html", numbers=numbers, error=error, limit=TEST_LIMIT)


@bp.post("/disconnect")
@page_auth("admin")
def disconnect():
    """Forget the Twilio account and its secrets."""
    if delete_integration(g.org):
        db.session.commit()
        notice = "Twilio disconnected. Its numbers stay in your Twilio account but Phonetree can no longer answer them."
    else:
        notice = "Twilio was not connected."
    if not _htmx():
        flash(notice, "info")
        return redirect(url_for(".index"))
    return _render(notice=notice)
