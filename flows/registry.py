"""The node type registry: adding a node type is one `@register` class in one module.

A node type declares its designer form (`fields`), its outcomes, the results it sets, its icon,
category and card summary, its Studio mapping, the events it waits for, its own checks, and how
it runs. The designer, the validator, the test console and the Studio import/export read these
declarations (through `node_type_catalog()` or `NODE_TYPES`) and hold no per-type code.

`run(node, rt)` is called when the flow enters the node; a node that waits for the caller
(Gather, Record, Pay, Dial, ...) appends its TwiML to ``rt.response`` and returns
`Wait()`; the next webhook then calls `resume(node, rt, event)`. Any other node returns
`Route(outcome)` to continue (or `Finish()` to end the call).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from flows.definition import CHANNELS, Node
from flows.formats import DURATION_UNITS
from flows.issues import Issue

if TYPE_CHECKING:
    from flows.runtime import Event, Runtime

FIELD_KINDS: dict[str, str] = {
    "text": "a plain string",
    "template": "a Jinja2 template rendered at call time ({{ vars.x }}, {{ call.from }} ...)",
    "prompt": 'what the caller hears: {"say": template, "voice"?, "language"?, "loop"?} or {"play": url template}',
    "number": "a number (min/max given on the field)",
    "bool": "true or false",
    "select": "one of `choices`",
    "digits": "keypad keys, e.g. '#' or '1234567890*#'",
    "regex": "a Python regular expression",
    "timezone": "an IANA time zone name, e.g. Europe/Paris",
    "weekly_hours": 'opening hours: {"mon": [["09:00", "17:00"], ...], ..., "sun": []}',
    "dates": 'holiday dates: ["2025-12-25", ...] or [{"date": "2025-12-25", "label": "Christmas"}]',
    "options": 'menu options: [{"digit": "1", "label": "Sales", "keywords": ["sales"]}]',
    "conditions": 'branch conditions: [{"id": "c1", "label": "...", "operator": "equal_to", "value": template}]',
    "assignments": 'variables to set: [{"name": "x", "value": template}]',
    "key_values": "an object of name -> template string",
    "url": "an http(s) or wss URL (may be a template)",
    "phone": "a phone number in E.164 form (may be a template)",
    "sender": "a phone number in E.164 form or an alphanumeric sender ID such as ACME (may be a template)",
    "users": 'user identities whose softphones ring: ["alice@example.com", ...]',
    "flow_ref": "the id of another published flow",
}


@dataclass(frozen=True)
class Field:
    """One prop of a node type, as the designer renders it."""

    name: str
    kind: str
    label: str
    required: bool = False
    default: Any = None
    choices: tuple[str, ...] | None = None
    help: str = ""
    min: float | None = None
    max: float | None = None
    # the channels the prop has an effect on (None: every channel of its node type); the designer
    # hides it on a flow that serves none of them (a keypad's finish key in a text conversation)
    channels: tuple[str, ...] | None = None
    # a number field that is a duration: its unit ("s" or "ms", `flows.formats.DURATION_UNITS`), so
    # a value out of range is told in words a user reads ("between 1 second and 7 days (604800 s)")
    unit: str | None = None
    # the words a text field's placeholder shows for its default, by the one channel the flow
    # serves ({"messaging": "the contact"}); the stored default stays as declared
    placeholders: dict[str, str] | None = field(default=None, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in FIELD_KINDS:
            raise ValueError(f"unknown field kind {self.kind!r}")
        if self.unit is not None and (self.kind != "number" or self.unit not in DURATION_UNITS):
            raise ValueError(f"field {self.name!r}: unit is for a number field, one of {sorted(DURATION_UNITS)}")
        if self.placeholders is not None and set(self.placeholders) - set(CHANNELS):
            raise ValueError(f"field {self.name!r}: placeholders are keyed by channel")
        if self.channels is not None and (not self.channels or set(self.channels) - set(CHANNELS)):
            raise ValueError(f"field {self.name!r}: channels must be voice and/or messaging")

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description for the designer."""
        data: dict[str, Any] = {
            "name": self.name,
            "kind": self.kind,
            "label": self.label,
            "required": self.required,
            "default": self.default,
            "choices": list(self.choices) if self.choices is not None else None,
            "help": self.help,
        }
        if self.min is not None:
            data["min"] = self.min
        if self.max is not None:
            data["max"] = self.max
        if self.channels is not None:
            data["channels"] = list(self.channels)
        if self.unit is not None:
            data["unit"] = self.unit
        if self.placeholders is not None:
            data["placeholders"] = dict(self.placeholders)
        return data


