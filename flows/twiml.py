"""TwiML helpers that stand alone: the fallback document and the end of a call."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping
from typing import Any

from twilio.twiml import TwiML
from twilio.twiml.voice_response import VoiceResponse

from flows.definition import DefinitionError, Settings, load_settings
from flows.formats import to_e164

log = logging.getLogger("phonetree.flows")

# Characters XML 1.0 forbids: an API's answer or a caller's input that carries one would make
# the whole document unreadable to Twilio ("an application error" to the caller).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def xml_safe(twiml: str) -> str:
    """The document without the characters XML cannot carry (none can be markup, so this is safe)."""
    return _NOT_XML.sub("", twiml)


_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def render(response: TwiML) -> str:
    """A TwiML document as text, XML-safe: what ``str(response)`` gives, without its byte round trip.

    The builder's own ``to_xml`` serialises to UTF-8 bytes and decodes them again, which costs
    three times as long as serialising to text; the document is the same.
    """
    return xml_safe(_DECLARATION + ET.tostring(response.xml(), encoding="unicode"))


def _settings(settings: Settings | Mapping[str, Any] | None) -> Settings:
    if isinstance(settings, Settings):
        return settings
    try:
        return load_settings(dict(settings) if settings else None)
    except DefinitionError:
        return Settings()


def append_fallback(
    response: VoiceResponse,
    settings: Settings,
    url_for: Callable[..., str] | None = None,
) -> None:
    """Append the apology and the configured fallback (hangup, voicemail or transfer)."""
    fallback = settings.fallback
    message = str(fallback.get("message") or "")
    if message:
        response.say(message, voice=settings.voice, language=settings.language)
    action = fallback.get("action", "hangup")
    if action == "voicemail" and url_for is not None:
        response.record(
            action=url_for("ivr-recording", fallback=1),
            method="POST",
            max_length=120,
            play_beep=True,
            finish_on_key="#",
            recording_status_callback=url_for("recording-status", fallback=1),
            recording_status_callback_method="POST",
        )
    elif action == "transfer":
        number = to_e164(str(fallback.get("number") or ""), settings.region)
        if number:
            response.dial(number, timeout=30)
    response.hangup()


def fallback_twiml(
    settings: Settings | Mapping[str, Any] | None,
    reason: str,
    url_for: Callable[..., str] | None = None,
) -> str:
    """The flow's fallback as a standalone TwiML document (never raises).

    `settings` is the flow's Settings or its JSON ``settings`` object (None: defaults).
    A voicemail fallback needs `url_for` for the Record action; without it the call hangs up.
    `reason` is logged, never spoken.
    """
    log.info("fallback TwiML: %s", reason)
    response = VoiceResponse()
    append_fallback(response, _settings(settings), url_for)
    return render(response)


GOODBYE = "Sorry, this call cannot continue. Goodbye."


def goodbye_twiml(message: str = GOODBYE) -> str:
    """A polite goodbye that ends the call: the answer when nothing better can be said."""
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return render(response)
