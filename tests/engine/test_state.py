"""The call state is the engine's: one module makes, reads and ends it (flows/state.py)."""

from __future__ import annotations

import ast
from pathlib import Path

from flows import END_REASONS, Event, FakeServices, end_session, ended_state, run_turn
from flows.builtin import builtin_definition
from flows.state import end_of, expects, is_done, new_state, waiting_node
from tests.engine.helpers import flow, make_ctx, node

ROOT = Path(__file__).resolve().parents[2]


def _waiting_call() -> dict:
    menu = node("main", "menu", {"prompt": "Press 1", "options": [{"digit": "1"}]}, **{"1": "bye"})
    definition = flow(menu, node("bye", "hangup", {"say": "Bye"}))
    return run_turn(definition, None, Event("start"), make_ctx()).state


def test_ending_a_waiting_call_is_an_engine_operation_with_a_reason():
    state = _waiting_call()
    assert waiting_node(state) == "main" and expects(state) == ["input", "timeout"] and not is_done(state)
    ended = end_session(state, "caller_hangup", detail={"status": "completed"})
    assert is_done(ended) and waiting_node(ended) is None
    assert end_of(ended) == {"reason": "caller_hangup", "node": "main", "turn": 1, "detail": {"status": "completed"}}
    assert waiting_node(state) == "main" and not is_done(state)  # the given state is not changed
    assert "caller_hangup" in END_REASONS and "fallback" in END_REASONS


def test_states_made_outside_a_flow_turn():
    assert end_of(ended_state(1, "no_flow")) == {"reason": "no_flow", "node": None, "turn": 1, "detail": None}
    assert ended_state(1, "no_flow")["turn"] == 1 and new_state()["status"] == "new"
    # a voice-mode number's call is an ordinary engine state of its built-in flow
    services = FakeServices(online={"alice@x.example": "user:alice@x.example"}, assigned=["alice@x.example"])
    ringing = run_turn(builtin_definition("voice-number"), None, Event("start"), make_ctx(services)).state
    assert waiting_node(ringing) == "softphones" and not is_done(ringing)
    status = {"DialCallStatus": "no-answer"}
    voicemail = run_turn(builtin_definition("voice-number"), ringing, Event("dial", status), make_ctx(services)).state
    done = run_turn(builtin_definition("voice-number"), voicemail, Event("recording", {"RecordingSid": "RE1"}),
                    make_ctx(services)).state
    assert waiting_node(voicemail) == "voicemail" and is_done(done) and end_of(done)["reason"] == "voicemail"


def _writes_state(tree: ast.AST) -> list[int]:
    """Lines that assign into, update or delete from something named ``state``."""
    def named_state(expr: ast.AST) -> bool:
        name = expr.attr if isinstance(expr, ast.Attribute) else getattr(expr, "id", "")
        return name == "state"

    lines = []
    for item in ast.walk(tree):
        targets = item.targets if isinstance(item, ast.Assign | ast.Delete) else (
            [item.target] if isinstance(item, ast.AugAssign | ast.AnnAssign) else [])
        lines += [t.lineno for t in targets if isinstance(t, ast.Subscript) and named_state(t.value)]
        if isinstance(item, ast.Call) and isinstance(item.func, ast.Attribute) and \
                item.func.attr in ("update", "pop", "setdefault", "clear") and named_state(item.func.value):
            lines.append(item.lineno)
    return lines


def test_nothing_outside_flows_edits_a_call_state():
    found = [f"{path.relative_to(ROOT)}:{line}" for package in ("services", "web", "cli", "upstream")
             for path in sorted((ROOT / package).rglob("*.py")) for line in _writes_state(ast.parse(path.read_text()))]
    assert found == []
    assert _writes_state(ast.parse("state['end'] = 1\nsession.state.update(x=1)\n")) == [1, 2]
