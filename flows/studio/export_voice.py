"""Phonetree node → Studio widget builders: shared helpers and the voice nodes.

A builder returns the node's widgets; transitions point at other nodes' entry widgets through
`Exporter.transition`. `entry_role` says which widget transitions enter (a prompt before a
recording, a greeting before a voicemail come first).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from flows.nodes.pay import card_types
from flows.prompts import normalize_prompt
from flows.studio.exporter import widget

if TYPE_CHECKING:
    from flows.definition import Node
    from flows.studio.exporter import Exporter

Widgets = list[dict[str, Any]]
DEFAULT_CARDS = "visa mastercard amex"
STUDIO_CARD_NAMES = {"mastercard": "master-card"}  # how Studio's Capture Payments writes them
PAY_FAILURES = ("maxFailedAttempts", "providerError", "payInterrupted", "hangup", "validationError")
HELPER_PROMPT = {
    "record": "prompt",
    "pay": "prompt",
    "voicemail": "greeting",
    "transfer": "whisper",
    "ai_agent": "greeting",
}
PROMPT_PROP = {
    "record": "prompt",
    "pay": "prompt",
    "voicemail": "prompt",
    "transfer": "whisper",
    "ai_agent": "greeting",
}


def entry_role(cx: Exporter, node: Node) -> str | None:
    """Which of the node's widgets transitions enter ("" for the main one); None: no widget."""
    if node.type == "hangup":
        return "" if (node.props.get("say") or node.props.get("play")) else None
    if node.type in HELPER_PROMPT:
        prop = PROMPT_PROP[node.type]
        value = node.props.get(prop)
        if node.type == "voicemail" and prop not in node.props:
            value = {"say": "Please leave a message after the beep."}
        if normalize_prompt(value) is not None:
            return HELPER_PROMPT[node.type]
    return ""


def _prompt_props(cx: Exporter, value: Any) -> dict[str, Any]:
    prompt = normalize_prompt(value) or {}
    props: dict[str, Any] = {}
    if prompt.get("play"):
        props["play"] = cx.liquid(prompt["play"])
    else:
        props["say"] = cx.liquid(prompt.get("say") or "")
        for key in ("voice", "language"):
            if prompt.get(key):
                props[key] = prompt[key]
    props["loop"] = prompt.get("loop") or 1
    return props


def helper_prompt(cx: Exporter, node: Node, then: str) -> Widgets:
    """The Say/Play a node's own prompt becomes, leading into its main widget."""
    role = HELPER_PROMPT[node.type]
    if cx.entries.get(node.id) != cx.name(node.id, role):
        return []
    value = node.props.get(PROMPT_PROP[node.type], {"say": "Please leave a message after the beep."})
    return [
        widget(
            cx.name(node.id, role),
            "say-play",
            [{"next": then, "event": "audioComplete"}],
            _prompt_props(cx, value),
            cx.offset(node.id, 0, -160),
        )
    ]


def main_widget(
    cx: Exporter, node: Node, wtype: str, transitions: list[dict[str, Any]], props: dict[str, Any]
) -> dict[str, Any]:
    original = cx.original(node)
    return widget(cx.name(node.id), wtype, transitions, original if original is not None else props, cx.offset(node.id))


# ---------------------------------------------------------------- voice


def build_say(cx: Exporter, node: Node) -> Widgets:
    """say → say-play."""
    props = _prompt_props(cx, node.props.get("prompt"))
    if node.props.get("loop"):
        props["loop"] = node.props["loop"]
    if node.props.get("pause_after"):
        cx.note(node, "the pause after the prompt is not exported")
    return [main_widget(cx, node, "say-play", [cx.transition("audioComplete", node.outcomes.get("next"))], props)]


def build_hangup(cx: Exporter, node: Node) -> Widgets:
    """hangup → say-play with nothing after it (a Studio flow ends where transitions end)."""
    if cx.entries.get(node.id) is None:
        cx.note(node, "hangs up without a message: transitions to it end the flow")
        return []
    value = (
        {"play": node.props["play"]}
        if node.props.get("play")
        else {k: node.props[k] for k in ("say", "voice", "language") if node.props.get(k)}
    )
    return [main_widget(cx, node, "say-play", [{"event": "audioComplete"}], _prompt_props(cx, value))]


