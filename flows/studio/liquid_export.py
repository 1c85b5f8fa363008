"""Phonetree (Jinja2) → Studio (Liquid): the best-effort reverse of `flows.studio.liquid`.

Filters get their Liquid names and argument syntax back (``| upper`` → ``| upcase``,
``| default('x', true)`` → ``| default: 'x'``), the operator forms the importer wrote for
Liquid's math and ``append`` become filters again, ``elif``/``set`` become ``elsif``/``assign``,
and variable paths are renamed by the caller (``vars.x`` → ``flow.variables.x``).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from flows.studio.liquid import METHOD_NAMES, NAMESPACE, TAG_RE, split_top

_STRING_RE = re.compile(r"'[^']*'|\"[^\"]*\"")
_METHOD_KEY_RE = re.compile(r"\['([A-Za-z_]\w*)'\]")

_REVERSE_FILTERS = {
    "upper": "upcase",
    "lower": "downcase",
    "trim": "strip",
    "length": "size",
    "count": "size",
    "urlencode": "url_encode",
    "tojson": "json",
    "striptags": "strip_html",
    "unique": "uniq",
}


def _reverse_filter(raw: str) -> str:
    m = re.match(r"^\s*(\w+)\s*(?:\((.*)\))?\s*$", raw, re.S)
    if not m:
        return raw
    name, args = m.group(1), m.group(2)
    liquid = _REVERSE_FILTERS.get(name, name)
    if name == "list":
        return ""
    if not args:
        return f" {liquid}"
    parts = [p.strip() for p in split_top(args, ",")]
    named = [re.sub(r"^(\w+)\s*=\s*", r"\1: ", p) for p in parts if re.match(r"^\w+\s*=[^=]", p)]
    parts = [p for p in parts if not re.match(r"^\w+\s*=[^=]", p)]
    if name == "default":
        parts = parts[:1] + named
    if name == "truncate":
        parts = parts[:1]
    return f" {liquid}: {', '.join(parts)}"


_ARITH_RE = re.compile(r"^\(\((?P<x>.+)\) \| (?:int|float) (?P<op>[-+*%]|//|/) (?P<n>[\w.'\"]+)\)$", re.S)
_CONCAT_RE = re.compile(r"^\((?P<a>[^~()]+) ~ (?P<b>[^~()]+)\)$")
_ARITH_BACK = {"+": "plus", "-": "minus", "*": "times", "%": "modulo", "/": "divided_by", "//": "divided_by"}


def _reverse_operators(expr: str) -> str:
    """Undo the operator forms `liquid_to_jinja` produces for Liquid's math and append filters."""
    m = _ARITH_RE.match(expr)
    if m:
        return f"{m.group('x')} | {_ARITH_BACK[m.group('op')]}: {m.group('n')}"
    m = _CONCAT_RE.match(expr)
    if m:
        return f"{m.group('a').strip()} | append: {m.group('b').strip()}"
    m = re.match(r"^\((?P<x>[^()|]+)\.(?P<f>size|first|last) \| default\((?P=x) \| (?P=f)\)\)$", expr)
    if m:
        return f"{m.group('x').strip()}.{m.group('f')}"
    m = re.match(r"^\((?P<x>[^()|]+) \| (?:length|size)\)$", expr)
    if m:
        return f"{m.group('x').strip()} | size"
    return expr


def jinja_to_liquid(text: str, names: Callable[[str], str] | None = None) -> str:
    """Best-effort conversion of a Phonetree Jinja2 template to Studio's Liquid.

    `names` maps a Jinja variable path to the Studio one (e.g. ``vars.x`` → ``flow.variables.x``).
    """
    if not isinstance(text, str) or ("{{" not in text and "{%" not in text):
        return text
    if text.startswith("{% raw %}") and text.endswith("{% endraw %}"):
        return text[len("{% raw %}") : -len("{% endraw %}")]
    text = text.replace("{% set " + NAMESPACE + " = namespace() %}", "")
    text = re.sub(r"(?<![\w.])" + NAMESPACE + r"\.", "", text)  # names assigned in a loop: plain again

    def rename(expr: str) -> str:
        expr = _METHOD_KEY_RE.sub(lambda m: "." + m.group(1) if m.group(1) in METHOD_NAMES else m.group(), expr)
        expr = re.sub(r"(?<![\w.])loop\.", "forloop.", expr)
        if names is None:
            return expr
        return re.sub(
            r"(?<![\w.'\"])[A-Za-z_]\w*(?:\.\w+)+",
            lambda m: names(m.group()),
            expr,
        )

    opened: list[str] = []  # "if" or "unless", innermost last

    def tag(m: re.Match[str], body: str) -> str:
        left = "{%-" if m.group().startswith("{%-") else "{%"
        right = "-%}" if m.group().endswith("-%}") else "%}"
        return f"{left} {body} {right}"

    def expression(inner: str) -> str:
        inner = _reverse_operators(inner.strip()).replace("| round | int", "| round")
        inner = _STRING_RE.sub(lambda m: m.group().replace("\\\\", "\\"), inner)  # Liquid has no escapes
        parts = split_top(inner, "|")
        filters = "".join(f" |{_reverse_filter(p)}" for p in parts[1:] if _reverse_filter(p))
        return rename(parts[0].strip()) + filters

    def output(m: re.Match[str]) -> str:
        inner = m.group("out")
        if inner is None:
            body = m.group("tag").strip()
            word, _, rest = body.partition(" ")
            mapping = {"elif": "elsif", "endset": "endcapture"}
            if word == "set":
                if "=" in rest:
                    name, _, value = rest.partition("=")
                    return tag(m, "assign " + name.strip() + " = " + expression(value))
                return tag(m, "capture " + rest.strip())
            if word == "if" and rest.startswith("not (") and rest.endswith(" is truthy)"):
                opened.append("unless")
                return tag(m, "unless " + rename(rest[5:-11]))
            if word == "if":
                opened.append("if")
            if word == "endif" and opened:
                word = "endunless" if opened.pop() == "unless" else word
            if word in ("if", "elif"):
                cond = re.sub(r"(\S+)\s+in\s+(\S+)", r"\2 contains \1", rest)
                cond = re.sub(r"\s+is containing\((.*?)\)(?=\s+(?:and|or)\s+|\)*$)", r" contains \1", cond)
                while re.search(r" (?:and|or) \((.*)\)$", cond):  # Liquid groups from the right by itself
                    cond = re.sub(r" (and|or) \((.*)\)$", r" \1 \2", cond)
                cond = re.sub(r"\s+is truthy\b", "", cond)
                cond = re.sub(r"\s+is not blank\b", " != blank", cond)
                cond = re.sub(r"\s+is blank\b", " == blank", cond)
                return tag(m, mapping.get(word, word) + " " + rename(cond))
            return tag(m, mapping.get(word, word) + (" " + rename(rest) if rest else ""))
        reversed_ = _reverse_operators(inner.strip())
        parts = split_top(reversed_, "|")
        if len(parts) == 1 and rename(parts[0].strip()) == parts[0].strip() and reversed_ == inner.strip():
            return m.group()
        left = "{{-" if m.group().startswith("{{-") else "{{"
        right = "-}}" if m.group().endswith("-}}") else "}}"
        return left + expression(inner) + right

    return TAG_RE.sub(output, text)
