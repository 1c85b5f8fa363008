"""Durable timers: one row per pending delayed continuation (services/timers.py).

The row is the truth; the task queue only wakes a worker at ``fire_at``. ``(kind, key)`` is
unique, so scheduling again replaces. ``available_at`` is when a worker may next claim the row:
``fire_at`` while it waits, the end of the lease while a worker runs it (a worker that dies
mid-run leaves a lease that runs out, and another worker takes the timer), the retry time after
a handler failed. A fired timer's row is deleted in the transaction of its handler's first commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db
from models.base import JSONDict, TZDateTime, utcnow

STATES = ("pending", "running", "failed")


class Timer(db.Model):
    """A delayed continuation: run ``kind``'s handler with ``payload`` at or after ``fire_at``."""

    __tablename__ = "timer"
    __table_args__ = (
        UniqueConstraint("kind", "key", name="uq_timer_kind_key"),
        Index("ix_timer_state_available_at", "state", "available_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    payload: Mapped[dict] = mapped_column(JSONDict, default=dict)
    fire_at: Mapped[datetime] = mapped_column(TZDateTime)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | running | failed
    available_at: Mapped[datetime] = mapped_column(TZDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(32))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(TZDateTime, default=utcnow)
