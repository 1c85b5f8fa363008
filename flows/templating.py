"""Templates in props: sandboxed Jinja2, compiled once per source, never fatal to a call.

Context names: ``call`` (from, to, sid, direction, ... plus Twilio's raw fields), ``vars``
(flow variables), ``widgets.<node_id>.<field>`` (node results), and Studio's aliases
``trigger.call.From``, ``flow.variables.x``, ``flow.data``, ``flow.channel.address``.
A template that fails to parse or render is logged on ``phonetree.flows`` and renders "".
"""

from __future__ import annotations

import contextvars
import functools
import logging
import operator
import re
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.visitor import NodeTransformer

from flows import liquid_filters
from flows.formats import is_template

log = logging.getLogger("phonetree.flows")

MAX_OUTPUT = 8000
MAX_REPEAT = 10_000
MAX_POWER = 100
# Budget of one render, so that neither a template nor the caller data it works on (speech, an
# HTTP response body) can hang a turn or exhaust memory: loop iterations and calls, characters
# built (output, results of filters, calls and operators), wall-clock time, and the widths a
# format or padding may ask for.
MAX_WORK = 50_000
MAX_CHARS = 1_000_000
MAX_SECONDS = 0.25
MAX_WIDTH = 10_000

_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


@dataclass
class _Budget:
    work: int = 0
    chars: int = 0
    deadline: float = 0.0


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("phonetree_template_budget", default=None)


def _size(value: Any) -> int:
    if isinstance(value, (str, list, tuple, dict, set, frozenset)):
        return len(value)
    return 0


def _spend(work: int = 0, chars: int = 0) -> None:
    budget = _BUDGET.get()
    if budget is None:
        return
    budget.work += work
    budget.chars += chars
    if budget.work > MAX_WORK or budget.chars > MAX_CHARS:
        raise SecurityError("template does too much work")
    if time.monotonic() > budget.deadline:
        raise SecurityError("template takes too long")


