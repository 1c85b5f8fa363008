"""The clock of the call runtime: real time, or a test's clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from models import utcnow


def now() -> datetime:
    """The current time, or the test clock in ``app.config["PHONETREE_CLOCK"]`` (a callable)."""
    clock: Callable[[], datetime] | None = current_app.config.get("PHONETREE_CLOCK")
    return clock() if clock else utcnow()
