"""pytest fixtures for the Twilio REST stand-in (``upstream.twilio_fake``).

Register with ``pytest_plugins = ["tests.plugins.twilio_fake"]`` in the root conftest.

- ``twilio_fake``: a running ``FakeTwilioServer`` with fresh state for this test and one
  account and standard API key; attributes ``url``, ``state``, ``account_sid``,
  ``auth_token``, ``api_key``, ``api_key_secret``, and ``client(use_api_key=False)`` for
  the real ``twilio`` client pointed at it. One server serves the whole session; only its
  state is reset per test, so the fixture costs no port or thread per test.
- ``twilio_fake_env``: the same, with ``TWILIO_API_BASE_URL`` set to its URL for the test.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from upstream.twilio_fake import FakeTwilioServer

__all__ = [
    "TWILIO_FAKE_ACCOUNT_SID",
    "TWILIO_FAKE_API_KEY",
    "TWILIO_FAKE_API_KEY_SECRET",
    "TWILIO_FAKE_AUTH_TOKEN",
    "twilio_fake",
    "twilio_fake_env",
    "twilio_fake_server",
]


def _hex(label: str) -> str:
    return hashlib.sha256(f"phonetree-twilio-fake:{label}".encode()).hexdigest()[:32]


TWILIO_FAKE_ACCOUNT_SID = "AC" + _hex("account")
TWILIO_FAKE_AUTH_TOKEN = _hex("auth-token")
TWILIO_FAKE_API_KEY = "SK" + _hex("api-key")
TWILIO_FAKE_API_KEY_SECRET = _hex("api-key-secret")


@pytest.fixture(scope="session")
def twilio_fake_server() -> Iterator[FakeTwilioServer]:
    """The session's fake Twilio server (use ``twilio_fake``, which also resets its state)."""
    server = FakeTwilioServer().start()
    yield server
    server.stop()


@pytest.fixture
def twilio_fake(twilio_fake_server: FakeTwilioServer) -> Iterator[FakeTwilioServer]:
    """A running fake Twilio with fresh state, one account and one API key for this test."""
    server = twilio_fake_server
    state = server.state
    clock = state.clock
    if not server.running:  # a previous test stopped it
        server.start()
    state.reset()
    server.provision(TWILIO_FAKE_ACCOUNT_SID, TWILIO_FAKE_AUTH_TOKEN, TWILIO_FAKE_API_KEY, TWILIO_FAKE_API_KEY_SECRET)
    yield server
    state.clock = clock
    state.reset()  # also releases requests left hanging by set_down(mode="hang")


@pytest.fixture
def twilio_fake_env(twilio_fake: FakeTwilioServer, monkeypatch: pytest.MonkeyPatch) -> FakeTwilioServer:
    """``twilio_fake`` with ``TWILIO_API_BASE_URL`` pointing at it for this test."""
    monkeypatch.setenv("TWILIO_API_BASE_URL", twilio_fake.url)
    return twilio_fake
