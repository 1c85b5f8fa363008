"""Export a Phonetree definition as a Twilio Studio Flow Definition.

Each node becomes its nearest widget (its type's `studio.export` builder, else the built-in
builders of `flows.studio.export_voice` and `export_other`), outcomes become
transitions and ``ui.nodes`` positions become canvas offsets. A node that needs more than one
widget (a menu is a Gather and a Split; a prompt before a recording is a Say/Play) gets
helper widgets named after it. What Studio cannot express is exported best-effort and listed
under "Phonetree export notes" in the flow's description.

A flow imported from Studio keeps its widget names, Trigger, merged Splits and the original
properties of unchanged widgets under ``ui.studio``, so Studio → Phonetree → Studio keeps
states, transitions and offsets.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flows.definition import FlowDefinition, Node, copy_json, load_definition
from flows.registry import NODE_TYPES
from flows.studio.importer import fingerprint, wiring_fingerprint
from flows.studio.liquid_export import jinja_to_liquid
from flows.studio.map_messaging import trigger_starts
from flows.studio.tables import TRIGGER_EVENTS

_CALL_NAMES = {
    "sid": "CallSid",
    "from": "From",
    "to": "To",
    "direction": "Direction",
    "status": "CallStatus",
    "caller_name": "CallerName",
    "account_sid": "AccountSid",
    "from_city": "FromCity",
    "from_state": "FromState",
    "from_country": "FromCountry",
    "from_zip": "FromZip",
    "forwarded_from": "ForwardedFrom",
}
FOLDING_TYPES = ("pay", "collect_input")
Widgets = list[dict[str, Any]]


class Exporter:
    """One export run: widget names, offsets, Liquid and notes, shared with the widget builders."""

    def __init__(self, definition: FlowDefinition, description: str | None = None) -> None:
        self.d = definition
        self.description = description
        ui = dict(definition.ui)
        self.positions: dict[str, Any] = dict(ui.get("nodes") or {})
        studio = ui.get("studio") if isinstance(ui.get("studio"), dict) else {}
        self.studio: dict[str, Any] = studio
        self.stash: dict[str, dict[str, Any]] = dict(studio.get("widgets") or {})
        self.merged: dict[str, dict[str, Any]] = dict(studio.get("merged") or {})
        self.notes: list[str] = []
        self.names: dict[tuple[str, str], str] = {}
        self.used_names: set[str] = set()
        self.aux = self._folded_aux(dict(studio.get("aux") or {}))
        self.entries: dict[str, str | None] = {}

    # -- names and positions -------------------------------------------------------------
    def name(self, node_id: str, role: str = "") -> str:
        """The widget name for a node (role "") or one of its helper widgets (role "prompt" ...)."""
        key = (node_id, role)
        if key not in self.names:
            if role == "":
                base = str(self.stash.get(node_id, {}).get("name") or node_id)
            elif role == "split" and self.merged.get(node_id, {}).get("name"):
                base = str(self.merged[node_id]["name"])
            else:
                base = f"{self.name(node_id)}_{role}"
            name, n = base, 2
            while name in self.used_names:
                name, n = f"{base}_{n}", n + 1
            self.used_names.add(name)
            self.names[key] = name
        return self.names[key]

    def offset(self, node_id: str, dx: float = 0, dy: float = 0) -> dict[str, int]:
        """The canvas offset of a node (plus a shift for helper widgets)."""
        pos = self.positions.get(node_id) or {}
        index = self.d.node(node_id).index if self.d.node(node_id) else 0
        x = pos.get("x", 0) if isinstance(pos, dict) else 0
        y = pos.get("y", 200 * index) if isinstance(pos, dict) else 200 * index
        return {"x": int(round(float(x) + dx)), "y": int(round(float(y) + dy))}

    def target(self, node_id: str | None) -> str | None:
        """The widget a transition to `node_id` must point at (None: the flow ends)."""
        if not node_id:
            return None
        return self.entries.get(node_id)

    def transition(self, event: str, node_id: str | None) -> dict[str, Any]:
        """One Studio transition to the entry widget of `node_id`."""
        target = self.target(node_id)
        return {"next": target, "event": event} if target else {"event": event}

    def liquid(self, text: Any) -> Any:
        """A Phonetree template written in Studio's Liquid names."""
        return jinja_to_liquid(text, self._studio_path) if isinstance(text, str) else text

    def _studio_path(self, path: str) -> str:
        head, _, rest = path.partition(".")
        if head == "vars":
            return f"flow.variables.{rest}"
        if head == "call":
            field, _, tail = rest.partition(".")
            raw = _CALL_NAMES.get(field, field)
            return f"trigger.call.{raw}" + (f".{tail}" if tail else "")
        if head == "widgets":
            field, _, tail = rest.partition(".")
            name = self.names.get((field, "")) or str(self.stash.get(field, {}).get("name") or field)
            node = self.d.node(field)
            if node is not None and node.type == "twiml_redirect" and tail.startswith("parameters."):
                tail = tail[len("parameters.") :]  # Studio puts the returning app's parameters on the widget
            return f"widgets.{name}" + (f".{tail}" if tail else "")
        return path

    def note(self, node: Node, text: str) -> None:
        """Record something Studio cannot express."""
        self.notes.append(f"{node.id} ({node.type}): {text}")

    def original(self, node: Node) -> dict[str, Any] | None:
        """The Studio properties the node was imported from, while its props are unchanged."""
        stash = self.stash.get(node.id)
        if stash and stash.get("fp") == fingerprint(node.to_dict()["props"]):
            return dict(stash.get("properties") or {})
        return None

    # -- folding of branches the import added ----------------------------------------------
    def _folded_aux(self, aux: dict[str, str]) -> dict[str, str]:
        folded: dict[str, str] = {}
        for aux_id, owner_id in aux.items():
            owner, node = self.d.node(owner_id), self.d.node(aux_id)
            if owner is None or node is None or node.type != "branch" or owner.type not in FOLDING_TYPES:
                continue
            if aux_id in owner.outcomes.values():
                folded[aux_id] = owner_id
        return folded

    def aux_of(self, node: Node, outcome: str) -> Node | None:
        """The import-added branch behind `outcome` of `node`, if it can fold back into the widget."""
        target = node.outcomes.get(outcome)
        if target and self.aux.get(target) == node.id:
            return self.d.node(target)
        return None

    # -- the run ---------------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """The Studio Flow Definition."""
        from flows.studio.export_other import BUILDERS, generic
        from flows.studio.export_voice import entry_role

        trigger_name = str((self.studio.get("trigger") or {}).get("name") or "Trigger")
        self.used_names.add(trigger_name)
        for node_id in self.stash:
            if self.d.node(node_id) is not None:
                self.name(node_id)
        nodes = [n for n in self.d.nodes if n.id not in self.aux]
        for node in nodes:
            role = entry_role(self, node)
            self.entries[node.id] = None if role is None else self.name(node.id, role)
        states: list[dict[str, Any]] = [self._trigger(trigger_name)]
        built: list[tuple[Node, Widgets]] = []
        for node in nodes:
            declared = NODE_TYPES[node.type].studio if node.type in NODE_TYPES else None
            builder: Callable[[Exporter, Node], list[dict[str, Any]]] = (
                declared.export if declared and declared.export else BUILDERS.get(node.type, generic)
            )
            built.append((node, builder(self, node)))
            states.extend(built[-1][1])
        self._restore_transitions(states, built)
        states = self._in_studio_order(states)
        description = str(self.studio.get("description") or self.description or "Exported from Phonetree")
        if self.notes:
            description += "\n\nPhonetree export notes:\n" + "\n".join(f"- {n}" for n in self.notes)
        return {
            "description": description,
            "states": states,
            "initial_state": trigger_name,
            "flags": dict(self.studio.get("flags") or {"allow_concurrent_calls": True}),
        }

    # -- original transitions of unchanged widgets ---------------------------------------------
    def unchanged(self, node: Node) -> bool:
        """True while the node's props and wiring (and its import-added branches) are as imported."""
        stash = self.stash.get(node.id)
        if not stash or stash.get("fp") != fingerprint(node.to_dict()["props"]):
            return False
        raw_aux = dict(self.studio.get("aux") or {})
        aux = [self.d.node(a) for a, owner in raw_aux.items() if owner == node.id]
        if any(a is None for a in aux):
            return False
        current = wiring_fingerprint(node.to_dict(), [a.to_dict() for a in aux if a is not None])
        return stash.get("wfp") == current

    def _restore_transitions(self, states: list[dict[str, Any]], built: list[tuple[Node, Widgets]]) -> None:
        """Write the original transitions of unchanged widgets (their order, conditions, names, unwired events).

        Only when every widget they name is still the entry widget of a node (or a menu's own
        Split), or is one the Studio flow itself named without defining it.
        """
        names = {name for name in self.entries.values() if name}
        names |= {self.name(node_id, "split") for node_id in self.merged if self.d.node(node_id) is not None}
        missing = dict(self.studio.get("missing") or {})
        names |= {name for node_id, name in missing.items() if self.d.node(node_id) is None}

        def fits(transitions: Any) -> bool:
            return isinstance(transitions, list) and all(
                isinstance(t, dict) and (not t.get("next") or t["next"] in names) for t in transitions
            )

        trigger = self.studio.get("trigger") or {}
        original = trigger.get("original")
        if original and trigger.get("start") == self.d.start and fits(original):
            states[0]["transitions"] = copy_json(original)
        for node, widgets in built:
            if not self.unchanged(node):
                continue
            stash = self.stash[node.id]
            wanted = {self.name(node.id): stash.get("transitions") or []}
            merged = self.merged.get(node.id)
            if merged and "transitions" in merged:
                wanted[self.name(node.id, "split")] = merged["transitions"]
            for state in widgets:
                transitions = wanted.get(state["name"])
                if transitions is not None and fits(transitions):
                    state["transitions"] = copy_json(transitions)

    def _in_studio_order(self, states: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The widgets in the order the Studio flow listed them; new ones follow the widget before them."""
        order = {name: i for i, name in enumerate(self.studio.get("order") or [])}
        if not order:
            return states
        keyed, last = [], -1
        for pos, state in enumerate(states):
            known = state["name"] in order
            if known:
                last = order[state["name"]]
            keyed.append((last, 0 if known else 1, pos))
        return [states[k[2]] for k in sorted(keyed)]

    def _trigger(self, name: str) -> dict[str, Any]:
        stash = self.studio.get("trigger") or {}
        others = {t["event"]: t.get("next") for t in stash.get("transitions") or [] if isinstance(t, dict)}
        known = {str(s.get("name") or nid): nid for nid, s in self.stash.items()}
        transitions = []
        starts = trigger_starts(self.d)
        for event in TRIGGER_EVENTS:
            if event in starts:
                transitions.append(self.transition(event, starts[event]))
                continue
            node_id = known.get(str(others.get(event)), others.get(event))
            transitions.append(self.transition(event, node_id if self.d.node(node_id) else None))
        offset = stash.get("offset") if isinstance(stash.get("offset"), dict) else None
        if offset is None:
            offset = self.offset(self.d.start, 0, -220) if self.d.start else {"x": 0, "y": 0}
        return {"name": name, "type": "trigger", "transitions": transitions, "properties": {"offset": offset}}


def widget(
    name: str, wtype: str, transitions: list[dict[str, Any]], properties: dict[str, Any], offset: dict[str, int]
) -> dict[str, Any]:
    """One Studio state in the order Studio writes its keys."""
    props = {k: v for k, v in properties.items() if v is not None}
    props["offset"] = offset
    return {"name": name, "type": wtype, "transitions": transitions, "properties": props}


def sanitize_name(text: str) -> str:
    """A Studio widget name (letters, digits, underscores)."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_") or "widget"


def export_studio(definition: FlowDefinition | dict[str, Any], description: str | None = None) -> dict[str, Any]:
    """Write a Phonetree definition as a Twilio Studio Flow Definition (a dict).

    `description` (e.g. the flow's name) is used when the flow did not come from Studio with
    one of its own. Raises `DefinitionError` when `definition` is malformed.
    """
    return Exporter(load_definition(definition), description).run()
