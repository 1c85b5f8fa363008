"""Nodes that gather keypresses or speech: menu and collect_input (retries built in)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from flows.definition import Node
from flows.formats import VAR_NAME_RE, regex_matches
from flows.issues import Issue, error
from flows.prompts import add_prompt
from flows.registry import Field, NodeResult, NodeType, Route, Wait, prompt_summary, register

if TYPE_CHECKING:
    from flows.runtime import Event, Runtime

DIGIT_KEYS = set("0123456789*#")
DIGIT_WORDS = {
    "zero": "0", "oh": "0", "one": "1", "two": "2", "to": "2", "too": "2", "three": "3",
    "four": "4", "for": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9",
    "star": "*", "pound": "#", "hash": "#",
}
_WORDS_RE = re.compile(r"[^\w*#]+", re.UNICODE)

INVALID_PROMPT = {"say": "Sorry, that is not a valid choice."}
SPEECH_MODEL_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
NO_INPUT_PROMPT = {"say": "Sorry, I didn't get that."}
VOICE = ("voice",)  # the fields of a keypad or speech Gather: no effect on a text reply


def _words(text: str) -> list[str]:
    return [w for w in _WORDS_RE.split(text.lower()) if w]


def fold(text: str) -> str:
    """Case- and accent-insensitive form of a reply (``Sí`` and ``SI`` match ``si``)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def _gather(
    node: Node,
    rt: Runtime,
    service: str,
    attrs: dict[str, Any],
    prompt: Any,
) -> None:
    """`<Gather action=service>` with the prompt inside, then a `<Redirect>` marked timeout=1.

    In a messaging session the prompt is sent as a message and the reply is the next one.
    """
    if rt.messaging:
        add_prompt(rt, rt.response, prompt)
        return
    gather = rt.response.gather(action=rt.url(service), method="POST", **attrs)
    add_prompt(rt, gather, prompt)
    rt.response.redirect(rt.url(service, timeout=1), method="POST")


def _input_params(event: Event) -> tuple[str, str, str]:
    """(Digits, SpeechResult, Confidence) of a call's input; a text reply comes as its Body (speech)."""
    params = event.params
    if event.kind != "input":
        return "", "", ""
    if "Body" in params and "Digits" not in params and "SpeechResult" not in params:
        return "", str(params.get("Body") or "").strip(), ""
    digits = str(params.get("Digits") or "").strip()
    speech = str(params.get("SpeechResult") or "").strip()
    return digits, speech, str(params.get("Confidence") or "")


