"""Load generation for bench/webhooks.py: simulated calls, bare requests, latencies, CPU time."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sim import CallerSimulator, Press, webhook_url
from sim.params import sign

ACCOUNT_SID = "AC" + "b" * 32
AUTH_TOKEN = "c" * 32
NUMBER = "+15550009000"
SCRIPT = [Press("1"), Press("1234#"), Press("1"), Press("5#")]  # with the start: 5 webhook turns
TURNS_PER_CALL = 5
STEPS_PER_CALL = 9  # main, account, confirm and rate entered and answered, then bye


@dataclass
class Run:
    """What one load run measured: latencies (seconds), completed call sids, failures, duration."""

    turns: list[float] = field(default_factory=list)
    callbacks: list[float] = field(default_factory=list)
    sids: list[str] = field(default_factory=list)
    lags: list[float] = field(default_factory=list)
    failures: int = 0
    broken_calls: int = 0
    seconds: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, url: str, elapsed: float, status: int) -> None:
        """Note one request."""
        with self._lock:
            (self.callbacks if "/status?" in url else self.turns).append(elapsed)
            if status >= 400:
                self.failures += 1

    @property
    def turn_rate(self) -> float:
        """Webhook turns answered per second."""
        return len(self.turns) / self.seconds if self.seconds else 0.0

    @property
    def call_rate(self) -> float:
        """Whole calls completed per second."""
        return len(self.sids) / self.seconds if self.seconds else 0.0


class _TimedTransport:
    def __init__(self, run: Run, transport: Any) -> None:
        self.run, self.transport = run, transport

    def post(self, url, params, headers):
        started = time.perf_counter()
        answer = self.transport.post(url, params, headers)
        self.run.record(url, time.perf_counter() - started, answer.status)
        return answer

    def get(self, url, headers):
        return self.transport.get(url, headers)


def pct(values: list[float], q: float) -> float:
    """The q-quantile of seconds, in milliseconds."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def run_calls(
    base: str, make_transport: Callable[[], Any], calls: int, threads: int, seconds: float, rate: float | None = None
) -> Run:
    """Up to `calls` whole calls from `threads` simulators for at most `seconds`.

    With `rate`, new calls start at that many per second (open loop: a slow server makes calls
    queue, which shows as start lag); without, each thread starts its next call at once.
    """
    run = Run()
    local = threading.local()
    deadline = time.perf_counter() + seconds

    def one(scheduled: float) -> None:
        if time.perf_counter() > deadline:
            return
        if not hasattr(local, "transport"):
            local.transport = make_transport()
        lag = time.perf_counter() - scheduled
        sim = CallerSimulator(
            _TimedTransport(run, local.transport),
            account_sid=ACCOUNT_SID,
            auth_token=AUTH_TOKEN,
            from_=f"+1555{uuid.uuid4().int % 10**7:07d}",
            to=NUMBER,
            status_callback_url=webhook_url(base, "status", orgid="bench"),
        )
        transcript = sim.run(webhook_url(base, "ivr-menu", orgid="bench"), SCRIPT)
        with run._lock:
            run.lags.append(lag)
            if transcript.end_reason == "hangup" and not transcript.errors:
                run.sids.append(sim.call_sid)
            else:
                run.broken_calls += 1

    started = time.perf_counter()
    if rate is None:  # closed loop: each thread starts its next call when the last one ended
        counter = iter(range(calls))

        def worker(_: int) -> None:
            while time.perf_counter() < deadline and next(counter, None) is not None:
                one(time.perf_counter())

        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(worker, range(threads)))
    else:
        with ThreadPoolExecutor(threads) as pool:
            for i in range(calls):
                scheduled = started + i / rate
                if scheduled > time.perf_counter():
                    time.sleep(scheduled - time.perf_counter())
                if time.perf_counter() > deadline:
                    break
                pool.submit(one, scheduled)
    run.seconds = time.perf_counter() - started
    return run


def bare_request(base: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """The bare route's request: its URL, a Gather result's form and Twilio's signature header."""
    url = f"{base}/bench/bare"
    form = {"CallSid": "CA" + "0" * 32, "From": "+15550000000", "To": NUMBER, "Digits": "1"}
    return url, form, {"X-Twilio-Signature": sign(AUTH_TOKEN, url, form)}


def run_bare(base: str, make_transport: Callable[[], Any], count: int, threads: int) -> Run:
    """`count` signed POSTs of a Gather result to the bare route from `threads` threads."""
    url, form, headers = bare_request(base)
    run = Run()
    local = threading.local()

    def one(_: int) -> None:
        if not hasattr(local, "transport"):
            local.transport = make_transport()
        started = time.perf_counter()
        answer = local.transport.post(url, form, headers)
        run.record(url, time.perf_counter() - started, answer.status)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(count)))
    run.seconds = time.perf_counter() - started
    return run


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            with open(f"/proc/{current}/task/{current}/children") as fh:
                todo.extend(int(p) for p in fh.read().split())
        except OSError:
            continue
    return found


def postgres_pids() -> list[int]:
    """The PostgreSQL server's processes on this machine (Linux /proc), to count its CPU time too."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as fh:
                    if fh.read().strip() == "postgres":
                        found.append(int(entry))
            except OSError:
                continue
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds used so far by these processes."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total / os.sysconf("SC_CLK_TCK")
