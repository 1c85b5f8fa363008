"""Studio widget → Phonetree node mappers: the shared `Mapped` result and the voice widgets.

A mapper returns a `Mapped` node whose outcomes still name Studio widgets (the importer turns
them into node ids) plus notes for anything it could not carry over (which makes the widget
``partial`` in the import report).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flows.nodes.pay import CARD_TYPES, card_types
from flows.studio.tables import (
    BANK_ACCOUNT_TYPES,
    EVENT_OUTCOMES,
    FAILURE_CODES,
    PAYMENT_METHODS,
    SPEECH_PROPS,
    TOKEN_TYPES,
    TRIM_VALUES,
    UNMAPPABLE_EVENTS,
)

if TYPE_CHECKING:
    from flows.studio.importer import Importer

Targets = dict[str, "str | None"]

CONTACT_ADDRESS = "{{contact.channel.address}}"
FLOW_ADDRESS = "{{flow.channel.address}}"


@dataclass
class Mapped:
    """A Phonetree node made from one widget; outcomes name Studio widgets (None: unwired)."""

    type: str
    props: dict[str, Any]
    outcomes: Targets
    summary: str
    notes: list[str] = field(default_factory=list)
    unsupported: bool = False
    aux: list[dict[str, Any]] = field(default_factory=list)
    used: set[str] = field(default_factory=set)  # Studio properties carried over


def as_int(value: Any, default: int | None = None) -> int | None:
    """A Studio number (often a string) as an int, or `default`."""
    try:
        return int(float(str(value).strip()))
    except (TypeError, ValueError):
        return default


def clamp(value: int | None, low: int, high: int, label: str, notes: list[str]) -> int | None:
    """`value` within [low, high]; a note says when it had to move."""
    if value is None:
        return None
    if value < low or value > high:
        clamped = min(max(value, low), high)
        notes.append(f"{label} {value} is outside {low}-{high}; using {clamped}")
        return clamped
    return value


def as_list(value: Any) -> list[Any]:
    """A Studio list property, or [] when it is missing or not a list."""
    return value if isinstance(value, list) else []


def truthy(value: Any) -> bool:
    """Studio booleans come as true or \"true\"."""
    return value is True or str(value).strip().lower() in ("true", "1", "yes", "on")


def enum_value(props: dict[str, Any], key: str, table: dict[str, str], notes: list[str]) -> str | None:
    """A Studio enumerated property as Phonetree's value (None when absent or unknown, with a note)."""
    raw = props.get(key)
    if raw in (None, ""):
        return None
    folded = re.sub(r"[\s_]+", "-", str(raw).strip().lower())
    if folded in table:
        return table[folded]
    notes.append(f"{key} {raw!r} is not one of {', '.join(sorted(set(table.values())))}; the default is used")
    return None


def route(
    cx: Importer, state: dict[str, Any], table: dict[str, tuple[str, ...]], ignore_none: tuple[str, ...] = ()
) -> tuple[Targets, dict[str, list[tuple[str, str | None]]], list[str]]:
    """Outcome targets from the widget's transitions through an event table.

    Returns (outcomes, events per outcome, notes for events with no outcome).
    """
    outcomes: Targets = {}
    by_outcome: dict[str, list[tuple[str, str | None]]] = {}
    notes: list[str] = []
    unmappable = UNMAPPABLE_EVENTS.get(state["type"], {})
    for t in state.get("transitions") or []:
        event, target = t["event"], t.get("next") or None
        if event in unmappable:
            if target:
                notes.append(f"'{event}' → {target} cannot be told apart ({unmappable[event]})")
            continue
        names = table.get(event)
        if names is None:
            if target:
                notes.append(f"event '{event}' has no Phonetree outcome; its transition to {target} is dropped")
            continue
        for name in names:
            by_outcome.setdefault(name, []).append((event, target))
            if target is None and event in ignore_none:
                continue
            if name not in outcomes or outcomes[name] is None:
                outcomes[name] = target
    return outcomes, by_outcome, notes


def _targets_differ(events: list[tuple[str, str | None]], ignore_none: tuple[str, ...] = ()) -> bool:
    wired = {t for e, t in events if not (t is None and e in ignore_none)}
    return len(wired) > 1


