"""bench/messaging.py measures what it says: its timers go through a real worker process and are
all counted (its figures are the bench's; this checks a small run loses and doubles nothing)."""

from __future__ import annotations

from bench import messaging


def test_the_timer_bench_fires_every_timer_once_through_a_worker():
    run = messaging.timer_throughput(300, batch=100, lead=1.0)
    assert (run.count, run.lost, run.doubled, run.left) == (300, 0, 0, 0)
    assert run.fired_per_second > 0 and run.scheduled_per_second > 0 and run.first_delay >= 0