def build_record(cx: Exporter, node: Node) -> Widgets:
    """record → record-voicemail (a prompt becomes a Say/Play before it)."""
    p = node.props
    props: dict[str, Any] = {
        "play_beep": "true" if p.get("play_beep", True) else "false",
        "max_length": p.get("max_length", 120),
        "timeout": p.get("timeout", 5),
        "finish_on_key": p.get("finish_on_key", "1234567890*#"),
        "trim": p.get("trim", "trim-silence"),
        "transcribe": bool(p.get("transcribe", False)),
    }
    if p.get("variable"):
        cx.note(node, f"vars.{p['variable']} is not set in Studio; use widgets.{cx.name(node.id)}.RecordingUrl")
    out = node.outcomes
    transitions = [
        cx.transition("recordingComplete", out.get("recorded")),
        cx.transition("noAudio", out.get("no_audio")),
        cx.transition("hangup", out.get("hangup")),
    ]
    return helper_prompt(cx, node, cx.name(node.id)) + [main_widget(cx, node, "record-voicemail", transitions, props)]


def build_voicemail(cx: Exporter, node: Node) -> Widgets:
    """voicemail → greeting Say/Play, Record Voicemail, thank-you Say/Play."""
    p = node.props
    thanks = normalize_prompt(p.get("thank_you", {"say": "Thank you. Goodbye."}))
    props = {
        "play_beep": "true" if p.get("play_beep", True) else "false",
        "max_length": p.get("max_length", 120),
        "timeout": p.get("timeout", 5),
        "finish_on_key": p.get("finish_on_key", "#"),
        "transcribe": bool(p.get("transcribe", True)),
        "trim": "trim-silence",
    }
    done = [cx.transition("recordingComplete", node.outcomes.get("recorded"))]
    extra: Widgets = []
    if thanks is not None:
        done = [{"next": cx.name(node.id, "thanks"), "event": "recordingComplete"}]
        extra = [
            widget(
                cx.name(node.id, "thanks"),
                "say-play",
                [cx.transition("audioComplete", node.outcomes.get("recorded"))],
                _prompt_props(cx, thanks),
                cx.offset(node.id, 0, 200),
            )
        ]
    transitions = done + [cx.transition("noAudio", node.outcomes.get("no_audio")), {"event": "hangup"}]
    return (
        helper_prompt(cx, node, cx.name(node.id))
        + [main_widget(cx, node, "record-voicemail", transitions, props)]
        + extra
    )


def build_menu(cx: Exporter, node: Node) -> Widgets:
    """menu → gather-input-on-call + split-based-on on its Digits (+ one on speech keywords)."""
    p, out = node.props, node.outcomes
    gather, split = cx.name(node.id), cx.name(node.id, "split")
    options = [o for o in p.get("options") or [] if isinstance(o, dict) and o.get("digit")]
    keywords = [(o["digit"], k) for o in options for k in o.get("keywords") or [] if isinstance(k, str)]
    props = _prompt_props(cx, p.get("prompt"))
    props.update(number_of_digits=1, timeout=p.get("timeout", 5), stop_gather=True)
    speech = cx.name(node.id, "speech") if keywords else None
    transitions = [
        {"next": split, "event": "keypress"},
        {"next": speech, "event": "speech"} if speech else {"event": "speech"},
        cx.transition("timeout", out.get("fallback")),
    ]
    if int(p.get("retries", 2) or 0) > 0:
        cx.note(node, f"retries {p.get('retries', 2)} more time(s) on no or invalid input; the Studio Gather does not")
    merged = cx.merged.get(node.id, {})
    digits_ref = merged.get("input") or f"{{{{widgets.{gather}.Digits}}}}"
    matches = [
        {
            "next": cx.target(out.get(o["digit"])),
            "event": "match",
            "conditions": [
                {
                    "friendly_name": f"If value equal_to {o['digit']}",
                    "arguments": [digits_ref],
                    "type": "equal_to",
                    "value": o["digit"],
                }
            ],
        }
        for o in options
    ]
    split_offset = merged.get("offset") or cx.offset(node.id, 0, 240)
    widgets = [
        main_widget(cx, node, "gather-input-on-call", transitions, props),
        widget(
            split,
            "split-based-on",
            [cx.transition("noMatch", out.get("fallback")), *[clean(m) for m in matches]],
            {"input": digits_ref},
            split_offset,
        ),
    ]
    if speech:
        ref = f"{{{{widgets.{gather}.SpeechResult}}}}"
        spoken = [
            {
                "next": cx.target(out.get(d)),
                "event": "match",
                "conditions": [
                    {"friendly_name": f"If value contains {k}", "arguments": [ref], "type": "contains", "value": k}
                ],
            }
            for d, k in keywords
        ]
        widgets.append(
            widget(
                speech,
                "split-based-on",
                [cx.transition("noMatch", out.get("fallback")), *[clean(m) for m in spoken]],
                {"input": ref},
                cx.offset(node.id, 300, 240),
            )
        )
    return widgets


def clean(transition: dict[str, Any]) -> dict[str, Any]:
    if not transition.get("next"):
        transition.pop("next", None)
    return transition