def _prompt(cx: Importer, props: dict[str, Any], notes: list[str], used: set[str]) -> dict[str, Any]:
    prompt: dict[str, Any] = {}
    if props.get("play"):
        prompt["play"] = cx.tpl(str(props["play"]), notes)
    elif props.get("say") not in (None, ""):
        prompt["say"] = cx.tpl(str(props["say"]), notes)
    else:
        prompt["say"] = ""
    for key in ("voice", "language"):
        if props.get(key) and props[key] != "default" and "say" in prompt:
            prompt[key] = str(props[key])
    used.update(("say", "play", "voice", "language", "offset"))
    return prompt


# ---------------------------------------------------------------- voice


def map_say(cx: Importer, state: dict[str, Any]) -> Mapped:
    """say-play → say, or hangup when nothing follows (the call ends there in Studio too; in a
    subflow the parent flow continues, so it stays a say)."""
    props, notes, used = state.get("properties") or {}, [], set()
    prompt = _prompt(cx, props, notes, used)
    if props.get("digits"):
        notes.append(f"playing DTMF digits {props['digits']!r} is not supported")
        used.add("digits")
    loop = clamp(as_int(props.get("loop"), 1), 1, 10, "loop", notes)
    used.add("loop")
    outcomes, _, more = route(cx, state, EVENT_OUTCOMES["say-play"])
    notes.extend(more)
    if not outcomes.get("next") and loop == 1 and not props.get("digits") and not cx.subflow:
        hangup = {k: prompt[k] for k in ("say", "play", "voice", "language") if k in prompt}
        return Mapped("hangup", hangup, {}, "hangup (says this, then the call ends as in Studio)", notes, used=used)
    node_props: dict[str, Any] = {"prompt": prompt}
    if loop and loop != 1:
        node_props["loop"] = loop
    return Mapped("say", node_props, outcomes, "say", notes, used=used)


def map_record(cx: Importer, state: dict[str, Any]) -> Mapped:
    """record-voicemail → record (recordingComplete/noAudio/hangup → recorded/no_audio/hangup)."""
    props, notes = state.get("properties") or {}, []
    node_props: dict[str, Any] = {"play_beep": truthy(props.get("play_beep", "true"))}
    if props.get("max_length") is not None:
        node_props["max_length"] = clamp(as_int(props["max_length"]), 1, 14400, "max_length", notes)
    if props.get("timeout") is not None:
        node_props["timeout"] = clamp(as_int(props["timeout"]), 0, 60, "timeout", notes)
    if props.get("finish_on_key") is not None:
        node_props["finish_on_key"] = str(props["finish_on_key"])
    trim = enum_value(props, "trim", TRIM_VALUES, notes)
    if trim:
        node_props["trim"] = trim
    node_props["transcribe"] = truthy(props.get("transcribe", False))
    for key in ("transcription_callback_url", "recording_status_callback_url"):
        if props.get(key):
            notes.append(f"{key} is not used (Phonetree keeps recordings and transcripts with the call)")
    outcomes, _, more = route(cx, state, EVENT_OUTCOMES["record-voicemail"])
    notes.extend(more)
    used = {
        "play_beep",
        "max_length",
        "timeout",
        "finish_on_key",
        "trim",
        "transcribe",
        "offset",
        "transcription_callback_url",
        "recording_status_callback_url",
    }
    return Mapped("record", node_props, outcomes, "record", notes, used=used)


