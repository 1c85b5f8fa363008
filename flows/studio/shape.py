"""Recognise a flow document and check the shape of a Twilio Studio Flow Definition.

A Studio Flow Definition (REST API v2, ``definition`` of a Flow) is
``{"description", "initial_state", "states": [...], "flags"}`` where each state is a widget
``{"name", "type", "properties", "transitions": [{"event", "next"?, "conditions"?}]}``.
Only what makes the document not a flow raises the engine's `DefinitionError(message, path)`,
with a path such as ``states[2].transitions[0].event``, so an API client can say what is wrong
and where. What a real export may hold (an unknown or legacy widget type, a transition to a
widget that does not exist) is accepted here: the importer turns it into a placeholder node or
an outcome that points nowhere, which validation reports on that node.
"""

from __future__ import annotations

from typing import Any, Literal

from flows.definition import SPEC_VERSION, DefinitionError, load_definition

Format = Literal["studio", "phonetree"]

# Widget types of Twilio's Studio widget library (type names as they appear in exports).
STUDIO_WIDGET_TYPES = frozenset(
    {
        "trigger",
        "say-play",
        "gather-input-on-call",
        "split-based-on",
        "set-variables",
        "record-voicemail",
        "record-call",
        "capture-payments",
        "connect-call-to",
        "enqueue-call",
        "make-outgoing-call",
        "make-outgoing-call-v2",
        "fork-stream",
        "connect-virtual-agent",
        "send-message",
        "send-and-wait-for-reply",
        "make-http-request",
        "run-function",
        "run-subflow",
        "add-twiml-redirect",
        "send-to-flex",
        "send-to-autopilot",
        "send-to-auto-pilot",
    }
)

NEITHER = "expected an object with 'initial_state' and 'states' (Twilio Studio) or 'spec' and 'nodes' (Phonetree)"


def _type_name(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else type(value).__name__
    )


def unwrap(data: Any) -> Any:
    """The Flow Definition itself when `data` is a REST API Flow resource (``{"sid", "definition"}``)."""
    if isinstance(data, dict) and "states" not in data and isinstance(data.get("definition"), dict):
        inner = data["definition"]
        if "states" in inner or "initial_state" in inner:
            return inner
    return data


def detect_format(data: Any) -> Format:
    """Tell a Twilio Studio Flow Definition from a Phonetree definition, and check its shape.

    Returns ``"studio"`` or ``"phonetree"``. Raises `DefinitionError(message, path)` when the
    document is neither, or is malformed in the format it claims to be.
    """
    if not isinstance(data, dict):
        raise DefinitionError(f"{NEITHER}; got {_type_name(data)}", "")
    data = unwrap(data)
    if data.get("spec") == SPEC_VERSION or ("nodes" in data and "states" not in data):
        load_definition(data)
        return "phonetree"
    if "states" in data or "initial_state" in data:
        check_studio(data)
        return "studio"
    if "spec" in data:
        load_definition(data)  # raises: unsupported spec
    keys = ", ".join(sorted(map(str, data))[:8]) or "none"
    raise DefinitionError(f"{NEITHER}; found keys: {keys}", "")


def _offset(value: Any, path: str) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        raise DefinitionError(f"offset must be an object with x and y, got {_type_name(value)}", path)
    for axis in ("x", "y"):
        coord = value.get(axis, 0)
        if not isinstance(coord, (int, float)) or isinstance(coord, bool):
            raise DefinitionError(f"must be a number, got {_type_name(coord)}", f"{path}.{axis}")


def _transition(raw: Any, path: str) -> None:
    if not isinstance(raw, dict):
        raise DefinitionError(f"a transition must be an object, got {_type_name(raw)}", path)
    event = raw.get("event")
    if not isinstance(event, str) or not event:
        raise DefinitionError("event must be a non-empty string", f"{path}.event")
    target = raw.get("next")
    if target not in (None, "") and not isinstance(target, str):
        raise DefinitionError(f"next must name a widget, got {_type_name(target)}", f"{path}.next")
    conditions = raw.get("conditions")
    if conditions is not None:
        if not isinstance(conditions, list):
            raise DefinitionError(f"conditions must be a list, got {_type_name(conditions)}", f"{path}.conditions")
        for j, cond in enumerate(conditions):
            cpath = f"{path}.conditions[{j}]"
            if not isinstance(cond, dict):
                raise DefinitionError(f"a condition must be an object, got {_type_name(cond)}", cpath)
            if not isinstance(cond.get("type"), str) or not cond["type"]:
                raise DefinitionError("type must be a non-empty string", f"{cpath}.type")
            args = cond.get("arguments")
            if args is not None and not isinstance(args, list):
                raise DefinitionError(f"arguments must be a list, got {_type_name(args)}", f"{cpath}.arguments")


def check_studio(data: Any) -> dict[str, Any]:
    """Check a Studio Flow Definition's shape; returns it (unwrapped from a Flow resource).

    Raises `DefinitionError` naming the first problem and where it is.
    """
    data = unwrap(data)
    if not isinstance(data, dict):
        raise DefinitionError(f"a Studio flow definition must be an object, got {_type_name(data)}", "")
    states = data.get("states")
    if states is None:
        raise DefinitionError("missing: a Studio flow definition needs a list of states (widgets)", "states")
    if not isinstance(states, list):
        raise DefinitionError(f"must be a list of widgets, got {_type_name(states)}", "states")
    if not states:
        raise DefinitionError("must hold at least one widget (the Trigger)", "states")
    names: set[str] = set()
    for i, state in enumerate(states):
        path = f"states[{i}]"
        if not isinstance(state, dict):
            raise DefinitionError(f"a widget must be an object, got {_type_name(state)}", path)
        name = state.get("name")
        if not isinstance(name, str) or not name.strip():
            raise DefinitionError("name must be a non-empty string", f"{path}.name")
        if name in names:
            raise DefinitionError(f"duplicate widget name {name!r}", f"{path}.name")
        names.add(name)
        wtype = state.get("type")
        if not isinstance(wtype, str) or not wtype:
            raise DefinitionError("type must be a non-empty string", f"{path}.type")
        props = state.get("properties")
        if props is not None and not isinstance(props, dict):
            raise DefinitionError(f"properties must be an object, got {_type_name(props)}", f"{path}.properties")
        _offset((props or {}).get("offset"), f"{path}.properties.offset")
        transitions = state.get("transitions")
        if transitions is not None and not isinstance(transitions, list):
            raise DefinitionError(f"transitions must be a list, got {_type_name(transitions)}", f"{path}.transitions")
    for i, state in enumerate(states):
        for j, raw in enumerate(state.get("transitions") or []):
            _transition(raw, f"states[{i}].transitions[{j}]")
    initial = data.get("initial_state")
    if initial is None:
        raise DefinitionError("missing: name the widget the flow starts at (usually 'Trigger')", "initial_state")
    if not isinstance(initial, str) or initial not in names:
        raise DefinitionError(f"no widget named {initial!r}", "initial_state")
    triggers = [i for i, s in enumerate(states) if s["type"] == "trigger"]
    if len(triggers) > 1:
        raise DefinitionError("a Studio flow has exactly one trigger widget", f"states[{triggers[1]}].type")
    for key in ("description",):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise DefinitionError(f"must be a string, got {_type_name(data[key])}", key)
    if data.get("flags") is not None and not isinstance(data["flags"], dict):
        raise DefinitionError(f"must be an object, got {_type_name(data['flags'])}", "flags")
    return data
