"""An imported Studio parent runs an imported incomingParent child through signed webhooks, and back."""

from __future__ import annotations

from flows.studio import import_studio
from tests.engine.test_studio_liquid import CHILD, parent_flow


def test_a_studio_parent_runs_its_incoming_parent_child_and_comes_back(world):
    child_definition, report = import_studio(CHILD)
    assert report[0]["status"] == "mapped"
    child = world.flow(child_definition, name="Business hours check", number=None)
    parent_definition, _ = import_studio(parent_flow())
    for node in parent_definition["nodes"]:
        if node["type"] == "subflow":
            node["props"]["flow"] = str(child.id)  # what the user picks in the designer
    world.flow(parent_definition)
    transcript, session = world.call([])
    assert transcript.heard == [
        "Hello",
        "Checked at 15:30 for en-US.",  # the parent's 'now' as the child's trigger.parent.parameters.Timestamp
        "Open: true, INBOUND_CALL.",  # the child's variables as widgets.Business_Hours_Check.<name>
    ]
    assert world.path(session) == [
        ("hello", "enter", "next"),
        ("Business_Hours_Check", "enter", None),
        ("check_locale", "enter", "en-US"),
        ("open", "enter", "next"),
        ("announce", "enter", "next"),
        ("Business_Hours_Check", "enter", "completed"),
        ("result", "enter", None),
    ]
    assert session.end_reason == "hangup"