def _gather_common(props: dict[str, Any], notes: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if props.get("timeout") is not None:
        out["timeout"] = clamp(as_int(props["timeout"], 5), 1, 60, "timeout", notes)
    return out


def map_menu(cx: Importer, state: dict[str, Any], split: dict[str, Any]) -> Mapped:
    """gather-input-on-call + the split-based-on on its Digits → one menu (no retries: as Studio)."""
    props, notes, used = state.get("properties") or {}, [], set()
    prompt = _prompt(cx, props, notes, used)
    loop = as_int(props.get("loop"), 1) or 1
    if loop != 1:
        prompt["loop"] = clamp(loop, 1, 10, "loop", notes)
    options: list[dict[str, Any]] = []
    outcomes: Targets = {}
    for t in split.get("transitions") or []:
        if t["event"] != "match":
            continue
        for digit in menu_digits(t):
            options.append({"digit": digit, "label": t.get("next") or f"Option {digit}"})
            outcomes[digit] = t.get("next") or None
    timeouts = [t.get("next") or None for t in state.get("transitions") or [] if t["event"] == "timeout"]
    no_match = [t.get("next") or None for t in split.get("transitions") or [] if t["event"] == "noMatch"]
    outcomes["fallback"] = (timeouts or no_match or [None])[0]
    node_props: dict[str, Any] = {"prompt": prompt, "options": options, "retries": 0}
    node_props.update(_gather_common(props, notes))
    used.update(("loop", "timeout", "number_of_digits", "finish_on_key", "stop_gather", *SPEECH_PROPS))
    digits = ", ".join(o["digit"] for o in options)
    return Mapped("menu", node_props, outcomes, f"menu (with {split['name']}: options {digits})", notes, used=used)


def menu_digits(transition: dict[str, Any]) -> list[str]:
    """The keys a Split match transition tests for (one, or several with matches_any_of)."""
    cond = (transition.get("conditions") or [{}])[0]
    value = str(cond.get("value", ""))
    if cond.get("type") == "matches_any_of":
        return [v.strip() for v in value.split(",") if v.strip()]
    return [value.strip()]


def map_collect(cx: Importer, state: dict[str, Any], node_id: str) -> Mapped:
    """gather-input-on-call → collect_input (keypress/speech → success, timeout → no_input)."""
    props, notes, used = state.get("properties") or {}, [], set()
    prompt = _prompt(cx, props, notes, used)
    loop = as_int(props.get("loop"), 1) or 1
    if loop != 1:
        prompt["loop"] = clamp(loop, 1, 10, "loop", notes)
    wired = {t["event"]: t.get("next") or None for t in state.get("transitions") or []}
    mode = "both" if wired.get("speech") and wired.get("keypress") else "speech" if wired.get("speech") else "dtmf"
    node_props: dict[str, Any] = {"prompt": prompt, "variable": node_id, "input": mode, "retries": 0}
    node_props.update(_gather_common(props, notes))
    if props.get("number_of_digits") not in (None, ""):
        node_props["num_digits"] = clamp(as_int(props["number_of_digits"]), 1, 64, "number_of_digits", notes)
    if props.get("stop_gather") not in (None, "") and not truthy(props["stop_gather"]):
        node_props["finish_on_key"] = ""  # "Stop gathering on keypress?" No: every key is gathered
    elif props.get("finish_on_key") is not None:
        key = str(props["finish_on_key"])
        node_props["finish_on_key"] = key[:1]
        if len(key) > 1:
            notes.append(f"finish_on_key {key!r} is more than one key; using {key[:1]!r}")
    if mode != "dtmf":
        if props.get("hints"):
            hints = props["hints"]
            node_props["speech_hints"] = ", ".join(map(str, hints)) if isinstance(hints, list) else str(hints)
        if props.get("gather_language"):  # "language" is the prompt's
            node_props["speech_language"] = str(props["gather_language"])
        if props.get("speech_timeout") not in (None, ""):
            node_props["speech_timeout"] = str(props["speech_timeout"]).strip().lower()
        model = str(props.get("speech_model") or "").strip()
        if model and model != "default":
            node_props["speech_model"] = model
        elif truthy(props.get("enhanced", False)):
            node_props["speech_model"] = "phone_call"  # Twilio's enhanced model is phone_call
        if props.get("profanity_filter") not in (None, "") and not truthy(props["profanity_filter"]):
            node_props["profanity_filter"] = False
    # without a speech transition Studio does not listen: its speech properties change nothing
    used.update(("loop", "timeout", "number_of_digits", "finish_on_key", "stop_gather", *SPEECH_PROPS))
    outcomes, by_outcome, more = route(cx, state, EVENT_OUTCOMES["gather-input-on-call"])
    notes.extend(more)
    mapped = Mapped(
        "collect_input", node_props, outcomes, f"collect_input ({mode}, kept in vars.{node_id})", notes, used=used
    )
    if mode == "both" and _targets_differ(by_outcome.get("success", [])):
        aux_id = cx.aux_id(f"{node_id}_kind")
        mapped.outcomes["success"] = cx.aux_target(aux_id)
        mapped.aux.append(
            {
                "id": aux_id,
                "type": "branch",
                "name": f"{state['name']}: keys or speech?",
                "props": {
                    "input": f"{{{{ widgets.{node_id}.Digits }}}}",
                    "conditions": [{"id": "keypress", "label": "Keys pressed", "operator": "is_not_blank"}],
                },
                "outcomes": {"keypress": wired.get("keypress"), "no_match": wired.get("speech")},
            }
        )
        mapped.summary += f" + branch {aux_id} (keypress or speech)"
    return mapped


def map_pay(cx: Importer, state: dict[str, Any], node_id: str) -> Mapped:
    """capture-payments → pay; failure events become one `failed` outcome (or a branch on Result)."""
    props, notes = state.get("properties") or {}, []
    node_props: dict[str, Any] = {}
    if props.get("payment_amount") not in (None, ""):
        node_props["charge_amount"] = cx.tpl(str(props["payment_amount"]), notes)
    for key in ("currency", "payment_connector", "language"):
        if props.get(key):
            node_props[key] = str(props[key])
    if props.get("description"):
        node_props["description"] = cx.tpl(str(props["description"]), notes)
    node_props["payment_method"] = enum_value(props, "payment_method", PAYMENT_METHODS, notes) or "credit-card"
    token_type = enum_value(props, "payment_token_type", TOKEN_TYPES, notes)
    if token_type:
        node_props["token_type"] = token_type
    cards = card_types(props.get("valid_card_types"))
    if cards:
        node_props["valid_card_types"] = " ".join(cards)
        unknown = [c for c in cards if c not in CARD_TYPES]
        if unknown:
            notes.append(f"unknown card types {' '.join(unknown)}: choose among {' '.join(CARD_TYPES)}")
    if props.get("max_attempts") is not None:
        node_props["max_attempts"] = clamp(as_int(props["max_attempts"], 1), 1, 3, "max_attempts", notes)
    if props.get("timeout") is not None:
        node_props["timeout"] = clamp(as_int(props["timeout"], 5), 1, 60, "timeout", notes)
    if props.get("postal_code") is not None:
        node_props["postal_code"] = truthy(props["postal_code"])
    if props.get("security_code") is not None:
        node_props["security_code"] = truthy(props["security_code"])
    bank = enum_value(props, "bank_account_type", BANK_ACCOUNT_TYPES, notes)
    if bank:
        node_props["bank_account_type"] = bank
    if props.get("min_postal_code_length") not in (None, ""):
        node_props["min_postal_code_length"] = clamp(
            as_int(props["min_postal_code_length"], 0), 0, 10, "min_postal_code_length", notes
        )
    for key in ("parameters",):
        if props.get(key) not in (None, "", []):
            notes.append(f"{key} is not supported by the pay node")
    used = {
        "payment_amount",
        "currency",
        "payment_connector",
        "language",
        "description",
        "payment_method",
        "payment_token_type",
        "valid_card_types",
        "max_attempts",
        "timeout",
        "postal_code",
        "security_code",
        "bank_account_type",
        "min_postal_code_length",
        "offset",
    }
    outcomes, by_outcome, more = route(cx, state, EVENT_OUTCOMES["capture-payments"], ignore_none=("hangup",))
    notes.extend(more)
    mapped = Mapped("pay", node_props, outcomes, "pay", notes, used=used)
    failures = [(e, t) for e, t in by_outcome.get("failed", []) if not (t is None and e == "hangup")]
    if len({t for _, t in failures}) > 1:
        counts = Counter(t for _, t in failures)
        primary = max(counts, key=lambda t: (counts[t], t == dict(failures).get("maxFailedAttempts")))
        conditions, aux_outcomes = [], {}
        for event, target in failures:
            if target == primary:
                continue
            conditions.append(
                {"id": event, "label": event, "operator": "matches_any_of", "value": ", ".join(FAILURE_CODES[event])}
            )
            aux_outcomes[event] = target
        aux_outcomes["no_match"] = primary
        aux_id = cx.aux_id(f"{node_id}_failure")
        mapped.outcomes["failed"] = cx.aux_target(aux_id)
        mapped.aux.append(
            {
                "id": aux_id,
                "type": "branch",
                "name": f"{state['name']}: why it failed",
                "props": {"input": f"{{{{ widgets.{node_id}.Result }}}}", "conditions": conditions},
                "outcomes": aux_outcomes,
            }
        )
        mapped.summary += f" + branch {aux_id} (on the Pay Result)"
    return mapped
