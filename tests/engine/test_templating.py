"""Templates: context names, Studio aliases, sandbox, caching, errors that never break a call."""

from __future__ import annotations

import logging

import pytest

from flows.templating import analyze, build_context, compile_template, render
from tests.engine.helpers import CALL, Call, flow, node

CTX = build_context(CALL, {"name": "Ada", "n": 3}, {"menu": {"Digits": "2"}, "http-1": {"parsed": {"a": [1, 2]}}},
                    {"campaign": "spring"})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("plain text, no markup", "plain text, no markup"),
        ("{{ call.from }} -> {{ call.to }} ({{ call.sid[:4] }})", "+14155550123 -> +14155550999 (CA01)"),
        ("{{ call.From }}/{{ call.direction }}", "+14155550123/inbound"),
        ("{{ trigger.call.From }} {{ trigger.call.To }}", "+14155550123 +14155550999"),
        ("{{ vars.name }} {{ flow.variables.name }} {{ vars.n * 2 }}", "Ada Ada 6"),
        ("{{ widgets.menu.Digits }} {{ widgets['http-1'].parsed.a[1] }}", "2 2"),
        ("{{ flow.data.campaign }} {{ flow.channel.address }}", "spring +14155550999"),
        ("[{{ vars.missing }}][{{ widgets.nope.deeper.still }}]", "[][]"),
        ("{% if vars.n > 2 %}many{% else %}few{% endif %}", "many"),
        ("{{ vars.name | upper }} {{ '%05d' | format(42) }}", "ADA 00042"),
    ],
)
def test_render(source: str, expected: str) -> None:
    assert render(source, CTX) == expected


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ vars.__init__.__globals__ }}",
        "{{ call.items.__self__.__class__ }}",
        "{{ cycler.__init__.__globals__.os }}",
        "{{ vars.update({'name': 'Eve'}) }}",
        "{{ 'x' * 100000000 }}",
        "{{ 10 ** 1000000 }}",
        "{{ range(10**9) | list | length }}",
    ],
)
def test_sandbox_blocks_escapes_and_resource_abuse(source: str) -> None:
    out = render(source, CTX)
    assert "class" not in out and "module" not in out and "function" not in out and len(out) < 100
    assert CTX["vars"]["name"] == "Ada"


def test_errors_render_empty_and_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="phonetree.flows"):
        assert render("{{ vars.name ", CTX) == ""
        assert render("{{ 1 / 0 }}", CTX) == ""
        assert render("{{ vars.name | nosuchfilter }}", CTX) == ""
    assert len([r for r in caplog.records if r.name == "phonetree.flows"]) == 3


def test_template_errors_do_not_break_a_call() -> None:
    definition = flow(node("s", "say", {"prompt": "Hello {{ vars.x | nosuchfilter }}world"}, next="h"),
                      node("h", "hangup", {"say": "{{ 1 / 0 }}Bye"}))
    result = Call(definition).start()
    assert result.done
    assert result.twiml == '<?xml version="1.0" encoding="UTF-8"?><Response><Hangup /></Response>'
    assert [s.node_id for s in result.steps] == ["s", "h"]
    assert result.state["end"]["reason"] == "hangup"


def test_compiled_templates_are_cached_by_source() -> None:
    source = "{{ vars.name }} cached"
    assert compile_template(source) is compile_template(source)
    with pytest.raises(ValueError):
        compile_template("{{ broken")


def test_analyze_reports_syntax_errors_and_reads() -> None:
    assert analyze("{{ vars.a }} {{ vars['b'] }} {{ flow.variables.c }} {{ widgets.d.e }}").reads == {"a", "b", "c"}
    assert analyze("{% if vars.a and vars.z > 1 %}{{ vars.q | default('x') }}{% endif %}").reads == {"a", "z", "q"}
    assert analyze("no markup").error is None
    assert "line 1" in (analyze("{{ vars.a ").error or "")
    assert analyze("{{ x | frobnicate }}").error == "no filter named 'frobnicate'"
    assert analyze("{{ x is frobnicated }}").error == "no test named 'frobnicated'"


BIG = "x" * 200_000  # a caller-controlled value, e.g. an HTTP response body


@pytest.mark.parametrize(
    "source",
    [
        "{% for a in range(30000) %}{% for b in range(30000) %}{% endfor %}{% endfor %}",
        "{% for a in vars.big %}{% for b in vars.big %}{% endfor %}{% endfor %}",
        "{% macro f(n) %}{% if n > 0 %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
        "{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{% set ns = namespace(s='xx') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
        "{{ 'x' | center(10**9) }}",
        "{{ 'x'.ljust(10**9) }}",
        "{{ '%999999999d' % 1 }}",
        "{{ '%*d' | format(999999999, 1) }}",
        "{{ '{:>999999999}'.format(1) }}",
        "{{ vars.big | replace('', vars.big) }}",
        "{{ range(100000) | join(vars.big) }}",
        "{{ lipsum(100000) }}",
        "{% for i in range(100000) %}{{ vars.big }}{% endfor %}",
        "{% set x %}{% for i in range(100000) %}{{ vars.big }}{% endfor %}{% endset %}{{ x|length }}",
    ],
)
def test_caller_data_and_templates_cannot_hang_a_turn_or_eat_memory(source: str) -> None:
    import time
    import tracemalloc

    ctx = build_context(CALL, {"big": BIG}, {})
    tracemalloc.start()
    started = time.monotonic()
    try:
        out = render(source, ctx)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 3
    assert peak < 50_000_000
    assert len(out) <= 8000


def test_pathological_template_source_is_an_error_not_an_exception() -> None:
    source = "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}"
    assert render(source, CTX) == ""
    assert analyze(source).error


def test_budget_leaves_ordinary_loops_alone() -> None:
    ctx = build_context(CALL, {"items": list(range(2000))}, {})
    assert render("{% for i in vars['items'] %}{{ i % 10 }}{% endfor %}", ctx)[:5] == "01234"
    assert render("{{ vars['items'] | join(',') | length }}", ctx) == str(len(",".join(map(str, range(2000)))))
    assert render("{{ '{:>6}'.format(42) }}|{{ '%5.1f' % 3.14159 }}|{{ 'ab' | center(6) }}", ctx) == \
        "    42|  3.1|  ab  "


def test_the_session_names_offered_per_channel_are_the_ones_build_context_makes() -> None:
    from flows.templating import SESSION_NAMES, session_names

    call = {"CallSid": "CA1", "From": "+15550001", "To": "+15550002", "FromCity": "Paris", "FromCountry": "FR",
            "CallerName": "ADA", "Direction": "inbound"}
    text = {"MessageSid": "SM1", "From": "+15550001", "To": "+15550002", "Body": "hi"}
    for channel, params in (("voice", call), ("messaging", text)):
        context = build_context(params, {}, {}, channel=channel)
        for name, _, channels in SESSION_NAMES:
            if channel in channels:
                assert render(f"{{{{ {name} }}}}", context), (channel, name)
    texts = [name for name, _ in session_names(["messaging"])]
    assert texts == ["trigger.message.Body", "trigger.message.From", "trigger.message.To",
                     "contact.channel.address", "flow.channel.address"]
    calls = [name for name, _ in session_names(["voice"])]
    assert "call.caller_name" in calls and "trigger.message.Body" not in calls and "trigger.channel" not in calls
    both = [name for name, _ in session_names(["voice", "messaging"])]
    assert set(both) == set(calls) | set(texts) | {"trigger.channel"}
