"""The stand-in's network faults: late answers (work done before or after the wait) and dropped connections."""

import time

import pytest

from upstream.twilio_http import TwilioUnreachableError

NUMBERS = r"/IncomingPhoneNumbers\.json$"


def test_a_late_answer_after_the_work_times_the_client_out_but_the_number_is_bought(twilio_fake):
    client = twilio_fake.client(timeout=0.3)
    twilio_fake.state.fault_next(NUMBERS, "slow", seconds=0.8, method="POST")
    started = time.monotonic()
    with pytest.raises(TwilioUnreachableError) as caught:
        client.incoming_phone_numbers.create(area_code="415")
    assert caught.value.timed_out and time.monotonic() - started < 0.8
    [bought] = twilio_fake.state.numbers_of(twilio_fake.account_sid)
    assert client.incoming_phone_numbers.list(phone_number=bought["phone_number"])[0].sid == bought["sid"]


def test_a_late_answer_before_the_work_lands_only_after_the_wait(twilio_fake):
    client = twilio_fake.client(timeout=0.3)
    twilio_fake.state.fault_next(NUMBERS, "slow", seconds=0.8, work_first=False, method="POST")
    with pytest.raises(TwilioUnreachableError):
        client.incoming_phone_numbers.create(area_code="415")
    assert twilio_fake.state.numbers_of(twilio_fake.account_sid) == []  # a lookup now finds nothing
    deadline = time.monotonic() + 5
    while not twilio_fake.state.numbers_of(twilio_fake.account_sid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(twilio_fake.state.numbers_of(twilio_fake.account_sid)) == 1


def test_a_dropped_connection_after_the_work_and_the_next_request_answers(twilio_fake):
    client = twilio_fake.client(timeout=2)
    owned = twilio_fake.state.add_owned_number(twilio_fake.account_sid)
    twilio_fake.state.fault_next(r"/IncomingPhoneNumbers/PN\w+\.json$", "drop", method="DELETE")
    with pytest.raises(TwilioUnreachableError) as caught:
        client.incoming_phone_numbers(owned["sid"]).delete()
    assert not caught.value.timed_out and caught.value.reason == "connection closed without a response"
    assert owned["sid"] not in twilio_fake.state.numbers  # released all the same
    assert client.incoming_phone_numbers.list() == []  # one use only: the fault is spent


def test_faults_wait_for_their_method_and_a_reset_disarms_them(twilio_fake):
    client = twilio_fake.client(timeout=0.3)
    twilio_fake.state.fault_next(NUMBERS, "drop", method="POST")
    assert client.incoming_phone_numbers.list() == []  # a GET is not the faulted POST
    twilio_fake.state.reset()
    twilio_fake.provision()
    client = twilio_fake.client(timeout=0.3)
    assert client.incoming_phone_numbers.create(area_code="415").sid.startswith("PN")


def test_bad_faults_are_refused(twilio_fake):
    with pytest.raises(ValueError, match="kind"):
        twilio_fake.state.fault_next(NUMBERS, "explode")
    with pytest.raises(ValueError, match="seconds"):
        twilio_fake.state.fault_next(NUMBERS, "slow", seconds=-1)
