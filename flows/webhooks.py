"""Turning a Twilio webhook into an engine `Event` (for the call runtime)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.runtime import Event

# serviceId -> event kind of its webhook
SERVICE_EVENTS = {
    "voice": "start",
    "ivr-menu": "start",
    "ivr-menu-input": "input",
    "ivr-input": "input",
    "ivr-recording": "recording",
    "ivr-payment-status": "payment",
    "ivr-continue": "continue",
}


def event_from_webhook(service_id: str, form: Mapping[str, Any], query: Mapping[str, Any]) -> Event | None:
    """The engine event for an ivr webhook, or None when the serviceId is not a turn.

    The no-input Redirect after a Gather or Record carries ``timeout=1`` in its query and
    becomes a ``timeout`` event; ``ivr-continue`` becomes ``dial`` (DialCallStatus),
    ``queue`` (QueueResult) or ``continue``.
    """
    kind = SERVICE_EVENTS.get(service_id)
    if kind is None:
        return None
    params = dict(form)
    if str(query.get("timeout", "")) == "1" and kind in ("input", "recording"):
        return Event("timeout", params)
    if kind == "continue":
        if params.get("DialCallStatus"):
            return Event("dial", params)
        if params.get("QueueResult"):
            return Event("queue", params)
    return Event(kind, params)
