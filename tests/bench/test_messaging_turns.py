"""bench/messaging_turns.py drives what it claims: a whole conversation through the signed sms
webhook (each text a turn, each reply sent through the provider) beside a whole call."""

from __future__ import annotations

from bench import messaging_turns
from sim import FlaskClientTransport


def test_a_conversation_and_a_call_of_five_turns_each(tmp_path):
    restore = messaging_turns.stub_provider_send()
    try:
        app = messaging_turns.make_app(f"sqlite:///{tmp_path / 'bench.db'}")
        client = app.test_client()
        voice = messaging_turns.Meter(FlaskClientTransport(client))
        texts = messaging_turns.Meter(FlaskClientTransport(client))
        assert messaging_turns.call(voice)
        contact = messaging_turns.conversation(texts, messaging_turns.stand_in_state())
    finally:
        restore()
    assert len(voice.cpu) == len(texts.cpu) == 5 and voice.failures == texts.failures == 0
    assert messaging_turns.verify(app, [contact]) == (0, 0)  # ended by the flow, 5 texts in and 5 out
    assert messaging_turns.verify(app, ["+15550000001"]) == (1, 0)  # a contact who never texted is counted
