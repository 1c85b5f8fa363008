"""Templates in props: sandboxed Jinja2, compiled once per source, never fatal to a call.

Context names: ``call`` (from, to, sid, direction, ... plus Twilio's raw fields), ``vars``
(flow variables), ``widgets.<node_id>.<field>`` (node results), and Studio's aliases
``trigger.call.From``, ``flow.variables.x``, ``flow.data``, ``flow.channel.address``.
A template that fails to parse or render is logged on ``phonetree.flows`` and renders "".
"""

from __future__ import annotations

import functools
import logging
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flows.checks import is_template

log = logging.getLogger("phonetree.flows")

MAX_OUTPUT = 8000
MAX_REPEAT = 10_000
MAX_POWER = 100


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with `*` and `**` bounded so a template cannot exhaust memory."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_POWER:
                raise SecurityError("exponent too large")
            return operator.pow(left, right)
        if isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple)):
            size = len(left) if isinstance(left, (str, list, tuple)) else len(right)
            count = right if isinstance(left, (str, list, tuple)) else left
            if isinstance(count, int) and size * count > MAX_REPEAT:
                raise SecurityError("repetition too large")
        return operator.mul(left, right)


ENV = _Sandbox(undefined=ChainableUndefined, autoescape=False, cache_size=0)


@dataclass(frozen=True)
class TemplateInfo:
    """What validation needs to know about one template source."""

    error: str | None
    reads: frozenset[str]  # flow variables read: vars.x, vars['x'], flow.variables.x


_NO_READS: frozenset[str] = frozenset()

# Fast path for the common case, templates made of plain `{{ a.b['c'] | filter }}` blocks:
# their syntax is checked and their reads found without running Jinja's parser.
_PATH = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[(?:\d+|'[\w .-]*')\])*"
_SIMPLE_BLOCK = re.compile(r"\{\{-?\s*(" + _PATH + r")((?:\s*\|\s*[A-Za-z_]\w*)*)\s*-?\}\}")
_TEXT = re.compile(r"(?:[^{]|\{(?![{%#]))*")
_KEYWORDS = frozenset({"not", "and", "or", "in", "is", "if", "else"})  # these fall back to Jinja
_READ_RE = re.compile(r"^(?:vars|flow\.variables)(?:\.([A-Za-z_]\w*)|\['([\w .-]*)'\])")


def _fast_analyze(source: str) -> TemplateInfo | None:
    """TemplateInfo for a template of simple blocks only, or None to use the full parser."""
    reads: set[str] = set()
    pos, end = 0, len(source)
    while pos < end:
        text = _TEXT.match(source, pos)
        pos = text.end() if text else pos
        if pos >= end:
            break
        block = _SIMPLE_BLOCK.match(source, pos)
        if block is None:
            return None
        path, filters = block.group(1), block.group(2)
        if path.split(".", 1)[0].split("[", 1)[0] in _KEYWORDS:
            return None
        for name in filters.replace("|", " ").split():
            if name not in ENV.filters:
                return None
        read = _READ_RE.match(path)
        if read:
            reads.add(read.group(1) or read.group(2))
        pos = block.end()
    return TemplateInfo(None, frozenset(reads))


def _unknown_names(ast: nodes.Template) -> str | None:
    for node in ast.find_all((nodes.Filter, nodes.Test)):
        known = ENV.filters if isinstance(node, nodes.Filter) else ENV.tests
        if node.name not in known:
            kind = "filter" if isinstance(node, nodes.Filter) else "test"
            return f"no {kind} named {node.name!r}"
    return None


def _variable_reads(ast: nodes.Template) -> frozenset[str]:
    reads: set[str] = set()
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        key: Any
        if isinstance(node, nodes.Getattr):
            base, key = node.node, node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            base, key = node.node, node.arg.value
        else:
            continue
        if not isinstance(key, str):
            continue
        is_vars = isinstance(base, nodes.Name) and base.name == "vars"
        is_flow_vars = (isinstance(base, nodes.Getattr) and base.attr == "variables"
                        and isinstance(base.node, nodes.Name) and base.node.name == "flow")
        if is_vars or is_flow_vars:
            reads.add(key)
    return frozenset(reads)


@functools.lru_cache(maxsize=65536)
def analyze(source: str) -> TemplateInfo:
    """Check a template once: its syntax error (if any) and the flow variables it reads."""
    if not is_template(source):
        return TemplateInfo(None, _NO_READS)
    fast = _fast_analyze(source)
    if fast is not None:
        return fast
    try:
        ast = ENV.parse(source)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        return TemplateInfo(f"{exc.message or exc}" + (f" (line {line})" if line else ""), _NO_READS)
    return TemplateInfo(_unknown_names(ast), _variable_reads(ast))


@functools.lru_cache(maxsize=4096)
def _compiled(source: str) -> Template | str:
    try:
        return ENV.from_string(source)
    except TemplateError as exc:
        return f"{exc}"


def compile_template(source: str) -> Template:
    """The compiled template (cached by source); raises ValueError when it does not parse."""
    compiled = _compiled(source)
    if isinstance(compiled, str):
        raise ValueError(compiled)
    return compiled


def render(source: Any, context: Mapping[str, Any]) -> str:
    """Render a template source; plain strings pass through, errors render "" and are logged."""
    if source is None:
        return ""
    if not isinstance(source, str):
        return str(source)
    if not is_template(source):
        return source
    compiled = _compiled(source)
    if isinstance(compiled, str):
        log.warning("template does not parse: %s: %r", compiled, source[:200])
        return ""
    try:
        return compiled.render(context)[:MAX_OUTPUT]
    except Exception as exc:  # noqa: BLE001  a template must never break a call
        log.warning("template failed to render: %s: %r", exc, source[:200])
        return ""


def call_context(call: Mapping[str, Any]) -> dict[str, Any]:
    """The ``call`` object: Twilio's fields as posted plus friendly lower-case aliases."""
    data = dict(call)
    aliases = {
        "sid": "CallSid", "from": "From", "to": "To", "direction": "Direction",
        "status": "CallStatus", "caller_name": "CallerName", "account_sid": "AccountSid",
        "from_city": "FromCity", "from_state": "FromState", "from_country": "FromCountry",
        "from_zip": "FromZip", "forwarded_from": "ForwardedFrom",
    }
    for alias, raw in aliases.items():
        if alias not in data:
            data[alias] = call.get(raw, "")
    return data


def build_context(
    call: Mapping[str, Any],
    variables: Mapping[str, Any],
    results: Mapping[str, Any],
    flow_data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The template context for one turn (the dicts are shared, so updates show up)."""
    call_ctx = call_context(call)
    return {
        "call": call_ctx,
        "vars": variables,
        "widgets": results,
        "trigger": {"call": call_ctx},
        "flow": {
            "variables": variables,
            "data": dict(flow_data or {}),
            "channel": {"address": call_ctx.get("to", "")},
        },
    }
