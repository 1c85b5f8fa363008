"""Phonetree: the Flask application factory and CLI entry point (`flask --app app ...`)."""

from __future__ import annotations

import logging
import os

from flask import Flask, g
from sqlalchemy import event
from sqlalchemy.engine import Engine

from config import fill_generated_secrets, load_config
from db_pool import watch_pool
from extensions import csrf, db, login_manager, migrate


def create_app(config: dict | None = None) -> Flask:
    """Build the app. `config` overrides settings read from the environment (tests use it)."""
    app = Flask(__name__, instance_relative_config=True, instance_path=os.environ.get("PHONETREE_INSTANCE_PATH"))
    app.config.update(load_config(app.instance_path))
    if config:
        app.config.update(config)
        if "SQLALCHEMY_DATABASE_URI" in config and "SQLALCHEMY_ENGINE_OPTIONS" not in config:
            from config import _engine_options

            app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(config["SQLALCHEMY_DATABASE_URI"])
    fill_generated_secrets(app.config, app.instance_path)
    _configure_logging(app)

    import models  # noqa: F401  (register every table with the metadata)

    db.init_app(app)
    with app.app_context():
        watch_pool(db.engine, float(app.config.get("DB_PING_IDLE_SECONDS", 10)))
    from web.throttle import init_throttling

    init_throttling(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(__file__), "migrations"))
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    csrf.init_app(app)

    from web import register_blueprints
    from web.context import can, load_current_org
    from web.errors import register_error_handlers

    register_blueprints(app)
    from web.connect import WebhookAwareSessionInterface

    app.session_interface = WebhookAwareSessionInterface()
    register_error_handlers(app)
    from web.security_headers import init_security_headers

    init_security_headers(app)
    app.before_request(load_current_org)
    app.jinja_env.globals.update(can=can)

    @app.context_processor
    def _globals():
        return {"current_org": g.get("org"), "current_membership": g.get("membership")}

    from cli import register_cli

    register_cli(app)
    return app


def _configure_logging(app: Flask) -> None:
    level = os.environ.get("LOG_LEVEL", "INFO").upper()
    logger = logging.getLogger("phonetree")
    logger.setLevel(level)
    if not logger.handlers and not logging.getLogger().handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, _record):
    """SQLite: enforce foreign keys and use WAL so readers do not block the webhook writer."""
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
