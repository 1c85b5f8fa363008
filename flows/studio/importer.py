"""Import a Twilio Studio Flow Definition as a Phonetree definition, with a per-widget report.

Widget names become node ids (sanitised, unique), the Trigger's ``incomingCall`` transition
becomes the start node, canvas offsets become ``ui.nodes``, and Studio's Liquid keeps working
(the engine aliases ``widgets``, ``trigger.call`` and ``flow.*``; only what Jinja2 cannot read
is rewritten). A Gather whose keypress goes straight to a Split on its Digits with single-key
matches becomes one ``menu`` when that loses nothing; otherwise ``collect_input`` + ``branch``.
What Phonetree cannot run, and a widget type it does not know, becomes a placeholder ``branch``
that keeps every transition. A transition to a widget that does not exist becomes an outcome
pointing at a node id that does not exist: a dead end on the canvas and a ``missing_target``
error on that node until the user connects it. A node type may claim widgets first through its
`studio.imports` mappers (see `flows.registry.StudioMapping`).

Studio-only details that have no place in a node (original names, types, properties and
transitions, the Trigger, merged Splits, names of missing widgets) are kept under ``ui.studio``
so that `export_studio` can write the flow back as it came.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from flows.definition import NODE_ID_RE, SPEC_VERSION
from flows.formats import VAR_NAME_RE
from flows.registry import NODE_TYPES
from flows.studio import map_other, map_voice
from flows.studio.liquid import Translation, translate, untranslated
from flows.studio.map_messaging import (
    MESSAGING_TRIGGERS,
    import_channels,
    messaging_detail,
    start_events,
    texted_widgets,
)
from flows.studio.map_voice import Mapped
from flows.studio.shape import check_studio
from flows.studio.tables import DIGIT_KEYS, TRIGGER_EVENTS, WIDGET_NODE

Report = list[dict[str, str]]

_AUX = "\x00aux:"
# Where calls start, best first; a flow no call starts begins where its messages go
# (`map_messaging.start_events`), and serves messaging (`map_messaging.import_channels`).
START_EVENTS = ("incomingCall", "incomingParent", "incomingRequest", "incomingMessage", "incomingConversationMessage")
IGNORED_PROPS = frozenset({"offset"})
MISSING = "there is no widget by that name"
STUDIO_FLOW_SID_RE = re.compile(r"^FW[0-9a-fA-F]{32}$")
_PARENT_PARAM_RE = re.compile(r"trigger\.parent\.parameters(?:\.([A-Za-z_][\w-]*)|\[\\?[\"']([^\"'\\]+)\\?[\"']\])")


def _int_or_none(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _same(a: Any, b: str) -> bool:
    return isinstance(a, str) and a.replace(" ", "") == b.replace(" ", "")


class Importer:
    """One import run: ids, templates and the report, shared with the widget mappers."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.states: list[dict[str, Any]] = data["states"]
        self.by_name = {s["name"]: s for s in self.states}
        self.trigger = next((s for s in self.states if s["type"] == "trigger"), None)
        wired = [t.get("event") for t in (self.trigger or {}).get("transitions") or [] if t.get("next")]
        self.subflow = wired == ["incomingParent"]  # only a parent flow runs it: it ends by returning
        self.taken: set[str] = set()
        self.ids: dict[str, str] = {}
        self.missing: dict[str, str] = {}  # name of a widget that does not exist -> its dangling node id
        for state in self.states:
            if state["type"] != "trigger":
                self.ids[state["name"]] = self._reserve(state["name"])
        self.var_renames = self._variable_renames()
        self.aliases: dict[str, str] = {}
        for name, node_id in self.ids.items():
            if name != node_id:
                self.aliases[f"widgets.{name}"] = f"widgets.{node_id}"
        for old, new in self.var_renames.items():
            self.aliases[f"flow.variables.{old}"] = f"flow.variables.{new}"
        self.aliases = {**map_other.redirect_aliases(self.states, self.ids), **self.aliases}  # the longer paths first
        self.translated: dict[str, Translation] = {}
        self.current: dict[str, Any] | None = None  # the widget being mapped
        self.menus = self._find_menus()
        self.merged = {split: gather for gather, split in self.menus.items()}
        self.texted: set[str] = set()  # widgets a text conversation reaches (set with the channels)

    # -- helpers for the mappers -------------------------------------------------------
    def _reserve(self, name: str) -> str:
        base = re.sub(r"[^A-Za-z0-9_]+", "_", name).strip("_") or "widget"
        if not base[0].isalpha():
            base = f"w_{base}"
        base = base[:60]
        node_id, n = base, 2
        while node_id.lower() in self.taken:
            node_id, n = f"{base}_{n}", n + 1
        assert NODE_ID_RE.match(node_id)
        self.taken.add(node_id.lower())
        return node_id

    def aux_id(self, base: str) -> str:
        """A fresh node id for a node the import adds (a branch splitting one outcome)."""
        return self._reserve(base)

    @staticmethod
    def aux_target(aux_id: str) -> str:
        """An outcome target naming an added node rather than a Studio widget."""
        return _AUX + aux_id

    def tpl(self, text: Any, notes: list[str]) -> Any:
        """A Studio (Liquid) template as Jinja2; rewrites and what cannot be translated go in `notes`."""
        if not isinstance(text, str) or ("{{" not in text and "{%" not in text):
            return text
        done = self.translated.get(text)
        if done is None:
            done = self.translated[text] = translate(text, self.aliases)
        where = self._where(text) if done.errors else ""
        lines = [f"template rewritten: {c}" for c in done.notes] + [untranslated(e, where) for e in done.errors]
        notes.extend(line for line in lines if line not in notes)
        return done.text

    def _where(self, text: str) -> str:
        """The property of the widget being mapped that holds `text` (``say``, ``variables[0].value``)."""

        def find(value: Any, path: str) -> str | None:
            if value == text:
                return path
            items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
            for key, inner in items:
                found = find(inner, f"{path}[{key}]" if isinstance(key, int) else f"{path}.{key}".lstrip("."))
                if found:
                    return found
            return None

        state = self.current or {}
        found = find(state.get("properties") or {}, "")
        if found is None:
            found = find(state.get("transitions") or [], "transitions")
        return found or ""

    def var_name(self, key: str, notes: list[str]) -> str:
        """A Studio variable key as a Phonetree variable name."""
        new = self.var_renames.get(key, key)
        if new != key:
            notes.append(f"variable {key!r} is named {new!r}")
        return new

    def _variable_renames(self) -> dict[str, str]:
        renames: dict[str, str] = {}
        for state in self.states:
            if state["type"] != "set-variables":
                continue
            for item in map_voice.as_list((state.get("properties") or {}).get("variables")):
                key = str(item.get("key", "")) if isinstance(item, dict) else ""
                if key and not VAR_NAME_RE.match(key):
                    new = re.sub(r"\W+", "_", key)[:63] or "var"
                    renames[key] = new if new[0].isalpha() or new[0] == "_" else f"_{new}"[:64]
        return renames

    # -- menus -------------------------------------------------------------------------
    def _find_menus(self) -> dict[str, str]:
        incoming: dict[str, int] = {}
        for state in self.states:
            for t in state.get("transitions") or []:
                if t.get("next"):
                    incoming[t["next"]] = incoming.get(t["next"], 0) + 1
        menus: dict[str, str] = {}
        for gather in self.states:
            if gather["type"] == "gather-input-on-call":
                split = self._menu_split(gather, incoming)
                if split is not None:
                    menus[gather["name"]] = split["name"]
        return menus

    def _menu_split(self, gather: dict[str, Any], incoming: dict[str, int]) -> dict[str, Any] | None:
        """The Split that turns this Gather into a menu without losing anything, if there is one."""
        wired: dict[str, str | None] = {}
        for t in gather.get("transitions") or []:
            wired.setdefault(t["event"], t.get("next") or None)
        split = self.by_name.get(wired.get("keypress") or "")
        props = gather.get("properties") or {}
        if split is None or split["type"] != "split-based-on" or wired.get("speech"):
            return None
        if incoming.get(split["name"]) != 1 or split["name"] == self.data.get("initial_state"):
            return None
        if _int_or_none(props.get("number_of_digits")) not in (None, 1):
            return None
        digits_ref = "{{widgets." + gather["name"] + ".Digits}}"
        split_input = (split.get("properties") or {}).get("input")
        if split_input not in (None, "") and not _same(split_input, digits_ref):
            return None
        digits: list[str] = []
        no_match: list[str | None] = []
        for t in split.get("transitions") or []:
            if t["event"] == "noMatch":
                no_match.append(t.get("next") or None)
                continue
            conds = t.get("conditions") or []
            if t["event"] != "match" or len(conds) != 1 or conds[0].get("type") not in ("equal_to", "matches_any_of"):
                return None
            if any(not _same(a, digits_ref) for a in conds[0].get("arguments") or []):
                return None
            if split_input in (None, "") and not conds[0].get("arguments"):
                return None
            keys = map_voice.menu_digits(t)
            if not keys or any(k not in DIGIT_KEYS or k in digits for k in keys):
                return None
            digits.extend(keys)
        if not digits or (no_match or [None])[0] != wired.get("timeout"):
            return None
        return split

    # -- the run -----------------------------------------------------------------------
    def resolve(self, target: str | None) -> str | None:
        """The node id an outcome goes to (None: unwired, the flow ends there)."""
        if not target:
            return None
        if target.startswith(_AUX):
            return target[len(_AUX) :]
        if target in self.ids:
            return self.ids[target]
        if target in self.by_name:
            return None  # the Trigger: Phonetree has no node for it
        if target not in self.missing:
            self.missing[target] = self._reserve(target)
        return self.missing[target]

    def _map(self, state: dict[str, Any], node_id: str) -> Mapped:
        self.current = state
        wtype = state["type"]
        for node_type in NODE_TYPES.values():
            mapper = node_type.studio.imports.get(wtype) if node_type.studio else None
            claimed = mapper(self, state, node_id) if mapper else None
            if claimed is not None:
                return claimed
        if wtype == "gather-input-on-call":
            split = self.menus.get(state["name"])
            if split is not None:
                return map_voice.map_menu(self, state, self.by_name[split])
            return map_voice.map_collect(self, state, node_id)
        if wtype == "capture-payments":
            return map_voice.map_pay(self, state, node_id)
        mapper = map_other.MAPPERS.get(wtype) if wtype in WIDGET_NODE else None
        if mapper is None:
            return map_other.map_unsupported(self, state, node_id)
        mapped = mapper(self, state)
        if mapped is None:
            noun = (state.get("properties") or {}).get("noun")
            return map_other.map_unsupported(self, state, node_id, f"connecting to a {noun} is not supported")
        return mapped

    def _trigger(self, studio: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
        """The start node and the Trigger's report row."""
        trigger = self.trigger
        initial = self.data["initial_state"]
        if trigger is None:
            studio["trigger"] = None
            return self.ids.get(initial), {
                "widget": "(none)",
                "type": "trigger",
                "status": "partial",
                "detail": f"no Trigger widget; the flow starts at {initial}",
            }
        wired = {t["event"]: t.get("next") for t in trigger.get("transitions") or [] if t.get("next")}
        source = next((e for e in start_events(wired, START_EVENTS) if wired.get(e)), None)
        start = self.resolve(wired.get(source)) if source else None
        if start is None and initial != trigger["name"]:
            start = self.ids.get(initial)
        self.settings, channel_notes = import_channels(self, wired, start)
        self.texted = texted_widgets(self, wired)
        messaging = self.settings.get("channels") or ()
        used = {source} | (set(MESSAGING_TRIGGERS) if "messaging" in messaging else set())
        request = self.resolve(wired.get("incomingRequest")) if source != "incomingRequest" else None
        notes = [
            f"{e} → {t} is not used (Phonetree flows answer calls)"
            for e, t in wired.items()
            if e not in used and not (e == "incomingRequest" and request)
        ]
        if request:
            notes.append(f"executions (incomingRequest) start at {request}")
        subflow = self.subflow
        if subflow:
            parameters = self._parent_parameters()
            studio["subflow"] = {"parameters": parameters}
            notes.append(
                "a subflow: run it from a subflow node (Studio's run-subflow), whose parameters it reads as "
                "{{trigger.parent.parameters.*}}" + (f" ({', '.join(parameters)})" if parameters else "")
            )
        elif source and source != "incomingCall" and "voice" in (messaging or ("voice",)):
            notes.insert(0, f"no incomingCall transition; calls start where {source} goes")
        notes.extend(channel_notes)
        if source and wired[source] in self.missing:
            notes.insert(0, f"{source} → {wired[source]}: {MISSING}; choose the start node in the designer")
        detail = f"start node: {start}" if start else "no incomingCall transition: the flow has no start node"
        detail += messaging_detail(self.settings, start)
        studio["trigger"] = {
            "name": trigger["name"],
            "offset": (trigger.get("properties") or {}).get("offset") or {"x": 0, "y": 0},
            "transitions": [{"event": e, "next": t} for e, t in wired.items() if e != "incomingCall"],
            "original": trigger.get("transitions") or [],
            "start": start,
        }
        if request:
            studio["trigger"]["request"] = request  # flows.executions.request_start
        return start, {
            "widget": trigger["name"],
            "type": "trigger",
            "status": "partial" if (notes and not subflow) or not start else "mapped",
            "detail": "; ".join([detail, *notes]),
        }

    def _parent_parameters(self) -> list[str]:
        """The parameters a subflow reads (``trigger.parent.parameters.<name>``), in order of use."""
        found: dict[str, None] = {}
        text = json.dumps([s.get("properties") for s in self.states] + [s.get("transitions") for s in self.states])
        for m in _PARENT_PARAM_RE.finditer(text):
            found.setdefault(m.group(1) or m.group(2), None)
        return list(found)

    def run(self) -> tuple[dict[str, Any], Report]:
        """Build the definition and the report."""
        studio: dict[str, Any] = {
            "description": self.data.get("description") or "",
            "flags": self.data.get("flags") or {"allow_concurrent_calls": True},
            "widgets": {},
            "merged": {},
            "aux": {},
            "order": [s["name"] for s in self.states],
        }
        self.settings: dict[str, Any] = {}
        start, trigger_row = self._trigger(studio)
        nodes: list[dict[str, Any]] = []
        positions: dict[str, dict[str, float]] = {}
        rows: Report = [] if self.trigger is not None else [trigger_row]
        for index, state in enumerate(self.states):
            name, wtype = state["name"], state["type"]
            if wtype == "trigger":
                rows.append(trigger_row)
                continue
            offset = (state.get("properties") or {}).get("offset") or {"x": 0, "y": 200 * index}
            if name in self.merged:
                gather_id = self.ids[self.merged[name]]
                studio["merged"][gather_id] = {
                    "name": name,
                    "offset": offset,
                    "input": (state.get("properties") or {}).get("input"),
                    "transitions": state.get("transitions") or [],
                }
                rows.append(
                    {
                        "widget": name,
                        "type": wtype,
                        "status": "mapped",
                        "detail": f"merged into menu {gather_id} (its matches are the menu options)",
                    }
                )
                continue
            node_id = self.ids[name]
            mapped = self._map(state, node_id)
            node = self._node(node_id, name, mapped)
            nodes.append(node)
            positions[node_id] = {"x": offset.get("x", 0), "y": offset.get("y", 0)}
            aux_nodes = []
            for i, aux in enumerate(mapped.aux):
                aux_nodes.append({**aux, "outcomes": self._outcomes(aux["outcomes"], mapped.notes)})
                studio["aux"][aux["id"]] = node_id
                positions[aux["id"]] = {"x": offset.get("x", 0) + 280, "y": offset.get("y", 0) + 140 + 60 * i}
            nodes.extend(aux_nodes)
            studio["widgets"][node_id] = self._stash(state, node_id, mapped)
            studio["widgets"][node_id]["wfp"] = wiring_fingerprint(node, aux_nodes)
            rows.append(self._row(state, mapped))
        if self.missing:
            studio["missing"] = {node_id: name for name, node_id in self.missing.items()}
        ui: dict[str, Any] = {"nodes": positions, "studio": studio}
        attention = [r for r in rows if r["status"] != "mapped"]
        if attention:
            origin = studio["trigger"]["offset"] if studio.get("trigger") else {"x": 0, "y": 0}
            lines = [f"- {r['widget']} ({r['type']}, {r['status']}): {r['detail']}" for r in attention]
            ui["notes"] = [
                {
                    "id": "studio-import",
                    "x": origin.get("x", 0) + 420,
                    "y": origin.get("y", 0),
                    "text": "Imported from Twilio Studio. Check:\n" + "\n".join(lines),
                }
            ]
        definition = {"spec": SPEC_VERSION, "start": start, "settings": self.settings, "nodes": nodes, "ui": ui}
        return definition, rows

    @staticmethod
    def _row(state: dict[str, Any], mapped: Mapped) -> dict[str, str]:
        status = "unsupported" if mapped.unsupported else "partial" if mapped.notes else "mapped"
        detail = mapped.summary if mapped.unsupported else f"→ {mapped.summary}"
        ignored = sorted(
            k
            for k in (state.get("properties") or {})
            if k not in mapped.used and k not in IGNORED_PROPS and not mapped.unsupported
        )
        parts = [detail, *mapped.notes] + ([f"ignored: {', '.join(ignored)}"] if ignored else [])
        return {"widget": state["name"], "type": state["type"], "status": status, "detail": "; ".join(parts)}

    def _outcomes(self, targets: dict[str, str | None], notes: list[str] | None = None) -> dict[str, str]:
        out: dict[str, str] = {}
        for outcome, target in targets.items():
            resolved = self.resolve(target)
            if resolved:
                out[outcome] = resolved
                if target in self.missing and notes is not None:
                    notes.append(f"'{outcome}' → {target}: {MISSING}; connect this outcome in the designer")
            elif target and notes is not None:
                notes.append(f"'{outcome}' → {target} is dropped (a transition back to the Trigger)")
        return out

    def _node(self, node_id: str, name: str, mapped: Mapped) -> dict[str, Any]:
        return {
            "id": node_id,
            "type": mapped.type,
            "name": name,
            "props": mapped.props,
            "outcomes": self._outcomes(mapped.outcomes, mapped.notes),
        }

    @staticmethod
    def _stash(state: dict[str, Any], node_id: str, mapped: Mapped) -> dict[str, Any]:
        """What the exporter needs to write this widget back as it was.

        ``fp`` fingerprints the props the import produced: while they are unchanged the
        exporter writes the original Studio properties back verbatim.
        """
        props = {k: v for k, v in (state.get("properties") or {}).items() if k not in IGNORED_PROPS}
        entry: dict[str, Any] = {"type": state["type"], "fp": fingerprint(mapped.props)}
        if state["name"] != node_id:
            entry["name"] = state["name"]
        if props:
            entry["properties"] = props
        unwired = [t["event"] for t in state.get("transitions") or [] if not t.get("next")]
        if unwired:
            entry["unwired"] = unwired
        if state.get("transitions"):
            entry["transitions"] = state["transitions"]
        return entry


def fingerprint(props: Any) -> str:
    """A short stable hash of a node's props (to tell whether they were edited since import)."""
    text = json.dumps(props, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def wiring_fingerprint(node: dict[str, Any], aux: list[dict[str, Any]]) -> str:
    """A hash of a node's outcomes and of the branches the import put behind them.

    While it is unchanged (and the targets keep their widget names) the exporter writes the
    widget's original Studio transitions back verbatim.
    """
    return fingerprint([node.get("outcomes") or {}, [[a.get("props"), a.get("outcomes")] for a in aux]])


def import_studio(data: Any) -> tuple[dict[str, Any], Report]:
    """Map a Twilio Studio Flow Definition to a Phonetree definition.

    Returns ``(definition, report)``: the definition as a dict (``spec: phonetree/1``) and one
    report entry per widget, ``{"widget", "type", "status": "mapped"|"partial"|"unsupported",
    "detail"}``. Raises `DefinitionError(message, path)` when `data` is not a Studio flow. A REST
    API Flow resource's SID is kept as ``ui.studio.sid``, so that parents importing later can find it
    (`services.flow_refs.link_studio_subflows`).
    """
    definition, report = Importer(check_studio(data)).run()
    sid = data.get("sid") if isinstance(data, dict) and isinstance(data.get("definition"), dict) else None
    if isinstance(sid, str) and STUDIO_FLOW_SID_RE.match(sid):  # a REST API Flow resource: its SID
        definition["ui"]["studio"]["sid"] = sid
    return definition, report


__all__ = ["STUDIO_FLOW_SID_RE", "TRIGGER_EVENTS", "Importer", "import_studio"]
