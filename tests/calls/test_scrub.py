"""Card data never reaches storage: scrubbing of webhook fields, engine state and step details."""

from __future__ import annotations

from services.call_scrub import mask_card, scrub
from services.webhook_params import input_summary


def test_scrub_drops_secrets_and_masks_card_numbers_at_any_depth():
    state = {
        "vars": {"note": "card 4111 1111 1111 1111 given", "phone": "+14155550123", "order": "1234567890"},
        "results": {
            "pay": {
                "PaymentCardNumber": "4242424242424242",
                "SecurityCode": "123",
                "ExpirationDate": "1230",
                "PaymentCardPostalCode": "94105",
                "Result": "success",
            }
        },
        "history": [{"cvv": "999", "digits": "5555555555554444"}],
    }
    clean = scrub(state)
    assert clean["results"]["pay"] == {"PaymentCardNumber": "xxxxxxxxxxxx4242", "Result": "success"}
    assert clean["vars"]["note"] == "card xxxx xxxx xxxx 1111 given"
    assert clean["vars"]["phone"] == "+14155550123" and clean["vars"]["order"] == "1234567890"
    assert clean["history"] == [{"digits": "xxxxxxxxxxxx4444"}]
    assert state["results"]["pay"]["SecurityCode"] == "123"  # the input is not mutated


def test_non_card_digit_runs_are_kept():
    assert scrub("ref 1234567890123") == "ref 1234567890123"  # 13 digits, fails the Luhn check
    assert scrub(["+447700900123", 42, None]) == ["+447700900123", 42, None]


def test_mask_card_keeps_the_last_four_and_the_separators():
    assert mask_card("xxxx-xxxx-xxxx-1111") == "xxxx-xxxx-xxxx-1111"
    assert mask_card("4111-1111-1111-1111") == "xxxx-xxxx-xxxx-1111"


def test_input_summary_names_what_the_caller_did():
    assert input_summary({"Digits": "12", "CallSid": "CA1", "SpeechResult": "", "Result": "success"}) == {
        "Digits": "12",
        "Result": "success",
    }


def test_digit_runs_inside_sids_and_urls_are_not_card_numbers():
    sid = "RE4111111111111111" + "a" * 16
    url = f"https://api.twilio.com/2010-04-01/Accounts/AC{'1' * 32}/Recordings/{sid}"
    data = {"RecordingSid": sid, "RecordingUrl": url, "note": "call 4111111111111111 now"}
    clean = scrub(data)
    assert clean["RecordingSid"] == sid and clean["RecordingUrl"] == url
    assert clean["note"] == "call xxxxxxxxxxxx1111 now"


def test_clean_values_pass_through_untouched():
    state = {"vars": {"account": "654321"}, "turn": 3, "waiting": {"node": "main"}}
    assert scrub(state) is state
