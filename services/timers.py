"""Durable timers: the API the messaging runtime schedules reply timeouts through.

PLACEHOLDER, replaced at merge by the durable timer module built for issue 17 (item 5): that
version stores each timer in the task queue so that it survives a restart and fires once.
This one keeps the same API but stores nothing durable: it records the calls in memory (for
tests and `flask message simulate`) and `run_due` fires what is due in this process.

- `schedule(kind, key, payload, fire_at)`: idempotent per (kind, key);
- `cancel(kind, key)`;
- `register(kind, fn)`: `fn(payload)` runs in an app context and must do nothing when stale.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

Handler = Callable[[dict[str, Any]], None]

HANDLERS: dict[str, Handler] = {}
# (kind, key) -> (fire_at, payload): what was scheduled and not yet fired or cancelled
SCHEDULED: dict[tuple[str, str], tuple[datetime, dict[str, Any]]] = {}
_LOCK = threading.Lock()


def register(kind: str, fn: Handler) -> None:
    """Run `fn(payload)` when a timer of `kind` fires."""
    HANDLERS[kind] = fn


def schedule(kind: str, key: str, payload: dict[str, Any], fire_at: datetime) -> None:
    """Fire `kind`'s handler with `payload` at `fire_at` (once per (kind, key): a repeat changes nothing)."""
    with _LOCK:
        SCHEDULED.setdefault((kind, key), (fire_at, dict(payload)))


def cancel(kind: str, key: str) -> None:
    """Forget a timer (absent is fine)."""
    with _LOCK:
        SCHEDULED.pop((kind, key), None)


def run_due(now: datetime) -> int:
    """Fire every recorded timer due at `now` (in an app context); how many fired."""
    with _LOCK:
        due = sorted(((at, kind, key) for (kind, key), (at, _) in SCHEDULED.items() if at <= now), key=str)
        jobs = [(kind, SCHEDULED.pop((kind, key))[1]) for _, kind, key in due]
    for kind, payload in jobs:
        handler = HANDLERS.get(kind)
        if handler is not None:
            handler(payload)
    return len(jobs)
