"""Rate-limit counters kept in the app's own database (see db_ratelimit.py)."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from extensions import db


class RateLimitCounter(db.Model):
    """One fixed-window counter of Flask-Limiter: its key, the hits so far and when it expires."""

    __tablename__ = "rate_limit_counter"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[float] = mapped_column(Float, index=True)  # epoch seconds, as `limits` reports it
