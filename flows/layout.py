"""Auto-layout for the designer: a layered (Sugiyama-style) drawing of a flow, top to bottom.

Steps, each linear or near-linear in nodes + edges:

1. cycle breaking: an iterative depth-first search from the start node (then from any node
   not reached) marks back edges; they are ignored for layering, so loops stay drawable;
2. longest-path layering over the remaining DAG (Kahn's topological order);
3. ordering within layers: depth-first discovery order (siblings stay together, in outcome
   order), then a few barycentre sweeps down and up;
4. coordinate assignment: each node is pulled towards the mean x of its neighbours in the
   previous sweep's direction, then overlaps are pushed apart left-to-right and right-to-left.

Pure Python, no Flask: `auto_layout(definition)` returns positions for the `ui.nodes` section.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

NODE_WIDTH = 240
H_GAP = 48
V_GAP = 84
ORIGIN = (40, 40)
PORTS_PER_ROW = 4


@dataclass(frozen=True)
class Graph:
    """Nodes in definition order and outgoing edges in outcome order (targets that exist)."""

    ids: list[str]
    succ: dict[str, list[str]]
    start: str | None
    heights: dict[str, int]


def card_height(outcome_count: int) -> int:
    """Approximate height of a node card in the designer (header, excerpt, rows of ports)."""
    rows = max(1, -(-outcome_count // PORTS_PER_ROW)) if outcome_count else 0
    return 84 + 28 * rows


def build_graph(definition: Mapping[str, Any]) -> Graph:
    """The flow's graph from a definition dict (unknown targets and duplicate ids are skipped)."""
    ids: list[str] = []
    succ: dict[str, list[str]] = {}
    heights: dict[str, int] = {}
    raw_nodes = [n for n in definition.get("nodes") or [] if isinstance(n, dict) and isinstance(n.get("id"), str)]
    for node in raw_nodes:
        if node["id"] not in succ:
            ids.append(node["id"])
            succ[node["id"]] = []
    for node in raw_nodes:
        outcomes = node.get("outcomes") or {}
        targets = succ[node["id"]]
        if isinstance(outcomes, dict):
            for target in outcomes.values():
                if isinstance(target, str) and target in succ and target not in targets:
                    targets.append(target)
        heights.setdefault(node["id"], card_height(max(len(outcomes) if isinstance(outcomes, dict) else 0, 1)))
    start = definition.get("start")
    return Graph(ids, succ, start if start in succ else None, heights)


def _dfs_order(graph: Graph) -> tuple[list[str], set[tuple[str, str]]]:
    """Discovery order and back edges of an iterative DFS from the start node, then the rest."""
    order: list[str] = []
    back: set[tuple[str, str]] = set()
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    roots = ([graph.start] if graph.start else []) + graph.ids
    for root in roots:
        if root in state:
            continue
        state[root] = 1
        order.append(root)
        stack: list[tuple[str, Iterable[str]]] = [(root, iter(graph.succ[root]))]
        while stack:
            node, children = stack[-1]
            for child in children:
                seen = state.get(child)
                if seen is None:
                    state[child] = 1
                    order.append(child)
                    stack.append((child, iter(graph.succ[child])))
                    break
                if seen == 1:
                    back.add((node, child))
            else:
                state[node] = 2
                stack.pop()
    return order, back


def _topological(graph: Graph, order: list[str], dag: dict[str, list[str]]) -> list[str]:
    """Kahn's order of the DAG, ties broken by DFS discovery order (siblings stay together)."""
    indeg: dict[str, int] = dict.fromkeys(graph.ids, 0)
    for src in graph.ids:
        for dst in dag[src]:
            indeg[dst] += 1
    rank = {node: i for i, node in enumerate(order)}
    ready = sorted((n for n in graph.ids if indeg[n] == 0), key=rank.__getitem__, reverse=True)
    topo: list[str] = []
    while ready:
        src = ready.pop()
        topo.append(src)
        for dst in dag[src]:
            indeg[dst] -= 1
            if indeg[dst] == 0:
                ready.append(dst)
    return topo


