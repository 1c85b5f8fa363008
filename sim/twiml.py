"""Parse and validate TwiML Voice documents.

`parse_twiml(text)` turns a document into a list of `sim.verbs` objects and raises
`TwimlError` for anything Twilio would refuse: text that is not XML, a root other than
`<Response>`, an unknown verb, a verb nested where Twilio does not allow it, or an
attribute value of the wrong kind. Unknown attributes are ignored, as Twilio does.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable

from sim.twiml_element import KEYS as _KEYS
from sim.twiml_element import Element as _Element
from sim.twiml_element import TwimlError
from sim.verbs import (
    Connect,
    Dial,
    DialNoun,
    Enqueue,
    Gather,
    Hangup,
    Leave,
    Noun,
    Pause,
    Pay,
    Play,
    Record,
    Redirect,
    Reject,
    Say,
    Sms,
    Start,
    Stop,
    Verb,
)

__all__ = ["TwimlError", "assert_valid_twiml", "parse_twiml"]

_DIAL_NOUNS = ("Number", "Client", "Queue", "Sip", "Conference")


def _say(el: _Element) -> Say:
    return Say(
        text=el.text(),
        voice=el.attr("voice"),
        language=el.attr("language"),
        loop=el.attr_int("loop", 1) or 0,
    )


def _play(el: _Element) -> Play:
    url = el.text()
    digits = el.attr("digits")
    if not url and not digits:
        raise el.fail("needs an audio URL or a digits attribute")
    if digits and not re.fullmatch(r"[0-9*#wW]+", digits):
        raise el.fail(f"attribute digits={digits!r} may hold only 0-9, *, # and w")
    return Play(url=url, loop=el.attr_int("loop", 1) or 0, digits=digits)


def _pause(el: _Element) -> Pause:
    el.no_children()
    return Pause(length=el.attr_int("length", 1) or 0)


_PROMPTS: dict[str, Callable[[_Element], Say | Play | Pause]] = {
    "Say": _say,
    "Play": _play,
    "Pause": _pause,
}


def _prompts(el: _Element, allowed: tuple[str, ...] = ("Say", "Play", "Pause")) -> list:
    out = []
    for child in el.children():
        if child.elem.tag not in allowed:
            raise child.fail(f"<{el.elem.tag}> may only contain {_names(allowed)}")
        out.append(_PROMPTS[child.elem.tag](child))
    return out


def _names(tags: tuple[str, ...]) -> str:
    return ", ".join(f"<{t}>" for t in tags)


def _gather(el: _Element) -> Gather:
    modes = el.words("input", ("dtmf",))
    if not modes or any(m not in ("dtmf", "speech") for m in modes):
        raise el.fail(f"attribute input={el.elem.get('input')!r} must be dtmf, speech or both")
    finish = el.attr("finishOnKey", "#") or ""
    if finish and finish not in _KEYS:
        raise el.fail(f"attribute finishOnKey={finish!r} must be one key: 0-9, * or #")
    return Gather(
        action=el.attr("action"),
        method=el.method(),
        input=modes,
        timeout=el.attr_int("timeout", 5) or 0,
        num_digits=el.attr_int("numDigits", None, minimum=1),
        finish_on_key=finish,
        speech_timeout=el.attr("speechTimeout"),
        hints=el.attr("hints"),
        language=el.attr("language"),
        action_on_empty_result=el.attr_bool("actionOnEmptyResult", False),
        children=tuple(_prompts(el)),
    )


def _redirect(el: _Element) -> Redirect:
    url = el.text()
    if not url:
        raise el.fail("needs a URL")
    return Redirect(url=url, method=el.method())


def _record(el: _Element) -> Record:
    el.no_children()
    finish = el.attr("finishOnKey", "1234567890*#") or ""
    if any(key not in _KEYS for key in finish):
        raise el.fail(f"attribute finishOnKey={finish!r} may hold only 0-9, * and #")
    transcribe_callback = el.attr("transcribeCallback")
    return Record(
        action=el.attr("action"),
        method=el.method(),
        timeout=el.attr_int("timeout", 5) or 0,
        max_length=el.attr_int("maxLength", 3600, minimum=1) or 3600,
        finish_on_key=finish,
        play_beep=el.attr_bool("playBeep", True),
        trim=el.attr("trim", "trim-silence") or "trim-silence",
        transcribe=el.attr_bool("transcribe", False) or bool(transcribe_callback),
        transcribe_callback=transcribe_callback,
        recording_status_callback=el.attr("recordingStatusCallback"),
        recording_status_callback_method=el.method("recordingStatusCallbackMethod"),
        recording_status_callback_event=el.words("recordingStatusCallbackEvent", ("completed",)),
    )


def _parameters(el: _Element, allowed: tuple[str, ...]) -> tuple[dict[str, str], list]:
    """Split an element's children into <Parameter name value> pairs and the rest."""
    params: dict[str, str] = {}
    rest = []
    for child in el.children():
        tag = child.elem.tag
        if tag == "Parameter":
            name = child.attr("name")
            if not name:
                raise child.fail("<Parameter> needs a name")
            params[name] = child.attr("value", "") or ""
        elif tag in allowed:
            rest.append(child)
        else:
            raise child.fail(f"<{el.elem.tag}> may not contain <{tag}>")
    return params, rest


