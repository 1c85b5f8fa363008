"""Fixtures for the call runtime tests: an org with Twilio connected, numbers, published flows,
a settable clock, and caller simulators that post signed webhooks through the test client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select

from extensions import db
from models import CallSession, CallStep, PhoneNumber
from services.flow_revisions import create_flow, publish
from sim import CallerSimulator, FlaskClientTransport
from tests.plugins.twilio_fake import (
    TWILIO_FAKE_ACCOUNT_SID,
    TWILIO_FAKE_API_KEY,
    TWILIO_FAKE_API_KEY_SECRET,
    TWILIO_FAKE_AUTH_TOKEN,
)
from tests.plugins.upstream import APP_SID
from upstream.integrations import save_integration

BASE = "http://localhost/connect/webhook/twilio"
IVR_NUMBER = "+15550001000"
CALLER = "+15557654321"


class Clock:
    """A settable clock for ``app.config["PHONETREE_CLOCK"]``."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def node(node_id: str, node_type: str, props: dict[str, Any] | None = None, **outcomes: str) -> dict[str, Any]:
    """One node of a definition; outcomes as keyword arguments (``**{"1": "x"}`` for digits)."""
    return {
        "id": node_id,
        "type": node_type,
        "name": node_id.replace("_", " ").title(),
        "props": props or {},
        "outcomes": outcomes,
    }


def definition(*nodes: dict[str, Any], **settings: Any) -> dict[str, Any]:
    """A phonetree/1 definition starting at the first node."""
    return {
        "spec": "phonetree/1",
        "start": nodes[0]["id"],
        "settings": settings,
        "nodes": list(nodes),
        "ui": {"nodes": {n["id"]: {"x": 40 * i, "y": 0} for i, n in enumerate(nodes)}},
    }


class CallWorld:
    """An org `acme` with Twilio connected; makes numbers, flows and simulated callers."""

    def __init__(self, app, client, make) -> None:
        self.app, self.client = app, client
        self.org = make.org("acme", "Acme Corp")
        config = {
            "accountSid": TWILIO_FAKE_ACCOUNT_SID,
            "authToken": TWILIO_FAKE_AUTH_TOKEN,
            "appSid": APP_SID,
            "apiKey": TWILIO_FAKE_API_KEY,
            "apiKeySecret": TWILIO_FAKE_API_KEY_SECRET,
        }
        save_integration(self.org, "TwilioProvider", "Acme Twilio", config, verify=False)
        db.session.commit()
        self.clock = Clock(datetime(2025, 3, 4, 15, 30, tzinfo=UTC))  # a Tuesday afternoon
        app.config["PHONETREE_CLOCK"] = self.clock

    def flow(
        self,
        data: dict[str, Any],
        name: str = "Main line",
        number: str | None = IVR_NUMBER,
        test_users: list[str] | None = None,
    ):
        """Create and publish a flow (and route `number` to it)."""
        flow = create_flow(self.org, None, name, data)
        if test_users:
            flow.test_users = list(test_users)
        publish(self.org, None, flow)
        if number:
            self.number(number, flow_id=flow.id)
        db.session.commit()
        return flow

    def number(self, phone: str, mode: str = "ivr", flow_id: int | None = None, **fields: Any) -> PhoneNumber:
        """Add (or re-route) one of the org's numbers."""
        row = db.session.scalar(
            select(PhoneNumber).where(PhoneNumber.org_id == self.org.id, PhoneNumber.phone_number == phone)
        )
        if row is None:
            row = PhoneNumber(org_id=self.org.id, phone_number=phone, friendly_name="Main", capabilities={})
            db.session.add(row)
        row.mode, row.flow_id = mode, flow_id
        for key, value in fields.items():
            setattr(row, key, value)
        db.session.commit()
        return row

    def caller(self, to: str = IVR_NUMBER, from_: str = CALLER, transport=None, **kwargs: Any) -> CallerSimulator:
        """A simulated caller whose final status goes to the org's status webhook."""
        return CallerSimulator(
            transport or FlaskClientTransport(self.client),
            account_sid=TWILIO_FAKE_ACCOUNT_SID,
            auth_token=kwargs.pop("auth_token", TWILIO_FAKE_AUTH_TOKEN),
            from_=from_,
            to=to,
            status_callback_url=f"{BASE}/status?orgid=acme",
            **kwargs,
        )

    def call(self, script: list, to: str = IVR_NUMBER, from_: str = CALLER, service: str = "ivr-menu"):
        """Play a whole call; returns (transcript, session)."""
        sim = self.caller(to=to, from_=from_)
        transcript = sim.run(f"{BASE}/{service}?orgid=acme", script)
        db.session.expire_all()
        return transcript, self.session(sim.call_sid)

    def session(self, call_sid: str) -> CallSession | None:
        """The stored session of a call."""
        return db.session.scalar(select(CallSession).where(CallSession.call_sid == call_sid))

    def path(self, session: CallSession) -> list[tuple[str, str, str | None]]:
        """The step log as (node, event, outcome)."""
        rows = db.session.scalars(select(CallStep).where(CallStep.session_id == session.id).order_by(CallStep.seq))
        return [(s.node_id, s.event, s.outcome) for s in rows]

    def count(self, model) -> int:
        """Rows of a model."""
        return db.session.scalar(select(func.count()).select_from(model)) or 0


@pytest.fixture
def world(app, client, make) -> CallWorld:
    """An org with Twilio connected, a fixed clock and helpers for calls."""
    return CallWorld(app, client, make)
