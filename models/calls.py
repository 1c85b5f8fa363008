"""Call sessions with their step log and the artefacts of a call: recordings, payments, messages."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import OrgScoped, TZDateTime, new_uid, utcnow


class CallSession(OrgScoped, db.Model):
    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_uid)
    call_sid: Mapped[str] = mapped_column(String(64), unique=True)
    phone_number_id: Mapped[int | None] = mapped_column(ForeignKey("phone_number.id", ondelete="SET NULL"), index=True)
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("flow.id", ondelete="SET NULL"), index=True)
    revision_id: Mapped[int | None] = mapped_column(ForeignKey("flow_revision.id", ondelete="SET NULL"))
    # The built-in flow the call runs (``key@version`` of flows.builtin), when no flow of the org's does.
    builtin_flow: Mapped[str | None] = mapped_column(String(64))
    uses_draft: Mapped[bool] = mapped_column(Boolean, default=False)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    from_number: Mapped[str] = mapped_column(String(64), default="")
    to_number: Mapped[str] = mapped_column(String(64), default="")
    direction: Mapped[str] = mapped_column(String(32), default="inbound")
    # in_progress | completed | busy | no-answer | failed | canceled
    status: Mapped[str] = mapped_column(String(16), default="in_progress", index=True)
    current_node: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[dict] = mapped_column(JSON, default=dict)
    turn: Mapped[int] = mapped_column(Integer, default=0)
    # How many CallStep rows the call has (the next step's seq), kept here to avoid a count per turn.
    step_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Why the call ended in Phonetree's view: completed | hangup | fallback | caller_hangup | no_flow | ...
    end_reason: Mapped[str | None] = mapped_column(String(32))
    # The definition a draft (test user) call runs on, frozen at call start.
    draft_definition: Mapped[dict | None] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    duration: Mapped[int | None] = mapped_column(Integer)
    # voice (a call; call_sid is Twilio's CallSid) | messaging (a text conversation; call_sid is the
    # MessageSid of the message that began it, from_number the contact, to_number the org's number)
    channel: Mapped[str] = mapped_column(String(16), default="voice", server_default="voice")
    # A live messaging session's "org:number:contact" (NULL once it ends): unique, so one contact has
    # at most one live conversation per number, even when two first messages race.
    live_key: Mapped[str | None] = mapped_column(String(160), unique=True)

    steps: Mapped[list[CallStep]] = relationship(order_by="CallStep.seq", cascade="all, delete-orphan")
    phone_number = relationship("PhoneNumber")
    flow = relationship("Flow")
    revision = relationship("FlowRevision")


class CallTurn(db.Model):
    """The TwiML answered for one turn of a call, so a retried webhook gets the same answer."""

    __table_args__ = (UniqueConstraint("session_id", "turn"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("call_session.id", ondelete="CASCADE"), index=True)
    turn: Mapped[int] = mapped_column(Integer)
    service: Mapped[str] = mapped_column(String(40))
    twiml: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class CallStep(OrgScoped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str] = mapped_column(ForeignKey("call_session.id", ondelete="CASCADE"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    turn: Mapped[int] = mapped_column(Integer)
    node_id: Mapped[str] = mapped_column(String(64), index=True)
    node_type: Mapped[str] = mapped_column(String(32))
    event: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class Recording(OrgScoped, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("call_session.id", ondelete="CASCADE"), index=True)
    call_sid: Mapped[str] = mapped_column(String(64), default="")
    recording_sid: Mapped[str] = mapped_column(String(64), index=True)
    node_id: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text, default="")
    duration: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(32), default="")
    transcription_text: Mapped[str | None] = mapped_column(Text)
    transcription_status: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class Payment(OrgScoped, db.Model):
    """A payment attempt's outcome. Only the masked card number and card type are ever kept."""

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("call_session.id", ondelete="CASCADE"), index=True)
    node_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[str] = mapped_column(String(64))
    confirmation_code: Mapped[str | None] = mapped_column(String(128))
    card_masked: Mapped[str | None] = mapped_column(String(32))
    card_type: Mapped[str | None] = mapped_column(String(32))
    amount: Mapped[str | None] = mapped_column(String(32))
    currency: Mapped[str | None] = mapped_column(String(8))
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


# An inbound message's MessageSid is stored once per org: the row is the webhook's idempotency
# record (a retried webhook's INSERT ... ON CONFLICT DO NOTHING inserts nothing, `services.call_store`).
INBOUND_SID = "direction = 'inbound' AND sid IS NOT NULL"


class Message(OrgScoped, db.Model):
    __table_args__ = (
        Index(
            "uq_message_inbound_sid",
            "org_id",
            "sid",
            unique=True,
            sqlite_where=text(INBOUND_SID),
            postgresql_where=text(INBOUND_SID),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_number_id: Mapped[int | None] = mapped_column(ForeignKey("phone_number.id", ondelete="SET NULL"), index=True)
    session_id: Mapped[str | None] = mapped_column(ForeignKey("call_session.id", ondelete="SET NULL"))
    direction: Mapped[str] = mapped_column(String(16))  # inbound | outbound
    sid: Mapped[str | None] = mapped_column(String(64), index=True)
    from_number: Mapped[str] = mapped_column(String(64))
    to_number: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(32), default="")
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    # media URLs of an MMS, the node that sent it, Twilio's error code of a failed delivery
    media: Mapped[list | None] = mapped_column(JSON)
    node_id: Mapped[str | None] = mapped_column(String(64))
    error_code: Mapped[str | None] = mapped_column(String(16))


class FlowExecution(OrgScoped, db.Model):
    """What a request-triggered call (``POST /api/flows/<id>/executions``) adds to its call session:
    the request's parameters (the flow's ``flow.data``), the call options asked for, and why
    placing the call failed. The execution's id, status and timeline are its session's."""

    session_id: Mapped[str] = mapped_column(ForeignKey("call_session.id", ondelete="CASCADE"), primary_key=True)
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("flow.id", ondelete="SET NULL"), index=True)
    parameters: Mapped[dict] = mapped_column(JSON, default=dict)
    options: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
