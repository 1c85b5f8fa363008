"""Browser fixtures: a live Phonetree server in a thread and Playwright driving Debian's Chromium."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.plugins.db import base_config, skip_or_fail

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-dev-shm-usage",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"


class LiveServer:
    """A Phonetree app served over HTTP on 127.0.0.1 in a background thread."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(5)


@pytest.fixture
def live_server(databases):
    """A live server on a fresh database; the test runs inside its app context to seed data."""
    from app import create_app
    from extensions import db

    if databases.dialect != "sqlite":
        pytest.skip("browser tests run in the SQLite pass")
    from services.flow_revisions import clear_caches

    clear_caches()
    app = create_app(base_config(databases.fresh(), databases.instance))
    with app.app_context():
        with LiveServer(app) as server:
            app.config["PUBLIC_BASE_URL"] = server.url
            yield server
        db.session.remove()
        db.engine.dispose()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's build) driven by Playwright."""
    if not os.path.exists(CHROMIUM):
        skip_or_fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:  # pragma: no cover - dev requirements missing
        skip_or_fail("Playwright for Python is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, request):
    """A fresh browser page at 1280x800; on failure a screenshot lands in test-output/screenshots."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.js_errors = errors
    pg.csp_violations = watch_csp(pg)
    yield pg
    if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
        shot(pg, f"FAILED-{request.node.name}")
    context.close()
    if pg.csp_violations and not request.node.get_closest_marker("csp_violations_expected"):
        pytest.fail("Content-Security-Policy violations:\n" + "\n".join(pg.csp_violations), pytrace=False)


def watch_csp(pg) -> list[str]:
    """Collect every Content-Security-Policy violation Chromium reports in the console."""
    violations: list[str] = []

    def on_console(msg) -> None:
        text = msg.text
        if "Content Security Policy" in text or "Content-Security-Policy" in text:
            violations.append(text)

    pg.on("console", on_console)
    # Chromium's console line does not say which element or file: the event does.
    pg.add_init_script(
        "document.addEventListener('securitypolicyviolation', (e) => console.error('Content-Security-Policy: "
        "blocked', e.violatedDirective, 'at', e.sourceFile + ':' + e.lineNumber, 'on',"
        " (e.target && e.target.outerHTML || '').slice(0, 160)));"
    )
    return violations


def shot(pg, name: str) -> Path:
    """Save a screenshot under test-output/screenshots for people to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    pg.screenshot(path=str(path), full_page=False)
    return path


def seed_admin(slug: str, name: str, email: str, password: str):
    """An org with one admin, committed; returns (org, user)."""
    from extensions import db
    from services.accounts import ensure_org, ensure_user, set_membership

    org = ensure_org(slug, name)
    user, _ = ensure_user(email, password, email.split("@")[0].title())
    set_membership(org, user, "admin")
    db.session.commit()
    return org, user


def login(pg, server: LiveServer, email: str, password: str) -> None:
    """Sign in through the real form."""
    pg.goto(server.url + "/login")
    pg.fill("input[name=email]", email)
    pg.fill("input[name=password]", password)
    pg.click("button[type=submit]")
    pg.wait_for_load_state("networkidle")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if {"page", "browser"} & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.browser)