def _pay(el: _Element) -> Pay:
    params, prompt_elems = _parameters(el, ("Prompt",))
    prompts = [p for prompt in prompt_elems for p in _prompts(prompt)]
    return Pay(
        action=el.attr("action"),
        method=el.method(),
        status_callback=el.attr("statusCallback"),
        status_callback_method=el.method("statusCallbackMethod"),
        charge_amount=el.attr("chargeAmount"),
        currency=el.attr("currency", "usd") or "usd",
        payment_connector=el.attr("paymentConnector", "Default") or "Default",
        payment_method=el.attr("paymentMethod", "credit-card") or "credit-card",
        token_type=el.attr("tokenType", "reusable") or "reusable",
        valid_card_types=el.words("validCardTypes", ("visa", "mastercard", "amex")),
        max_attempts=el.attr_int("maxAttempts", 1, minimum=1) or 1,
        timeout=el.attr_int("timeout", 5) or 0,
        description=el.attr("description"),
        parameters=params,
        prompts=tuple(prompts),
    )


def _dial(el: _Element) -> Dial:
    own_text = " ".join((el.elem.text or "").split())
    nouns: list[DialNoun] = []
    for child in el.children():
        tag = child.elem.tag
        if tag not in _DIAL_NOUNS:
            raise child.fail(f"<Dial> may only contain {_names(_DIAL_NOUNS)}")
        identity = child.elem.find("Identity")
        value = (identity.text or "").strip() if identity is not None else child.text()
        if not value:
            raise child.fail(f"<{tag}> needs a value")
        nouns.append(DialNoun(kind=tag, value=value, attrs=dict(child.elem.attrib)))
    if own_text and nouns:
        raise el.fail("holds both a number as text and nested nouns")
    if own_text:
        nouns.append(DialNoun(kind="Number", value=own_text))
    if not nouns:
        raise el.fail("needs a number or a nested <Number>, <Client>, <Queue> or <Sip>")
    return Dial(
        action=el.attr("action"),
        method=el.method(),
        caller_id=el.attr("callerId"),
        timeout=el.attr_int("timeout", 30) or 0,
        time_limit=el.attr_int("timeLimit", None),
        record=el.attr("record"),
        nouns=tuple(nouns),
    )


def _enqueue(el: _Element) -> Enqueue:
    workflow = el.attr("workflowSid")
    # with a workflowSid the element holds a <Task> (its attributes), not a queue name
    name = " ".join((el.elem.text or "").split()) if workflow else el.text()
    if not name and not workflow:
        raise el.fail("needs a queue name (or a workflowSid)")
    return Enqueue(
        name=name,
        action=el.attr("action"),
        method=el.method(),
        wait_url=el.attr("waitUrl"),
        wait_url_method=el.method("waitUrlMethod"),
        workflow_sid=workflow,
    )


def _leave(el: _Element) -> Leave:
    el.no_children()
    return Leave()


def _hangup(el: _Element) -> Hangup:
    el.no_children()
    return Hangup()


def _reject(el: _Element) -> Reject:
    el.no_children()
    reason = el.attr("reason", "rejected") or "rejected"
    if reason not in ("rejected", "busy"):
        raise el.fail(f"attribute reason={reason!r} must be rejected or busy")
    return Reject(reason=reason)


def _nouns(el: _Element, required: bool) -> tuple[Noun, ...]:
    nouns = []
    for child in el.children():
        params, rest = _parameters(child, ())
        del rest
        nouns.append(Noun(kind=child.elem.tag, attrs=dict(child.elem.attrib), parameters=params))
    if required and not nouns:
        raise el.fail(f"<{el.elem.tag}> needs a nested noun such as <Stream>")
    return tuple(nouns)


def _connect(el: _Element) -> Connect:
    return Connect(action=el.attr("action"), method=el.method(), nouns=_nouns(el, True))


def _start(el: _Element) -> Start:
    return Start(action=el.attr("action"), method=el.method(), nouns=_nouns(el, True))


def _stop(el: _Element) -> Stop:
    return Stop(nouns=_nouns(el, True))


def _sms(el: _Element) -> Sms:
    body_elem = el.elem.find("Body")
    body = " ".join((body_elem.text or "").split()) if body_elem is not None else el.text()
    if not body:
        raise el.fail("needs a message body")
    return Sms(
        body=body,
        to=el.attr("to"),
        from_=el.attr("from"),
        action=el.attr("action"),
        method=el.method(),
        status_callback=el.attr("statusCallback"),
    )


_VERBS: dict[str, Callable[[_Element], Verb]] = {
    "Say": _say,
    "Play": _play,
    "Pause": _pause,
    "Gather": _gather,
    "Redirect": _redirect,
    "Record": _record,
    "Pay": _pay,
    "Dial": _dial,
    "Enqueue": _enqueue,
    "Leave": _leave,
    "Hangup": _hangup,
    "Reject": _reject,
    "Connect": _connect,
    "Start": _start,
    "Stop": _stop,
    "Sms": _sms,
    "Message": _sms,
}


def parse_twiml(text: str | bytes) -> list[Verb]:
    """Parse a TwiML Voice document into verbs; raise `TwimlError` if Twilio would reject it."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    text = text.strip()
    if not text:
        raise TwimlError("the document is empty; TwiML must be an XML <Response>")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise TwimlError(f"not well-formed XML ({err}): {text[:80]!r}") from None
    if root.tag != "Response":
        raise TwimlError(f"the root element is <{root.tag}>; TwiML must have <Response> as root")
    if (root.text or "").strip():
        raise TwimlError(f"text {root.text.strip()[:40]!r} directly inside <Response>")
    verbs: list[Verb] = []
    for el in _Element(root, "<Response>").children():
        tag = el.elem.tag
        if tag not in _VERBS:
            raise el.fail(f"<{tag}> is not a TwiML Voice verb")
        if (el.elem.tail or "").strip():
            raise el.fail(f"stray text {el.elem.tail.strip()[:40]!r} after the verb")
        verbs.append(_VERBS[tag](el))
    return verbs


def assert_valid_twiml(text: str | bytes) -> list[Verb]:
    """Return the verbs of `text`, or raise `TwimlError` (an AssertionError) saying what is wrong."""
    return parse_twiml(text)
