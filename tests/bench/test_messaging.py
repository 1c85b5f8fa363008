"""bench/messaging.py measures what it says: its timers go through a real worker process and are
all counted, and its turns section drives a whole conversation through the signed sms webhook
(each text a turn, each reply sent through the provider) beside a whole call (its figures are the
bench's; this checks small runs lose and double nothing)."""

from __future__ import annotations

from bench import messaging
from sim import FlaskClientTransport


def test_the_timer_bench_fires_every_timer_once_through_a_worker():
    run = messaging.timer_throughput(300, batch=100, lead=1.0)
    assert (run.count, run.lost, run.doubled, run.left) == (300, 0, 0, 0)
    assert run.fired_per_second > 0 and run.scheduled_per_second > 0 and run.first_delay >= 0


def test_a_conversation_and_a_call_of_five_turns_each(tmp_path):
    restore = messaging.stub_provider_send()
    try:
        app = messaging.make_app(f"sqlite:///{tmp_path / 'bench.db'}")
        client = app.test_client()
        voice = messaging.Meter(FlaskClientTransport(client))
        texts = messaging.Meter(FlaskClientTransport(client))
        assert messaging.call(voice)
        contact = messaging.conversation(texts, messaging.stand_in_state())
    finally:
        restore()
    assert len(voice.cpu) == len(texts.cpu) == 5 and voice.failures == texts.failures == 0
    assert messaging.verify(app, [contact]) == (0, 0)  # ended by the flow, 5 texts in and 5 out
    assert messaging.verify(app, ["+15550000001"]) == (1, 0)  # a contact who never texted is counted


def test_the_turns_verdict_is_a_paired_ratio_with_a_bootstrap_interval():
    # per round: the conversation's mean CPU per turn over its call's
    assert messaging.round_ratios([[1.0, 3.0], [2.0]], [[1.0, 1.0], [3.0]]) == [0.5, 1.5]
    assert messaging.bootstrap_interval([0.9] * 50) == (0.9, 0.9, 0.9)
    ratios = [0.95 + 0.001 * i for i in range(100)]  # 0.95 .. 1.049: the median 0.9995
    median, low, high = messaging.bootstrap_interval(ratios)
    assert low < median < high and high > 1.0  # the median alone is under 1.00, the interval is not: NOT met
    assert messaging.bootstrap_interval(ratios) == (median, low, high)  # the same figures, the same interval