@dataclass
class Route:
    """Leave the node through `outcome` (an unwired outcome ends the flow)."""

    outcome: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Wait:
    """The node appended a waiting verb to the response; the call resumes on a webhook.

    `timeout` (seconds, messaging): the runtime brings a ``timeout`` event after that long
    unless a reply came first (the state's ``waiting.until``; a call's Gather has its own).
    """

    detail: dict[str, Any] = field(default_factory=dict)
    timeout: float | None = None


@dataclass
class Finish:
    """The node ended the call (it appended `<Hangup/>` or equivalent itself).

    `outcome` is recorded on the step (None: the call simply hung up); `reason` is the call's
    end reason (one of `flows.state.END_REASONS`, or a Dial status).
    """

    detail: dict[str, Any] = field(default_factory=dict)
    outcome: str | None = None
    reason: str = "hangup"


@dataclass
class EnterSubflow:
    """Start another flow; when it ends, this node resumes with a `subflow` outcome."""

    flow_id: str
    definition: Any
    variables: dict[str, Any]
    detail: dict[str, Any] = field(default_factory=dict)


NodeResult = Route | Wait | Finish | EnterSubflow

# A card summary slot: {field}, {field.key} (a key of an object prop, or of each item of a list
# prop, joined with ", "), {field.key+other} (several keys of each item of a list prop, joined
# with a space, the items with " · ": "1 Sales · 2 Support"), optionally |upper. A prompt prop
# given as a bare string is its ``say``. See `NodeType.summary`.
SUMMARY_SLOT_RE = re.compile(
    r"\{([a-z_][a-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*(?:\+[A-Za-z_][A-Za-z0-9_]*)*))?(\|upper)?\}"
)
SUMMARY_KEYS = {"text", "when", "channels"}


def prompt_summary(field_name: str) -> tuple[str | dict[str, Any], ...]:
    """Card summary alternatives for a prompt field: what it says (or texts), else the audio it plays
    (on a text-only flow, the media it sends)."""
    return (
        f"{{{field_name}.say}}",
        {"channels": ["messaging"], "text": f"Media {{{field_name}.play}}"},
        f"♪ {{{field_name}.play}}",
    )


@dataclass(frozen=True)
class StudioMapping:
    """How a node type crosses to and from Twilio Studio (read by `flows.studio`).

    `export(exporter, node)` returns the node's Studio widgets (see `flows.studio.exporter`).
    `imports` maps a Studio widget type to `mapper(importer, state, node_id)`, which returns a
    `flows.studio.map_voice.Mapped` for a widget it claims, or None to leave the widget to the
    built-in mapping. Built-in types keep theirs in `flows.studio` beside the shared helpers.
    """

    export: Callable[..., list[dict[str, Any]]] | None = None
    imports: Mapping[str, Callable[..., Any]] = field(default_factory=dict)


