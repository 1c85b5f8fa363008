"""Flask blueprints: pages and the JSON API. Views only orchestrate."""

from flask import Flask
from werkzeug.routing import IntegerConverter

from models.base import MAX_ID


class IdConverter(IntegerConverter):
    """`<int:...>` in routes: an id too large to exist is a 404 rather than a database overflow."""

    def __init__(self, map, *args, **kwargs):  # noqa: A002  (werkzeug's parameter name)
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint to the app (one line per area)."""
    app.url_map.converters["int"] = IdConverter
    from web import api_auth, auth, flows_api, main, members, org_settings, phone_api, twilio_settings, upstream

    for module in (main, auth, api_auth, members, flows_api, phone_api, upstream, twilio_settings, org_settings):
        app.register_blueprint(module.bp)
    from web import calls, connect, dashboard, executions_api

    for module in (connect, calls, executions_api, dashboard):
        app.register_blueprint(module.bp)
    from web import builtin_flows, flows_pages

    app.register_blueprint(flows_pages.bp)
    app.register_blueprint(builtin_flows.bp)
    from web import phone_pages, softphone_pages

    for module in (phone_pages, softphone_pages):
        app.register_blueprint(module.bp)
