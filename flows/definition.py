"""The flow definition: the versioned JSON document a flow is stored as.

`load_definition` checks the *shape* of the document (types of keys, required keys) and
raises `DefinitionError(message, path)` for malformed input, with a path such as
``nodes[3].outcomes.1``. Semantic problems (unknown node type, duplicate ids, dangling
outcomes, bad props) are *not* raised here: they are reported by `flows.validate` as
issues attached to a node, so that a draft with mistakes can still be saved and shown.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

SPEC_VERSION = "phonetree/1"
NODE_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}$")

FALLBACK_ACTIONS = ("hangup", "voicemail", "transfer")

DEFAULT_SETTINGS: dict[str, Any] = {
    "voice": "Polly.Joanna",
    "language": "en-US",
    "timezone": "UTC",
    "region": "US",
    "fallback": {"action": "hangup", "message": "Sorry, something went wrong. Goodbye."},
    "max_steps_per_turn": 50,
    "max_node_visits": 25,
    "max_subflow_depth": 5,
}

# The channels a flow may serve: calls, and text conversations (SMS/MMS).
CHANNELS = ("voice", "messaging")
# A messaging session ends (reason ``expired``) after this long without a message either way.
DEFAULT_INACTIVITY_SECONDS = 24 * 3600
MAX_INACTIVITY_SECONDS = 7 * 24 * 3600
# Node types renamed since: an old definition loads with the new name (send_sms folded into send_message).
TYPE_ALIASES = {"send_sms": "send_message"}

_SETTING_LIMITS = {
    "max_steps_per_turn": (1, 1000),
    "max_node_visits": (1, 1000),
    "max_subflow_depth": (0, 20),
}


class DefinitionError(ValueError):
    """A malformed flow definition. `path` says where, e.g. ``nodes[3].outcomes.1``."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.message = message
        self.path = path

    def to_dict(self) -> dict[str, str]:
        """JSON-able form for API error bodies."""
        return {"message": self.message, "path": self.path}


@dataclass(frozen=True)
class Settings:
    """Flow-wide settings with defaults filled in."""

    voice: str = DEFAULT_SETTINGS["voice"]
    language: str = DEFAULT_SETTINGS["language"]
    timezone: str = DEFAULT_SETTINGS["timezone"]
    region: str = DEFAULT_SETTINGS["region"]
    fallback: Mapping[str, Any] = field(
        default_factory=lambda: dict(DEFAULT_SETTINGS["fallback"])
    )
    max_steps_per_turn: int = DEFAULT_SETTINGS["max_steps_per_turn"]
    max_node_visits: int = DEFAULT_SETTINGS["max_node_visits"]
    max_subflow_depth: int = DEFAULT_SETTINGS["max_subflow_depth"]
    # The channels the flow serves (``voice``, ``messaging`` or both), the node a messaging
    # session starts at when it is not `start`, and a messaging session's inactivity limit.
    channels: tuple[str, ...] = ("voice",)
    messaging_start: str | None = None
    inactivity_timeout: int = DEFAULT_INACTIVITY_SECONDS

    def start_for(self, channel: str, start: str | None) -> str | None:
        """The node a session on `channel` begins at (the flow's `start` unless messaging has its own)."""
        if channel == "messaging" and self.messaging_start:
            return self.messaging_start
        return start

    def to_dict(self) -> dict[str, Any]:
        """The settings as stored in the definition (the channel keys only when not the defaults)."""
        data = {
            "voice": self.voice,
            "language": self.language,
            "timezone": self.timezone,
            "region": self.region,
            "fallback": dict(self.fallback),
            "max_steps_per_turn": self.max_steps_per_turn,
            "max_node_visits": self.max_node_visits,
            "max_subflow_depth": self.max_subflow_depth,
        }
        if self.channels != ("voice",):
            data["channels"] = list(self.channels)
        if self.messaging_start:
            data["messaging_start"] = self.messaging_start
        if self.inactivity_timeout != DEFAULT_INACTIVITY_SECONDS:
            data["inactivity_timeout"] = self.inactivity_timeout
        return data


