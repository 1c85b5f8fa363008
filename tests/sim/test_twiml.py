"""TwiML parsing: every verb's attributes, and the documents Twilio would refuse."""

from __future__ import annotations

import pytest
from twilio.twiml.voice_response import Connect, Dial, Enqueue, Gather, Pay, VoiceResponse

from sim import TwimlError, assert_valid_twiml, parse_twiml
from sim import verbs as v


def test_twilio_library_output_parses_into_every_verb():
    response = VoiceResponse()
    response.say("Hello <there>", voice="Polly.Joanna", language="en-US", loop=2)
    response.play("https://cdn.example.com/a.mp3", loop=3)
    response.play(digits="ww12#")
    response.pause(length=2)
    gather = Gather(
        action="/in",
        method="GET",
        input="dtmf speech",
        timeout=7,
        num_digits=4,
        finish_on_key="*",
        speech_timeout="auto",
        hints="sales, support",
        language="en-GB",
        action_on_empty_result=True,
    )
    gather.say("Enter it")
    gather.pause(length=1)
    gather.play("https://cdn.example.com/b.mp3")
    response.append(gather)
    response.redirect("/next", method="GET")
    response.record(
        action="/rec",
        max_length=30,
        finish_on_key="#",
        play_beep=False,
        trim="do-not-trim",
        transcribe=True,
        transcribe_callback="/tr",
        recording_status_callback="/rs",
    )
    pay = Pay(
        action="/pay",
        status_callback="/pay-status",
        charge_amount="9.99",
        currency="eur",
        payment_connector="Stripe",
        token_type="one-time",
        valid_card_types="visa amex",
        max_attempts=2,
        description="Order 7",
    )
    pay.parameter(name="order", value="7")
    response.append(pay)
    dial = Dial(action="/dialed", caller_id="+15550009999", timeout=15)
    dial.number("+15550001111")
    dial.client("alice")
    dial.queue("support")
    dial.sip("sip:bob@example.com")
    response.append(dial)
    response.append(Enqueue("billing", wait_url="/hold", action="/left", wait_url_method="GET"))
    response.leave()
    connect = Connect()
    connect.stream(url="wss://media.example.com/s").parameter(name="flow", value="main")
    response.append(connect)
    response.sms("Your code is 1234", to="+15551230000")
    response.hangup()
    response.reject(reason="busy")

    verbs = parse_twiml(str(response))

    assert [type(x).__name__ for x in verbs] == [
        "Say", "Play", "Play", "Pause", "Gather", "Redirect", "Record", "Pay",
        "Dial", "Enqueue", "Leave", "Connect", "Sms", "Hangup", "Reject",
    ]  # fmt: skip
    say, play, tones, pause, gather_v, redirect, record, pay_v, dial_v, enqueue, _, connect_v, sms, _, reject = verbs
    assert say == v.Say("Hello <there>", voice="Polly.Joanna", language="en-US", loop=2)
    assert (play.url, play.loop) == ("https://cdn.example.com/a.mp3", 3)
    assert (tones.url, tones.digits) == ("", "ww12#")
    assert pause.length == 2
    assert gather_v.input == ("dtmf", "speech") and gather_v.method == "GET"
    assert (gather_v.timeout, gather_v.num_digits, gather_v.finish_on_key) == (7, 4, "*")
    assert (gather_v.speech_timeout, gather_v.hints, gather_v.language) == ("auto", "sales, support", "en-GB")
    assert gather_v.action_on_empty_result is True
    assert [type(c).__name__ for c in gather_v.children] == ["Say", "Pause", "Play"]
    assert redirect == v.Redirect("/next", "GET")
    assert (record.action, record.max_length, record.finish_on_key, record.play_beep) == ("/rec", 30, "#", False)
    assert (record.trim, record.transcribe, record.transcribe_callback) == ("do-not-trim", True, "/tr")
    assert record.recording_status_callback == "/rs"
    assert (pay_v.action, pay_v.status_callback, pay_v.charge_amount, pay_v.currency) == (
        "/pay",
        "/pay-status",
        "9.99",
        "eur",
    )
    assert (pay_v.payment_connector, pay_v.token_type, pay_v.max_attempts) == ("Stripe", "one-time", 2)
    assert pay_v.valid_card_types == ("visa", "amex") and pay_v.description == "Order 7"
    assert pay_v.parameters == {"order": "7"} and pay_v.is_charge
    assert (dial_v.action, dial_v.caller_id, dial_v.timeout) == ("/dialed", "+15550009999", 15)
    assert [(n.kind, n.value) for n in dial_v.nouns] == [
        ("Number", "+15550001111"),
        ("Client", "alice"),
        ("Queue", "support"),
        ("Sip", "sip:bob@example.com"),
    ]
    assert enqueue == v.Enqueue("billing", action="/left", wait_url="/hold", wait_url_method="GET")
    stream = connect_v.nouns[0]
    assert (stream.kind, stream.url, stream.parameters) == ("Stream", "wss://media.example.com/s", {"flow": "main"})
    assert (sms.body, sms.to) == ("Your code is 1234", "+15551230000")
    assert reject.reason == "busy"


