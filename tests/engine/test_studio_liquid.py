"""Liquid as Studio's exports use it: translated to Jinja2 with Liquid's meaning, rendered by the
engine, every template of the real exports translated, Studio's names resolved in a running flow,
and incomingParent flows run as subflows.

Expected outputs are written by hand from Liquid's documented semantics (shopify.github.io/liquid):
only nil and false are false, math reads numeric strings, divided_by of integers is floor
division, default replaces nil, false and "" but not 0, date reads "now" and formats with strftime.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flows import FakeServices, validate
from flows.studio import import_studio
from flows.studio.liquid import translate
from flows.studio.liquid_export import jinja_to_liquid
from flows.templating import build_context, render
from tests.engine.helpers import CALL, NOW, Call, make_ctx, outcomes

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "studio-flows"
EXPORTS = sorted(SHARED.glob("*.json"))

VARIABLES = {
    "name": "Ada",
    "empty": "",
    "zero": 0,
    "no": False,
    "nothing": None,
    "count": "0",
    "lines": "a\nb\r\nc",
    "obj": {"a": 1, "b": [1, "x"]},
    "items": ["red", "green", "blue"],
    "digits": "4821",
    "pizza": {"size": "large", "crust": "thin"},
}
COUNTER = "{%- if flow.variables.counter -%}\n  {{flow.variables.counter | plus: 1}}\n{%- else -%}\n  0\n{%- endif -%}"
RESULTS = {"check": {"parsed": {"isOpen": True, "closedReason": "holiday", "note": None}}}


def liquid(source: str, **extra: Any) -> str:
    """Translate a Liquid template and render it as a running flow would."""
    done = translate(source)
    assert not done.errors, done.errors
    context = build_context(CALL, {**VARIABLES, **extra}, RESULTS, {"campaign": "spring"}, now=NOW)
    return render(done.text, context)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # text filters
        ("{{ 'Parker Moore' | downcase }}", "parker moore"),
        ("{{ 'Parker Moore' | upcase }}", "PARKER MOORE"),
        ("[{{ '   So much room   ' | strip }}]", "[So much room]"),
        ("{{ flow.variables.lines | strip_newlines }}", "abc"),
        ("{{ 'a\\nb' | size }} {{ 'C:\\x' | append: '\\' }}", "4 C:\\x\\"),  # no escapes in Liquid strings
        ("{{ 'Take my protein pills' | replace: 'my', 'your' }}", "Take your protein pills"),
        ("{{ 'I strained to see the train through the rain' | remove: 'rain' }}", "I sted to see the t through the "),
        ("{{ 'john@liquid.com' | url_encode }}", "john%40liquid.com"),
        ("{{ 'Tetsuro Takara/x' | url_encode }}", "Tetsuro+Takara%2Fx"),
        ("{{ 'Ground control to Major Tom.' | size }}", "28"),
        ("{{ flow.variables.items | size }} {{ flow.variables.items.size }}", "3 3"),
        ("{{ flow.variables.nothing | size }}", "0"),
        (
            "{{ flow.variables.items.first }} {{ flow.variables.items.last }} {{ flow.variables.name.size }}",
            "red blue 3",
        ),
        ("{{ flow.variables.pizza.size }} {{ flow.variables.pizza | size }}", "large 2"),  # an object's own key wins
        ("{{ 'a,b,,c,,' | split: ',' | size }}", "4"),
        ("{{ 'John Paul George Ringo' | split: ' ' | first }}", "John"),
        ("{{ 'John Paul George Ringo' | split: ' ' | last }}", "Ringo"),
        ("{{ flow.variables.items | first }}-{{ flow.variables.items | last }}", "red-blue"),
        ("{{ flow.variables.obj | json }}", '{"a":1,"b":[1,"x"]}'),
        ("{{ flow.variables.name | json }}", '"Ada"'),
        ("{{ 'x' | append: '.jpg' | prepend: 'img/' }}", "img/x.jpg"),
        ("{{ trigger.call.From | slice: -4, 4 }}", "0123"),
        ("{{ 'Liquid' | slice: 0 }} {{ 'Liquid' | slice: 2, 5 }} {{ 'Liquid' | slice: -3, 2 }}", "L quid ui"),
        ("{{ flow.variables.items | slice: 1, 2 | join: '+' }}", "green+blue"),
        # math
        ("{{ 4 | plus: 2 }}", "6"),
        ("{{ '4' | plus: '2' }}", "6"),
        ("{{ '3.5' | plus: 1 }}", "4.5"),
        ("{{ 0.1 | plus: 0.2 }}", "0.3"),
        ("{{ flow.variables.count | plus: 1 }}", "1"),
        ("{{ flow.variables.nothing | plus: 1 }}", "1"),
        ("{{ 16 | minus: 4 }}", "12"),
        ("{{ 183.357 | minus: 12 }}", "171.357"),
        ("{{ 3 | times: 2 }} {{ 3 | times: 1.5 }}", "6 4.5"),
        ("{{ 16 | divided_by: 4 }}", "4"),
        ("{{ 5 | divided_by: 3 }}", "1"),
        ("{{ -7 | divided_by: 2 }}", "-4"),
        ("{{ 20 | divided_by: 7.0 }}", "2.857142857142857"),
        ("{{ '10' | divided_by: '4' }}", "2"),
        ("[{{ 5 | divided_by: 0 }}]", "[]"),
        ("{{ flow.variables.digits | size | times: 2 }}", "8"),
        # default: nil, false and "" take it; 0 does not
        ("{{ flow.variables.missing | default: 'n/a' }}", "n/a"),
        ("{{ flow.variables.nothing | default: 'n/a' }}", "n/a"),
        ("{{ flow.variables.empty | default: 'n/a' }}", "n/a"),
        ("{{ flow.variables.no | default: 'n/a' }}", "n/a"),
        ("{{ flow.variables.no | default: 'n/a', allow_false: true }}", "false"),
        ("{{ flow.variables.zero | default: 'n/a' }}", "0"),
        ("{{ flow.variables.name | default: 'n/a' }}", "Ada"),
        # date: "now" is the turn's clock (2025-03-04 15:30 UTC)
        ("{{ 'now' | date: '%Y-%m-%d %H:%M' }}", "2025-03-04 15:30"),
        ("{{ 'now' | date: '%s' }}", "1741102200"),
        ("{{ 'today' | date: '%a %-d %B' }}", "Tue 4 March"),
        ("{{ 'now' | date: \"%Y-%m-%dT%H:%M:%S %Z\" }}", "2025-03-04T15:30:00 UTC"),
        ("{{ 1700000000 | date: '%Y-%m-%d %H:%M' }}", "2023-11-14 22:13"),
        ("{{ '1700000000' | date: '%Y' }}", "2023"),
        ("{{ 'March 14, 2016' | date: '%b %d, %y' }}", "Mar 14, 16"),
        ("{{ '2024-03-14T09:05:00Z' | date: '%-I:%M %p on %-m/%-d' }}", "9:05 AM on 3/14"),
        ("{{ '2024-03-14T09:05:00+02:00' | date: '%H:%M %:z' }}", "09:05 +02:00"),
        ("{{ 'not a date' | date: '%Y' }}", "not a date"),
        # what Liquid writes for nil, booleans and objects
        ("[{{ widgets.check.parsed.note }}] {{ widgets.check.parsed.isOpen }}", "[] true"),
        ("{{ flow.data }}", '{"campaign":"spring"}'),
        # tags
        ("{% if flow.variables.name == 'Ada' %}hi{% elsif flow.variables.name %}who{% else %}-{% endif %}", "hi"),
        ("{% if flow.variables.zero %}0 is true{% endif %}", "0 is true"),
        ("{% if flow.variables.empty %}'' is true{% endif %}", "'' is true"),
        ("[{% if flow.variables.nothing %}x{% endif %}{% if flow.variables.no %}y{% endif %}]", "[]"),
        ("{% if flow.variables.empty == empty %}empty{% endif %}", "empty"),
        ("{% if flow.variables.name != blank and flow.variables.zero == 0 %}both{% endif %}", "both"),
        ("{% if flow.variables.name contains 'd' %}has d{% endif %}", "has d"),
        ("[{% if false and false or true %}x{% endif %}{% if true or false and false %}y{% endif %}]", "[y]"),
        ("{% if flow.variables.items contains 'green' and flow.variables.digits contains 48 %}both{% endif %}", "both"),
        ("[{% if flow.variables.nothing contains 'x' or widgets.nope.x contains 'y' %}x{% endif %}]", "[]"),
        ("{% unless flow.variables.name == 'Bob' %}not Bob{% endunless %}", "not Bob"),
        ("{% unless flow.variables.empty %}x{% else %}y{% endunless %}", "y"),
        (
            "{% case widgets.check.parsed.closedReason %}\n\n{% when 'manual' %}M{% when 'holiday', 'x' %}H"
            "{% else %}E{% endcase %}!",
            "H!",
        ),
        ("{% case 'z' %} {% when 'a' %}A{% else %}E{% endcase %}", "E"),
        ("{% assign n = flow.variables.name | upcase %}{{ n }}", "ADA"),
        ("{% capture greeting %}Hello {{ flow.variables.name }}{% endcapture %}{{ greeting | size }}", "9"),
        (
            "{% assign found = false %}{% for c in flow.variables.items %}{% if c == 'green' %}"
            "{% assign found = true %}{% capture at %}#{{ forloop.index }}{% endcapture %}{% endif %}{% endfor %}"
            "{{ found }} {{ at }}",
            "true #2",
        ),
        ("{% for c in flow.variables.items %}{{ c | first }}{% endfor %}", "rgb"),
        ("a  {%- if true -%}  b  {%- endif -%}  c", "abc"),
        (
            "{% for c in flow.variables.items %}{% if forloop.index == 2 %}{% break %}{% endif %}{{ c }}{% endfor %}",
            "red",
        ),
        (
            "{% for c in flow.variables.items %}{% if forloop.first %}{% continue %}{% endif %}{{ c }}{% endfor %}",
            "greenblue",
        ),
        (
            "{{ flow.variables.items | join }}|{{ flow.variables.items | join: ', ' }}",
            "red green blue|red, green, blue",
        ),
        ("{{ 3.7 | round }} {{ 3.14159 | round: 2 }} {{ 3.2 | ceil }} {{ 3.8 | floor }}", "4 3.14 4 3"),
        ("{{- ' x ' -}}", " x "),
        # 34's loop counter, as exported
        (COUNTER.replace("counter", "count"), "1"),
    ],
)
def test_liquid_renders_as_liquid(source: str, expected: str) -> None:
    assert liquid(source) == expected


def test_loop_counter_starts_at_zero_when_unset() -> None:
    assert liquid(COUNTER) == "0"
    assert liquid(COUNTER, counter="4") == "5"


@pytest.mark.parametrize(
    "source",
    [
        "{{ 2 | times: 10 | times: 10 | times: 99999999999999 }}",
        "{{ 'x' | append: 'y' | split: '' | size }}",
    ],
)
def test_liquid_filters_stay_in_the_sandbox(source: str) -> None:
    assert liquid(source) in ("19999999999999800", "2")
    huge = "{% assign n = 99999999999999999999 %}" + "{% assign n = n | times: n %}" * 12 + "{{ n }}"
    assert liquid(huge) == ""  # past the digit bound the render is refused, not a huge number


@pytest.mark.parametrize(
    "source",
    [
        "{{ x | upcase }}",
        "{{ x | plus: 1 | divided_by: 2 }}",
        "{{ x | default: 'n/a' }}",
        "{{ 'now' | date: '%Y' }}",
        "{% if a %}x{% elsif b == 'c' %}y{% else %}z{% endif %}",
        "{% unless a %}x{% endunless %}",
        "{% if a contains 'x' and b contains c %}y{% endif %}",
        "{% if a == 1 and b or c contains 'x' and d %}y{% elsif e or f and g %}z{% endif %}",
        "{% for c in list %}{{ forloop.index }}{{ c | round }}{% endfor %}",
        "{{ a.size }} {{ b.c.first }} {{ d.last }}",
        r"{{ x | replace: '\n', ' ' }}",
        "{% assign n = 0 %}{% for c in list %}{% assign n = n | plus: c %}{% endfor %}{{ n }}",
        "{% assign n = x | downcase %}{% capture c %}hi{% endcapture %}",
        "{%- if flow.variables.count -%}\n  {{flow.variables.count | plus: 1}}\n{%- else -%}\n  0\n{%- endif -%}",
    ],
)
def test_translation_goes_back_to_the_same_liquid(source: str) -> None:
    assert jinja_to_liquid(translate(source).text).replace(" ", "") == source.replace(" ", "")


# ---------------------------------------------------------------- the real exports


def templates(value: Any) -> list[str]:
    """Every template string in a widget's properties or transitions."""
    if isinstance(value, str):
        return [value] if "{{" in value or "{%" in value else []
    if isinstance(value, dict):
        return [t for v in value.values() for t in templates(v)]
    if isinstance(value, list):
        return [t for v in value for t in templates(v)]
    return []


