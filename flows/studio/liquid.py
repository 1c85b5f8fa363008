"""Liquid (Twilio Studio) ⇄ Jinja2 (Phonetree) template conversion.

Studio templates are Liquid; Phonetree renders Jinja2 with Studio's names in its context
(``widgets.<id>.<field>``, ``trigger.call.From``, ``flow.variables.x``, ``flow.data``,
``contact.channel.address`` …), so most Studio text is already a valid Jinja2 template. What
Jinja2 cannot parse or would read differently is rewritten with Liquid's meaning kept: filter
syntax (``| plus: 1`` → ``| plus(1)``: Liquid's filters are registered under their own names with
Liquid's semantics, `flows.liquid_filters`), Liquid-only tags (``elsif``, ``unless``, ``assign``,
``case``/``when``, ``capture``), Liquid's truth (``{% if x %}`` → ``{% if x is truthy %}``),
operators (``contains``, ``<>``, ``== empty``), keys Jinja2 would take for methods (``.items``)
and widget names that are not identifiers.

`translate` returns the text, notes on rewrites worth a look, and the constructs it could not
translate (left in the text so that validation reports them); `liquid_to_jinja` is the same as
``(text, notes)``. The reverse is in `flows.studio.liquid_export`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flows.liquid_filters import FILTERS as LIQUID_FILTERS
from flows.templating import analyze

TAG_RE = re.compile(r"\{\{-?(?P<out>.*?)-?\}\}|\{%-?(?P<tag>.*?)-?%\}", re.S)
_TOKEN_RE = re.compile(
    r"""
    (?P<str>'[^']*'|"[^"]*")
   |(?P<range>\(\s*[^()\s]+\s*\.\.\s*[^()\s]+\s*\))
   |(?P<num>-?\d+(?:\.\d+)?(?![\w-]))
   |(?P<path>[A-Za-z_][\w-]*\??(?:\.[A-Za-z0-9_][\w-]*\??|\[[^\]]*\])*)
   |(?P<op>==|!=|<>|>=|<=|>|<)
   |(?P<punct>[|:,()\[\]=])
   |(?P<ws>\s+)
   |(?P<other>.)
    """,
    re.X | re.S,
)
_IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_JINJA_KEYWORDS = {"and", "or", "not", "in", "is", "if", "else", "none", "true", "false"}
# Attributes Jinja2 would find before a key of the same name (`a.items` is dict.items).
METHOD_NAMES = frozenset(n for t in (dict, str, list) for n in dir(t) if not n.startswith("_"))


@dataclass
class Conversion:
    """The state of one template conversion: renames to apply and notes collected."""

    aliases: Mapping[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    case_stack: list[tuple[str, bool]] = field(default_factory=list)
    skip_text: bool = False
    loop_assigned: frozenset[str] = frozenset()  # names assigned inside a for loop: kept in NAMESPACE

    def note(self, text: str) -> None:
        """Record a rewrite (once)."""
        if text not in self.notes:
            self.notes.append(text)

    def error(self, construct: str) -> None:
        """Record a construct Phonetree cannot run (kept in the text, where validation reports it)."""
        if construct not in self.errors:
            self.errors.append(construct)


# ---------------------------------------------------------------- expressions


def _tokens(text: str) -> list[tuple[str, str]]:
    return [(m.lastgroup or "other", m.group()) for m in _TOKEN_RE.finditer(text)]


def split_top(text: str, sep: str) -> list[str]:
    """Split on `sep` outside quotes, brackets and parentheses."""
    parts: list[str] = []
    depth = 0
    quote = ""
    start = 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _alias(path: str, conv: Conversion) -> str:
    """Apply the first matching path alias (a renamed widget or variable)."""
    for old, new in conv.aliases.items():
        if path == old or path.startswith((old + ".", old + "[")):
            conv.note(f"'{old}' → '{new}'")
            return new + path[len(old) :]
    return path


def _convert_path(path: str, conv: Conversion) -> str:
    """Convert a Liquid variable path to Jinja2 (aliases, odd names, ``.size``, nil/empty)."""
    lowered = path.lower()
    if lowered in ("nil", "null"):
        conv.note(f"'{path}' → 'none'")
        return "none"
    if lowered in ("empty", "blank"):
        conv.note(f"'{path}' → ''")
        return "''"
    if path in ("true", "false"):
        return path
    path = _alias(path, conv)
    if path == "forloop" or path.startswith("forloop."):  # the same names as Jinja2's loop
        path = "loop" + path[len("forloop") :]
    segments = re.findall(r"\[[^\]]*\]|[^.\[]+", path)
    out: list[str] = []
    for i, seg in enumerate(segments):
        if seg.startswith("["):
            out.append(seg)
            continue
        clean = seg.rstrip("?")
        if clean != seg:
            conv.note(f"'{seg}' → '{clean}'")
        if i > 0 and clean in ("size", "first", "last") and i == len(segments) - 1 and out[0] != "loop":
            # Liquid: an object's own key of that name, else the list's (or text's) size/first/last
            base = "".join(out)
            return f"({base}.{clean} | default({base} | {clean}))"
        if i == 0:
            if not _IDENT_RE.match(clean):
                return path  # not something Jinja can name; left for the parse check
            out.append(f"{NAMESPACE}.{clean}" if clean in conv.loop_assigned else clean)
        elif clean in METHOD_NAMES and out[0] != "loop":  # `.items` of an object is its key, not dict.items
            out.append(f"[{clean!r}]")
        elif (_IDENT_RE.match(clean) and clean not in _JINJA_KEYWORDS) or clean.isdigit():
            out.append("." + clean)
        else:
            out.append(f"[{clean!r}]")
            conv.note(f"'.{clean}' → \"['{clean}']\"")
    return "".join(out)


def _convert_operand(text: str, conv: Conversion) -> str:
    """Convert a plain Liquid expression (no filters) token by token."""
    pieces: list[str] = []
    for kind, value in _tokens(text):
        if kind == "path":
            pieces.append(_convert_path(value, conv))
        elif kind == "range":
            low, high = (p.strip() for p in value.strip("()").split(".."))
            conv.note(f"range {value} → range()")
            pieces.append(f"range({_convert_operand(low, conv)}, ({_convert_operand(high, conv)}) + 1)")
        elif kind == "op" and value == "<>":
            conv.note("'<>' → '!='")
            pieces.append("!=")
        elif kind == "str" and "\\" in value:  # a Liquid string has no escapes: its backslashes are text
            pieces.append(value.replace("\\", "\\\\"))
        else:
            pieces.append(value)
    return "".join(pieces)


# Liquid filters with a Jinja2 filter of another name and the same meaning.
_RENAMED_FILTERS = {
    "escape": "escape",
    "escape_once": "escape",
    "strip_html": "striptags",
    "capitalize": "capitalize",
    "abs": "abs",
    "round": "round",
    "join": "join",
    "sort": "sort",
    "replace": "replace",
    "jsonify": "json",
    "to_json": "json",
}


def _apply_filter(expr: str, name: str, args: list[str], conv: Conversion) -> str:
    """Apply one Liquid filter to a Jinja expression string (`args` may hold ``name=value``)."""
    a = args
    call = f"({', '.join(a)})" if a else ""
    if name == "default":
        default_args = [a[0] if a else "''", "true", *a[1:]]
        return f"{expr} | default({', '.join(default_args)})"
    if name == "truncate" and a:
        conv.note("'| truncate: n' → '| truncate(n, true, …, 0)'")
        end = a[1] if len(a) > 1 else "'...'"
        return f"{expr} | truncate({a[0]}, true, {end}, 0)"
    if name in ("reverse", "uniq", "compact"):
        jinja = {"reverse": "reverse", "uniq": "unique", "compact": "select"}[name]
        conv.note(f"'| {name}' → '| {jinja} | list'")
        return f"{expr} | {jinja} | list"
    if name == "join" and not a:  # Liquid joins with a space by default, Jinja2 with nothing
        return f"{expr} | join(' ')"
    if name == "round" and not a:  # Liquid rounds to an integer
        return f"{expr} | round | int"
    if name in LIQUID_FILTERS:
        return f"{expr} | {name}{call}"
    if name in _RENAMED_FILTERS:
        jinja = _RENAMED_FILTERS[name]
        if jinja != name:
            conv.note(f"'| {name}' → '| {jinja}'")
        return f"{expr} | {jinja}{call}"
    conv.error(f"Liquid filter '{name}'")
    return f"{expr} | {name}{call}"


def _convert_filtered(text: str, conv: Conversion) -> str:
    """Convert ``expr | filter: a, b | filter2`` to a Jinja2 expression."""
    parts = split_top(text, "|")
    expr = _convert_operand(parts[0].strip(), conv)
    for raw in parts[1:]:
        name, _, rest = raw.strip().partition(":")
        args: list[str] = []
        if rest.strip():
            for arg in split_top(rest, ","):
                arg = arg.strip()
                named = re.match(r"^([A-Za-z_]\w*)\s*:\s*(.*)$", arg, re.S)
                if named:  # a named argument (allow_false: true)
                    args.append(f"{named.group(1)}={_convert_operand(named.group(2), conv)}")
                    continue
                args.append(_convert_operand(arg, conv))
        expr = _apply_filter(expr, name.strip(), args, conv)
    return expr


_COMPARISON_RE = re.compile(r"==|!=|<>|>=|<=|>|<")


def _convert_condition(text: str, conv: Conversion) -> str:
    """Convert a Liquid condition (``a == b and c contains 'x'``) to Jinja2.

    A bare value is tested with ``is truthy``: in Liquid only nil and false are false ("" and 0
    are true), where Jinja2 takes every empty or zero value as false. ``== empty``/``== blank``
    become ``is blank``; mixed ``and``/``or`` group from the right, as Liquid evaluates them.
    """
    words = re.split(r"\s+(and|or)\s+", text.strip())
    out: list[str] = []
    for word in words:
        if word in ("and", "or"):
            out.append(word)
            continue
        m = re.match(r"^(.*?)\s+contains\s+(.*)$", word)
        blank = re.match(r"^(.*?)\s*(==|!=|<>)\s*(empty|blank)$", word)
        if m:
            out.append(f"{_convert_operand(m.group(1), conv)} is containing({_convert_operand(m.group(2), conv)})")
        elif blank:
            conv.note(f"'== {blank.group(3)}' → 'is blank'")
            negate = "" if blank.group(2) == "==" else "not "
            out.append(f"{_convert_operand(blank.group(1), conv)} is {negate}blank")
        elif any(kind == "op" for kind, _ in _tokens(word)):
            out.append(_convert_operand(word, conv))
        else:
            out.append(f"{_convert_operand(word, conv)} is truthy")
    if "and" in out and "or" in out:  # Liquid reads mixed and/or from the right: a and (b or c)
        result = out[-1]
        for i in range(len(out) - 2, 0, -2):
            result = f"{out[i - 1]} {out[i]} ({result})"
        return result
    return " ".join(out)


# ---------------------------------------------------------------- tags


NAMESPACE = "_liquid"
_ASSIGN_RE = re.compile(r"^\s*(assign|capture)\s+([A-Za-z_]\w*)")


def _assigned(name: str, conv: Conversion) -> str:
    return f"{NAMESPACE}.{name}" if name in conv.loop_assigned else name


def _loop_assigned(text: str) -> frozenset[str]:
    """Names an ``assign`` or ``capture`` sets inside a ``for`` loop: Liquid keeps them after the
    loop, where a Jinja2 ``set`` would not, so they live in a namespace."""
    names: set[str] = set()
    depth = 0
    for m in TAG_RE.finditer(text):
        body = m.group("tag")
        if body is None:
            continue
        word = body.strip().split(" ", 1)[0]
        if word == "for":
            depth += 1
        elif word == "endfor":
            depth = max(0, depth - 1)
        elif depth:
            assign = _ASSIGN_RE.match(body)
            if assign:
                names.add(assign.group(2))
    return frozenset(names)


def _convert_tag(body: str, conv: Conversion) -> str | None:
    """Convert the inside of one ``{% %}`` tag; None drops the tag."""
    word, _, rest = body.strip().partition(" ")
    rest = rest.strip()
    if word in ("if", "elsif", "unless"):
        cond = _convert_condition(rest, conv)
        if word == "if":
            return f"if {cond}"
        if word == "elsif":
            conv.note("'elsif' → 'elif'")
            return f"elif {cond}"
        conv.note("'unless' → 'if not'")
        return f"if not ({cond})"
    if word == "endunless":
        return "endif"
    if word == "assign":
        name, _, value = rest.partition("=")
        conv.note("'assign' → 'set'")
        return f"set {_assigned(name.strip(), conv)} = {_convert_filtered(value.strip(), conv)}"
    if word == "capture":
        conv.note("'capture' → 'set … endset'")
        return f"set {_assigned(rest.strip(), conv)}"
    if word == "endcapture":
        return "endset"
    if word == "case":
        conv.note("'case/when' → 'if/elif'")
        conv.case_stack.append((_convert_operand(rest, conv), False))
        conv.skip_text = True  # Liquid writes nothing between `case` and its first `when`
        return ""
    if word == "when" and conv.case_stack:
        subject, started = conv.case_stack[-1]
        values = [v.strip() for v in re.split(r",|\s+or\s+", rest) if v.strip()]
        cond = " or ".join(f"{subject} == {_convert_operand(v, conv)}" for v in values)
        conv.case_stack[-1] = (subject, True)
        conv.skip_text = False
        return f"{'elif' if started else 'if'} {cond}"
    if word == "else" and conv.skip_text:  # a case with no when: only its else
        conv.case_stack[-1] = (conv.case_stack[-1][0], True)
        conv.skip_text = False
        return "if true"
    if word == "endcase" and conv.case_stack:
        _, started = conv.case_stack.pop()
        conv.skip_text = False
        return "endif" if started else ""
    if word == "for":
        m = re.match(r"^(\w+)\s+in\s+(.+?)((?:\s+(?:reversed|limit\s*:\s*\S+|offset\s*:\s*\S+))*)$", rest)
        if not m:
            return body
        seq = _convert_operand(m.group(2), conv)
        mods = m.group(3)
        if "reversed" in mods:
            seq = f"({seq} | reverse | list)"
        off = re.search(r"offset\s*:\s*(\S+)", mods)
        lim = re.search(r"limit\s*:\s*(\S+)", mods)
        if off or lim:
            start = off.group(1) if off else "0"
            stop = f"{start} + {lim.group(1)}" if lim else ""
            seq = f"({seq})[{start}:{stop}]"
        if mods.strip():
            conv.note("for-loop modifiers → slice")
        return f"for {m.group(1)} in {seq}"
    if word == "echo":
        return "{{ " + _convert_filtered(rest, conv) + " }}"
    if word in ("else", "endif", "endfor", "raw", "endraw", "break", "continue"):
        return word
    conv.error(f"Liquid tag '{word}'")
    return body


def _same(a: str, b: str) -> bool:
    return re.sub(r"\s+", "", a) == re.sub(r"\s+", "", b)


@dataclass(frozen=True)
class Translation:
    """A Studio template as Jinja2: the text, the rewrites worth a note, and the constructs that
    could not be translated (kept in the text, so that validation reports the template)."""

    text: Any
    notes: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()


def translate(text: Any, aliases: Mapping[str, str] | None = None) -> Translation:
    """Translate a Studio (Liquid) template to Phonetree's Jinja2 with Liquid's meaning.

    `aliases` maps variable paths to their Phonetree names (a renamed widget or variable).
    Text that needs no rewriting is kept byte for byte. Liquid filters keep their names (they are
    registered with Liquid's semantics, `flows.liquid_filters`); what Phonetree cannot run (an
    unknown filter or tag, text that still does not parse) is left in the text and named in
    ``errors``: validation then reports it on the node's field, and publishing waits for a fix.
    """
    if not isinstance(text, str) or ("{{" not in text and "{%" not in text):
        return Translation(text)
    conv = Conversion(aliases=dict(aliases or {}))
    if "for" in text:
        conv.loop_assigned = _loop_assigned(text)
    out: list[str] = ["{% set " + NAMESPACE + " = namespace() %}"] if conv.loop_assigned else []
    pos = 0
    in_raw = False
    in_comment = False
    for m in TAG_RE.finditer(text):
        out.append("" if in_comment or conv.skip_text else text[pos : m.start()])
        pos = m.end()
        original = m.group()
        if m.group("tag") is not None:
            word = m.group("tag").strip().split(" ", 1)[0]
            if in_raw:
                out.append(original)
                in_raw = word != "endraw"
                continue
            if word == "comment":
                in_comment = True
                conv.note("dropped Liquid comment")
                continue
            if word == "endcomment":
                in_comment = False
                continue
            if in_comment:
                continue
            if word == "raw":
                in_raw = True
                out.append(original)
                continue
            converted = _convert_tag(m.group("tag"), conv)
            if converted is None or converted == "":
                continue
            if converted.startswith("{{"):
                out.append(converted)
            elif _same(converted, m.group("tag")):
                out.append(original)
            else:
                left = "{%- " if original.startswith("{%-") else "{% "
                right = " -%}" if original.endswith("-%}") else " %}"
                out.append(left + converted + right)
        else:
            if in_raw or in_comment:
                out.append("" if in_comment else original)
                continue
            converted = _convert_filtered(m.group("out").strip(), conv)
            if _same(converted, m.group("out")):
                out.append(original)
            else:
                left = "{{- " if original.startswith("{{-") else "{{ "
                right = " -}}" if original.endswith("-}}") else " }}"
                out.append(left + converted + right)
    out.append("" if in_comment else text[pos:])
    result = "".join(out)
    if not conv.errors:
        problem = analyze(result).error
        if problem:
            conv.error(f"the template ({problem})")
    return Translation(result, tuple(conv.notes), tuple(conv.errors))


def untranslated(construct: str, where: str = "") -> str:
    """The report line for a construct that could not be translated (in property `where`)."""
    place = f" in {where}" if where else ""
    return f"cannot translate {construct}{place}: fix the template in the designer before publishing"


def liquid_to_jinja(text: str, aliases: Mapping[str, str] | None = None) -> tuple[str, list[str]]:
    """`translate` as ``(template, notes)``, the constructs it could not translate among the notes."""
    done = translate(text, aliases)
    return done.text, [*done.notes, *(untranslated(e) for e in done.errors)]
