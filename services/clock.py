"""The clock of the call runtime: real time, or a test's clock (and whether it plays a simulation)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from flask import current_app

from models import utcnow


def simulating() -> bool:
    """Whether the runtime plays a simulation (``app.config["PHONETREE_SIMULATION"]``, set by the
    ``call simulate`` and ``message simulate`` commands with their clock): the sessions it starts
    are ``simulated``, labelled on the calls pages and left out of analytics and exports."""
    return bool(current_app.config.get("PHONETREE_SIMULATION"))


def now() -> datetime:
    """The current time, or the test clock in ``app.config["PHONETREE_CLOCK"]`` (a callable)."""
    clock: Callable[[], datetime] | None = current_app.config.get("PHONETREE_CLOCK")
    return clock() if clock else utcnow()