@pytest.mark.parametrize("path", EXPORTS, ids=lambda p: p.name)
def test_every_template_of_the_real_exports_translates(path: Path) -> None:
    data = json.loads(path.read_text())
    states = data.get("definition", data)["states"]
    found = [t for s in states for t in templates([s.get("properties"), s.get("transitions")])]
    for source in found:
        done = translate(source)
        assert done.errors == (), (source, done.errors)
    definition, report = import_studio(data)
    assert not any("cannot translate" in r["detail"] for r in report)
    assert not [i for i in validate(definition) if i.code == "invalid_template"]


def test_a_template_that_cannot_be_translated_is_an_error_naming_widget_property_and_construct() -> None:
    data = {
        "initial_state": "Trigger",
        "states": [
            {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingCall", "next": "greet"}]},
            {
                "name": "greet",
                "type": "say-play",
                "properties": {"say": "Hello {{ trigger.call.From | md5 }}"},
                "transitions": [{"event": "audioComplete", "next": "bye"}],
            },
            {
                "name": "bye",
                "type": "say-play",
                "properties": {"say": "{% cycle 'a', 'b' %} bye"},
                "transitions": [{"event": "audioComplete"}],
            },
        ],
    }
    definition, report = import_studio(data)
    rows = {r["widget"]: r for r in report}
    assert rows["greet"]["status"] == "partial"
    assert "cannot translate Liquid filter 'md5' in say: fix the template" in rows["greet"]["detail"]
    assert "cannot translate Liquid tag 'cycle' in say: fix the template" in rows["bye"]["detail"]
    props = {n["id"]: n["props"] for n in definition["nodes"]}
    assert "md5" in json.dumps(props["greet"]) and "cycle" in json.dumps(props["bye"])  # kept, never dropped
    errors = sorted((i.node_id, i.field, i.message) for i in validate(definition) if i.severity == "error")
    assert [(node, field) for node, field, _ in errors] == [("bye", "say"), ("greet", "prompt.say")]
    assert "cycle" in errors[0][2] and "md5" in errors[1][2]


# ---------------------------------------------------------------- Studio's names in a running flow

NAMES = (
    "call {{trigger.call.From}}>{{trigger.call.To}}; flow {{flow.channel.address}}; contact "
    "{{contact.channel.address}}; sid {{flow.sid}}; data {{flow.data.campaign}}; var {{flow.variables.who}}; "
    "digits {{widgets.ask.Digits}}"
)


def test_studio_names_resolve_in_a_running_flow() -> None:
    data = {
        "initial_state": "Trigger",
        "states": [
            {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingCall", "next": "set"}]},
            {
                "name": "set",
                "type": "set-variables",
                "properties": {"variables": [{"key": "who", "value": "{{trigger.call.From | remove: '+1415555'}}"}]},
                "transitions": [{"event": "next", "next": "ask"}],
            },
            {
                "name": "ask",
                "type": "gather-input-on-call",
                "properties": {"say": "Your code?", "number_of_digits": 4},
                "transitions": [{"event": "keypress", "next": "tell"}, {"event": "timeout"}],
            },
            {
                "name": "tell",
                "type": "say-play",
                "properties": {"say": NAMES},
                "transitions": [{"event": "audioComplete"}],
            },
        ],
    }
    definition, report = import_studio(data)
    assert [r["status"] for r in report] == ["mapped"] * 4
    call = Call(definition)
    call.ctx = make_ctx(call.services)
    call.ctx = type(call.ctx)(**{**call.ctx.__dict__, "flow_data": {"campaign": "spring"}})
    call.start()
    result = call.send("input", Digits="4821")
    assert (
        "call +14155550123&gt;+14155550999; flow +14155550999; contact +14155550123; "
        f"sid {CALL['CallSid']}; data spring; var 0123; digits 4821" in result.twiml
    )


def test_names_of_a_call_the_flow_placed() -> None:
    call = {**CALL, "Direction": "outbound-api", "From": "+14155550999", "To": "+14155550123"}
    context = build_context(call, {}, {}, {"appointment": "9am"})
    source = (
        "{{flow.channel.address}} {{contact.channel.address}} {{trigger.request.to}} "
        "{{trigger.request.from}} {{trigger.request.parameters.appointment}}"
    )
    assert render(source, context) == "+14155550999 +14155550123 +14155550123 +14155550999 9am"


# ---------------------------------------------------------------- incomingParent subflows

CHILD = {
    "description": "Business hours check",
    "initial_state": "Trigger",
    "flags": {"allow_concurrent_calls": True},
    "states": [
        {
            "name": "Trigger",
            "type": "trigger",
            "transitions": [
                {"event": "incomingMessage"},
                {"event": "incomingCall"},
                {"event": "incomingRequest"},
                {"next": "check_locale", "event": "incomingParent"},
            ],
            "properties": {"offset": {"x": 0, "y": 0}},
        },
        {
            "name": "check_locale",
            "type": "split-based-on",
            "transitions": [
                {"next": "closed", "event": "noMatch"},
                {
                    "next": "open",
                    "event": "match",
                    "conditions": [
                        {
                            "friendly_name": "English",
                            "arguments": ["{{trigger.parent.parameters.Locale}}"],
                            "type": "equal_to",
                            "value": "en-US",
                        }
                    ],
                },
            ],
            "properties": {"input": "{{trigger.parent.parameters.Locale}}", "offset": {"x": 0, "y": 200}},
        },
        {
            "name": "open",
            "type": "set-variables",
            "transitions": [{"next": "announce", "event": "next"}],
            "properties": {
                "variables": [
                    {"value": "true", "key": "isOpen"},
                    {"value": "{{trigger.parent.parameters.ChannelType | upcase}}", "key": "channel"},
                ],
                "offset": {"x": -200, "y": 400},
            },
        },
        {
            "name": "closed",
            "type": "set-variables",
            "transitions": [{"next": "announce", "event": "next"}],
            "properties": {"variables": [{"value": "false", "key": "isOpen"}], "offset": {"x": 200, "y": 400}},
        },
        {
            "name": "announce",
            "type": "say-play",
            "transitions": [{"event": "audioComplete"}],
            "properties": {
                "say": "Checked at {{trigger.parent.parameters.Timestamp | date: '%H:%M'}} for "
                "{{trigger.parent.parameters['Locale']}}.",
                "offset": {"x": 0, "y": 600},
            },
        },
    ],
}


def parent_flow() -> dict[str, Any]:
    """A parent in 02's shape: a say, then run-subflow with 02's Business_Hours_Check parameters."""
    shared = json.loads((SHARED / "02-ca-regulatory-subflow-voicemail.json").read_text())
    hours = next(s for s in shared["states"] if s["name"] == "Business_Hours_Check")
    return {
        "description": "Parent",
        "initial_state": "Trigger",
        "states": [
            {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingCall", "next": "hello"}]},
            {
                "name": "hello",
                "type": "say-play",
                "properties": {"say": "Hello"},
                "transitions": [{"event": "audioComplete", "next": hours["name"]}],
            },
            {**hours, "transitions": [{"event": "completed", "next": "result"}, {"event": "failed", "next": "sorry"}]},
            {
                "name": "result",
                "type": "say-play",
                "properties": {
                    "say": "Open: {{widgets.Business_Hours_Check.isOpen}}, {{widgets.Business_Hours_Check.channel}}."
                },
                "transitions": [{"event": "audioComplete"}],
            },
            {
                "name": "sorry",
                "type": "say-play",
                "properties": {"say": "The check failed."},
                "transitions": [{"event": "audioComplete"}],
            },
        ],
    }


def test_an_incoming_parent_flow_imports_as_a_subflow() -> None:
    child, report = import_studio(CHILD)
    assert child["start"] == "check_locale"
    trigger = report[0]
    assert trigger["status"] == "mapped"
    assert "a subflow: run it from a subflow node" in trigger["detail"]
    assert "(Locale, ChannelType, Timestamp)" in trigger["detail"]
    assert child["ui"]["studio"]["subflow"] == {"parameters": ["Locale", "ChannelType", "Timestamp"]}
    assert [i for i in validate(child) if i.severity == "error"] == []


def test_the_parent_runs_the_child_and_comes_back() -> None:
    child, _ = import_studio(CHILD)
    parent, report = import_studio(parent_flow())
    sub = next(n for n in parent["nodes"] if n["type"] == "subflow")
    assert sub["props"]["flow"] == "FWb552acd55e1c802ef3ede4a0a9cf20b5"
    assert "import it and pick it in this node" in next(r for r in report if r["widget"] == sub["name"])["detail"]
    sub["props"]["flow"] = "42"  # the user picks the imported child in the designer
    services = FakeServices(flows={"42": child})
    call = Call(parent, services)
    result = call.start()
    assert outcomes(result) == [
        ("hello", "next"),
        ("Business_Hours_Check", None),
        ("check_locale", "en-US"),
        ("open", "next"),
        ("announce", "next"),
        ("Business_Hours_Check", "completed"),
        ("result", None),
    ]
    assert "Checked at 15:30 for en-US." in result.twiml
    assert "Open: true, INBOUND_CALL." in result.twiml
    assert result.state["stack"] == [] and result.done
    back = result.state["results"]["Business_Hours_Check"]
    assert back["variables"] == {
        "ChannelType": "inbound_call",
        "Locale": "en-US",
        "Timestamp": "2025-03-04T15:30:00 UTC",
        "ChannelSID": CALL["CallSid"],
        "isOpen": "true",
        "channel": "INBOUND_CALL",
    }


# ---------------------------------------------------------------- analysis shared by prompts


def test_prompts_that_differ_only_in_words_share_one_analysis() -> None:
    from flows.templating import analyze, clear_analysis_cache

    clear_analysis_cache()
    first = analyze("Step 1 {% if vars.a is truthy %}yes{% endif %}")
    again = analyze("Another step\n{% if vars.a is truthy %}no{% endif %}")
    assert first.error is None and first.reads == again.reads == frozenset({"a"})
    broken = analyze("line one\nline two {% if vars.a %}never closed")
    assert broken.error is not None and "(line 2)" in broken.error
    for quoted in ("{{ 'a}}' ~ vars.b }} text", """{{ "it's" ~ 'x}}' ~ vars.b }}""", r"{{ 'it\'s}}' ~ vars.b }}"):
        info = analyze(quoted)  # a delimiter inside quotes: parsed as written
        assert info.error is None and info.reads == frozenset({"b"}), quoted


def test_jinja_iterables_still_have_a_first_and_last() -> None:
    context = build_context(CALL, {"n": [1, 2, 3, 4]}, {})
    assert (
        render("{{ vars.n | select('odd') | first }} {{ vars.n | reverse | first }} {{ {'k': 1} | first }}", context)
        == "1 4 k"
    )


def test_the_child_and_parent_round_trip() -> None:
    from flows.studio import export_studio

    for studio in (CHILD, parent_flow()):
        definition, report = import_studio(studio)
        back = export_studio(definition)
        if studio is CHILD:  # (the parent here has no offsets or flags, which the export adds)
            assert back == studio
        again, again_report = import_studio(back)
        assert again["nodes"] == definition["nodes"] and again_report == report


def test_edited_templates_go_back_to_liquid() -> None:
    from flows.studio import export_studio

    child, _ = import_studio(CHILD)
    announce = next(n for n in child["nodes"] if n["id"] == "announce")
    announce["props"]["prompt"]["say"] += (
        " {% unless vars.isOpen %}{{ vars.count | plus(1) | default('none', true) }}{% endunless %}"
    )
    states = {s["name"]: s for s in export_studio(child)["states"]}
    assert states["announce"]["properties"]["say"].endswith(
        " {% unless flow.variables.isOpen %}{{flow.variables.count | plus: 1 | default: 'none'}}{% endunless %}"
    )


def test_the_report_names_the_property_of_an_untranslatable_template() -> None:
    data = {
        "initial_state": "Trigger",
        "states": [
            {"name": "Trigger", "type": "trigger", "transitions": [{"event": "incomingCall", "next": "set"}]},
            {
                "name": "set",
                "type": "set-variables",
                "properties": {"variables": [{"key": "a", "value": "1"}, {"key": "b", "value": "{% increment n %}"}]},
                "transitions": [{"event": "next"}],
            },
        ],
    }
    _, report = import_studio(data)
    assert "cannot translate Liquid tag 'increment' in variables[1].value" in report[1]["detail"]
