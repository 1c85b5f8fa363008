"""The flow-wide settings form (voice, language, time zone, fallback, loop guards) in the designer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.datastructures import MultiDict

from flows.definition import DEFAULT_INACTIVITY_SECONDS, DEFAULT_SETTINGS, FALLBACK_ACTIONS, MAX_INACTIVITY_SECONDS

# The channels choice as the form shows it; stored as settings.channels (a list), absent for calls only.
CHANNEL_CHOICES = ("voice", "messaging", "voice+messaging")
CHANNEL_LABELS = {"voice": "Calls", "messaging": "Texts", "voice+messaging": "Calls and texts"}
VOICE, TEXTS = ["voice"], ["messaging"]  # the settings that act on calls only, or on text conversations only


def _field(name: str, kind: str, label: str, default: Any = None, help: str = "", choices=None, **extra) -> dict:
    return {
        "name": name,
        "kind": kind,
        "label": label,
        "required": False,
        "default": default,
        "choices": list(choices) if choices else None,
        "help": help,
        **extra,
    }


SETTINGS_TYPE: dict[str, Any] = {
    "type": "settings",
    "dynamic_outcomes": None,
    "outcomes": [],
    "fields": [
        _field(
            "channels",
            "select",
            "Channels",
            "voice",
            "Calls (voice), text conversations (messaging), or both.",
            choices=CHANNEL_CHOICES,
            choice_labels=CHANNEL_LABELS,
        ),
        _field(
            "messaging_start",
            "text",
            "Texts start at (node id)",
            "",
            "When texts begin elsewhere than calls; empty: the start node (or branch on {{ trigger.channel }}).",
            channels=TEXTS,
        ),
        _field(
            "inactivity_timeout",
            "number",
            "Conversation ends after (seconds without a text)",
            DEFAULT_INACTIVITY_SECONDS,
            min=60,
            max=MAX_INACTIVITY_SECONDS,
            channels=TEXTS,
        ),
        _field("voice", "text", "Voice", DEFAULT_SETTINGS["voice"], "Twilio voice, e.g. Polly.Joanna or alice.",
               channels=VOICE),
        _field("language", "text", "Language", DEFAULT_SETTINGS["language"], "e.g. en-US, fr-FR.", channels=VOICE),
        _field(
            "timezone",
            "timezone",
            "Time zone",
            DEFAULT_SETTINGS["timezone"],
            "Business hours nodes without their own time zone use this one.",
        ),
        _field("region", "text", "Phone region", DEFAULT_SETTINGS["region"], "Country for numbers without +code."),
        _field("fallback_action", "select", "When something goes wrong", "hangup", choices=FALLBACK_ACTIONS),
        _field("fallback_message", "text", "Apology", DEFAULT_SETTINGS["fallback"]["message"]),
        _field("fallback_number", "phone", "Transfer to", "", "Only for the transfer fallback.", channels=VOICE),
        _field("max_steps_per_turn", "number", "Steps per turn (loop guard)", 50, min=1, max=1000),
        _field("max_node_visits", "number", "Visits of one node per call", 25, min=1, max=1000),
    ],
}


def settings_props(settings: dict[str, Any]) -> dict[str, Any]:
    """The definition's settings flattened for the form (fallback.* become fallback_*)."""
    props = {k: v for k, v in settings.items() if k != "fallback"}
    if isinstance(settings.get("channels"), list):
        props["channels"] = "+".join(c for c in ("voice", "messaging") if c in settings["channels"]) or "voice"
    for key, value in (settings.get("fallback") or {}).items():
        props[f"fallback_{key}"] = value
    return props


def parse_settings(current: dict[str, Any], form: MultiDict, parse_value: Callable[[MultiDict, dict], Any]) -> dict:
    """The settings with the submitted form applied (empty fields fall back to the defaults)."""
    settings = {k: v for k, v in current.items() if k != "fallback"}
    fallback = dict(current.get("fallback") or {})
    for spec in SETTINGS_TYPE["fields"]:
        value = parse_value(form, spec)
        name = spec["name"]
        if name.startswith("fallback_"):
            key = name.removeprefix("fallback_")
            if value in (None, ""):
                fallback.pop(key, None)
            else:
                fallback[key] = value
        elif value in (None, ""):
            settings.pop(name, None)
        else:
            settings[name] = value
    if fallback:
        settings["fallback"] = fallback
    channels = settings.pop("channels", None)
    if channels in CHANNEL_CHOICES and channels != "voice":
        settings["channels"] = channels.split("+")
    return settings