@dataclass(frozen=True)
class Node:
    """One node of a flow. `props` are kept as written (defaults come from the node type)."""

    id: str
    type: str
    name: str
    props: Mapping[str, Any]
    outcomes: Mapping[str, str]
    index: int = 0

    def prop(self, name: str, default: Any = None) -> Any:
        """A prop value as written, or `default`."""
        value = self.props.get(name)
        return default if value is None else value

    def to_dict(self) -> dict[str, Any]:
        """The node as stored in the definition."""
        return {
            "id": self.id,
            "type": self.type,
            "name": self.name,
            "props": copy_json(dict(self.props)),
            "outcomes": dict(self.outcomes),
        }


@dataclass(frozen=True)
class FlowDefinition:
    """A loaded flow definition. Treat as immutable; `nodes_by_id` keeps the first of duplicates."""

    start: str | None
    nodes: tuple[Node, ...]
    settings: Settings
    ui: Mapping[str, Any]
    spec: str = SPEC_VERSION
    nodes_by_id: Mapping[str, Node] = field(default_factory=dict, repr=False, compare=False)

    def node(self, node_id: str | None) -> Node | None:
        """The node with that id, or None."""
        if node_id is None:
            return None
        return self.nodes_by_id.get(node_id)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document (round-trips through `load_definition`)."""
        return {
            "spec": self.spec,
            "start": self.start,
            "settings": self.settings.to_dict(),
            "nodes": [n.to_dict() for n in self.nodes],
            "ui": copy_json(dict(self.ui)),
        }


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small acyclic objects.

    Loading and validating a large flow allocate tens of thousands of dicts; each full
    collection scans the whole heap, which made validation grow faster than linearly with
    the flow's size. Reference counting still frees everything; nesting is safe.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data (dicts, lists, scalars); several times faster than deepcopy."""
    kind = type(value)
    if kind is dict:
        return {k: copy_json(v) for k, v in value.items()}
    if kind is list or kind is tuple:
        return [copy_json(v) for v in value]
    return value


def _require(cond: bool, message: str, path: str) -> None:
    if not cond:
        raise DefinitionError(message, path)


def load_settings(raw: Any) -> Settings:
    """Settings from their JSON form (None: defaults); raises DefinitionError."""
    if raw is None:
        return Settings()
    _require(isinstance(raw, dict), "settings must be an object", "settings")
    values: dict[str, Any] = {}
    for key in ("voice", "language", "timezone", "region"):
        if raw.get(key) is not None:
            _require(isinstance(raw[key], str), "must be a string", f"settings.{key}")
            values[key] = raw[key]
    for key, (low, high) in _SETTING_LIMITS.items():
        if raw.get(key) is not None:
            value = raw[key]
            _require(
                isinstance(value, int) and not isinstance(value, bool),
                "must be an integer",
                f"settings.{key}",
            )
            _require(low <= value <= high, f"must be between {low} and {high}", f"settings.{key}")
            values[key] = value
    values.update(_channel_settings(raw))
    if raw.get("fallback") is not None:
        fb = raw["fallback"]
        _require(isinstance(fb, dict), "fallback must be an object", "settings.fallback")
        action = fb.get("action", "hangup")
        _require(
            action in FALLBACK_ACTIONS,
            f"action must be one of {', '.join(FALLBACK_ACTIONS)}",
            "settings.fallback.action",
        )
        for key in ("message", "number"):
            if fb.get(key) is not None:
                _require(isinstance(fb[key], str), "must be a string", f"settings.fallback.{key}")
        if action == "transfer":
            _require(bool(fb.get("number")), "a transfer fallback needs a number", "settings.fallback.number")
        merged = dict(DEFAULT_SETTINGS["fallback"])
        merged.update(fb)
        merged["action"] = action
        values["fallback"] = merged
    return Settings(**values)


