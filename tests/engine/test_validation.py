"""validate(): every error that blocks publishing and every warning."""

from __future__ import annotations

import pytest

from flows import Issue, has_errors, load_definition, validate
from tests.engine.helpers import bye, flow, node

MENU_PROPS = {"prompt": "Press 1", "options": [{"digit": "1"}]}


def codes(issues: list[Issue], severity: str | None = None) -> set[tuple[str, str | None, str | None]]:
    return {(i.code, i.node_id, i.field) for i in issues if severity is None or i.severity == severity}


def test_a_clean_flow_has_no_issues() -> None:
    definition = flow(
        node("m", "menu", MENU_PROPS, **{"1": "bye", "fallback": "bye"}),
        bye(),
    )
    assert validate(definition) == []
    assert validate(load_definition(definition)) == []


def test_malformed_document_is_one_error_with_its_path() -> None:
    issues = validate({"spec": "phonetree/1", "start": "a", "nodes": [{"id": "a", "type": "say", "outcomes": []}]})
    assert [i.to_dict() for i in issues] == [{
        "severity": "error", "code": "malformed", "message": "outcomes must be an object",
        "node_id": None, "field": "nodes[0].outcomes",
    }]


def test_start_errors() -> None:
    definition = flow(bye())
    definition["start"] = None
    assert ("no_start", None, "start") in codes(validate(definition), "error")
    definition["start"] = "nowhere"
    assert ("unknown_start", None, "start") in codes(validate(definition), "error")


def test_structure_errors() -> None:
    definition = flow(
        node("a", "say", {"prompt": "Hi"}, next="ghost"),
        node("a", "say", {"prompt": "Again"}),
        node("9lives", "hangup"),
        node("w", "teleport", {}),
    )
    found = codes(validate(definition), "error")
    assert ("missing_target", "a", "outcomes.next") in found
    assert ("duplicate_id", "a", "id") in found
    assert ("invalid_id", "9lives", "id") in found
    assert ("unknown_type", "w", "type") in found


