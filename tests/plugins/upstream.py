"""Fixtures for the upstream tests: an app pointed at the Twilio stand-in, and an admin to call the API."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import pytest

APP_SID = "AP" + hashlib.sha256(b"phonetree-test-twiml-app").hexdigest()[:32]


def twilio_config(fake, **overrides: Any) -> dict[str, Any]:
    """A complete, valid TwilioProvider config for the stand-in's provisioned account."""
    config = {
        "accountSid": fake.account_sid,
        "authToken": fake.auth_token,
        "appSid": APP_SID,
        "apiKey": fake.api_key,
        "apiKeySecret": fake.api_key_secret,
    }
    config.update(overrides)
    return {k: v for k, v in config.items() if v is not None}


@pytest.fixture
def twilio_app(app, twilio_fake):
    """The test app, with TWILIO_API_BASE_URL at the stand-in and a short timeout."""
    app.config.update(TWILIO_API_BASE_URL=twilio_fake.url, TWILIO_TIMEOUT_SECONDS=2)
    return app


@dataclass
class UpstreamApi:
    """Calls the upstream JSON API as one user in one org."""

    client: Any
    headers: dict[str, str]
    fake: Any
    org: Any
    user: Any

    def save(self, config: dict | None = None, name: str = "Acme Twilio", type_: str = "TwilioProvider", **body):
        """POST /upstream/save-integration (config defaults to the stand-in's valid credentials)."""
        payload = {"type": type_, "name": name, "config": twilio_config(self.fake) if config is None else config}
        payload.update(body)
        return self.client.post("/upstream/save-integration", json=payload, headers=self.headers)

    def test(self, operation: str = "listPhoneNumbers", integration: str = "TwilioProvider", json: Any = None):
        """POST /upstream/test/{integration}/{operation}."""
        kwargs = {"json": json} if json is not None else {}
        return self.client.post(f"/upstream/test/{integration}/{operation}", headers=self.headers, **kwargs)


@pytest.fixture
def upstream_api(twilio_app, client, make, twilio_fake) -> UpstreamApi:
    """An admin of org `acme` calling the upstream API against the stand-in."""
    org = make.org("acme", "Acme Corp")
    user = make.user("admin@acme.example", "admin", org)
    return UpstreamApi(client, make.api_headers(user, org), twilio_fake, org, user)
