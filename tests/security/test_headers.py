"""Security headers on every page and API response; no inline script, handler or style in the templates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
EXPECTED = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def _assert_headers(resp) -> None:
    for name, value in EXPECTED.items():
        assert resp.headers.get(name) == value, (name, resp.headers.get(name))
    csp = dict(part.strip().split(" ", 1) for part in resp.headers["Content-Security-Policy"].split(";"))
    assert csp["script-src"] == "'self'" and csp["style-src"] == "'self'" and csp["default-src"] == "'self'"
    assert csp["frame-ancestors"] == "'none'" and csp["object-src"] == "'none'"
    assert "wss://*.twilio.com" in csp["connect-src"] and "https://*.twilio.com" in csp["connect-src"]
    assert "unsafe" not in resp.headers["Content-Security-Policy"]


@pytest.mark.parametrize("path", ["/login", "/members/", "/flows/", "/account", "/no-such-page", "/static/js/app.js"])
def test_pages_carry_the_security_headers(client, make, path):
    make.user("alice@example.com")
    make.login("alice@example.com")
    _assert_headers(client.get(path))


def test_api_answers_and_errors_carry_them_too(client, make):
    make.user("alice@example.com")
    ok = client.post("/auth/token", json={"email": "alice@example.com", "password": "correct-horse-battery"})
    _assert_headers(ok)
    _assert_headers(client.get("/api/flows"))  # 401 JSON


def test_twilio_webhooks_are_left_alone(client):
    resp = client.post("/connect/webhook/twilio/voice?orgid=nobody", data={"CallSid": "CA1"})
    assert "Content-Security-Policy" not in resp.headers


INLINE = [
    (re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"<style", re.I), "<style> element"),
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.I), "inline script"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_templates_have_nothing_the_csp_would_block():
    found = []
    for path in TEMPLATES.rglob("*.html"):
        text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)  # Jinja comments are never sent
        for pattern, what in INLINE:
            found += [f"{path.relative_to(TEMPLATES)}: {what}: {m.group(0)[:80]}" for m in pattern.finditer(text)]
    assert not found, "\n".join(found)