@pytest.mark.parametrize(
    ("node_type", "props", "code", "field"),
    [
        ("menu", {"options": [{"digit": "1"}]}, "required", "prompt"),
        ("menu", {"prompt": "x", "options": []}, "required", "options"),
        ("menu", {"prompt": "x", "options": [{"digit": "A"}]}, "invalid_digit", "options[0].digit"),
        ("menu", {"prompt": "x", "options": [{"digit": "12"}]}, "invalid_digit", "options[0].digit"),
        ("menu", {"prompt": "x", "options": [{"digit": "1"}, {"digit": "1"}]}, "duplicate_digit", "options[1].digit"),
        ("menu", {**MENU_PROPS, "timeout": 0}, "out_of_range", "timeout"),
        ("menu", {**MENU_PROPS, "retries": "two"}, "invalid_type", "retries"),
        ("menu", {**MENU_PROPS, "prompt": {"say": 3}}, "invalid_prompt", "prompt"),
        ("collect_input", {"prompt": "x", "variable": "v", "regex": "([a-"}, "invalid_regex", "regex"),
        ("collect_input", {"prompt": "x", "variable": "2bad"}, "invalid_variable", "variable"),
        ("collect_input", {"prompt": "x", "variable": "v", "input": "telepathy"}, "invalid_choice", "input"),
        ("collect_input", {"prompt": "x", "variable": "v", "finish_on_key": "A"}, "invalid_digit", "finish_on_key"),
        ("collect_input", {"prompt": "x", "variable": "v", "min_length": 5, "max_length": 2},
         "invalid_range", "min_length"),
        ("pay", {"charge_amount": "12.345"}, "invalid_amount", "charge_amount"),
        ("pay", {"charge_amount": "ten dollars"}, "invalid_amount", "charge_amount"),
        ("pay", {"currency": "dollars"}, "invalid_currency", "currency"),
        ("pay", {"valid_card_types": "visa monopoly"}, "invalid_card_type", "valid_card_types"),
        ("pay", {"max_attempts": 9}, "out_of_range", "max_attempts"),
        ("business_hours", {"timezone": "Mars/Olympus"}, "invalid_timezone", "timezone"),
        ("business_hours", {"hours": {"mon": [["9am", "5pm"]]}}, "invalid_hours", "hours.mon[0]"),
        ("business_hours", {"hours": {"funday": []}}, "invalid_weekday", "hours.funday"),
        ("business_hours", {"holidays": ["2025-02-30"]}, "invalid_date", "holidays[0]"),
        ("http_request", {"url": "ftp://files.example.com/x"}, "invalid_url", "url"),
        ("http_request", {"url": "not a url"}, "invalid_url", "url"),
        ("http_request", {"url": "https://api.example.com", "timeout": 30}, "out_of_range", "timeout"),
        ("http_request", {"url": "https://api.example.com", "method": "BREW"}, "invalid_choice", "method"),
        ("http_request", {"url": "https://api.example.com", "variables": {"a b": "x"}}, "invalid_variable",
         "variables.a b"),
        ("http_request", {}, "required", "url"),
        ("send_sms", {"body": "hi", "to": "12"}, "invalid_phone", "to"),
        ("send_sms", {}, "required", "body"),
        ("transfer", {}, "required", "number"),
        ("transfer", {"target": "users"}, "required", "users"),
        ("transfer", {"number": "+1415555", "timeout": 1}, "out_of_range", "timeout"),
        ("enqueue", {}, "required", "queue"),
        ("ai_agent", {"gateway_url": "https://ai.example.com"}, "invalid_url", "gateway_url"),
        ("subflow", {}, "required", "flow"),
        ("branch", {"input": "x", "conditions": [{"id": "c", "operator": "sounds_like", "value": "y"}]},
         "invalid_operator", "conditions[0].operator"),
        ("branch", {"input": "x", "conditions": [{"id": "c", "operator": "regex", "value": "(("}]},
         "invalid_regex", "conditions[0].value"),
        ("branch", {"input": "x", "conditions": [{"id": "c", "operator": "equal_to"}]}, "required",
         "conditions[0].value"),
        ("branch", {"input": "x", "conditions": [{"id": "c", "operator": "is_blank"},
                                                 {"id": "c", "operator": "is_blank"}]},
         "duplicate_condition_id", "conditions[1].id"),
        ("branch", {"input": "x", "conditions": [{"id": "c", "operator": "before_time", "value": "9pm"}]},
         "invalid_time", "conditions[0].value"),
        ("set_variables", {"assignments": [{"name": "ok", "value": "1"}, {"name": "no way", "value": "2"}]},
         "invalid_variable", "assignments[1].name"),
        ("say", {"prompt": {"say": "Hello {{ vars.name "}}, "invalid_template", "prompt.say"),
        ("say", {"prompt": {"say": "{{ vars.name | shout }}"}}, "invalid_template", "prompt.say"),
        ("hangup", {"say": "{% if %}"}, "invalid_template", "say"),
    ],
)
def test_prop_errors(node_type: str, props: dict, code: str, field: str) -> None:
    definition = flow(node("n", node_type, props), bye())
    issues = validate(definition)
    assert (code, "n", field) in codes(issues, "error"), [i.to_dict() for i in issues]
    assert has_errors(issues)


def test_warnings_unreachable_dead_end_and_unknown_outcome() -> None:
    definition = flow(
        node("m", "menu", MENU_PROPS, **{"1": "bye", "7": "bye"}),
        bye(),
        node("orphan", "say", {"prompt": "Nobody hears this"}, next="bye"),
        node("vm", "voicemail", {}),
        node("rec", "record", {}, recorded="bye", no_audio="bye"),
    )
    issues = validate(definition)
    assert not has_errors(issues)
    found = codes(issues, "warning")
    assert ("unreachable", "orphan", "id") in found
    assert ("dead_end", "m", "outcomes.fallback") in found
    assert ("unknown_outcome", "m", "outcomes.7") in found
    assert not any(code == "dead_end" and n in ("bye", "vm", "rec") for code, n, _ in found)


@pytest.mark.parametrize(
    ("channels", "dead_end", "loop"),
    [
        (["voice"], "the call hangs up there", "never waits for the caller; the loop guard will end the call"),
        (["messaging"], "the conversation ends there",
         "never waits for the contact; the loop guard will end the conversation"),
        (["voice", "messaging"], "the call hangs up (or the conversation ends) there",
         "never waits for the caller or contact; the loop guard will end the call or conversation"),
    ],
)
def test_warnings_speak_of_the_flows_channels(channels: list[str], dead_end: str, loop: str) -> None:
    definition = flow(
        node("m", "menu", MENU_PROPS, **{"1": "a"}),
        node("a", "say", {"prompt": "Spin"}, next="b"),
        node("b", "set_variables", {"assignments": [{"name": "x", "value": "{{ vars.y }}"}]}, next="a"),
        channels=channels,
    )
    messages = {i.code: i.message for i in validate(definition)}
    assert dead_end in messages["dead_end"] and loop in messages["loop_without_wait"]


