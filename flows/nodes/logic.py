"""Logic nodes: branch (Studio's Split Based On) and set_variables."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, time
from typing import TYPE_CHECKING, Any, ClassVar

from flows.definition import Node
from flows.formats import VAR_NAME_RE, is_template, regex_error, regex_matches
from flows.issues import Issue, error
from flows.registry import Field, NodeResult, NodeType, Route, register

if TYPE_CHECKING:
    from flows.runtime import Runtime

# name -> (label, needs a value). Studio's operators; comparisons ignore case and outer spaces.
OPERATORS: dict[str, tuple[str, bool]] = {
    "equal_to": ("Equal to", True),
    "not_equal_to": ("Not equal to", True),
    "matches_any_of": ("Matches any of (comma-separated)", True),
    "does_not_match_any_of": ("Does not match any of", True),
    "contains": ("Contains", True),
    "does_not_contain": ("Does not contain", True),
    "starts_with": ("Starts with", True),
    "does_not_start_with": ("Does not start with", True),
    "regex": ("Matches regex", True),
    "less_than": ("Less than", True),
    "greater_than": ("Greater than", True),
    "is_blank": ("Is blank", False),
    "is_not_blank": ("Is not blank", False),
    "before_time": ("Is before time (HH:MM)", True),
    "after_time": ("Is after time (HH:MM)", True),
}
CONDITION_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
TIME_RE = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_MATCH_INPUT = 2000


def _number(text: str) -> float | None:
    try:
        return float(text.strip().replace(",", ""))
    except ValueError:
        return None


def _clock(text: str) -> time | None:
    text = text.strip()
    match = TIME_RE.match(text)
    if match:
        return time(int(match.group(1)), int(match.group(2)))
    try:
        return datetime.fromisoformat(text).time()
    except ValueError:
        return None


def evaluate(operator: str, subject: str, value: str, now_local: datetime | None = None) -> bool:
    """Whether `subject` passes the condition. Time operators compare with `now_local` when blank."""
    a, b = subject.strip().lower(), value.strip().lower()
    if operator == "equal_to":
        return a == b
    if operator == "not_equal_to":
        return a != b
    if operator in ("matches_any_of", "does_not_match_any_of"):
        hit = a in {item.strip() for item in b.split(",")}
        return hit if operator == "matches_any_of" else not hit
    if operator == "contains":
        return b in a
    if operator == "does_not_contain":
        return b not in a
    if operator == "starts_with":
        return a.startswith(b)
    if operator == "does_not_start_with":
        return not a.startswith(b)
    if operator == "regex":
        return regex_matches(value, subject[:MAX_MATCH_INPUT])
    if operator in ("less_than", "greater_than"):
        x, y = _number(a), _number(b)
        if x is None or y is None:
            return False
        return x < y if operator == "less_than" else x > y
    if operator == "is_blank":
        return a == ""
    if operator == "is_not_blank":
        return a != ""
    if operator in ("before_time", "after_time"):
        limit = _clock(b)
        current = _clock(a) if a else (now_local.time().replace(second=0, microsecond=0) if now_local else None)
        if limit is None or current is None:
            return False
        return current < limit if operator == "before_time" else current >= limit
    raise ValueError(f"unknown operator {operator!r}")


@register
class Branch(NodeType):
    """Route on the first condition that the input passes."""

    type_name = "branch"
    channels = ("voice", "messaging")
    label = "Branch"
    icon = "split"
    category = "Logic"
    description = "Test a value against ordered conditions; the first match wins, else no_match."
    fields = (
        Field("input", "template", "Value to test", default="",
              help="e.g. {{ widgets.menu.Digits }}; needed when there are conditions"),
        Field("conditions", "conditions", "Conditions", default=[],
              help="None: every call goes on through no_match (as a Studio Split with no conditions)."),
    )
    fixed_outcomes = ("no_match",)
    dynamic_outcomes: ClassVar[dict[str, str] | None] = {"field": "conditions", "key": "id"}
    results = ("input", "matched")
    summary = ("Test {input}",)
    starter_props: ClassVar[dict[str, Any]] = {
        "input": "", "conditions": [{"id": "c1", "label": "", "operator": "equal_to", "value": ""}],
    }

    def validate(self, node: Node) -> Iterable[Issue]:
        """Condition ids, operators, values, regexes and times."""
        conditions = node.props.get("conditions")
        if not isinstance(conditions, list):
            return
        source = node.props.get("input")
        if conditions and (source is None or (isinstance(source, str) and not source.strip())):
            yield error("required", "Value to test is required when there are conditions.", node.id, "input")
        seen: set[str] = set()
        for i, cond in enumerate(conditions):
            path = f"conditions[{i}]"
            if not isinstance(cond, dict):
                yield error("invalid_condition", "A condition must be an object.", node.id, path)
                continue
            cid = cond.get("id")
            if not isinstance(cid, str) or not CONDITION_ID_RE.match(cid) or cid == "no_match":
                yield error("invalid_condition_id", f"Condition id {cid!r} is not valid.", node.id, f"{path}.id")
            elif cid in seen:
                yield error("duplicate_condition_id", f"Condition id {cid} is used twice.", node.id, f"{path}.id")
            else:
                seen.add(cid)
            op = cond.get("operator")
            if op not in OPERATORS:
                yield error("invalid_operator", f"Unknown operator {op!r}.", node.id, f"{path}.operator")
                continue
            value = cond.get("value")
            if OPERATORS[op][1] and (value is None or value == ""):
                yield error("required", "This condition needs a value.", node.id, f"{path}.value")
            elif value is not None and not isinstance(value, (str, int, float)):
                yield error("invalid_type", "The value must be text.", node.id, f"{path}.value")
            elif isinstance(value, str) and not is_template(value):
                if op == "regex" and regex_error(value):
                    yield error("invalid_regex", f"Bad regular expression: {regex_error(value)}.",
                                node.id, f"{path}.value")
                if op in ("before_time", "after_time") and not TIME_RE.match(value.strip()):
                    yield error("invalid_time", f"{value!r} is not a time like 09:30.", node.id, f"{path}.value")

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Route through the first condition the rendered input passes, else `no_match`."""
        subject = rt.render(self.prop(node, "input"))
        now_local = rt.local_now()
        for cond in self.prop(node, "conditions") or []:
            if not isinstance(cond, dict) or not cond.get("id"):
                continue
            value = cond.get("value")
            value = rt.render(value) if isinstance(value, str) else ("" if value is None else str(value))
            if evaluate(str(cond.get("operator")), subject, value, now_local):
                rt.set_result(node.id, {"input": subject, "matched": cond["id"]})
                return Route(cond["id"], {"input": subject[:200]})
        rt.set_result(node.id, {"input": subject, "matched": None})
        return Route("no_match", {"input": subject[:200]})


