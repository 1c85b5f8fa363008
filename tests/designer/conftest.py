"""Fixtures for the designer's pages: an org with an editor and a viewer, signed in through the form."""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from extensions import db
from services import flow_revisions as svc


@dataclass
class Session:
    """A signed-in browser session: the test client plus its CSRF token."""

    client: object
    token: str

    def post(self, path: str, **kwargs):
        headers = {"X-CSRFToken": self.token, **kwargs.pop("headers", {})}
        return self.client.post(path, headers=headers, **kwargs)

    def json(self, path: str, body):
        return self.post(path, json=body, headers={"Accept": "application/json"})

    def htmx(self, path: str, data=None, **kwargs):
        return self.post(path, data=data or {}, headers={"HX-Request": "true", **kwargs.pop("headers", {})}, **kwargs)

    def get(self, path: str, **kwargs):
        return self.client.get(path, **kwargs)


def sign_in(app, make, email: str) -> Session:
    """A fresh client signed in as `email`, with the page's CSRF token."""
    client = app.test_client()
    make.client = client
    resp = make.login(email)
    assert resp.status_code == 302, resp.get_data(as_text=True)[:300]
    html = client.get("/flows/").get_data(as_text=True)
    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)
    return Session(client, token)


@pytest.fixture
def acme(app, make):
    """Org `acme` with an editor (signed in as `ed`), a viewer, and a flow from the main_menu starter."""
    org = make.org("acme", "Acme")
    editor = make.user("ed@example.com", role="editor", org=org)
    viewer = make.user("vi@example.com", role="viewer", org=org)
    flow = svc.create_flow(org, editor, "Support line", template="main_menu")
    db.session.commit()
    return {"org": org, "editor": editor, "viewer": viewer, "flow": flow}


@pytest.fixture
def ed(app, make, acme) -> Session:
    return sign_in(app, make, "ed@example.com")


@pytest.fixture
def vi(app, make, acme) -> Session:
    return sign_in(app, make, "vi@example.com")


@pytest.fixture
def other_flow(app, make):
    """A flow of another organisation (for cross-org checks)."""
    org = make.org("globex", "Globex")
    user = make.user("gus@example.com", role="admin", org=org)
    flow = svc.create_flow(org, user, "Globex line")
    db.session.commit()
    return flow


def designer_data(html: str) -> dict:
    """The JSON the designer page embeds for its script."""
    import json

    match = re.search(r'<script type="application/json" id="designer-data">(.*?)</script>', html, re.S)
    assert match, "no designer data on the page"
    return json.loads(match.group(1))
