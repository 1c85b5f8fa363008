"""Subflows load published revisions across turns; a turn costs a handful of SQL statements."""

from __future__ import annotations

from sqlalchemy import event

from extensions import db
from sim import Press
from tests.calls.conftest import BASE, definition, node


def test_subflow_runs_the_other_flows_published_revision_across_turns(world):
    billing = world.flow(
        definition(
            node(
                "ask",
                "collect_input",
                {"prompt": {"say": "Enter your invoice number, then hash."}, "variable": "invoice"},
                success="done",
                invalid="done",
                no_input="done",
            ),
            node("done", "say", {"prompt": {"say": "Thanks for invoice {{ vars.invoice }}."}}),
        ),
        name="Billing",
        number=None,
    )
    world.flow(
        definition(
            node("sub", "subflow", {"flow": str(billing.id)}, completed="bye", failed="oops"),
            node("bye", "hangup", {"say": "Back in the main flow. Invoice {{ widgets.sub.variables.invoice }}."}),
            node("oops", "hangup", {"say": "Billing is unavailable."}),
        )
    )
    transcript, session = world.call([Press("777#")])
    assert transcript.heard == [
        "Enter your invoice number, then hash.",
        "Thanks for invoice 777.",
        "Back in the main flow. Invoice 777.",
    ]
    assert world.path(session) == [
        ("sub", "enter", None),
        ("ask", "enter", None),
        ("ask", "input", "success"),
        ("done", "enter", "next"),
        ("sub", "enter", "completed"),
        ("bye", "enter", None),
    ]


def test_a_missing_subflow_takes_the_failed_route(world, monkeypatch):
    # Publishing now refuses a subflow outside the org; a revision published before that check (or whose
    # subflow went away since) must still take the failed route at run time.
    monkeypatch.setattr("services.flow_revisions.subflow_issues", lambda org, definition: [])
    world.flow(
        definition(
            node("sub", "subflow", {"flow": "99999"}, completed="bye", failed="oops"),
            node("bye", "hangup", {"say": "Done."}),
            node("oops", "hangup", {"say": "Billing is unavailable."}),
        )
    )
    transcript, session = world.call([])
    assert transcript.heard == ["Billing is unavailable."]
    assert world.path(session)[0] == ("sub", "enter", "failed")


def test_a_resumed_turn_takes_few_statements(world, app):
    from tests.calls.flows import acme

    world.flow(acme())
    sim = world.caller()
    sim.start(f"{BASE}/ivr-menu?orgid=acme")
    statements: list[str] = []

    def count(conn, cursor, statement, params, context, executemany):
        statements.append(" ".join(statement.split()[:4]))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        sim.act(Press("1"))  # to the transfer: one webhook, answered with a <Dial>
    finally:
        event.remove(engine, "before_cursor_execute", count)
    # org, integration, (SQLite: the write-lock touch), the locked row, then the persist
    # statement(s): one on PostgreSQL, three on SQLite. No per-step or per-node queries.
    limit = 7 if engine.dialect.name == "sqlite" else 4
    assert len(statements) <= limit, "\n".join(statements)
