"""Auto-layout: layered, top to bottom, no overlaps, loops handled, fast on big flows."""

import random
import time

from flows.layout import NODE_WIDTH, apply_layout, auto_layout
from services.flow_templates import template_definition


def chain_flow(n: int, seed: int = 7, loops: bool = True) -> dict:
    """A random flow of n nodes: forward edges of varied length plus (optionally) some loops back."""
    rnd = random.Random(seed)
    nodes = []
    for i in range(n):
        outcomes = {}
        for k in range(rnd.choice([1, 1, 2, 3])):
            if i + 1 < n:
                outcomes[f"o{k}"] = f"n{min(n - 1, i + 1 + int(rnd.expovariate(0.4)))}"
        if loops and i > 3 and rnd.random() < 0.05:
            outcomes["back"] = f"n{rnd.randrange(i)}"
        nodes.append({"id": f"n{i}", "type": "say", "outcomes": outcomes})
    return {"spec": "phonetree/1", "start": "n0", "nodes": nodes}


def test_every_node_gets_a_position_and_the_start_is_on_top():
    definition = template_definition("main_menu")
    positions = auto_layout(definition)
    assert set(positions) == {n["id"] for n in definition["nodes"]}
    top = min(p["y"] for p in positions.values())
    assert positions["hours"]["y"] == top
    assert [positions[n]["y"] for n in ("hours", "main", "support", "thanks")] == sorted(
        positions[n]["y"] for n in ("hours", "main", "support", "thanks")
    )


def test_forward_edges_point_down_and_cards_in_a_row_do_not_overlap():
    definition = chain_flow(120, loops=False)
    positions = auto_layout(definition)
    for node in definition["nodes"]:
        for target in node["outcomes"].values():
            assert positions[target]["y"] > positions[node["id"]]["y"], (node["id"], target)
    rows: dict[int, list[int]] = {}
    for p in positions.values():
        rows.setdefault(p["y"], []).append(p["x"])
    for xs in rows.values():
        xs.sort()
        assert all(b - a >= NODE_WIDTH for a, b in zip(xs, xs[1:], strict=False))


def test_loops_self_loops_missing_targets_and_unreachable_nodes_are_laid_out():
    definition = {
        "start": "a",
        "nodes": [
            {"id": "a", "type": "menu", "outcomes": {"1": "b", "2": "ghost"}},
            {"id": "b", "type": "say", "outcomes": {"next": "a"}},
            {"id": "c", "type": "say", "outcomes": {"next": "c"}},
            {"id": "b", "type": "say", "outcomes": {}},
            "not a node",
        ],
    }
    positions = auto_layout(definition)
    assert set(positions) == {"a", "b", "c"}
    assert positions["b"]["y"] > positions["a"]["y"]
    assert auto_layout({"nodes": []}) == {}


def test_apply_layout_keeps_notes_and_other_ui():
    definition = template_definition("blank")
    definition["ui"]["notes"] = [{"id": "n1", "x": 1, "y": 2, "text": "hi"}]
    laid = apply_layout(definition)
    assert laid["ui"]["notes"] == definition["ui"]["notes"]
    assert set(laid["ui"]["nodes"]) == {"hello", "bye"}


def test_layout_of_2000_nodes_is_fast():
    definition = chain_flow(2000)
    started = time.perf_counter()
    positions = auto_layout(definition)
    assert len(positions) == 2000
    assert time.perf_counter() - started < 2.0


def test_nodes_the_start_does_not_reach_sit_next_to_what_they_lead_to():
    definition = {
        "start": "a",
        "nodes": [
            {"id": "a", "type": "say", "outcomes": {"next": "b"}},
            {"id": "b", "type": "say", "outcomes": {"next": "c"}},
            {"id": "c", "type": "say", "outcomes": {"next": "d"}},
            {"id": "d", "type": "hangup", "outcomes": {}},
            {"id": "orphan", "type": "say", "outcomes": {"next": "d"}},
            {"id": "island1", "type": "say", "outcomes": {"next": "island2"}},
            {"id": "island2", "type": "hangup", "outcomes": {}},
        ],
    }
    positions = auto_layout(definition)
    ys = sorted({p["y"] for p in positions.values()})
    row = {node: ys.index(p["y"]) for node, p in positions.items()}
    assert [row[n] for n in "abcd"] == [0, 1, 2, 3]
    assert row["orphan"] == 2  # just above d, not on the top row
    assert row["island1"] == 4 and row["island2"] == 5  # unconnected parts go below everything
