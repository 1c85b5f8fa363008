"""Node property forms for the designer, built from `flows.node_type_catalog()` field kinds.

`form_fields` turns a node's props into field views the `_node_form.html` partial renders;
`parse_node` reads the submitted form back into props (typed by kind), keeping connections
when a menu option's key or a branch condition is renamed. Input names are ``f.<field>`` for
plain values, ``f.<field>.<part>`` for prompts and weekly hours, ``f.<field>.<row>.<key>`` for
list rows, with ``f.<field>.count`` holding the number of rows.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from flows.nodes.hours import WEEKDAYS
from flows.prompts import normalize_prompt
from web.json_input import BodyError, parse_json

ROW_KEYS: dict[str, tuple[str, ...]] = {
    "options": ("digit", "label", "keywords"),
    "conditions": ("id", "label", "operator", "value"),
    "assignments": ("name", "value"),
    "key_values": ("key", "value"),
}
RANGE_RE = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$")


@dataclass
class FieldView:
    """One field as the form shows it."""

    name: str
    kind: str
    label: str
    help: str
    required: bool
    value: Any
    default: Any
    choices: list[str] | None = None
    errors: list[str] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    channels: list[str] | None = None  # the channels the prop has an effect on (None: all)
    choice_labels: dict[str, str] | None = None  # how a select shows its choices (None: as they are)
    placeholders: dict[str, str] | None = None  # the default in words, by the one channel a flow serves


def catalog_type(catalog: dict, type_name: str) -> dict | None:
    """One node type's description from the catalog."""
    return next((t for t in catalog["types"] if t["type"] == type_name), None)


def _top(path: str | None) -> str:
    return re.split(r"[.\[]", path or "", maxsplit=1)[0]


def field_errors(issues: list[dict], node_id: str) -> dict[str, list[str]]:
    """Issue messages of one node keyed by top-level field name ('' for the node itself)."""
    found: dict[str, list[str]] = {}
    for issue in issues:
        if issue.get("node_id") == node_id:
            found.setdefault(_top(issue.get("field")), []).append(issue["message"])
    return found


def _rows(kind: str, value: Any) -> list[dict[str, Any]]:
    if kind == "key_values":
        return [{"key": k, "value": v} for k, v in (value or {}).items()] if isinstance(value, dict) else []
    if not isinstance(value, list):
        return []
    rows = []
    for item in value:
        row = dict(item) if isinstance(item, dict) else {}
        if kind == "options" and isinstance(row.get("keywords"), list):
            row["keywords"] = ", ".join(str(k) for k in row["keywords"])
        rows.append(row)
    return rows


def form_fields(node: dict, type_info: dict, issues: list[dict]) -> list[FieldView]:
    """Views of every field of the node's type, with its current value and inline errors."""
    props = node.get("props") or {}
    errors = field_errors(issues, node.get("id", ""))
    views = []
    for spec in type_info["fields"]:
        value = props.get(spec["name"])
        if spec["kind"] == "prompt" and isinstance(value, str):
            value = normalize_prompt(value)  # a bare string is what it says
        view = FieldView(
            name=spec["name"],
            kind=spec["kind"],
            label=spec["label"],
            help=spec.get("help") or "",
            required=spec["required"],
            value=value,
            default=spec.get("default"),
            choices=spec.get("choices"),
            errors=errors.get(spec["name"], []),
            min=spec.get("min"),
            max=spec.get("max"),
            channels=spec.get("channels"),
            choice_labels=spec.get("choice_labels"),
            placeholders=spec.get("placeholders"),
        )
        if spec["kind"] in ROW_KEYS:
            view.rows = _rows(spec["kind"], value)
        views.append(view)
    return views


def _number(text: str) -> Any:
    try:
        number = float(text)
    except ValueError:
        return text  # kept as typed: validation reports it
    return int(number) if number.is_integer() else number


def _parse_prompt(form: MultiDict, key: str) -> dict | None:
    mode = form.get(f"{key}.mode", "say")
    text = form.get(f"{key}.text", "").strip()
    if not text:
        return None
    if mode == "play":
        return {"play": text}
    prompt: dict[str, Any] = {"say": text}
    for part in ("voice", "language"):
        extra = form.get(f"{key}.{part}", "").strip()
        if extra:
            prompt[part] = extra
    return prompt


def _parse_rows(form: MultiDict, key: str, kind: str) -> list[dict[str, str]]:
    try:
        count = int(form.get(f"{key}.count", "0"))
    except ValueError:
        count = 0
    rows = []
    for i in range(min(count, 200)):
        row = {k: form.get(f"{key}.{i}.{k}", "").strip() for k in ROW_KEYS[kind]}
        if any(v for k, v in row.items() if k != "id" and not (kind == "conditions" and k == "operator")):
            rows.append(row)
    return rows


def _parse_hours(form: MultiDict, key: str) -> dict[str, list[list[str]]]:
    hours: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        ranges = []
        for part in form.get(f"{key}.{day}", "").split(","):
            if not part.strip():
                continue
            match = RANGE_RE.match(part)
            if match:
                ranges.append([t.zfill(5) for t in match.groups()])
            else:
                ranges.append([part.strip(), ""])  # kept so validation points at it
        hours[day] = ranges
    return hours


def _parse_dates(text: str) -> list[Any]:
    items: list[Any] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        date, _, label = line.partition(" ")
        items.append({"date": date, "label": label.strip()} if label.strip() else date)
    return items


