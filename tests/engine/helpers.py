"""Helpers for engine tests: a fixed context, flow builders and a call driver."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from flows import Event, FakeServices, TurnContext, TurnResult, run_turn

BASE = "https://ivr.example.com/connect/webhook/twilio"
NOW = datetime(2025, 3, 4, 15, 30, tzinfo=UTC)  # a Tuesday
CALL = {
    "CallSid": "CA0123456789abcdef0123456789abcdef",
    "From": "+14155550123",
    "To": "+14155550999",
    "Direction": "inbound",
    "AccountSid": "AC0123456789abcdef0123456789abcdef",
}


def url_for(service_id: str, **params: Any) -> str:
    """A deterministic absolute webhook URL, as the runtime would build it."""
    return f"{BASE}/{service_id}?{urlencode({'orgid': 'acme', 'session': 's1', **params})}"


def make_ctx(services: Any = None, now: datetime = NOW, call: dict[str, Any] | None = None) -> TurnContext:
    """A turn context with a fixed clock and fake services."""
    return TurnContext(call=call or CALL, now=now, url_for=url_for,
                       services=services if services is not None else FakeServices())


def node(node_id: str, node_type: str, props: dict[str, Any] | None = None, **outcomes: str) -> dict[str, Any]:
    """One node dict; outcomes as keyword arguments (use ``**{"1": "x"}`` for digits)."""
    return {"id": node_id, "type": node_type, "name": node_id, "props": props or {}, "outcomes": outcomes}


def flow(*nodes: dict[str, Any], start: str | None = None, **settings: Any) -> dict[str, Any]:
    """A phonetree/1 definition starting at the first node."""
    return {
        "spec": "phonetree/1",
        "start": start or nodes[0]["id"],
        "settings": settings,
        "nodes": list(nodes),
        "ui": {"nodes": {n["id"]: {"x": 0, "y": 0} for n in nodes}},
    }


def channel_branch(node_id: str, texts: str, calls: str) -> dict[str, Any]:
    """A branch on ``{{ trigger.channel }}``: text conversations go to `texts`, calls to `calls`."""
    texting = {"id": "texts", "operator": "equal_to", "value": "messaging"}
    props = {"input": "{{ trigger.channel }}", "conditions": [texting]}
    return node(node_id, "branch", props, texts=texts, no_match=calls)


def bye(node_id: str = "bye", text: str = "Goodbye") -> dict[str, Any]:
    """A hangup node saying `text`."""
    return node(node_id, "hangup", {"say": text})


class Call:
    """Drive one call through the engine turn by turn."""

    def __init__(self, definition: dict[str, Any], services: Any = None, now: datetime = NOW) -> None:
        self.definition = definition
        self.services = services if services is not None else FakeServices()
        self.ctx = make_ctx(self.services, now)
        self.state: dict[str, Any] | None = None
        self.results: list[TurnResult] = []

    def send(self, kind: str, **params: Any) -> TurnResult:
        """Post one event; returns the turn result and keeps the state."""
        result = run_turn(self.definition, self.state, Event(kind, params), self.ctx)
        self.state = result.state
        self.results.append(result)
        return result

    def start(self) -> TurnResult:
        """The call arrives."""
        return self.send("start")

    @property
    def last(self) -> TurnResult:
        """The last turn's result."""
        return self.results[-1]


def outcomes(result: TurnResult) -> list[tuple[str, str | None]]:
    """(node id, outcome) of each step."""
    return [(s.node_id, s.outcome) for s in result.steps]
