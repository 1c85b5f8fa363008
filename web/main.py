"""Home: sends people to the flows list, the page they live in."""

from flask import Blueprint, redirect, url_for

from web.context import page_auth

bp = Blueprint("main", __name__)


@bp.get("/")
@page_auth("viewer")
def home():
    """The landing page after sign-in."""
    return redirect(url_for("flows_pages.index"))


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico whatever the page says; send them the SVG icon."""
    return redirect(url_for("static", filename="favicon.svg"), code=301)


@bp.get("/healthz")
def healthz():
    """Liveness probe for load balancers."""
    return {"ok": True}