def test_defaults_follow_twilio():
    gather, record, dial = parse_twiml("<Response><Gather/><Record/><Dial>+15550001111</Dial></Response>")
    assert (gather.input, gather.timeout, gather.finish_on_key, gather.method) == (("dtmf",), 5, "#", "POST")
    assert gather.action is None and gather.num_digits is None and not gather.action_on_empty_result
    assert (record.max_length, record.finish_on_key, record.play_beep, record.transcribe) == (
        3600,
        "1234567890*#",
        True,
        False,
    )
    assert dial.nouns == (v.DialNoun("Number", "+15550001111"),) and dial.timeout == 30


def test_say_flattens_ssml_and_empty_response_is_valid():
    (say,) = parse_twiml('<Response><Say>Hello <break time="1s"/> <emphasis>world</emphasis></Say></Response>')
    assert say.text == "Hello world"
    assert parse_twiml('<?xml version="1.0" encoding="UTF-8"?>\n<Response/>') == []
    assert parse_twiml(b"<Response><Hangup/></Response>") == [v.Hangup()]


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ("", "empty"),
        ("Hello, this is plain text", "not well-formed XML"),
        ("<Response><Say>unclosed</Response>", "not well-formed XML"),
        ("<html><body>Oops</body></html>", "root element is <html>"),
        ("<Response><Dance/></Response>", "<Dance> is not a TwiML Voice verb"),
        ("<Response>Hello</Response>", "text 'Hello' directly inside <Response>"),
        ("<Response><Hangup/>stray</Response>", "stray text"),
        ("<Response><Gather><Dial>+1555</Dial></Gather></Response>", "<Gather> may only contain"),
        ('<Response><Gather numDigits="one"/></Response>', "numDigits='one' is not a whole number"),
        ('<Response><Gather input="keys"/></Response>', "must be dtmf, speech or both"),
        ('<Response><Gather actionOnEmptyResult="yes"/></Response>', "must be true or false"),
        ('<Response><Gather method="PUT"/></Response>', "must be GET or POST"),
        ('<Response><Gather finishOnKey="##"/></Response>', "finishOnKey"),
        ("<Response><Redirect/></Response>", "<Redirect>[1]: needs a URL"),
        ("<Response><Dial/></Response>", "needs a number"),
        ("<Response><Dial><Say>hi</Say></Dial></Response>", "<Dial> may only contain"),
        ("<Response><Enqueue/></Response>", "needs a queue name"),
        ("<Response><Play/></Response>", "needs an audio URL"),
        ('<Response><Reject reason="later"/></Response>', "must be rejected or busy"),
        ("<Response><Hangup>now</Hangup></Response>", "must be empty"),
        ("<Response><Connect/></Response>", "needs a nested noun"),
        ('<Response><Pause length="-1"/></Response>', "must be at least 0"),
    ],
)
def test_invalid_twiml_is_refused_with_a_clear_message(document, message):
    with pytest.raises(TwimlError, match=message.replace("[", r"\[").replace("(", r"\(")):
        parse_twiml(document)


def test_assert_valid_twiml_returns_the_verbs_or_fails_as_an_assertion():
    assert assert_valid_twiml("<Response><Say>Hi</Say></Response>") == [v.Say("Hi")]
    with pytest.raises(AssertionError, match="<Response>/<Gather>\\[2\\]"):
        assert_valid_twiml("<Response><Say>Hi</Say><Gather timeout='x'/></Response>")
