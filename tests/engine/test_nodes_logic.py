"""branch (every operator), set_variables and business_hours."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.nodes.logic import OPERATORS, evaluate
from tests.engine.helpers import Call, bye, flow, node, outcomes


def branch_flow(conditions: list[dict], value: str = "{{ vars.x }}") -> dict:
    targets = {c["id"]: "hit" for c in conditions}
    return flow(
        node("b", "branch", {"input": value, "conditions": conditions}, no_match="miss", **targets),
        bye("hit", "Hit"),
        bye("miss", "Miss"),
    )


@pytest.mark.parametrize(
    ("operator", "subject", "value", "expected"),
    [
        ("equal_to", "Yes ", "yes", True),
        ("equal_to", "no", "yes", False),
        ("not_equal_to", "no", "yes", True),
        ("matches_any_of", "2", "1, 2,3", True),
        ("matches_any_of", "4", "1,2,3", False),
        ("does_not_match_any_of", "4", "1,2,3", True),
        ("contains", "I need Billing help", "billing", True),
        ("does_not_contain", "sales", "billing", True),
        ("starts_with", "+1415555", "+1415", True),
        ("does_not_start_with", "+44207", "+1", True),
        ("regex", "order 12345", r"\d{5}", True),
        ("regex", "order 12", r"\d{5}", False),
        ("less_than", "9", "10", True),
        ("less_than", "abc", "10", False),
        ("greater_than", "1,000", "999.5", True),
        ("is_blank", "  ", "", True),
        ("is_not_blank", "x", "", True),
        ("before_time", "08:59", "09:00", True),
        ("after_time", "17:00", "17:00", True),
        ("after_time", "2025-03-04T16:59:00", "17:00", False),
    ],
)
def test_operators(operator: str, subject: str, value: str, expected: bool) -> None:
    assert evaluate(operator, subject, value) is expected


def test_every_operator_is_tested_and_time_uses_now() -> None:
    assert set(OPERATORS) == {
        "equal_to", "not_equal_to", "matches_any_of", "does_not_match_any_of", "contains", "does_not_contain",
        "starts_with", "does_not_start_with", "regex", "less_than", "greater_than", "is_blank", "is_not_blank",
        "before_time", "after_time",
    }
    now = datetime(2025, 1, 1, 10, 15)
    assert evaluate("before_time", "", "10:30", now) and not evaluate("after_time", "", "10:30", now)


def test_branch_first_matching_condition_wins() -> None:
    conditions = [
        {"id": "big", "operator": "greater_than", "value": "100"},
        {"id": "some", "operator": "greater_than", "value": "0"},
    ]
    definition = flow(
        node("set", "set_variables", {"assignments": [{"name": "x", "value": "{{ 500 }}"}]}, next="b"),
        node("b", "branch", {"input": "{{ vars.x }}", "conditions": conditions},
             big="hit", some="miss", no_match="miss"),
        bye("hit", "Hit"), bye("miss", "Miss"),
    )
    result = Call(definition).start()
    assert outcomes(result) == [("set", "next"), ("b", "big"), ("hit", None)]
    assert result.state["results"]["b"] == {"input": "500", "matched": "big"}


def test_branch_no_match_and_template_values() -> None:
    definition = branch_flow([{"id": "caller", "operator": "equal_to", "value": "{{ call.to }}"}],
                             value="{{ call.from }}")
    result = Call(definition).start()
    assert outcomes(result) == [("b", "no_match"), ("miss", None)]
    definition = branch_flow([{"id": "caller", "operator": "starts_with", "value": "{{ call.to[:5] }}"}],
                             value="{{ trigger.call.From }}")
    assert outcomes(Call(definition).start())[0] == ("b", "caller")


def test_branch_time_condition_uses_flow_timezone() -> None:
    definition = branch_flow([{"id": "morning", "operator": "before_time", "value": "12:00"}], value="")
    definition["settings"]["timezone"] = "America/Los_Angeles"  # 15:30 UTC is 07:30 there
    assert outcomes(Call(definition).start())[0] == ("b", "morning")
    definition["settings"]["timezone"] = "Europe/Paris"  # 16:30
    assert outcomes(Call(definition).start())[0] == ("b", "no_match")


def test_set_variables_sets_in_order_and_casts_nothing() -> None:
    definition = flow(
        node("s", "set_variables", {"assignments": [
            {"name": "first", "value": "{{ call.from[-4:] }}"},
            {"name": "second", "value": "{{ vars.first }}-x"},
            {"name": "n", "value": 3},
        ]}, next="h"),
        node("h", "hangup", {"say": "{{ flow.variables.second }}"}),
    )
    result = Call(definition).start()
    assert result.state["vars"] == {"first": "0123", "second": "0123-x", "n": 3}
    assert "0123-x</Say>" in result.twiml
    assert result.steps[0].detail == {"set": ["first", "second", "n"]}


HOURS = {"mon": [["09:00", "12:00"], ["13:00", "17:00"]], "tue": [["09:00", "17:00"]],
         "fri": [["22:00", "02:00"]]}


def hours_flow(**props: object) -> dict:
    base = {"timezone": "America/New_York", "hours": HOURS, "holidays": ["2025-12-25", {"date": "2025-03-11"}]}
    base.update(props)
    return flow(node("bh", "business_hours", base, open="o", closed="c"), bye("o", "Open"), bye("c", "Closed"))


@pytest.mark.parametrize(
    ("utc", "expected"),
    [
        (datetime(2025, 3, 4, 15, 30), "open"),      # Tue 10:30 EST
        (datetime(2025, 3, 4, 23, 30), "closed"),    # Tue 18:30
        (datetime(2025, 3, 3, 17, 30), "closed"),    # Mon 12:30, lunch break
        (datetime(2025, 3, 3, 18, 30), "open"),      # Mon 13:30
        (datetime(2025, 3, 11, 15, 30), "closed"),   # Tue, a holiday
        (datetime(2025, 3, 8, 4, 30), "open"),       # Fri night 23:30 EST
        (datetime(2025, 3, 8, 6, 30), "open"),       # Sat 01:30, Friday's overnight range
        (datetime(2025, 3, 8, 8, 30), "closed"),     # Sat 03:30
        (datetime(2025, 3, 9, 15, 30), "closed"),    # Sunday
    ],
)
def test_business_hours(utc: datetime, expected: str) -> None:
    now = utc.replace(tzinfo=UTC)
    result = Call(hours_flow(), now=now).start()
    assert outcomes(result)[0] == ("bh", expected)
    assert result.state["results"]["bh"]["status"] == expected


def test_business_hours_defaults_to_flow_timezone() -> None:
    definition = hours_flow(timezone="")
    definition["settings"]["timezone"] = "Asia/Tokyo"  # Tue 15:30 UTC = Wed 00:30 Tokyo
    result = Call(definition).start()
    assert outcomes(result)[0] == ("bh", "closed")
    assert result.steps[0].detail["timezone"] == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("value", "variables"),
    [
        (r"(a|aa)+$", {"x": "a" * 200 + "!"}),  # the editor's pattern, the caller's input
        ("{{ vars.p }}", {"x": "a" * 200 + "!", "p": r"(a|aa)+$"}),  # a pattern built from caller data
    ],
)
def test_a_catastrophic_regex_cannot_hang_the_turn(value: str, variables: dict) -> None:
    import time

    definition = branch_flow([{"id": "c1", "operator": "regex", "value": value}])
    definition["nodes"].insert(0, node("set", "set_variables", {
        "assignments": [{"name": k, "value": v} for k, v in variables.items()]}, next="b"))
    definition["start"] = "set"
    call = Call(definition)
    started = time.monotonic()
    result = call.start()
    assert time.monotonic() - started < 2
    assert ("b", "no_match") in outcomes(result) and "Miss" in result.twiml
