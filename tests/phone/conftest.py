"""Fixtures for the phone tests: an org connected to the Twilio stand-in, its admin, flows, API calls."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from extensions import db
from models import Flow
from services.flow_templates import template_definition

APP_SID = "AP" + "a1" * 16


def connect_twilio(app, org, fake) -> None:
    """Point the app at the stand-in and save the org's Twilio integration (checked against it)."""
    from upstream.integrations import save_integration

    app.config["TWILIO_API_BASE_URL"] = fake.url
    config = {
        "accountSid": fake.account_sid,
        "authToken": fake.auth_token,
        "appSid": APP_SID,
        "apiKey": fake.api_key,
        "apiKeySecret": fake.api_key_secret,
    }
    save_integration(org, "TwilioProvider", "Acme Twilio", config)
    db.session.commit()


def make_flow(org, name: str = "Main line", draft: dict | None = None) -> Flow:
    """A flow row of this org (its draft: the main menu template unless given)."""
    flow = Flow(org_id=org.id, name=name, draft=draft or template_definition("main_menu"), test_users=[])
    db.session.add(flow)
    db.session.commit()
    return flow


TEXTS_DEFINITION = {
    "spec": "phonetree/1",
    "start": "hi",
    "settings": {"channels": ["messaging"]},
    "nodes": [{"id": "hi", "type": "send_message", "props": {"body": "Hello"}, "outcomes": {}}],
}


def make_texts_flow(org, name: str = "Text line") -> Flow:
    """A flow of this org serving text conversations only."""
    return make_flow(org, name, TEXTS_DEFINITION)


@dataclass
class Phone:
    """An org connected to the stand-in, its admin's API headers, and shortcuts to call the API."""

    app: object
    client: object
    make: object
    fake: object
    org: object
    admin: object
    headers: dict

    def get(self, path: str, headers: dict | None = None):
        return self.client.get(path, headers=headers or self.headers)

    def post(self, path: str, json: dict | None = None, headers: dict | None = None):
        return self.client.post(path, json=json if json is not None else {}, headers=headers or self.headers)

    def ok(self, method: str, path: str, json: dict | None = None, status: int = 200) -> dict:
        resp = self.get(path) if method == "GET" else self.post(path, json)
        assert resp.status_code == status, resp.get_data(as_text=True)
        return resp.get_json()

    def twilio_number(self, sid: str) -> dict:
        """The stand-in's record of a number."""
        return self.fake.state.numbers[sid]

    def hook(self, service: str) -> str:
        """The webhook URL Phonetree must configure for this service."""
        return f"http://localhost/connect/webhook/twilio/{service}?orgid={self.org.slug}"


@pytest.fixture
def phone(app, client, make, twilio_fake) -> Phone:
    """Org "acme" with Twilio connected to the stand-in and an admin, alice@example.com."""
    org = make.org("acme", "Acme Corp")
    admin = make.user("alice@example.com", role="admin", org=org)
    connect_twilio(app, org, twilio_fake)
    return Phone(app, client, make, twilio_fake, org, admin, make.api_headers(admin, org))


@pytest.fixture
def flow(phone) -> Flow:
    """A flow of the phone fixture's org."""
    return make_flow(phone.org)