def _check_width(value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and value > MAX_WIDTH:
        raise SecurityError("width or count too large")


def _check_percent_format(fmt: str) -> None:
    for width, precision in _PERCENT_SPEC.findall(fmt):
        for number in (width, precision):
            if number == "*" or (number and int(number) > MAX_WIDTH):
                raise SecurityError("format width too large")


def _check_brace_format(fmt: str) -> None:
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format will raise its own error
    for _, _, spec, _ in parsed:
        if spec and ("{" in spec or any(int(n) > MAX_WIDTH for n in re.findall(r"\d+", spec))):
            raise SecurityError("format width too large")


_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_WIDTH_FILTERS = frozenset({"center", "indent", "batch", "slice"})


def _check_replace(text: str, old: Any, new: Any) -> None:
    old, new = str(old), str(new)
    grows = max(0, len(new) - len(old))
    if grows and len(text) + (text.count(old) if old else len(text) + 1) * grows > MAX_CHARS:
        raise SecurityError("result too large")


def _check_join(separator: str, items: Any) -> Any:
    """The items as a sized sequence, once the joined length is known to fit the budget."""
    items = items if hasattr(items, "__len__") else list(items)
    _spend(chars=len(separator) * max(0, len(items) - 1))
    return items


def _precheck(name: str, target: Any, args: tuple, kwargs: dict) -> tuple:
    """Refuse a str method call whose result would be huge before it is allocated; returns the args."""
    if not isinstance(target, str):
        return args
    if name in _WIDTH_METHODS:
        for value in (*args, *kwargs.values()):
            _check_width(value)
    elif name in ("format", "format_map"):
        _check_brace_format(target)
    elif name == "replace" and len(args) >= 2:
        _check_replace(target, args[0], args[1])
    elif name == "join" and args:
        args = (_check_join(target, args[0]), *args[1:])
    return args


def _guarded_filter(name: str, func: Any) -> Any:
    skip = 1 if getattr(func, "jinja_pass_arg", None) else 0  # a context/environment comes first

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _spend(work=1)
        values = args[skip:]
        if name in _WIDTH_FILTERS:
            for value in (*values[1:], *kwargs.values()):
                _check_width(value)
        elif name == "format" and values and isinstance(values[0], str):
            _check_percent_format(values[0])
        elif name == "replace" and len(values) >= 3:
            _check_replace(str(values[0]), values[1], values[2])
        elif name == "join" and values:
            separator = values[1] if len(values) > 1 else kwargs.get("d", "")
            items = _check_join(str(separator), values[0])
            args = (*args[:skip], items, *values[1:])
        result = func(*args, **kwargs)
        _spend(chars=_size(result))
        return result

    return guarded


def _loop(iterable: Any) -> Any:
    for item in iterable:
        _spend(work=1)
        yield item


def _emit(value: Any) -> Any:
    _spend(chars=len(value) if isinstance(value, str) else 1)
    return value


def _concat(parts: list) -> str:
    _spend(chars=sum(len(p) if isinstance(p, str) else 1 for p in parts))
    return "".join(str(p) for p in parts)


class _Metered(NodeTransformer):
    """Route loops, output and `~` through the budget (see `_Sandbox._generate`)."""

    @staticmethod
    def _filter(node: nodes.Expr, name: str) -> nodes.Filter:
        return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802  (Jinja's visitor names)
        self.generic_visit(node)
        node.iter = self._filter(node.iter, "_pt_loop")
        return node

    def visit_Output(self, node: nodes.Output) -> nodes.Node:  # noqa: N802  (Jinja's visitor names)
        self.generic_visit(node)
        node.nodes = [
            self._filter(
                nodes.Const(child.data, lineno=child.lineno) if isinstance(child, nodes.TemplateData) else child,
                "_pt_emit",
            )
            for child in node.nodes
        ]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802  (Jinja's visitor names)
        self.generic_visit(node)
        return self._filter(nodes.List(node.nodes, lineno=node.lineno), "_pt_concat")


class _Sandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, with `*`, `**`, `+` and `%` bounded and every render on a budget."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        if operator_ == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_POWER:
                raise SecurityError("exponent too large")
            return operator.pow(left, right)
        if operator_ == "+":
            _spend(chars=_size(left) + _size(right))
            return operator.add(left, right)
        if operator_ == "%":
            if isinstance(left, str):
                _check_percent_format(left)
                for value in right if isinstance(right, tuple) else (right,):
                    _check_width(value)
                result = operator.mod(left, right)
                _spend(chars=len(result))
                return result
            return operator.mod(left, right)
        if isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple)):
            size = len(left) if isinstance(left, (str, list, tuple)) else len(right)
            count = right if isinstance(left, (str, list, tuple)) else left
            if isinstance(count, int) and size * count > MAX_REPEAT:
                raise SecurityError("repetition too large")
            _spend(chars=size * count if isinstance(count, int) else 0)
        return operator.mul(left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        _spend(work=1)
        target = getattr(__obj, "__wrapped__", __obj)
        args = _precheck(getattr(target, "__name__", ""), getattr(target, "__self__", None), args, kwargs)
        result = super().call(__context, __obj, *args, **kwargs)
        _spend(chars=_size(result))
        return result

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        return super()._generate(_Metered().visit(source), name, filename, defer_init)


def _finalize(value: Any) -> Any:
    """What ``{{ }}`` writes: as Liquid, nil is empty, booleans are true/false, objects JSON."""
    if value is None or isinstance(value, (bool, dict, list, tuple)):
        return liquid_filters.text(value)
    return value


ENV = _Sandbox(
    undefined=ChainableUndefined,
    autoescape=False,
    cache_size=0,
    finalize=_finalize,
    extensions=["jinja2.ext.loopcontrols"],  # Liquid's break and continue
)
ENV.globals.pop("lipsum", None)
ENV.filters.update(liquid_filters.FILTERS)  # Liquid's names and semantics (Studio templates)
ENV.tests.update(liquid_filters.TESTS)
ENV.filters = {name: _guarded_filter(name, func) for name, func in ENV.filters.items()}
ENV.filters.update(_pt_loop=_loop, _pt_emit=_emit, _pt_concat=_concat)


@dataclass(frozen=True)
class TemplateInfo:
    """What validation needs to know about one template source."""

    error: str | None
    reads: frozenset[str]  # flow variables read: vars.x, vars['x'], flow.variables.x


_NO_READS: frozenset[str] = frozenset()

# Fast path for the common case, templates made of plain `{{ a.b['c'] | filter('x', 1) }}` blocks
# (what Studio's Liquid translates to): their syntax is checked and their reads found without
# running Jinja's parser.
_PATH = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[(?:\d+|'[\w .-]*')\])*"
_LITERAL = r"""(?:'[^'\\]*'|"[^"\\]*"|-?\d+(?:\.\d+)?)"""
_ARG = r"(?:[A-Za-z_]\w*\s*=\s*)?(?:" + _LITERAL + r"|true|false|none)"
_FILTER = r"\s*\|\s*([A-Za-z_]\w*)(?:\(\s*(?:" + _ARG + r"(?:\s*,\s*" + _ARG + r")*)?\s*\))?"
_FILTER_NAME = re.compile(_FILTER)
_SIMPLE_BLOCK = re.compile(r"\{\{-?\s*(" + _PATH + "|" + _LITERAL + r")((?:" + _FILTER + r")*)\s*-?\}\}")
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
        for name in _FILTER_NAME.findall(filters):
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


_BLOCK = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_OPENERS = ("{{", "{%", "{#")


def _skeleton(source: str) -> str | None:
    """The template with its literal text reduced to its line breaks, or None when that is not
    surely the same template to Jinja (a raw block, quotes that may hide a delimiter).

    What a template reads and whether it parses do not depend on its literal text, so prompts
    that differ only in their words share one parse.
    """
    if "raw" in source:
        return None
    parts: list[str] = []
    pos = 0
    for m in _BLOCK.finditer(source):
        text, block = source[pos : m.start()], m.group()
        quotes = block.count("'"), block.count('"')
        if any(o in text for o in _OPENERS) or "\\" in block or all(quotes) or quotes[0] % 2 or quotes[1] % 2:
            return None  # a delimiter may hide inside a string: parse the template as written
        parts.append("\n" * text.count("\n"))
        parts.append(block)
        pos = m.end()
    tail = source[pos:]
    if any(o in tail for o in _OPENERS):
        return None
    parts.append("\n" * tail.count("\n"))
    return "".join(parts)


@functools.lru_cache(maxsize=65536)
def analyze(source: str) -> TemplateInfo:
    """Check a template once: its syntax error (if any) and the flow variables it reads."""
    if not is_template(source):
        return TemplateInfo(None, _NO_READS)
    fast = _fast_analyze(source)
    if fast is not None:
        return fast
    skeleton = _skeleton(source)
    return _parse_info(source if skeleton is None else skeleton)


def clear_analysis_cache() -> None:
    """Forget every template analysed (benchmarks measure cold runs)."""
    analyze.cache_clear()
    _parse_info.cache_clear()


@functools.lru_cache(maxsize=16384)
def _parse_info(source: str) -> TemplateInfo:
    try:
        ast = ENV.parse(source)
    except RecursionError:
        return TemplateInfo("the template is nested too deeply", _NO_READS)
    except TemplateError as exc:
        line = getattr(exc, "lineno", None)
        return TemplateInfo(f"{exc.message or exc}" + (f" (line {line})" if line else ""), _NO_READS)
    return TemplateInfo(_unknown_names(ast), _variable_reads(ast))


@functools.lru_cache(maxsize=4096)
def _compiled(source: str) -> Template | str:
    try:
        return ENV.from_string(source)
    except RecursionError:
        return "the template is nested too deeply"
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
    token = _BUDGET.set(_Budget(deadline=time.monotonic() + MAX_SECONDS))
    try:
        return compiled.render(context)[:MAX_OUTPUT]
    except Exception as exc:  # noqa: BLE001  a template must never break a call
        log.warning("template failed to render: %s: %r", exc, source[:200])
        return ""
    finally:
        _BUDGET.reset(token)


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


# The session's names a template may use, by the channel whose sessions have them (`build_context`
# makes them): the designer offers those of the flow's channels. (name, what it holds, channels)
SESSION_NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("call.from", "the caller's number", ("voice",)),
    ("call.to", "the number they called", ("voice",)),
    ("call.sid", "Twilio's CallSid", ("voice",)),
    ("call.from_city", "the caller's city, when Twilio knows it", ("voice",)),
    ("call.from_country", "the caller's country", ("voice",)),
    ("call.caller_name", "caller name (CNAM), when enabled", ("voice",)),
    ("trigger.message.Body", "the text that began the conversation", ("messaging",)),
    ("trigger.message.From", "the contact's number, as they texted", ("messaging",)),
    ("trigger.message.To", "the number they texted", ("messaging",)),
    ("contact.channel.address", "the other party's number: the caller or the contact", ("voice", "messaging")),
    ("flow.channel.address", "this flow's number in the call or conversation", ("voice", "messaging")),
    ("trigger.channel", "voice or messaging: which kind of session this is", ("voice", "messaging")),
)


