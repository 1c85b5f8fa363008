"""Network faults for fault tests: Twilio answering late, or doing the work and never answering.

A fault matches a request by path pattern (and method) for its next ``times`` requests:

- ``slow``: the answer comes ``seconds`` late, the work done first (``work_first``, Twilio bought the
  number but the client gave up waiting) or only after the wait (the request is still on its way);
- ``drop``: the work is done, then the connection is closed without an answer.

``with_network_faults`` wraps the fake's WSGI app; the threaded server keeps other requests (a
lookup by the client that gave up, say) answered at once while one request is held back.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

FaultKind = Literal["slow", "drop"]
MAX_DELAY_SECONDS = 60.0


class DroppedConnection(ConnectionAbortedError):
    """Raised after the work is done so that the server closes the connection unanswered."""


@dataclass
class NetworkFault:
    """One armed fault (see the module docstring)."""

    pattern: re.Pattern[str]
    method: str | None
    kind: FaultKind
    seconds: float
    work_first: bool
    times: int


class NetworkFaults:
    """The armed faults of one fake, safe to arm from the test thread while the server serves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[NetworkFault] = []

    def arm(
        self,
        path_regex: str,
        kind: FaultKind,
        *,
        seconds: float = 0.0,
        work_first: bool = True,
        method: str | None = None,
        times: int = 1,
    ) -> None:
        """Hold back (``slow``) or drop (``drop``) the next ``times`` matching requests."""
        if kind not in ("slow", "drop"):
            raise ValueError(f"unknown fault kind {kind!r}")
        if not 0 <= seconds <= MAX_DELAY_SECONDS:
            raise ValueError(f"seconds must be between 0 and {MAX_DELAY_SECONDS}")
        fault = NetworkFault(re.compile(path_regex), method and method.upper(), kind, seconds, work_first, times)
        with self._lock:
            self._faults.append(fault)

    def take(self, method: str, path: str) -> NetworkFault | None:
        """The fault for this request, if one is armed (consuming one use of it)."""
        with self._lock:
            for fault in self._faults:
                if fault.pattern.search(path) and fault.method in (None, method.upper()):
                    fault.times -= 1
                    if fault.times <= 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def clear(self) -> None:
        """Disarm every fault."""
        with self._lock:
            self._faults.clear()


def with_network_faults(app: Callable, faults: Callable[[], NetworkFaults]) -> Callable:
    """``app`` as a WSGI app that applies the faults ``faults()`` has armed (read on every request)."""

    def wsgi(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        fault = faults().take(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""))
        if fault is None:
            return app(environ, start_response)
        if fault.kind == "slow" and not fault.work_first:
            time.sleep(fault.seconds)
        answer: list[tuple[str, list, Any]] = []

        def hold(status: str, headers: list, exc_info: Any = None) -> Callable[[bytes], None]:
            answer.append((status, headers, exc_info))
            return lambda _data: None

        iterable = app(environ, hold)
        try:
            body = b"".join(iterable)  # the work is done here, whatever happens to the answer
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        if fault.kind == "drop":
            raise DroppedConnection("fake Twilio dropped the connection after doing the work")
        if fault.work_first:
            time.sleep(fault.seconds)
        status, headers, exc_info = answer[0]
        start_response(status, headers, exc_info)
        return [body]

    return wsgi