def test_a_text_conversation_may_end_after_its_last_text_but_not_after_a_failed_one() -> None:
    def dead_ends(channels: list[str]) -> set[str | None]:
        definition = flow(node("t", "send_message", {"body": "Your code is 1234."}), channels=channels)
        return {i.field for i in validate(definition) if i.code == "dead_end"}

    assert dead_ends(["messaging"]) == {"outcomes.failed"}
    assert dead_ends(["voice"]) == dead_ends(["voice", "messaging"]) == {"outcomes.sent", "outcomes.failed"}
    said = flow(node("t", "say", {"prompt": "See you!"}), channels=["messaging"])  # Send text: texted as well
    assert not [i for i in validate(said) if i.code == "dead_end"]


def test_on_a_calls_and_texts_flow_each_warning_names_the_sessions_that_reach_its_node() -> None:
    definition = flow(
        node("m", "menu", MENU_PROPS, **{"1": "bye"}),
        bye(),
        node("t", "send_message", {"body": "Thanks for your text!"}),
        channels=["voice", "messaging"],
        messaging_start="t",
    )
    messages = {(i.node_id, i.field): i.message for i in validate(definition) if i.code == "dead_end"}
    assert "the call hangs up there" in messages[("m", "outcomes.fallback")]
    assert "the conversation ends there" in messages[("t", "outcomes.failed")]
    assert ("t", "outcomes.sent") not in messages  # only texts reach it: its last text is the goodbye


def test_warning_loop_that_never_waits() -> None:
    definition = flow(
        node("a", "say", {"prompt": "Spin"}, next="b"),
        node("b", "set_variables", {"assignments": [{"name": "x", "value": "1"}]}, next="a"),
    )
    assert ("loop_without_wait", "a", "outcomes.next") in codes(validate(definition), "warning")
    looping_menu = flow(
        node("m", "menu", MENU_PROPS, **{"1": "s", "fallback": "s"}),
        node("s", "say", {"prompt": "Again"}, next="m"),
    )
    assert not any(i.code == "loop_without_wait" for i in validate(looping_menu))
    bypass = flow(  # a wait in the component, but b <-> c spins around it
        node("m", "menu", MENU_PROPS, **{"1": "b", "fallback": "b"}),
        node("b", "branch", {"input": "{{ call.from }}", "conditions": [{"id": "x", "operator": "is_blank"}]},
             x="m", no_match="c"),
        node("c", "say", {"prompt": "c"}, next="b"),
    )
    assert ("loop_without_wait", "b", "outcomes.no_match") in codes(validate(bypass), "warning")
    self_loop = flow(node("s", "say", {"prompt": "x"}, next="s"))
    assert ("loop_without_wait", "s", "outcomes.next") in codes(validate(self_loop), "warning")


def test_warning_variable_read_before_set() -> None:
    definition = flow(
        node("greet", "say", {"prompt": "Hi {{ vars.name }} {{ flow.variables.city }}"}, next="ask"),
        node("ask", "collect_input", {"prompt": "Name?", "variable": "name"}, success="again"),
        node("again", "say", {"prompt": "Hi {{ vars.name }}, {{ vars['city'] }}"}, next="set"),
        node("set", "set_variables", {"assignments": [{"name": "city", "value": "Paris"}]}, next="greet"),
    )
    found = codes(validate(definition), "warning")
    read = {(n, f) for code, n, f in found if code == "read_before_set"}
    # a loop brings `ask` and `set` before greet's second visit: "maybe set" stays quiet
    assert read == set()
    linear = flow(
        node("greet", "say", {"prompt": "Hi {{ vars.name }}"}, next="ask"),
        node("ask", "collect_input", {"prompt": "Name?", "variable": "name"}, success="again"),
        node("again", "hangup", {"say": "Bye {{ vars.name }} from {{ flow.variables.city }}"}),
    )
    read = {(n, f) for code, n, f in codes(validate(linear), "warning") if code == "read_before_set"}
    assert read == {("greet", "prompt.say"), ("again", "say")}
    messages = [i.message for i in validate(linear) if i.code == "read_before_set"]
    assert "vars.city is read before any node sets it." in messages