class NodeType:
    """Base class of node types; subclass it and decorate with `@register`."""

    type_name: ClassVar[str] = ""
    label: ClassVar[str] = ""
    # the name on a flow that serves text conversations only, when `label` speaks of calls ("" : label)
    messaging_label: ClassVar[str] = ""
    icon: ClassVar[str] = ""
    category: ClassVar[str] = ""
    # the palette group on a flow that serves text conversations only, when `category` speaks of
    # calls ("" : category): Say and Hang up send texts there, so they sit under "Messages"
    messaging_category: ClassVar[str] = ""
    description: ClassVar[str] = ""
    fields: ClassVar[tuple[Field, ...]] = ()
    fixed_outcomes: ClassVar[tuple[str, ...]] = ()
    # outcomes derived from a list prop: {"field": "options", "key": "digit"}
    dynamic_outcomes: ClassVar[dict[str, str] | None] = None
    # event kinds that resume the node after it waited; empty = never waits
    waits_for: ClassVar[tuple[str, ...]] = ()
    # True when the flow ending after this node is the normal case (no dead-end warning)
    ends_call: ClassVar[bool] = False
    # outcomes after which ending the flow is natural (no dead-end warning when unwired)
    quiet_outcomes: ClassVar[tuple[str, ...]] = ()
    # more such outcomes on a flow that serves text conversations only (no one is left on a line)
    messaging_quiet_outcomes: ClassVar[tuple[str, ...]] = ()
    # what `rt.set_result` publishes as widgets.<node id>.<name> (the designer's variable picker); a
    # dotted name is a key inside one (inbound.Body)
    results: ClassVar[tuple[str, ...]] = ()
    # the card's one-line summary: alternatives tried in order, each a text with {slots} (see
    # SUMMARY_SLOT_RE) or {"when": {field: value}, "channels": [...], "text": ...}; the first whose
    # conditions hold and whose slots are all non-empty (a prop, else its field default) is shown.
    # `channels` holds when the flow serves exactly those channels (settings.channels, calls when
    # unset): "Ends the conversation" on a text-only flow, "Ends the call" on a voice one
    summary: ClassVar[tuple[str | dict[str, Any], ...]] = ()
    # props a node dropped on the canvas starts with (enough to show its ports)
    starter_props: ClassVar[dict[str, Any]] = {}
    # Twilio Studio export builder and import mappers (None: exported as a generic Say/Play)
    studio: ClassVar[StudioMapping | None] = None
    # False for the node types of the built-in flows: drawn on canvases, not offered in the palette
    palette: ClassVar[bool] = True
    # the channels the node works on (`flows.definition.CHANNELS`): a node that only makes TwiML
    # (record, pay, transfer ...) is voice only; one that talks through `rt` prompts and
    # `rt.send_message` may declare both
    channels: ClassVar[tuple[str, ...]] = ("voice",)

    _field_map: ClassVar[dict[str, Field]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls._field_map = {f.name: f for f in cls.fields}

    def prop(self, node: Node, name: str) -> Any:
        """The node's prop `name`, or the field default when absent or null."""
        value = node.props.get(name)
        if value is None:
            spec = self._field_map.get(name)
            return spec.default if spec is not None else None
        return value

    @property
    def may_wait(self) -> bool:
        """True when running the node can wait for the caller (breaks a spinning loop)."""
        return bool(self.waits_for)

    def outcomes(self, node: Node) -> list[str]:
        """The outcome names this node can leave through, in designer order."""
        names: list[str] = []
        if self.dynamic_outcomes:
            items = node.props.get(self.dynamic_outcomes["field"]) or []
            key = self.dynamic_outcomes["key"]
            if isinstance(items, list):
                for item in items:
                    value = item.get(key) if isinstance(item, dict) else None
                    if isinstance(value, str) and value and value not in names:
                        names.append(value)
        names.extend(o for o in self.fixed_outcomes if o not in names)
        return names

    def validate(self, node: Node) -> Iterable[Issue]:
        """Checks beyond the generic per-field ones (required, ranges, kinds)."""
        return ()

    def templates(self, node: Node) -> Iterable[tuple[str, str]]:
        """(field path, template source) pairs used by the node, for validation."""
        from flows.field_checks import field_templates

        return field_templates(self, node)

    def sets_variables(self, node: Node) -> Iterable[str]:
        """Names of flow variables this node sets (for read-before-set warnings)."""
        return ()

    def reply_words(self, node: Node) -> Iterable[tuple[str, str]]:
        """(field path, text) of each text reply that takes one of the node's outcomes when it is the
        whole message (a menu option's keyword): validation warns, on a flow whose texts reach the
        node, about one Twilio takes as an opt-out (`flows.opt_out`)."""
        return ()

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Enter the node."""
        raise NotImplementedError(f"node type {self.type_name} cannot run")

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """Continue after the node waited and Twilio posted `event`."""
        raise NotImplementedError(f"node type {self.type_name} does not wait")

    def describe(self) -> dict[str, Any]:
        """JSON-able description for the designer's catalog."""
        return {
            "type": self.type_name,
            "label": self.label,
            "messaging_label": self.messaging_label or self.label,
            "icon": self.icon,
            "category": self.category,
            "messaging_category": self.messaging_category or self.category,
            "description": self.description,
            "fields": [f.to_dict() for f in self.fields],
            "outcomes": list(self.fixed_outcomes),
            "dynamic_outcomes": dict(self.dynamic_outcomes) if self.dynamic_outcomes else None,
            "waits": bool(self.waits_for),
            "waits_for": list(self.waits_for),
            "results": list(self.results),
            "summary": copy.deepcopy(list(self.summary)),
            "starter_props": copy.deepcopy(self.starter_props),
            "ends_call": self.ends_call,
            "quiet_outcomes": list(self.quiet_outcomes),
            "messaging_quiet_outcomes": list(self.messaging_quiet_outcomes),
            "palette": self.palette,
            "channels": list(self.channels),
        }


NODE_TYPES: dict[str, NodeType] = {}


def _check_declarations(cls: type[NodeType]) -> None:
    """Catch a summary, starter prop or result that names nothing, when the type is registered."""
    names = {f.name for f in cls.fields}
    for alternative in cls.summary:
        text = alternative.get("text") if isinstance(alternative, dict) else alternative
        when = alternative.get("when", {}) if isinstance(alternative, dict) else {}
        if not isinstance(text, str) or not isinstance(when, dict):
            raise ValueError(f"{cls.type_name}: a summary alternative needs a text (and a dict `when`)")
        if isinstance(alternative, dict):
            if set(alternative) - SUMMARY_KEYS:
                raise ValueError(f"{cls.type_name}: a summary alternative has unknown keys "
                                 f"{sorted(set(alternative) - SUMMARY_KEYS)}")
            channels = alternative.get("channels", ["voice"])
            if not isinstance(channels, list) or not channels or set(channels) - set(CHANNELS):
                raise ValueError(f"{cls.type_name}: a summary alternative's channels are a list of {CHANNELS}")
        unknown = {m.group(1) for m in SUMMARY_SLOT_RE.finditer(text)} | set(when)
        if unknown - names:
            raise ValueError(f"{cls.type_name}: the summary names unknown fields {sorted(unknown - names)}")
    if set(cls.starter_props) - names:
        unknown = set(cls.starter_props) - names
        raise ValueError(f"{cls.type_name}: starter_props names unknown fields {sorted(unknown)}")
    if not cls.channels or set(cls.channels) - {"voice", "messaging"}:
        raise ValueError(f"{cls.type_name}: channels must be voice and/or messaging")
    if len(set(cls.results)) != len(cls.results) or not all(isinstance(r, str) and r for r in cls.results):
        raise ValueError(f"{cls.type_name}: results must be distinct names")


def register(cls: type[NodeType]) -> type[NodeType]:
    """Class decorator: add a node type to `NODE_TYPES` under its `type_name`."""
    if not cls.type_name:
        raise ValueError(f"{cls.__name__} has no type_name")
    if cls.type_name in NODE_TYPES:
        raise ValueError(f"node type {cls.type_name!r} registered twice")
    _check_declarations(cls)
    NODE_TYPES[cls.type_name] = cls()
    return cls


def unregister(type_name: str) -> None:
    """Remove a node type (a plug-in being unloaded, or a test's throwaway type); absent is fine."""
    NODE_TYPES.pop(type_name, None)


def get_node_type(type_name: str) -> NodeType | None:
    """The registered node type, or None."""
    return NODE_TYPES.get(type_name)


CATEGORY_ORDER = ("Messages", "Voice", "Input", "Logic", "Connect", "Integrations", "Payments", "AI", "Built-in")


def node_type_catalog() -> dict[str, Any]:
    """Every node type described for the designer's forms, plus field kinds and operators."""
    import flows.nodes  # noqa: F401  (registers the built-in types)
    from flows.nodes.logic import OPERATORS

    types = sorted(
        NODE_TYPES.values(),
        key=lambda t: (
            CATEGORY_ORDER.index(t.category) if t.category in CATEGORY_ORDER else 99,
            t.type_name,
        ),
    )
    named = {t.category for t in types} | {t.messaging_category for t in types if t.messaging_category}
    extra = sorted(named - set(CATEGORY_ORDER))
    return {
        "field_kinds": dict(FIELD_KINDS),
        "branch_operators": [{"name": k, "label": v[0], "needs_value": v[1]} for k, v in OPERATORS.items()],
        "categories": [*CATEGORY_ORDER, *extra],
        "types": [t.describe() for t in types],
    }