def session_names(channels: tuple[str, ...] | list[str]) -> list[tuple[str, str]]:
    """(name, what it holds) of the `SESSION_NAMES` a flow serving `channels` can use; ``trigger.channel``
    only where it can tell two channels apart."""
    served = set(channels)
    return [
        (name, what)
        for name, what, where in SESSION_NAMES
        if served & set(where) and (name != "trigger.channel" or len(served) > 1)
    ]


def build_context(
    call: Mapping[str, Any],
    variables: Mapping[str, Any],
    results: Mapping[str, Any],
    flow_data: Mapping[str, Any] | None = None,
    *,
    parent: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    flow_id: str | None = None,
    channel: str = "voice",
    message: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The template context for one turn (the dicts are shared, so updates show up).

    Studio's names: ``trigger.call.*``, ``flow.variables``, ``flow.data``, ``flow.sid`` (the call's
    SID: one execution per call), ``flow.flow_sid``, ``flow.channel.address`` (the flow's number)
    and ``contact.channel.address`` (the other party's); on a call the flow placed
    ``trigger.request.to/from/parameters`` (so has a conversation an execution opened); in a
    subflow ``trigger.parent.parameters`` are the parameters its subflow node passed. `now` is the
    clock Liquid's ``date: "now"`` reads.
    ``trigger.channel`` is ``voice`` or ``messaging``; a messaging session's first message is
    ``trigger.message`` (Twilio's fields: ``Body``, ``From``, ``To``, ``MessageSid`` ...).
    """
    call_ctx = call_context(call)
    outbound = str(call_ctx.get("direction") or "").startswith("outbound")
    ours, theirs = (call_ctx.get("from", ""), call_ctx.get("to", ""))
    if not outbound or channel == "messaging":  # a conversation's From is its contact, even one the flow opened
        ours, theirs = theirs, ours
    data = dict(flow_data or {})
    trigger: dict[str, Any] = {"call": call_ctx, "channel": channel}
    if channel == "messaging":
        trigger["message"] = dict(message if message is not None else call)
    if outbound:  # a call the flow placed (a REST execution): Studio's incomingRequest
        trigger["request"] = {"to": theirs, "from": ours, "parameters": data}
    if parent is not None:
        trigger["parent"] = {"parameters": dict(parent)}
    context: dict[str, Any] = {
        "call": call_ctx,
        "vars": variables,
        "widgets": results,
        "trigger": trigger,
        "contact": {"channel": {"address": theirs}},
        "flow": {
            "variables": variables,
            "data": data,
            "channel": {"address": ours},
            "sid": call_ctx.get("sid", ""),
            "flow_sid": flow_id or "",
        },
    }
    if now is not None:
        context[liquid_filters.NOW_KEY] = now
    return context