@register
class Menu(NodeType):
    """Say a prompt and route on one keypress (or a spoken keyword)."""

    type_name = "menu"
    channels = ("voice", "messaging")  # a text reply: a digit or a keyword, or the value
    label = "Menu"
    icon = "keypad"
    category = "Input"
    description = "Press (or reply) 1 for ..., with retries, invalid-input and no-input prompts built in."
    fields = (
        Field("prompt", "prompt", "Prompt", required=True,
              help="What the caller hears (or the contact reads) before choosing."),
        Field("options", "options", "Options", required=True, default=[],
              help="One per key; optional keywords, spoken or in a text reply, route the same way."),
        Field("timeout", "number", "Seconds to wait for a key", default=5, min=1, max=60, channels=VOICE, unit="s"),
        Field("retries", "number", "Retries", default=2, min=0, max=10,
              help="How many times the menu repeats after no or invalid input before it takes the fallback outcome."),
        Field("invalid_prompt", "prompt", "Invalid input prompt", default=INVALID_PROMPT),
        Field("no_input_prompt", "prompt", "No input prompt", default=NO_INPUT_PROMPT),
        Field("speech_language", "text", "Speech language", default="",
              help="Language for speech keywords; the flow's language when empty.", channels=VOICE),
    )
    fixed_outcomes = ("fallback",)
    dynamic_outcomes: ClassVar[dict[str, str] | None] = {"field": "options", "key": "digit"}
    waits_for = ("input", "timeout")
    results = ("Digits", "SpeechResult", "Confidence", "choice", "attempts", "reason")
    summary = (*prompt_summary("prompt"), "{options.digit+label}")
    starter_props: ClassVar[dict[str, Any]] = {"options": [{"digit": "1", "label": ""}, {"digit": "2", "label": ""}]}

    def validate(self, node: Node) -> Iterable[Issue]:
        """Options: one key each (0-9, * or #), no key twice, keywords a list of words."""
        options = node.props.get("options")
        if not isinstance(options, list):
            return
        if not options:
            yield error("required", "A menu needs at least one option.", node.id, "options")
        seen: set[str] = set()
        for i, option in enumerate(options):
            path = f"options[{i}]"
            if not isinstance(option, dict):
                yield error("invalid_option", "An option must be an object.", node.id, path)
                continue
            digit = option.get("digit")
            if digit in (None, ""):
                yield error("invalid_digit", f"Option {i + 1} has no key: give it one of 0-9, * or #.",
                            node.id, f"{path}.digit")
            elif not isinstance(digit, str) or len(digit) != 1 or digit not in DIGIT_KEYS:
                yield error("invalid_digit", f"Option {i + 1}'s key {str(digit)[:10]!r} is not one key "
                            "(0-9, * or #).", node.id, f"{path}.digit")
            elif digit in seen:
                yield error("duplicate_digit", f"Digit {digit} is used twice.", node.id, f"{path}.digit")
            else:
                seen.add(digit)
            keywords = option.get("keywords")
            if keywords is not None and (
                not isinstance(keywords, list) or not all(isinstance(k, str) and k.strip() for k in keywords)
            ):
                yield error("invalid_keywords", "Keywords must be a list of words.", node.id, f"{path}.keywords")

    def reply_words(self, node: Node) -> Iterable[tuple[str, str]]:
        """Each option's keywords (in a text reply, one alone chooses the option)."""
        options = node.props.get("options")
        for i, option in enumerate(options if isinstance(options, list) else []):
            keywords = option.get("keywords") if isinstance(option, dict) else None
            for keyword in keywords if isinstance(keywords, list) else []:
                if isinstance(keyword, str):
                    yield f"options[{i}].keywords", keyword

    def _options(self, node: Node) -> list[dict[str, Any]]:
        return [o for o in self.prop(node, "options") or [] if isinstance(o, dict) and o.get("digit")]

    def _prompt_gather(self, node: Node, rt: Runtime, prompt: Any) -> None:
        options = self._options(node)
        keywords = [k for o in options for k in o.get("keywords") or [] if isinstance(k, str)]
        attrs: dict[str, Any] = {"num_digits": 1, "timeout": self.prop(node, "timeout")}
        if any(o["digit"] == "#" for o in options):
            attrs["finish_on_key"] = ""  # else Twilio reads # as "done" and the option is unreachable
        if keywords:
            attrs["input"] = "dtmf speech"
            attrs["hints"] = ", ".join(keywords)
            attrs["language"] = self.prop(node, "speech_language") or rt.settings.language
            attrs["speech_timeout"] = "auto"
        else:
            attrs["input"] = "dtmf"
        _gather(node, rt, "ivr-menu-input", attrs, prompt)

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Say the prompt inside a one-key Gather and wait."""
        rt.set_attempts(node.id, 0)
        self._prompt_gather(node, rt, self.prop(node, "prompt"))
        return Wait({"attempt": 1})

    def match(self, node: Node, digits: str, speech: str) -> str | None:
        """The option digit chosen by a keypress or a spoken keyword/number, if any."""
        options = self._options(node)
        if digits:
            for option in options:
                if option["digit"] == digits[:1] and len(digits) == 1:
                    return option["digit"]
            return None
        words = _words(fold(speech))
        text = " ".join(words)
        if len(words) == 1 and len(words[0]) == 1:  # a typed digit (a text reply "1")
            for option in options:
                if option["digit"] == words[0]:
                    return option["digit"]
        if speech.strip() in ("*", "#"):
            for option in options:
                if option["digit"] == speech.strip():
                    return option["digit"]
        for option in options:
            for keyword in option.get("keywords") or []:
                kw = " ".join(_words(fold(str(keyword))))
                if kw and f" {kw} " in f" {text} ":
                    return option["digit"]
        spoken = [DIGIT_WORDS.get(w, w) for w in words]
        for option in options:
            if option["digit"] in spoken and len(spoken) <= 3:
                return option["digit"]
        return None

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """Route on the chosen key or keyword; otherwise re-prompt, then `fallback` after the retries."""
        digits, speech, confidence = _input_params(event)
        attempts = rt.attempts(node.id) + 1
        result: dict[str, Any] = {"Digits": digits, "SpeechResult": speech, "attempts": attempts}
        if confidence:
            result["Confidence"] = confidence
        if digits or speech:
            choice = self.match(node, digits, speech)
            if choice is not None:
                result["choice"] = choice
                rt.set_result(node.id, result)
                return Route(choice, {"digits": digits, "speech": speech})
            reason, retry_prompt = "invalid", self.prop(node, "invalid_prompt")
        else:
            reason, retry_prompt = "no_input", self.prop(node, "no_input_prompt")
        result["reason"] = reason
        rt.set_result(node.id, result)
        rt.set_attempts(node.id, attempts)
        if attempts > int(self.prop(node, "retries")):
            return Route("fallback", {"reason": reason, "attempts": attempts})
        add_prompt(rt, rt.response, retry_prompt)
        self._prompt_gather(node, rt, self.prop(node, "prompt"))
        return Wait({"retry": attempts, "reason": reason, "digits": digits})


@register
class CollectInput(NodeType):
    """Ask for digits or speech, check it, and store it in a flow variable."""

    type_name = "collect_input"
    channels = ("voice", "messaging")  # a text reply: a digit or a keyword, or the value
    label = "Collect input"
    icon = "form-input"
    category = "Input"
    description = "Gather digits, speech or a text reply, validate it, store the value in a variable."
    fields = (
        Field("prompt", "prompt", "Prompt", required=True),
        Field("variable", "text", "Store in variable", required=True,
              help="The value is kept as vars.<name>."),
        Field("input", "select", "Input", default="dtmf", choices=("dtmf", "speech", "both"), channels=VOICE),
        Field("num_digits", "number", "Number of digits", min=1, max=64,
              help="Stop after this many keys; empty waits for the finish key.", channels=VOICE),
        Field("finish_on_key", "digits", "Finish key", default="#", channels=VOICE),
        Field("timeout", "number", "Seconds to wait", default=5, min=1, max=60, channels=VOICE, unit="s"),
        Field("speech_hints", "text", "Speech hints", default="", help="Comma-separated words or phrases.",
              channels=VOICE),
        Field("speech_language", "text", "Speech language", default="", channels=VOICE),
        Field("speech_timeout", "text", "Speech end timeout", default="auto",
              help="'auto' or seconds of silence that end speech.", channels=VOICE),
        Field("speech_model", "text", "Speech model", default="",
              help="Twilio's speechModel, e.g. phone_call, numbers_and_commands, googlev2_telephony; "
                   "empty: Twilio's default.", channels=VOICE),
        Field("profanity_filter", "bool", "Mask profanity", default=True, channels=VOICE),
        Field("min_length", "number", "Minimum length", min=0, max=1000),
        Field("max_length", "number", "Maximum length", min=1, max=1000),
        Field("digits_only", "bool", "Digits only", default=False),
        Field("regex", "regex", "Must match", default="", help="The whole value must match this pattern."),
        Field("retries", "number", "Retries", default=2, min=0, max=10),
        Field("invalid_prompt", "prompt", "Invalid input prompt", default={"say": "Sorry, that is not valid."}),
        Field("no_input_prompt", "prompt", "No input prompt", default=NO_INPUT_PROMPT),
    )
    fixed_outcomes = ("success", "invalid", "no_input")
    waits_for = ("input", "timeout")
    results = ("Digits", "SpeechResult", "Confidence", "value", "valid", "attempts", "reason")
    summary = prompt_summary("prompt")

    def validate(self, node: Node) -> Iterable[Issue]:
        """Variable name, length range and finish key."""
        name = node.props.get("variable")
        if isinstance(name, str) and name and not VAR_NAME_RE.match(name):
            yield error("invalid_variable", f"{name!r} is not a valid variable name.", node.id, "variable")
        low, high = node.props.get("min_length"), node.props.get("max_length")
        if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
            yield error("invalid_range", "Minimum length is above maximum length.", node.id, "min_length")
        fk = node.props.get("finish_on_key")
        if isinstance(fk, str) and len(fk) > 1:
            yield error("invalid_digit", "The finish key is a single key.", node.id, "finish_on_key")
        model = node.props.get("speech_model")
        if isinstance(model, str) and model and not SPEECH_MODEL_RE.match(model):
            yield error("invalid_speech_model", f"{model!r} is not a speech model name like phone_call.",
                        node.id, "speech_model")

    def sets_variables(self, node: Node) -> Iterable[str]:
        """The variable the value is stored in."""
        name = node.props.get("variable")
        return (name,) if isinstance(name, str) and name else ()

    def _prompt_gather(self, node: Node, rt: Runtime, prompt: Any) -> None:
        mode = self.prop(node, "input")
        attrs: dict[str, Any] = {"input": {"dtmf": "dtmf", "speech": "speech"}.get(mode, "dtmf speech"),
                                 "timeout": self.prop(node, "timeout")}
        if mode != "speech":
            if self.prop(node, "num_digits"):
                attrs["num_digits"] = int(self.prop(node, "num_digits"))
            attrs["finish_on_key"] = self.prop(node, "finish_on_key")
        if mode != "dtmf":
            if self.prop(node, "speech_hints"):
                attrs["hints"] = self.prop(node, "speech_hints")
            attrs["language"] = self.prop(node, "speech_language") or rt.settings.language
            attrs["speech_timeout"] = str(self.prop(node, "speech_timeout"))
            if self.prop(node, "speech_model"):
                attrs["speech_model"] = str(self.prop(node, "speech_model"))
            if self.prop(node, "profanity_filter") is False:
                attrs["profanity_filter"] = False
        _gather(node, rt, "ivr-input", attrs, prompt)

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Say the prompt inside a Gather and wait."""
        rt.set_attempts(node.id, 0)
        self._prompt_gather(node, rt, self.prop(node, "prompt"))
        return Wait({"attempt": 1})

    def check(self, node: Node, value: str) -> str | None:
        """Why `value` is not acceptable, or None when it is."""
        low, high = self.prop(node, "min_length"), self.prop(node, "max_length")
        if low is not None and len(value) < low:
            return "too_short"
        if high is not None and len(value) > high:
            return "too_long"
        if self.prop(node, "digits_only") and not value.isdigit():
            return "not_digits"
        pattern = self.prop(node, "regex")
        if pattern and not regex_matches(pattern, value[:1000], whole=True):
            return "no_match"
        return None

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """Store a valid value (`success`); re-prompt, then `invalid` or `no_input` after the retries."""
        digits, speech, confidence = _input_params(event)
        value = digits or speech
        if self.prop(node, "digits_only") and not digits and speech:
            value = "".join(DIGIT_WORDS.get(w, w) for w in _words(speech))
        attempts = rt.attempts(node.id) + 1
        result: dict[str, Any] = {"Digits": digits, "SpeechResult": speech, "value": value,
                                  "attempts": attempts}
        if confidence:
            result["Confidence"] = confidence
        if value:
            problem = self.check(node, value)
            if problem is None:
                result["valid"] = True
                rt.set_result(node.id, result)
                rt.set_var(self.prop(node, "variable"), value)
                return Route("success", {"value_length": len(value)})
            reason, outcome, retry_prompt = problem, "invalid", self.prop(node, "invalid_prompt")
        else:
            reason, outcome, retry_prompt = "no_input", "no_input", self.prop(node, "no_input_prompt")
        result.update(valid=False, reason=reason)
        rt.set_result(node.id, result)
        rt.set_attempts(node.id, attempts)
        if attempts > int(self.prop(node, "retries")):
            return Route(outcome, {"reason": reason, "attempts": attempts})
        add_prompt(rt, rt.response, retry_prompt)
        self._prompt_gather(node, rt, self.prop(node, "prompt"))
        return Wait({"retry": attempts, "reason": reason})
