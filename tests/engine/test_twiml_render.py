"""flows.render_twiml writes exactly the document the twilio library's own str(response) does."""

from __future__ import annotations

import pytest
from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Dial, Gather, VoiceResponse

from flows import render_twiml
from flows.twiml import xml_safe

TRICKY = [
    "plain",
    "Tom & Jerry <cats> \"quoted\" 'single' > done",
    "line one\nline two\r\n\ttabbed",
    "été – 日本語 – emoji 📞",
    "&amp; already escaped &lt;",
    "control\x00chars\x0bgone\ufffe",
    "",
]


def documents():
    for text in TRICKY:
        voice = VoiceResponse()
        gather = Gather(action=f"/connect/webhook/twilio/ivr-input?orgid=acme&session=s&turn=1&x={text}",
                        input="dtmf speech", hints=text, num_digits=1, timeout=5)
        gather.say(text, voice="Polly.Joanna", language="en-US")
        gather.play("https://example.com/a b.mp3?x=1&y=2")
        voice.append(gather)
        voice.say(text)
        voice.pause(length=1)
        dial = Dial(caller_id="+15550001000", action="/done?a=1&b=2", record="record-from-answer")
        dial.number("+15550002000", status_callback_event="initiated ringing answered completed")
        dial.client(text or "agent")
        voice.append(dial)
        voice.redirect(f"/connect/webhook/twilio/ivr-continue?orgid=acme&note={text}")
        voice.hangup()
        yield voice
        message = MessagingResponse()
        message.message(text)
        yield message
    yield VoiceResponse()


@pytest.mark.parametrize("document", list(documents()), ids=lambda d: type(d).__name__)
def test_render_is_the_library_document(document):
    assert render_twiml(document) == xml_safe(str(document))


def test_empty_elements_and_text_mixed_with_elements():
    voice = VoiceResponse()
    voice.hangup()
    gather = Gather()
    voice.append(gather)
    voice.append("free text after an element")
    assert render_twiml(voice) == xml_safe(str(voice))
    assert "<Hangup />" in render_twiml(voice) and "<Gather />" in render_twiml(voice)
