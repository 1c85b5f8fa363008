"""Timer handlers for the tests: they record each firing in a file (one line per event).

Imported by the tests and by the worker processes they start (tests/timers/worker_main.py).
The payload says where to record (``file``) and what to call the timer (``id``); with
``hold_once`` (a marker file) the first run writes ``start``, then holds for ``hold`` seconds
before it finishes, so a test can kill the worker in the middle of a handler.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from services import timers

KIND = "test.record"


def _write(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def record(payload: dict) -> None:
    marker = payload.get("hold_once")
    if marker and not Path(marker).exists():
        Path(marker).touch()
        _write(payload["file"], f"start {payload['id']} {os.getpid()}")
        time.sleep(float(payload.get("hold", 60)))
    _write(payload["file"], f"fired {payload['id']} {os.getpid()} {time.time():.3f}")


def fired(path: Path) -> list[str]:
    """The ids fired so far, in order (one entry per firing)."""
    if not path.exists():
        return []
    return [line.split()[1] for line in path.read_text().splitlines() if line.startswith("fired ")]


timers.register(KIND, record)
