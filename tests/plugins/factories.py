"""Helpers to create orgs, users and tokens, and to sign in, in tests."""

from __future__ import annotations

import re

import pytest

from extensions import db
from services.accounts import ensure_org, ensure_user, set_membership

PASSWORD = "correct-horse-battery"


class Factory:
    """Creates rows and credentials for a test."""

    def __init__(self, app, client):
        self.app, self.client = app, client

    def org(self, slug: str = "acme", name: str | None = None):
        org = ensure_org(slug, name)
        db.session.commit()
        return org

    def user(self, email: str = "alice@example.com", role: str = "admin", org=None, password: str = PASSWORD):
        user, _ = ensure_user(email, password)
        set_membership(org or self.org(), user, role)
        db.session.commit()
        return user

    def token(self, email: str, password: str = PASSWORD) -> str:
        resp = self.client.post("/auth/token", json={"email": email, "password": password})
        assert resp.status_code == 200, resp.get_data(as_text=True)
        return resp.get_json()["token"]

    def api_headers(self, user, org) -> dict:
        """Headers for a JSON API call as `user` in `org`."""
        return {"Authorization": f"Bearer {self.token(user.email)}", "orgid": org.slug}

    def login(self, email: str, password: str = PASSWORD):
        """Sign in through the real form (with its CSRF token); returns the response."""
        token = self.csrf("/login")
        return self.client.post("/login", data={"email": email, "password": password, "csrf_token": token})

    def csrf(self, path: str = "/members/") -> str:
        """The CSRF token of the current client session, read from a page."""
        html = self.client.get(path).get_data(as_text=True)
        match = re.search(r'name="csrf-token" content="([^"]+)"', html)
        assert match, f"no CSRF token on {path}"
        return match.group(1)


@pytest.fixture
def make(app, client):
    """Factory for orgs, users, tokens and sign-in."""
    return Factory(app, client)