@register
class SetVariables(NodeType):
    """Set flow variables from templates."""

    type_name = "set_variables"
    channels = ("voice", "messaging")
    label = "Set variables"
    icon = "variable"
    category = "Logic"
    description = "Set vars.<name> for later nodes (each value is a template)."
    fields = (Field("assignments", "assignments", "Variables", required=True, default=[]),)
    fixed_outcomes = ("next",)
    summary = ("{assignments.name}",)

    def validate(self, node: Node) -> Iterable[Issue]:
        """Variable names and value types."""
        items = node.props.get("assignments")
        if not isinstance(items, list):
            return
        for i, item in enumerate(items):
            name = item.get("name") if isinstance(item, dict) else None
            if not isinstance(name, str) or not VAR_NAME_RE.match(name):
                yield error("invalid_variable", f"{name!r} is not a valid variable name.",
                            node.id, f"assignments[{i}].name")
            elif not isinstance(item.get("value", ""), (str, int, float, bool)):
                yield error("invalid_type", "The value must be text.", node.id, f"assignments[{i}].value")

    def sets_variables(self, node: Node) -> Iterable[str]:
        """The assigned variable names."""
        items = node.props.get("assignments")
        if not isinstance(items, list):
            return ()
        return [i["name"] for i in items if isinstance(i, dict) and isinstance(i.get("name"), str) and i["name"]]

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Render and set each variable in order, then `next`."""
        names: list[str] = []
        for item in self.prop(node, "assignments") or []:
            if not isinstance(item, dict) or not VAR_NAME_RE.match(str(item.get("name", ""))):
                continue
            value: Any = item.get("value", "")
            rt.set_var(item["name"], rt.render(value) if isinstance(value, str) else value)
            names.append(item["name"])
        return Route("next", {"set": names})