def _channel_settings(raw: dict[str, Any]) -> dict[str, Any]:
    """``channels``, ``messaging_start`` and ``inactivity_timeout`` of the settings (shape only)."""
    values: dict[str, Any] = {}
    channels = raw.get("channels")
    if channels is not None:
        _require(isinstance(channels, list) and bool(channels) and all(c in CHANNELS for c in channels),
                 f"channels must be a non-empty list of {', '.join(CHANNELS)}", "settings.channels")
        values["channels"] = tuple(c for c in CHANNELS if c in channels)
    if raw.get("messaging_start") is not None:
        _require(isinstance(raw["messaging_start"], str), "must be a node id", "settings.messaging_start")
        values["messaging_start"] = raw["messaging_start"] or None
    limit = raw.get("inactivity_timeout")
    if limit is not None:
        _require(isinstance(limit, int) and not isinstance(limit, bool) and 60 <= limit <= MAX_INACTIVITY_SECONDS,
                 f"must be whole seconds between 60 and {MAX_INACTIVITY_SECONDS}", "settings.inactivity_timeout")
        values["inactivity_timeout"] = limit
    return values


def _load_node(raw: Any, index: int) -> Node:
    path = f"nodes[{index}]"
    _require(isinstance(raw, dict), "a node must be an object", path)
    node_id = raw.get("id")
    _require(isinstance(node_id, str) and node_id != "", "id must be a non-empty string", f"{path}.id")
    node_type = raw.get("type")
    _require(isinstance(node_type, str) and node_type != "", "type must be a non-empty string", f"{path}.type")
    name = raw.get("name")
    _require(name is None or isinstance(name, str), "name must be a string", f"{path}.name")
    props = raw.get("props")
    if props is None:
        props = {}
    _require(isinstance(props, dict), "props must be an object", f"{path}.props")
    outcomes = raw.get("outcomes")
    if outcomes is None:
        outcomes = {}
    _require(isinstance(outcomes, dict), "outcomes must be an object", f"{path}.outcomes")
    clean: dict[str, str] = {}
    for key, target in outcomes.items():
        if target is None or target == "":
            continue  # an unwired outcome: the flow ends there
        _require(isinstance(target, str), "an outcome must name a target node id", f"{path}.outcomes.{key}")
        clean[str(key)] = target
    return Node(
        id=node_id,
        type=TYPE_ALIASES.get(node_type, node_type),
        name=name or node_id,
        props=copy_json(props),
        outcomes=clean,
        index=index,
    )


def load_definition(data: Any) -> FlowDefinition:
    """Load a flow definition from its JSON form (a dict) or pass a FlowDefinition through.

    Raises `DefinitionError(message, path)` when the document is malformed.
    """
    if isinstance(data, FlowDefinition):
        return data
    with gc_paused():
        return _load(data)


def _load(data: Any) -> FlowDefinition:
    _require(isinstance(data, dict), "a flow definition must be a JSON object", "")
    spec = data.get("spec", SPEC_VERSION)
    _require(
        spec == SPEC_VERSION,
        f"unsupported spec {spec!r}; expected {SPEC_VERSION!r}",
        "spec",
    )
    start = data.get("start")
    _require(start is None or isinstance(start, str), "start must be a node id", "start")
    raw_nodes = data.get("nodes")
    _require(isinstance(raw_nodes, list), "nodes must be a list", "nodes")
    nodes = tuple(_load_node(raw, i) for i, raw in enumerate(raw_nodes))
    by_id: dict[str, Node] = {}
    for node in nodes:
        by_id.setdefault(node.id, node)
    ui = data.get("ui")
    if ui is None:
        ui = {}
    _require(isinstance(ui, dict), "ui must be an object", "ui")
    if ui.get("nodes") is not None:
        _require(isinstance(ui["nodes"], dict), "ui.nodes must map node ids to positions", "ui.nodes")
    if ui.get("notes") is not None:
        _require(isinstance(ui["notes"], list), "ui.notes must be a list", "ui.notes")
    return FlowDefinition(
        start=start or None,
        nodes=nodes,
        settings=load_settings(data.get("settings")),
        ui=copy_json(ui),
        spec=SPEC_VERSION,
        nodes_by_id=by_id,
    )
