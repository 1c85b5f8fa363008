"""menu and collect_input through every outcome, retries included."""

from __future__ import annotations

from tests.engine.helpers import Call, bye, flow, node, outcomes

MENU = node(
    "main", "menu",
    {"prompt": {"say": "Press 1 for sales, 2 for support."},
     "options": [{"digit": "1", "label": "Sales", "keywords": ["sales", "buy"]},
                 {"digit": "2", "label": "Support"}],
     "retries": 2},
    **{"1": "sales", "2": "support", "fallback": "bye"},
)
MENU_FLOW = flow(MENU, bye("sales", "Sales here"), bye("support", "Support here"), bye())


def test_menu_waits_with_gather_and_timeout_redirect() -> None:
    result = Call(MENU_FLOW).start()
    assert not result.done
    assert result.state["waiting"] == {"node": "main", "expects": ["input", "timeout"], "turn": 1}
    action = "https://ivr.example.com/connect/webhook/twilio/ivr-menu-input?orgid=acme&amp;session=s1&amp;turn=1"
    assert f'<Gather action="{action}"' in result.twiml
    assert 'input="dtmf speech"' in result.twiml and 'numDigits="1"' in result.twiml
    assert 'hints="sales, buy"' in result.twiml
    assert "ivr-menu-input?orgid=acme&amp;session=s1&amp;turn=1&amp;timeout=1</Redirect>" in result.twiml
    assert outcomes(result) == [("main", None)]


def test_menu_dtmf_only_without_keywords() -> None:
    menu = node("m", "menu", {"prompt": "Pick", "options": [{"digit": "1"}]}, **{"1": "bye"})
    result = Call(flow(menu, bye())).start()
    assert 'input="dtmf"' in result.twiml and "hints" not in result.twiml
    assert "finishOnKey" not in result.twiml


def test_menu_pound_option_disables_the_finish_key() -> None:
    menu = node("m", "menu", {"prompt": "Press pound to repeat", "options": [{"digit": "#"}, {"digit": "*"}]},
                **{"#": "bye", "*": "bye"})
    call = Call(flow(menu, bye()))
    assert 'finishOnKey=""' in call.start().twiml
    assert outcomes(call.send("input", Digits="#"))[0] == ("m", "#")


def test_menu_each_digit_routes_to_its_option() -> None:
    for digit, target, text in (("1", "sales", "Sales here"), ("2", "support", "Support here")):
        call = Call(MENU_FLOW)
        call.start()
        result = call.send("input", Digits=digit)
        assert outcomes(result) == [("main", digit), (target, None)]
        assert text in result.twiml and result.twiml.endswith("<Hangup /></Response>")
        assert result.done
        assert result.state["results"]["main"]["choice"] == digit


def test_menu_speech_keyword_and_spoken_digit() -> None:
    call = Call(MENU_FLOW)
    call.start()
    assert outcomes(call.send("input", SpeechResult="I want to BUY something."))[0] == ("main", "1")
    call = Call(MENU_FLOW)
    call.start()
    assert outcomes(call.send("input", SpeechResult="two"))[0] == ("main", "2")


def test_menu_invalid_input_reprompts_then_falls_back() -> None:
    call = Call(MENU_FLOW)
    call.start()
    first = call.send("input", Digits="7")
    assert "Sorry, that is not a valid choice." in first.twiml
    assert first.twiml.index("not a valid choice") < first.twiml.index("<Gather")
    assert first.state["attempts"] == {"main": 1}
    assert "turn=2" in first.twiml
    second = call.send("input", Digits="9")
    assert not second.done and second.state["attempts"] == {"main": 2}
    third = call.send("input", Digits="8")
    assert outcomes(third) == [("main", "fallback"), ("bye", None)]
    assert third.steps[0].detail["reason"] == "invalid"
    assert "Goodbye" in third.twiml and third.done


def test_menu_no_input_reprompts_then_falls_back() -> None:
    call = Call(MENU_FLOW)
    call.start()
    first = call.send("timeout")
    assert "Sorry, I didn&#x27;t get that." in first.twiml or "Sorry, I didn't get that." in first.twiml
    call.send("timeout")
    last = call.send("timeout")
    assert outcomes(last)[0] == ("main", "fallback")
    assert last.steps[0].detail == {"reason": "no_input", "attempts": 3}


def test_menu_empty_gather_counts_as_no_input_and_retries_zero() -> None:
    menu = node("m", "menu", {"prompt": "Pick", "options": [{"digit": "1"}], "retries": 0},
                **{"1": "bye", "fallback": "bye"})
    call = Call(flow(menu, bye()))
    call.start()
    assert outcomes(call.send("input", Digits=""))[0] == ("m", "fallback")