def _layers(graph: Graph, order: list[str], back: set[tuple[str, str]]) -> dict[str, int]:
    """Layers of the DAG left after removing back edges.

    What the start reaches gets longest-path layers from the start; a node the start does not
    reach sits just above the nearest node it leads to; what is left (parts unconnected to the
    rest) is laid out the same way below everything else.
    """
    dag = {n: [d for d in graph.succ[n] if (n, d) not in back and d != n] for n in graph.ids}
    topo = _topological(graph, order, dag)
    reach: set[str] = set()
    if graph.start:
        stack = [graph.start]
        reach.add(graph.start)
        while stack:
            for dst in dag[stack.pop()]:
                if dst not in reach:
                    reach.add(dst)
                    stack.append(dst)
    layer: dict[str, int] = {}
    for node in topo:
        if node in reach:
            layer[node] = layer.get(node, 0)
            for dst in dag[node]:
                layer[dst] = max(layer.get(dst, 0), layer[node] + 1)
    for node in reversed(topo):
        if node not in reach:
            below = [layer[d] for d in dag[node] if d in layer]
            if below:
                layer[node] = max(0, min(below) - 1)
    base = max(layer.values(), default=-1) + 1
    rest: dict[str, int] = {}
    for node in topo:
        if node not in layer:
            rest[node] = rest.get(node, 0)
            for dst in dag[node]:
                if dst not in layer:
                    rest[dst] = max(rest.get(dst, 0), rest[node] + 1)
    layer.update({node: base + depth for node, depth in rest.items()})
    return layer


def _sweep(rows: list[list[str]], neighbours: dict[str, list[str]], downward: bool) -> None:
    """Reorder each row by the barycentre of its neighbours' relative positions."""
    position: dict[str, float] = {}
    for row in rows:
        for i, node in enumerate(row):
            position[node] = (i + 0.5) / len(row)
    sequence = range(1, len(rows)) if downward else range(len(rows) - 2, -1, -1)
    for index in sequence:
        row = rows[index]
        keys: dict[str, float] = {}
        for node in row:
            near = [position[n] for n in neighbours[node] if n in position]
            keys[node] = sum(near) / len(near) if near else position[node]
        row.sort(key=lambda n: (keys[n], position[n]))
        for i, node in enumerate(row):
            position[node] = (i + 0.5) / len(row)


def _spread(row: list[str], desired: dict[str, float], width: float) -> dict[str, float]:
    """x positions as close to `desired` as the order and minimum spacing allow."""
    step = width + H_GAP
    xs = [desired[n] for n in row]
    for i in range(1, len(xs)):  # push right
        xs[i] = max(xs[i], xs[i - 1] + step)
    for i in range(len(xs) - 2, -1, -1):  # pull back left where there is room
        xs[i] = min(xs[i], xs[i + 1] - step)
    # the two passes keep the spacing; recentre the row on the mean of its wishes
    shift = (sum(desired[n] for n in row) - sum(xs)) / len(xs) if xs else 0.0
    return {n: x + shift for n, x in zip(row, xs, strict=True)}


def auto_layout(definition: Mapping[str, Any], sweeps: int = 4) -> dict[str, dict[str, int]]:
    """Positions `{node_id: {"x", "y"}}` (top-left corners) for every node of the definition."""
    graph = build_graph(definition)
    if not graph.ids:
        return {}
    order, back = _dfs_order(graph)
    layer = _layers(graph, order, back)
    depth = max(layer.values()) + 1
    rows: list[list[str]] = [[] for _ in range(depth)]
    for node in order:
        rows[layer[node]].append(node)

    preds: dict[str, list[str]] = defaultdict(list)
    for src in graph.ids:
        for dst in graph.succ[src]:
            if (src, dst) not in back and src != dst:
                preds[dst].append(src)
    both = {n: preds[n] + [d for d in graph.succ[n] if (n, d) not in back and d != n] for n in graph.ids}
    for i in range(sweeps):
        _sweep(rows, preds if i % 2 == 0 else graph.succ, downward=i % 2 == 0)

    step = NODE_WIDTH + H_GAP
    x: dict[str, float] = {}
    for row in rows:
        for i, node in enumerate(row):
            x[node] = i * step - (len(row) - 1) * step / 2
    for i in range(2):
        downward = i % 2 == 0
        sequence = rows[1:] if downward else rows[-2::-1]
        for row in sequence:
            desired = {}
            for node in row:
                near = [x[n] for n in (preds[node] if downward else both[node])]
                desired[node] = sum(near) / len(near) if near else x[node]
            x.update(_spread(row, desired, NODE_WIDTH))

    left = min(x.values())
    positions: dict[str, dict[str, int]] = {}
    y = ORIGIN[1]
    for row in rows:
        for node in row:
            positions[node] = {"x": round(x[node] - left + ORIGIN[0]), "y": y}
        y += max(graph.heights[n] for n in row) + V_GAP if row else 0
    return positions


def apply_layout(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition with `ui.nodes` replaced by an auto-layout (notes are kept)."""
    ui = dict(definition.get("ui") or {})
    ui["nodes"] = auto_layout(definition)
    return {**definition, "ui": ui}
