"""load_definition: shape errors with their path, defaults, round trip."""

from __future__ import annotations

import copy

import pytest

from flows import SPEC_VERSION, DefinitionError, FlowDefinition, load_definition
from flows.definition import DEFAULT_SETTINGS
from tests.engine.helpers import bye, flow, node


def nodes_doc(*nodes: object) -> dict:
    return {"spec": SPEC_VERSION, "start": "a", "nodes": list(nodes)}


GOOD = {"id": "a", "type": "say", "props": {}, "outcomes": {}}


@pytest.mark.parametrize(
    ("data", "path", "message"),
    [
        ([], "", "a flow definition must be a JSON object"),
        ({"spec": "phonetree/0", "nodes": []}, "spec", "unsupported spec"),
        ({"spec": SPEC_VERSION, "start": 3, "nodes": []}, "start", "start must be a node id"),
        ({"spec": SPEC_VERSION}, "nodes", "nodes must be a list"),
        (nodes_doc(GOOD, GOOD, GOOD, {**GOOD, "outcomes": {"1": 5}}), "nodes[3].outcomes.1", "target node id"),
        (nodes_doc("a"), "nodes[0]", "a node must be an object"),
        (nodes_doc({**GOOD, "id": ""}), "nodes[0].id", "non-empty string"),
        (nodes_doc(GOOD, {**GOOD, "type": None}), "nodes[1].type", "non-empty string"),
        (nodes_doc({**GOOD, "props": []}), "nodes[0].props", "props must be an object"),
        (nodes_doc({**GOOD, "outcomes": ["b"]}), "nodes[0].outcomes", "outcomes must be an object"),
        (nodes_doc({**GOOD, "name": 1}), "nodes[0].name", "name must be a string"),
        ({**nodes_doc(), "settings": []}, "settings", "settings must be an object"),
        ({**nodes_doc(), "settings": {"max_steps_per_turn": 0}}, "settings.max_steps_per_turn", "between"),
        ({**nodes_doc(), "settings": {"max_node_visits": "9"}}, "settings.max_node_visits", "integer"),
        ({**nodes_doc(), "settings": {"voice": 1}}, "settings.voice", "string"),
        ({**nodes_doc(), "settings": {"fallback": {"action": "explode"}}}, "settings.fallback.action", "one of"),
        ({**nodes_doc(), "settings": {"fallback": {"action": "transfer"}}}, "settings.fallback.number", "number"),
        ({**nodes_doc(), "ui": {"nodes": []}}, "ui.nodes", "positions"),
        ({**nodes_doc(), "ui": {"notes": {}}}, "ui.notes", "list"),
    ],
)
def test_malformed_definitions_name_the_path(data: object, path: str, message: str) -> None:
    with pytest.raises(DefinitionError) as info:
        load_definition(data)
    assert info.value.path == path
    assert message in info.value.message
    assert info.value.to_dict() == {"message": info.value.message, "path": path}
    assert str(info.value).startswith(f"{path}: " if path else message)


def test_defaults_and_lenient_parts() -> None:
    loaded = load_definition({"nodes": [{"id": "a", "type": "say", "outcomes": {"next": "", "x": None}}]})
    assert loaded.spec == SPEC_VERSION and loaded.start is None
    assert loaded.settings.to_dict() == DEFAULT_SETTINGS
    assert loaded.nodes[0].outcomes == {} and loaded.nodes[0].props == {} and loaded.nodes[0].name == "a"
    assert loaded.ui == {}


def test_round_trip_and_isolation() -> None:
    data = flow(node("a", "say", {"prompt": {"say": "Hi"}}, next="bye"), bye(), voice="alice")
    data["ui"]["notes"] = [{"id": "n1", "x": 1, "y": 2, "text": "remember"}]
    loaded = load_definition(data)
    assert isinstance(loaded, FlowDefinition)
    again = load_definition(loaded.to_dict())
    assert again.to_dict() == loaded.to_dict()
    assert loaded.to_dict()["ui"] == data["ui"] and loaded.settings.voice == "alice"
    before = copy.deepcopy(loaded.to_dict())
    data["nodes"][0]["props"]["prompt"]["say"] = "changed"
    data["ui"]["notes"].clear()
    assert loaded.to_dict() == before
    assert load_definition(loaded) is loaded


def test_duplicates_are_kept_for_validation() -> None:
    loaded = load_definition(flow(node("a", "say", {"prompt": "1"}), node("a", "hangup")))
    assert [n.type for n in loaded.nodes] == ["say", "hangup"]
    assert loaded.node("a").type == "say" and loaded.node("zzz") is None and loaded.node(None) is None