def test_menu_retry_count_resets_when_reentered() -> None:
    loop = flow(
        node("m", "menu", {"prompt": "Pick", "options": [{"digit": "1"}], "retries": 1},
             **{"1": "again", "fallback": "bye"}),
        node("again", "say", {"prompt": "Again"}, next="m"),
        bye(),
    )
    call = Call(loop)
    call.start()
    call.send("input", Digits="5")
    assert call.state["attempts"] == {"m": 1}
    result = call.send("input", Digits="1")
    assert outcomes(result) == [("m", "1"), ("again", "next"), ("m", None)]
    assert call.state["attempts"] == {}


COLLECT = node(
    "pin", "collect_input",
    {"prompt": {"say": "Enter your 4 digit PIN, then pound."}, "variable": "pin",
     "min_length": 4, "max_length": 4, "digits_only": True, "retries": 1},
    success="ok", invalid="bad", no_input="silent",
)
COLLECT_FLOW = flow(
    COLLECT,
    node("ok", "hangup", {"say": "PIN {{ vars.pin }} accepted"}),
    bye("bad", "Invalid PIN"),
    bye("silent", "Nothing entered"),
)


def test_collect_input_success_stores_variable() -> None:
    call = Call(COLLECT_FLOW)
    first = call.start()
    assert "ivr-input?orgid=acme&amp;session=s1&amp;turn=1" in first.twiml
    assert 'finishOnKey="#"' in first.twiml and 'input="dtmf"' in first.twiml
    result = call.send("input", Digits="1234")
    assert outcomes(result) == [("pin", "success"), ("ok", None)]
    assert result.state["vars"] == {"pin": "1234"}
    assert "PIN 1234 accepted" in result.twiml
    assert result.state["results"]["pin"]["valid"] is True


def test_collect_input_invalid_after_retries() -> None:
    call = Call(COLLECT_FLOW)
    call.start()
    retry = call.send("input", Digits="12")
    assert "Sorry, that is not valid." in retry.twiml and not retry.done
    assert retry.steps[0].detail["reason"] == "too_short"
    result = call.send("input", Digits="12345")
    assert outcomes(result) == [("pin", "invalid"), ("bad", None)]
    assert result.state["results"]["pin"]["reason"] == "too_long"
    assert "pin" not in result.state["vars"]


def test_collect_input_no_input_after_retries() -> None:
    call = Call(COLLECT_FLOW)
    call.start()
    call.send("timeout")
    result = call.send("timeout")
    assert outcomes(result) == [("pin", "no_input"), ("silent", None)]


def test_collect_input_regex_and_speech_mode() -> None:
    ask = node("zip", "collect_input",
               {"prompt": "Say your zip code", "variable": "zip", "input": "both",
                "regex": r"\d{5}", "speech_hints": "zip, code", "num_digits": 5, "retries": 0},
               success="bye", invalid="bye")
    call = Call(flow(ask, bye()))
    first = call.start()
    assert 'input="dtmf speech"' in first.twiml and 'hints="zip, code"' in first.twiml
    assert 'numDigits="5"' in first.twiml and 'speechTimeout="auto"' in first.twiml
    assert outcomes(call.send("input", SpeechResult="9410"))[0] == ("zip", "invalid")
    call = Call(flow(ask, bye()))
    call.start()
    assert outcomes(call.send("input", SpeechResult="94107", Confidence="0.9"))[0] == ("zip", "success")
    assert call.state["vars"]["zip"] == "94107"
    assert call.state["results"]["zip"]["Confidence"] == "0.9"


def test_collect_input_digits_only_accepts_spoken_digits() -> None:
    ask = node("n", "collect_input", {"prompt": "Number?", "variable": "n", "input": "speech",
                                      "digits_only": True}, success="bye")
    call = Call(flow(ask, bye()))
    first = call.start()
    assert 'input="speech"' in first.twiml and "finishOnKey" not in first.twiml
    call.send("input", SpeechResult="one two three")
    assert call.state["vars"]["n"] == "123"


def test_a_catastrophic_regex_on_caller_input_cannot_hang_the_turn() -> None:
    import time

    ask = node("code", "collect_input", {"prompt": "Code?", "variable": "code", "input": "speech",
                                         "regex": r"(a|aa)+", "retries": 0}, success="bye", invalid="bye")
    call = Call(flow(ask, bye()))
    call.start()
    started = time.monotonic()
    result = call.send("input", SpeechResult="a" * 200 + "!")
    assert time.monotonic() - started < 2
    assert outcomes(result)[0] == ("code", "invalid") and "<Say" in result.twiml
