"""Phone numbers with their routing, user assignments and softphone presence."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db
from models.base import JSONDict, JSONList, OrgScoped, TZDateTime, utcnow

phone_number_user = Table(
    "phone_number_user",
    db.metadata,
    Column("phone_number_id", ForeignKey("phone_number.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True),
)


class PhoneNumber(OrgScoped, db.Model):
    __table_args__ = (UniqueConstraint("org_id", "phone_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sid: Mapped[str | None] = mapped_column(String(34), index=True)
    phone_number: Mapped[str] = mapped_column(String(20), index=True)
    friendly_name: Mapped[str] = mapped_column(String(200), default="")
    mode: Mapped[str] = mapped_column(String(8), default="ivr")  # ivr | voice
    flow_id: Mapped[int | None] = mapped_column(ForeignKey("flow.id", ondelete="SET NULL"), index=True)
    sms_auto_reply: Mapped[str] = mapped_column(Text, default="")
    # The messaging route: a flow serving messaging runs a conversation per contact; without one,
    # the auto-reply (if any) answers each text.
    messaging_flow_id: Mapped[int | None] = mapped_column(ForeignKey("flow.id", ondelete="SET NULL"), index=True)
    # ok | needs_push (Twilio does not have our config yet) | error | pending (a PhoneIntent is unsettled)
    sync_status: Mapped[str] = mapped_column(String(16), default="ok")
    last_error: Mapped[str] = mapped_column(Text, default="")
    capabilities: Mapped[dict] = mapped_column(JSONDict, default=dict)
    # What the last drift check found: [{"field", "local", "twilio"}]; empty when in sync.
    drift: Mapped[list] = mapped_column(JSONList, default=list)
    checked_at: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)

    flow = relationship("Flow", foreign_keys=[flow_id])
    messaging_flow = relationship("Flow", foreign_keys=[messaging_flow_id])
    assigned_users = relationship("User", secondary=phone_number_user, order_by="User.email")


class SoftphonePresence(OrgScoped, db.Model):
    """A registered browser softphone; online while expires_at is in the future."""

    __table_args__ = (UniqueConstraint("org_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, ForeignKey("user_account.id", ondelete="CASCADE"))
    identity: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(TZDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)


class PhoneIntent(OrgScoped, db.Model):
    """A change to a number on Twilio (buy, import, release, route), recorded before Twilio is asked.

    ``state`` stays ``pending`` until Phonetree knows what Twilio did, then ``done`` or ``failed``;
    ``detail`` says what is known. ``claimed_until`` is a lease: whoever holds it (the request that
    wrote the intent, or one reconciliation run) is the only one settling the intent until it ends.
    """

    __tablename__ = "phone_intent"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_id: Mapped[int | None] = mapped_column(ForeignKey("phone_number.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(8))  # buy | import | release | route
    state: Mapped[str] = mapped_column(String(8), default="pending", index=True)  # pending | done | failed
    phone_number: Mapped[str] = mapped_column(String(20), default="")
    sid: Mapped[str | None] = mapped_column(String(34))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(TZDateTime)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
    settled_at: Mapped[datetime | None] = mapped_column(TZDateTime)

    phone = relationship("PhoneNumber")
