"""The one registry of Twilio webhooks (flows/webhooks.py) against shared/docs/API.md."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from flows import EVENT_KINDS
from flows.webhooks import (
    ADDED_SERVICE_IDS,
    CALLBACK_SERVICES,
    MESSAGING_SERVICES,
    SERVICE_IDS,
    VOICE_SERVICES,
    WEBHOOKS,
    event_from_webhook,
    webhook_path,
)
from sim import webhook_url

API_MD = Path(__file__).resolve().parents[2].parent / "shared" / "docs" / "API.md"


def _api_service_ids() -> set[str]:
    text = API_MD.read_text()
    listed = re.search(r"- serviceIds:(.*?)Unknown serviceId", text, re.S)
    assert listed, "API.md no longer lists the serviceIds"
    return {name.strip(" .\n") for name in listed.group(1).split(",")}


def test_the_registry_is_api_md_s_list_written_once():
    if not API_MD.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{API_MD} is missing")
        pytest.skip("shared/docs/API.md is not beside this checkout")
    assert _api_service_ids() | ADDED_SERVICE_IDS == SERVICE_IDS
    assert not _api_service_ids() & ADDED_SERVICE_IDS
    assert len(WEBHOOKS) == len(SERVICE_IDS)
    assert VOICE_SERVICES | CALLBACK_SERVICES | MESSAGING_SERVICES == SERVICE_IDS
    assert not (VOICE_SERVICES & CALLBACK_SERVICES) and {"sms"} == MESSAGING_SERVICES


def test_each_webhook_brings_a_known_event_and_has_one_url():
    for hook in WEBHOOKS:
        assert hook.event is None or hook.event in EVENT_KINDS
        assert hook.kind == "voice" or (hook.event is None and not hook.opens)
        assert webhook_path(hook.service_id) == f"/connect/webhook/twilio/{hook.service_id}"
        event = event_from_webhook(hook.service_id, {}, {})
        assert (event.kind if event else None) == hook.event
    assert webhook_url("https://ivr.example.com/", "status", orgid="acme") == \
        "https://ivr.example.com/connect/webhook/twilio/status?orgid=acme"
    with pytest.raises(KeyError):
        webhook_path("ivr-menus")
