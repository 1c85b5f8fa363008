"""Whole IVR calls through the webhooks, played by the caller simulator over the test client."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from sqlalchemy import select, text

from extensions import db
from models import CallStep, CallTurn, Payment, Recording
from services.call_log import node_counts
from sim import DialResult, HangUp, PayResult, Press, QueueResult, RecordAudio, Silence
from tests.calls.flows import SALES, acme


def test_menu_retries_invalid_input_then_routes(world):
    flow = world.flow(acme())
    transcript, session = world.call([Press("7"), Silence(), Press("1"), DialResult("completed", 42)])
    heard = transcript.heard
    assert heard[:5] == [
        "Press 1 for sales, 2 to pay, 3 to hold.",
        "Sorry, that is not a valid choice.",
        "Press 1 for sales, 2 to pay, 3 to hold.",
        "Sorry, I didn't get that.",
        "Press 1 for sales, 2 to pay, 3 to hold.",
    ]
    assert heard[-1] == "Goodbye."
    assert transcript.errors == []
    assert world.path(session) == [
        ("main", "enter", None),
        ("main", "input", None),
        ("main", "timeout", None),
        ("main", "input", "1"),
        ("hours", "enter", "open"),
        ("sales", "enter", None),
        ("sales", "dial", "answered"),
        ("bye", "enter", None),
    ]
    assert session.status == "completed" and session.end_reason == "hangup"
    assert session.duration == transcript.duration and session.ended_at is not None
    dial = transcript.requests_labelled("incoming call")[0]
    assert dial.status == 200 and dial.content_type.startswith("text/xml")
    assert SALES in transcript.requests_labelled("gather action")[-1].body
    counts = node_counts(world.org, flow.id)
    assert counts["main"] == {"visits": 1, "outcomes": {"1": 1}, "hangups": 0}
    assert counts["hours"] == {"visits": 1, "outcomes": {"open": 1}, "hangups": 0}
    assert counts["sales"] == {"visits": 1, "outcomes": {"answered": 1}, "hangups": 0}
    first = db.session.scalar(select(CallStep).where(CallStep.session_id == session.id, CallStep.event == "input"))
    assert first.detail["input"] == {"Digits": "7"} and first.detail["reason"] == "invalid"


def test_menu_gives_up_after_retries(world):
    flow = world.flow(acme())
    transcript, session = world.call([Press("9"), Press("9"), Press("9")])
    assert transcript.heard[-1] == "Goodbye."
    assert world.path(session)[-2:] == [("main", "input", "fallback"), ("bye", "enter", None)]
    assert node_counts(world.org, flow.id)["main"]["outcomes"] == {"fallback": 1}


def test_collect_input_validation_and_payment_success(world):
    world.flow(acme())
    transcript, session = world.call(
        [
            Press("2"),
            Press("123#"),
            Press("654321#"),
            PayResult(card_number="4111111111111111", card_type="visa"),
        ]
    )
    assert "That is not a six digit number." in transcript.heard
    assert "Paying 12.50 on account 654321." in transcript.heard
    assert transcript.heard[-1] == "Payment received. Thank you."
    assert ("account", "input", "success") in world.path(session)
    assert ("pay", "payment", "success") in world.path(session)
    assert session.state["vars"]["account"] == "654321"
    payment = db.session.scalar(select(Payment).where(Payment.session_id == session.id))
    assert payment.result == "success" and payment.card_type == "visa"
    assert payment.card_masked.endswith("1111") and "4111111111111111" not in payment.card_masked
    assert payment.confirmation_code.startswith("ch_") and payment.amount == "12.50"
    _assert_no_card_data()


def test_payment_failure(world):
    world.flow(acme())
    transcript, session = world.call(
        [
            Press("2"),
            Press("654321#"),
            PayResult(success=False, result="payment-connector-error"),
        ]
    )
    assert transcript.heard[-1] == "The payment did not go through."
    assert ("pay", "payment", "failed") in world.path(session)
    payment = db.session.scalar(select(Payment).where(Payment.session_id == session.id))
    assert payment.result == "payment-connector-error" and payment.card_masked is None
    assert "declined" in payment.error


def _assert_no_card_data():
    """No stored row anywhere holds the card number, its expiry or the security code field."""
    for table in ("call_session", "call_step", "call_turn", "payment"):
        for row in db.session.execute(text(f"SELECT * FROM {table}")):
            dump = json.dumps([str(v) for v in row])
            assert "4111111111111111" not in dump, table
            assert "SecurityCode" not in dump and "ExpirationDate" not in dump, table


def test_business_hours_closed_goes_to_voicemail_with_transcription(world):
    flow = world.flow(acme())
    world.clock.now = datetime(2025, 3, 4, 23, 30, tzinfo=UTC)  # 18:30 in New York
    transcript, session = world.call([Press("1"), RecordAudio(12, transcript="Please call me back.")])
    assert "We are closed. Leave a message." in transcript.heard
    assert world.path(session)[-2:] == [("closed_vm", "enter", None), ("closed_vm", "recording", "recorded")]
    rec = db.session.scalar(select(Recording).where(Recording.session_id == session.id))
    assert rec.node_id == "closed_vm" and rec.duration == 12 and rec.status == "completed"
    assert rec.transcription_text == "Please call me back." and rec.transcription_status == "completed"
    assert rec.url.startswith("https://api.twilio.com/2010-04-01/Accounts/")
    assert node_counts(world.org, flow.id)["hours"]["outcomes"] == {"closed": 1}
    assert [r.status for r in transcript.requests if r.kind == "callback"] == [204, 204, 204]


def test_transfer_not_answered_falls_back_to_voicemail(world):
    world.flow(acme())
    transcript, session = world.call([Press("1"), DialResult("no-answer"), RecordAudio(0)])
    assert ("sales", "dial", "no_answer") in world.path(session)
    assert "We are closed. Leave a message." in transcript.heard
    assert world.count(Recording) == 0


def test_queue_plays_position_and_hold_message(world):
    world.flow(acme())
    transcript, session = world.call([Press("3"), QueueResult("bridged", 95)])
    assert "You are number 1 in line. Thank you for waiting." in transcript.heard
    assert "Please hold." in transcript.heard
    assert ("hold", "queue", "bridged") in world.path(session)
    wait = transcript.requests_labelled("enqueue wait url")[0]
    assert wait.status == 200 and "turn=" in wait.url
    assert (
        db.session.scalar(
            select(CallTurn.service).where(CallTurn.session_id == session.id, CallTurn.service == "ivr-queue-music")
        )
        is None
    )


def test_caller_hangup_at_menu_is_counted(world):
    flow = world.flow(acme())
    _, session = world.call([HangUp()])
    assert world.path(session) == [("main", "enter", None), ("main", "hangup", None)]
    assert session.end_reason == "caller_hangup" and session.status == "completed"
    assert node_counts(world.org, flow.id)["main"] == {"visits": 1, "outcomes": {}, "hangups": 1}


def test_node_counts_cover_many_calls_and_a_date_range(world):
    flow = world.flow(acme())
    world.call([Press("1"), DialResult("completed")])
    world.call([Press("3"), QueueResult("hangup")])
    world.clock.now = datetime(2025, 3, 5, 16, 0, tzinfo=UTC)  # 11:00 in New York
    world.call([Press("1"), DialResult("busy"), RecordAudio(5)])
    counts = node_counts(world.org, flow.id)
    assert counts["main"] == {"visits": 3, "outcomes": {"1": 2, "3": 1}, "hangups": 0}
    assert counts["sales"]["outcomes"] == {"answered": 1, "busy": 1}
    assert counts["hold"]["outcomes"] == {"hangup": 1}
    day_one = node_counts(world.org, flow.id, datetime(2025, 3, 4, tzinfo=UTC), datetime(2025, 3, 5, tzinfo=UTC))
    assert day_one["main"]["visits"] == 2 and "closed_vm" not in day_one
    assert node_counts(world.org, flow.id + 1000) == {}


def test_studio_imported_flow_runs_end_to_end(world):
    from pathlib import Path

    from flows.studio import import_studio

    data = json.loads((Path(__file__).parents[1] / "fixtures/studio/ivr_main_menu.json").read_text())
    imported, report = import_studio(data)
    assert all(item["status"] != "unsupported" for item in report)
    flow = world.flow(imported, name="Studio main menu")
    transcript, session = world.call([Press("3")])
    assert transcript.heard[0].startswith("Thanks for calling Acme.")
    assert transcript.heard[-2:] == [
        "We are open Monday to Friday, nine A M to five P M.",
        "Thank you for calling Acme. Goodbye.",
    ]
    transcript, second = world.call([Silence(), Press("1"), DialResult("completed")])
    assert "<Number>+14155550101</Number>" in transcript.requests_labelled("gather action")[-1].body
    assert world.path(second)[-2:] == [("connect_sales", "dial", "answered"), ("goodbye", "enter", None)]
    counts = node_counts(world.org, flow.id)
    # Studio's timeout transition: silence leaves the menu through invalid_choice and comes back.
    assert counts["main_menu"] == {"visits": 3, "outcomes": {"3": 1, "1": 1, "fallback": 1}, "hangups": 0}
    assert counts["invalid_choice"]["outcomes"] == {"next": 1}
    assert counts["goodbye"]["visits"] == 2