def build_collect(cx: Exporter, node: Node) -> Widgets:
    """collect_input → gather-input-on-call (+ Set Variables storing the value when it is read)."""
    p, out = node.props, node.outcomes
    props = _prompt_props(cx, p.get("prompt"))
    mode = p.get("input", "dtmf")
    props.update(timeout=p.get("timeout", 5), stop_gather=True)
    if p.get("num_digits"):
        props["number_of_digits"] = p["num_digits"]
    if mode != "speech":
        props["finish_on_key"] = p.get("finish_on_key", "#")
    if mode != "dtmf":
        props.update(speech_timeout=str(p.get("speech_timeout", "auto")))
        if p.get("speech_hints"):
            props["hints"] = p["speech_hints"]
        if p.get("speech_language"):
            props["gather_language"] = p["speech_language"]
        if p.get("speech_model"):
            props["speech_model"] = p["speech_model"]
        if p.get("profanity_filter") is False:
            props["profanity_filter"] = "false"
    checks = [k for k in ("min_length", "max_length", "digits_only", "regex") if p.get(k)]
    if checks or int(p.get("retries", 2) or 0) > 0:
        cx.note(node, "input checks and retries are not exported (" + ", ".join(checks + ["retries"]) + ")")
    if out.get("invalid"):
        cx.note(node, "the 'invalid' outcome has no Studio transition")
    keypress = speech = out.get("success")
    aux = cx.aux_of(node, "success")
    if aux is not None:
        keypress, speech = aux.outcomes.get("keypress"), aux.outcomes.get("no_match")
    name = cx.name(node.id)
    variable = str(p.get("variable") or "")
    store: Widgets = []
    if variable and aux is None and _reads(cx, variable):
        store_name = cx.name(node.id, "store")
        store = [
            widget(
                store_name,
                "set-variables",
                [cx.transition("next", out.get("success"))],
                {
                    "variables": [
                        {"key": variable, "value": f"{{{{widgets.{name}.Digits}}}}{{{{widgets.{name}.SpeechResult}}}}"}
                    ]
                },
                cx.offset(node.id, 260, 120),
            )
        ]
        first = {"next": store_name, "event": "keypress"}
        second = {"next": store_name, "event": "speech"} if mode != "dtmf" else {"event": "speech"}
    else:
        first = cx.transition("keypress", keypress if mode != "speech" else None)
        second = cx.transition("speech", speech) if mode != "dtmf" else {"event": "speech"}
    transitions = [first, second, cx.transition("timeout", out.get("no_input"))]
    return [main_widget(cx, node, "gather-input-on-call", transitions, props)] + store


def _reads(cx: Exporter, variable: str) -> bool:
    text = json.dumps([n.to_dict()["props"] for n in cx.d.nodes])
    return any(pat in text for pat in (f"vars.{variable}", f"flow.variables.{variable}", f"vars['{variable}']"))


def build_pay(cx: Exporter, node: Node) -> Widgets:
    """pay → capture-payments; `failed` fans out to every failure event (or back from the import's branch)."""
    p, out = node.props, node.outcomes
    props: dict[str, Any] = {
        "payment_amount": cx.liquid(str(p.get("charge_amount", ""))),
        "currency": p.get("currency", "usd"),
        "description": cx.liquid(p.get("description")) or None,
        "payment_connector": p.get("payment_connector", "Default"),
        "payment_method": "ACH_DEBIT" if p.get("payment_method") == "ach-debit" else "credit-card",
        "payment_token_type": p.get("token_type", "reusable"),
        "valid_card_types": [STUDIO_CARD_NAMES.get(c, c) for c in card_types(p.get("valid_card_types", DEFAULT_CARDS))],
        "max_attempts": p.get("max_attempts", 1),
        "timeout": p.get("timeout", 5),
        "postal_code": "true" if p.get("postal_code") else "false",
        "security_code": bool(p.get("security_code", True)),
        "language": p.get("language") or None,
        "bank_account_type": p.get("bank_account_type") if p.get("payment_method") == "ach-debit" else None,
        "min_postal_code_length": p.get("min_postal_code_length") or None,
    }
    aux = cx.aux_of(node, "failed")
    unwired = set((cx.stash.get(node.id) or {}).get("unwired") or ())
    transitions = [cx.transition("success", out.get("success"))]
    for event in PAY_FAILURES:
        target = out.get("failed") if aux is None else aux.outcomes.get(event, aux.outcomes.get("no_match"))
        transitions.append({"event": event} if event in unwired and event == "hangup" else cx.transition(event, target))
    return helper_prompt(cx, node, cx.name(node.id)) + [main_widget(cx, node, "capture-payments", transitions, props)]