def _unique_condition_ids(rows: list[dict[str, str]]) -> None:
    used = {r["id"] for r in rows if r.get("id")}
    n = 1
    for row in rows:
        if not row.get("id"):
            while f"c{n}" in used:
                n += 1
            row["id"] = f"c{n}"
            used.add(row["id"])


def parse_value(form: MultiDict, spec: dict) -> Any:
    """One field's value from the form (None: not set, so the node type's default applies)."""
    kind, key = spec["kind"], f"f.{spec['name']}"
    if kind == "prompt":
        return _parse_prompt(form, key)
    if kind == "bool":
        return form.get(key) == "on"
    if kind == "weekly_hours":
        return _parse_hours(form, key)
    if kind in ROW_KEYS:
        rows = _parse_rows(form, key, kind)
        if kind == "key_values":
            return {r["key"]: r["value"] for r in rows if r["key"]} or None
        if kind == "options":
            for row in rows:
                row["keywords"] = [k.strip() for k in row["keywords"].split(",") if k.strip()]
                if not row["keywords"]:
                    del row["keywords"]
        if kind == "conditions":
            _unique_condition_ids(rows)
        return rows
    text = form.get(key, "")
    if kind == "dates":
        return _parse_dates(text)
    if kind == "users":
        return [u.strip() for u in re.split(r"[,\n]", text) if u.strip()]
    if kind == "number":
        return _number(text.strip()) if text.strip() else None
    if kind in ("template", "text"):
        return text if text.strip() else None
    return text.strip() or None


def _dynamic_keys(props: dict, dynamic: dict | None) -> list[Any]:
    if not dynamic:
        return []
    items = props.get(dynamic["field"])
    return [i.get(dynamic["key"]) if isinstance(i, dict) else None for i in items] if isinstance(items, list) else []


def _remap_outcomes(old: dict, new_props: dict, dynamic: dict | None, removed_rows: set[int]) -> dict:
    """Keep wires when a dynamic outcome (menu digit, condition id) is renamed or a row removed."""
    outcomes = dict(old.get("outcomes") or {})
    if not dynamic:
        return outcomes
    before = [k for i, k in enumerate(_dynamic_keys(old.get("props") or {}, dynamic)) if i not in removed_rows]
    after = _dynamic_keys(new_props, dynamic)
    for was, now in zip(before, after, strict=False):
        if was and now and was != now and was in outcomes and now not in outcomes:
            outcomes[now] = outcomes.pop(was)
    alive = {k for k in after if k}
    for gone in set(_dynamic_keys(old.get("props") or {}, dynamic)) - alive:
        if gone in outcomes:
            del outcomes[gone]
    return outcomes


def parse_node(node: dict, type_info: dict, form: MultiDict) -> dict:
    """The node with its name and props read from the submitted form."""
    new = copy.deepcopy(node)
    props = dict(new.get("props") or {})
    for spec in type_info["fields"]:
        value = parse_value(form, spec)
        if value is None or (value == [] and not spec["required"] and spec.get("default") in (None, [])):
            props.pop(spec["name"], None)
        else:
            props[spec["name"]] = value
    new["props"] = props
    name = form.get("name", "").strip()
    new["name"] = name or new.get("name") or new.get("id")  # over the limit: validation says so, nothing is cut
    new["outcomes"] = _remap_outcomes(node, props, type_info.get("dynamic_outcomes"), set())
    return new


def apply_row_action(parsed: dict, type_info: dict, action: str) -> dict:
    """The node after `add:<field>` or `remove:<field>:<row>` on a list field (wires follow rows)."""
    parts = action.split(":")
    spec = next((f for f in type_info["fields"] if len(parts) > 1 and f["name"] == parts[1]), None)
    if spec is None or spec["kind"] not in ROW_KEYS:
        return parsed
    node = copy.deepcopy(parsed)
    props = node.setdefault("props", {})
    value = props.get(spec["name"])
    if spec["kind"] == "key_values":
        items = list((value or {}).items()) if isinstance(value, dict) else []
    else:
        items = list(value) if isinstance(value, list) else []
    removed: set[int] = set()
    if parts[0] == "add":
        if spec["kind"] == "key_values":
            items.append((f"name{len(items) + 1}", ""))
        elif spec["kind"] == "options":
            used = {i.get("digit") for i in items if isinstance(i, dict)}
            digit = next((d for d in "1234567890*#" if d not in used), "")
            items.append({"digit": digit, "label": ""})
        elif spec["kind"] == "conditions":
            items.append({"id": "", "label": "", "operator": "equal_to", "value": ""})
            _unique_condition_ids(items)
        else:
            items.append({"name": "", "value": ""})
    elif parts[0] == "remove" and len(parts) == 3 and parts[2].isdigit() and int(parts[2]) < len(items):
        removed.add(int(parts[2]))
        del items[int(parts[2])]
    props[spec["name"]] = dict(items) if spec["kind"] == "key_values" else items
    node["outcomes"] = _remap_outcomes(parsed, props, type_info.get("dynamic_outcomes"), removed)
    return node


def load_json_field(raw: str | None, what: str) -> Any:
    """A JSON value posted in a form field; ValueError with a readable message when malformed."""
    if not raw:
        raise ValueError(f"The {what} is missing.")
    try:
        return parse_json(raw)
    except BodyError as err:
        where = f" (at {err.field})" if err.field else ""
        raise ValueError(f"The {what} is not acceptable: {err.message}{where}.") from None
