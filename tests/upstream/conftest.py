"""Fixtures for the upstream tests: the Twilio REST stand-in (until the root conftest registers it)."""

from tests.plugins.twilio_fake import *  # noqa: F403