def test_warning_variable_empty_on_some_path_names_node_and_field() -> None:
    definition = flow(
        node("main", "menu", {"prompt": "1 support, 2 pay", "options": [{"digit": "1"}, {"digit": "2"}]},
             **{"1": "ticket", "2": "pay", "fallback": "pay"}),
        node("ticket", "collect_input", {"prompt": "Ticket?", "variable": "ticket"}, success="thanks"),
        {**node("pay", "set_variables", {"assignments": [{"name": "paid", "value": "yes"}]}, next="thanks"),
         "name": "Take payment"},
        node("thanks", "hangup", {"say": "We will call you about ticket {{ vars.ticket }}."}),
    )
    issues = [i for i in validate(definition) if i.code == "maybe_unset"]
    assert [(i.severity, i.node_id, i.field) for i in issues] == [("warning", "thanks", "say")]
    assert issues[0].message == "vars.ticket may be empty here: no node sets it on the path through 'Take payment'."
    # once every path sets it, the warning goes
    definition["nodes"][2]["props"]["assignments"].append({"name": "ticket", "value": "none"})
    assert not [i for i in validate(definition) if i.code in ("maybe_unset", "read_before_set")]


def test_http_variables_and_record_variable_count_as_set() -> None:
    definition = flow(
        node("h", "http_request", {"url": "https://api.example.com", "variables": {"tier": "customer.tier"}},
             success="r", failed="r"),
        node("r", "record", {"variable": "audio"}, recorded="bye", no_audio="bye"),
        node("bye", "hangup", {"say": "{{ vars.tier }} {{ vars.audio }}"}),
    )
    assert not any(i.code == "read_before_set" for i in validate(definition))


def test_errors_come_before_warnings_and_issues_serialise() -> None:
    definition = flow(node("a", "say", {"prompt": "x"}), node("b", "say", {}, next="zzz"))
    issues = validate(definition)
    severities = [i.severity for i in issues]
    assert severities == sorted(severities)  # "error" < "warning"
    assert all(set(i.to_dict()) == {"severity", "code", "message", "node_id", "field"} for i in issues)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ([{"digit": "1"}], None),
        ([{"digit": "1"}, {"label": "Sales"}], "Option 2 has no key: give it one of 0-9, * or #."),
        ([{"digit": "1"}, {"digit": "12"}], "Option 2's key '12' is not one key (0-9, * or #)."),
    ],
)
def test_one_menu_mistake_is_one_problem(options, message) -> None:
    menu = node("m", "menu", {"prompt": "Press 1", "options": options}, fallback="bye", **{"1": "bye"})
    definition = flow(menu, bye())
    issues = [i for i in validate(definition) if i.node_id == "m"]
    assert [(i.severity, i.message) for i in issues] == ([("error", message)] if message else [])


def test_a_menu_without_options_is_one_error_not_two() -> None:
    definition = flow(node("m", "menu", {"prompt": "Press 1", "options": []}, fallback="bye"), bye())
    assert [i.message for i in validate(definition) if i.node_id == "m"] == ["A menu needs at least one option."]


def test_a_menu_keyword_twilio_takes_as_an_opt_out_is_a_warning_where_texts_reach_it() -> None:
    options = [
        {"digit": "1", "label": "Yes", "keywords": ["yes", "Stop please"]},  # a phrase: Twilio acts on the word alone
        {"digit": "2", "label": "Cancel", "keywords": [" Cancel ", "QUIT", "stóp"]},
        {"digit": "3", "label": "Help", "keywords": ["help", "start"]},  # not opt-out words
    ]

    def opt_outs(channels: list[str], **settings) -> list[tuple[str | None, str]]:
        definition = flow(
            node("m", "menu", {"prompt": "Reply 1, 2 or 3", "options": options}, **dict.fromkeys("123", "bye")),
            bye(),
            channels=channels,
            **settings,
        )
        found = [i for i in validate(definition) if i.code == "opt_out_keyword"]
        assert all(i.severity == "warning" for i in found)  # advice: the flow still publishes
        return [(i.field, i.message) for i in found]

    found = opt_outs(["messaging"])
    assert [field for field, _ in found] == ["options[1].keywords"] * 3
    assert found[0][1].startswith("'Cancel' is one of Twilio's opt-out words: a contact who replies CANCEL is "
                                  "unsubscribed")
    assert "conversation ends (opted out)" in found[0][1] and "Use another word" in found[0][1]
    assert "replies QUIT" in found[1][1] and "replies STOP" in found[2][1]  # any case, any accent
    assert opt_outs(["voice"]) == []  # a spoken "cancel" is just a word
    assert len(opt_outs(["voice", "messaging"])) == 3  # texts reach it too
    texts_elsewhere = opt_outs(["voice", "messaging"], messaging_start="bye")
    assert texts_elsewhere == []  # only calls reach the menu
