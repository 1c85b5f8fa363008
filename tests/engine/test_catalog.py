"""The node type registry and the designer's catalog."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from flows import NODE_TYPES, Field, NodeType, load_definition, node_type_catalog, register, validate
from flows.registry import Route, unregister
from tests.engine.helpers import Call, bye, flow, node

DESIGN_TYPES = {"menu", "collect_input", "record", "pay", "say", "branch", "set_variables", "business_hours",
                "transfer", "enqueue", "http_request", "send_message", "subflow", "voicemail", "ai_agent", "hangup",
                "wait_for_reply", "outbound_call", "run_function", "twiml_redirect"}
BUILTIN_TYPES = {"ring_users", "take_message", "connect_call", "ai_stream"}  # the built-in flows' own
DESIGN_KINDS = {"text", "template", "prompt", "number", "bool", "select", "digits", "regex", "timezone",
                "weekly_hours", "dates", "options", "conditions", "assignments", "key_values", "url", "phone",
                "sender", "users", "flow_ref"}


def test_catalog_describes_every_type() -> None:
    catalog = node_type_catalog()
    json.dumps(catalog)
    assert {t["type"] for t in catalog["types"]} == DESIGN_TYPES | BUILTIN_TYPES == set(NODE_TYPES)
    assert {t["type"] for t in catalog["types"] if not t["palette"]} == BUILTIN_TYPES
    assert set(catalog["field_kinds"]) == DESIGN_KINDS
    assert {o["name"] for o in catalog["branch_operators"]} >= {"equal_to", "regex", "before_time"}
    for entry in catalog["types"]:
        assert entry["label"] and entry["icon"] and entry["category"] in catalog["categories"]
        assert entry["outcomes"] or entry["type"] == "hangup" or entry["type"] in BUILTIN_TYPES and entry["ends_call"]
        for field in entry["fields"]:
            assert set(field) >= {"name", "kind", "label", "required", "default", "choices", "help"}
            assert field["kind"] in DESIGN_KINDS
            if field["kind"] == "select":
                assert field["default"] in field["choices"]
    used_kinds = {f["kind"] for t in catalog["types"] for f in t["fields"]}
    assert used_kinds == DESIGN_KINDS


def test_every_icon_is_in_the_sprite_and_every_summary_names_fields() -> None:
    sprite = (Path(__file__).resolve().parents[2] / "static/vendor/lucide-static-1.62.0/icons.svg").read_text()
    for entry in node_type_catalog()["types"]:
        assert f'id="i-{entry["icon"]}"' in sprite, entry["type"]
        assert entry["summary"], entry["type"]
        assert all(isinstance(name, str) for name in entry["results"])


@pytest.mark.parametrize(
    ("declaration", "message"),
    [
        ({"summary": ("Say {missing}",)}, "unknown fields ['missing']"),
        ({"summary": ({"when": {"nope": 1}, "text": "x"},)}, "unknown fields ['nope']"),
        ({"summary": ({"when": {}},)}, "needs a text"),
        ({"summary": ({"channels": ["fax"], "text": "x"},)}, "channels are a list of"),
        ({"summary": ({"channels": "messaging", "text": "x"},)}, "channels are a list of"),
        ({"summary": ({"if": {}, "text": "x"},)}, "unknown keys ['if']"),
        ({"starter_props": {"nope": 1}}, "starter_props names unknown fields"),
        ({"results": ("a", "a")}, "distinct"),
    ],
)
def test_declarations_are_checked_when_registered(declaration: dict, message: str) -> None:
    kind = type("Bad", (NodeType,), {"type_name": "bad_test", "fields": (Field("text", "text", "Text"),),
                                      **declaration})
    with pytest.raises(ValueError, match=re.escape(message)):
        register(kind)
    assert "bad_test" not in NODE_TYPES


def test_derived_outcomes() -> None:
    catalog = {t["type"]: t for t in node_type_catalog()["types"]}
    assert catalog["menu"]["dynamic_outcomes"] == {"field": "options", "key": "digit"}
    assert catalog["branch"]["dynamic_outcomes"] == {"field": "conditions", "key": "id"}
    loaded = load_definition(flow(
        node("m", "menu", {"options": [{"digit": "2"}, {"digit": "1"}, {"digit": "2"}]}),
        node("b", "branch", {"conditions": [{"id": "vip"}, {"id": "late"}]}),
    ))
    assert NODE_TYPES["menu"].outcomes(loaded.node("m")) == ["2", "1", "fallback"]
    assert NODE_TYPES["branch"].outcomes(loaded.node("b")) == ["vip", "late", "no_match"]
    assert NODE_TYPES["pay"].outcomes(loaded.node("m")) == ["success", "failed"]


@pytest.fixture
def echo_type() -> Iterator[type[NodeType]]:
    @register
    class Echo(NodeType):
        type_name = "echo_test"
        label = "Echo"
        icon = "repeat"
        category = "Voice"
        fields = (Field("text", "template", "Text", required=True),)
        fixed_outcomes = ("next",)

        def run(self, node, rt):  # type: ignore[no-untyped-def]
            rt.response.say(rt.render(self.prop(node, "text")) * 2)
            return Route("next")

    yield Echo
    unregister("echo_test")


def test_a_new_type_is_one_class(echo_type: type[NodeType]) -> None:
    definition = flow(node("e", "echo_test", {"text": "{{ call.to[-1:] }}"}, next="bye"), bye())
    assert validate(definition) == []
    result = Call(definition).start()
    assert "<Say>99</Say>" in result.twiml
    assert "echo_test" in {t["type"] for t in node_type_catalog()["types"]}
    missing = validate(flow(node("e", "echo_test", {}, next="bye"), bye()))
    assert [(i.code, i.field) for i in missing] == [("required", "text")]
    with pytest.raises(ValueError):
        register(echo_type)


def test_field_kinds_are_checked() -> None:
    with pytest.raises(ValueError):
        Field("x", "colour", "X")


def test_a_text_flow_palette_groups_the_nodes_that_text_under_messages() -> None:
    catalog = node_type_catalog()
    by_type = {t["type"]: t for t in catalog["types"]}
    assert catalog["categories"][:2] == ["Messages", "Voice"]
    texting = {t for t, entry in by_type.items() if entry["messaging_category"] == "Messages"}
    assert texting == {"say", "hangup", "send_message"}
    assert (by_type["say"]["category"], by_type["say"]["messaging_label"]) == ("Voice", "Send text")
    assert by_type["record"]["messaging_category"] == "Voice"  # voice only: stays (greyed) under Voice
    assert by_type["menu"]["messaging_category"] == by_type["menu"]["category"] == "Input"
    assert all(t["category"] != "Messages" for t in catalog["types"])  # a call flow's palette has no such group


def test_duration_fields_say_their_range_in_words() -> None:
    from flows.formats import duration_range

    assert duration_range(1, 604800) == "between 1 second and 7 days (604800 s)"
    assert duration_range(1, 60) == "between 1 and 60 seconds"
    assert duration_range(5, 600) == "between 5 seconds and 10 minutes (600 s)"
    assert duration_range(120, 14400) == "between 2 minutes and 4 hours (120 to 14400 s)"
    assert duration_range(2000, 10000, "ms") == "between 2 and 10 seconds (2000 to 10000 ms)"
    assert duration_range(None, 5) == "at most 5 seconds"
    durations = {(t["type"], f["name"]) for t in node_type_catalog()["types"] for f in t["fields"] if f.get("unit")}
    seconds = {(t["type"], f["name"]) for t in node_type_catalog()["types"] for f in t["fields"]
               if f["kind"] == "number" and re.search(r"second|ring for|\(ms\)", f["label"], re.I)}
    assert durations == seconds and ("wait_for_reply", "timeout") in durations
    dial = node("d", "outbound_call", {"to": "+15550001", "silence_timeout": 1})
    issues = validate(flow(node("r", "record", {"max_length": 20000}), dial))
    messages = {i.field: i.message for i in issues if i.code == "out_of_range"}
    assert messages == {"max_length": "Maximum length (seconds) must be between 1 second and 4 hours (14400 s).",
                        "silence_timeout": "Silence timeout (ms) must be between 2 and 10 seconds (2000 to 10000 ms)."}
    with pytest.raises(ValueError, match="unit is for a number field"):
        Field("x", "text", "X", unit="s")
