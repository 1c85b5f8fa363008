"""Validation: errors block publishing, warnings are advice shown in the designer.

Errors: malformed document, no or unknown start node, invalid or duplicate node ids,
unknown node types, outcomes pointing at missing nodes, missing or invalid props, templates
that do not parse, nodes a channel of the flow reaches but that do not work on it
(`flows.channels`). Warnings: unreachable nodes, dead ends that do not hang up, loops that
never wait for the caller, variables read before any node could have set them, outcomes the
node type does not have.

One `networkx.DiGraph` is built (plus the edges between non-waiting nodes, for loops);
reachability, strongly connected components and a bitset work-list data-flow pass keep the
whole check close to linear.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import networkx as nx

from flows.channels import channel_issues, reached
from flows.definition import NODE_ID_RE, DefinitionError, FlowDefinition, Node, gc_paused, load_definition
from flows.field_checks import check_fields
from flows.issues import Issue, error, warning
from flows.opt_out import opt_out_word
from flows.registry import NODE_TYPES, NodeType
from flows.templating import analyze

NODE_NAME_LIMIT = 200


def validate(definition: FlowDefinition | dict[str, Any]) -> list[Issue]:
    """Every issue of a flow, errors first then warnings, each in node order."""
    with gc_paused():
        if not isinstance(definition, FlowDefinition):
            try:
                definition = load_definition(definition)
            except DefinitionError as exc:
                return [error("malformed", exc.message, None, exc.path or None)]
        return _Validator(definition).run()


def has_errors(issues: list[Issue]) -> bool:
    """True when any issue blocks publishing."""
    return any(i.severity == "error" for i in issues)


SESSION_WORDS = {("voice",): "call", ("messaging",): "conversation"}
CONTACT_WORDS = {("voice",): "caller", ("messaging",): "contact"}
# what an unconnected outcome ends, by the session words of its node
DEAD_END_WORDS = {
    "call": "the call hangs up there without a goodbye.",
    "conversation": "the conversation ends there without a last message.",
    "call or conversation": "the call hangs up (or the conversation ends) there without a goodbye.",
}


class _Validator:
    def __init__(self, definition: FlowDefinition) -> None:
        self.d = definition
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.graph: nx.DiGraph = nx.DiGraph()
        self.types: dict[str, NodeType] = {}
        self.sets: dict[str, set[str]] = {}
        self.reads: dict[str, list[tuple[str, str]]] = {}
        # the channels whose sessions reach each node (a node no start reaches: the flow's), for the
        # words of its warnings: a call, a conversation, or either
        self.reach: dict[str, tuple[str, ...]] = {}
        for channel in definition.settings.channels:
            for node_id in reached(definition, channel):
                self.reach[node_id] = (*self.reach.get(node_id, ()), channel)

    def _channels(self, node_id: str | None) -> tuple[str, ...]:
        return self.reach.get(node_id or "") or self.d.settings.channels

    def _session(self, node_id: str | None) -> str:
        """What the node's sessions are called: a call, a conversation, or a call or conversation."""
        return SESSION_WORDS.get(self._channels(node_id), "call or conversation")

    def _contact(self, node_id: str | None) -> str:
        return CONTACT_WORDS.get(self._channels(node_id), "caller or contact")

    def run(self) -> list[Issue]:
        self._nodes()
        self._start()
        self.errors.extend(channel_issues(self.d, self.types))
        reachable = self._reachability()
        self._spin_loops()
        self._read_before_set(reachable)
        order = {n.id: n.index for n in self.d.nodes}

        def key(issue: Issue) -> int:
            return order.get(issue.node_id or "", -1)

        return sorted(self.errors, key=key) + sorted(self.warnings, key=key)

    # -- per node ------------------------------------------------------------------
    def _nodes(self) -> None:
        by_id = self.d.nodes_by_id
        self.graph.add_nodes_from(by_id)
        edges: list[tuple[str, str]] = []
        for node in self.d.nodes:
            if not NODE_ID_RE.match(node.id):
                self.errors.append(error("invalid_id", f"Node id {node.id!r} must start with a letter and use "
                                         "letters, digits, - or _ (64 at most).", node.id, "id"))
            if by_id[node.id] is not node:
                self.errors.append(error("duplicate_id", f"Node id {node.id!r} is used more than once.",
                                         node.id, "id"))
                continue
            if len(node.name) > NODE_NAME_LIMIT:
                self.errors.append(error("name_too_long", f"The name is {len(node.name)} characters; the limit is "
                                         f"{NODE_NAME_LIMIT}. Shorten it.", node.id, "name"))
            node_type = NODE_TYPES.get(node.type)
            if node_type is None:
                self.errors.append(error("unknown_type", f"Unknown node type {node.type!r}.", node.id, "type"))
            else:
                self.types[node.id] = node_type
                self._node(node, node_type)
            for outcome, target in node.outcomes.items():
                if target in by_id:
                    edges.append((node.id, target))
                else:
                    self.errors.append(error("missing_target", f"Outcome {outcome!r} points at node {target!r}, "
                                             "which does not exist.", node.id, f"outcomes.{outcome}"))
        self.graph.add_edges_from(edges)

    def _node(self, node: Node, node_type: NodeType) -> None:
        field_issues = check_fields(node_type, node)
        errors = [i for i in field_issues if i.severity == "error"]
        self.errors.extend(errors)
        self.warnings.extend(i for i in field_issues if i.severity != "error")
        reads: list[tuple[str, str]] = []
        for field, source in node_type.templates(node):
            info = analyze(source)
            if info.error:
                self.errors.append(error("invalid_template", f"Template does not parse: {info.error}.",
                                         node.id, field))
            reads.extend((field, name) for name in info.reads)
        if reads:
            self.reads[node.id] = reads
        if "messaging" in self._channels(node.id):
            self._opt_out_words(node, node_type)
        sets = set(node_type.sets_variables(node))
        if sets:
            self.sets[node.id] = sets
        outcomes = node_type.outcomes(node)
        known = set(outcomes)
        for outcome in node.outcomes:
            if outcome not in known:
                self.warnings.append(warning("unknown_outcome", f"{node_type.label} has no outcome {outcome!r}; "
                                             "it is never taken.", node.id, f"outcomes.{outcome}"))
        if not node_type.ends_call:
            faulty = _faulty_outcomes(node, node_type, errors) if errors else set()
            session = self._session(node.id)
            quiet = set(node_type.quiet_outcomes)
            if session == "conversation":
                quiet.update(node_type.messaging_quiet_outcomes)
            for outcome in outcomes:
                if outcome not in node.outcomes and outcome not in quiet and outcome not in faulty:
                    self.warnings.append(warning("dead_end", f"Outcome {outcome!r} is not connected: "
                                                 f"{DEAD_END_WORDS[session]}", node.id, f"outcomes.{outcome}"))

    def _opt_out_words(self, node: Node, node_type: NodeType) -> None:
        """A reply the node waits for that Twilio takes as an opt-out never reaches the flow."""
        for path, text in node_type.reply_words(node):
            word = opt_out_word(text)
            if word is not None:
                self.warnings.append(warning(
                    "opt_out_keyword",
                    f"{text.strip()!r} is one of Twilio's opt-out words: a contact who replies {word} is "
                    "unsubscribed from this number's texts and the conversation ends (opted out), so that "
                    "reply never gets here. Use another word, or a phrase (Twilio acts on the word alone).",
                    node.id, path))

    # -- graph ---------------------------------------------------------------------
    def _start(self) -> None:
        start = self.d.start
        if not start:
            self.errors.append(error("no_start", "The flow has no start node.", None, "start"))
        elif start not in self.d.nodes_by_id:
            self.errors.append(error("unknown_start", f"Start node {start!r} does not exist.", None, "start"))

    def _reachability(self) -> set[str]:
        start = self.d.start
        if not start or start not in self.graph:
            return set(self.graph)
        reachable = nx.descendants(self.graph, start)
        reachable.add(start)
        other = self.d.settings.messaging_start
        if other and other in self.graph and other not in reachable:  # a messaging session's own start
            reachable |= nx.descendants(self.graph, other) | {other}
        for node in self.d.nodes:
            if node.id not in reachable and self.d.nodes_by_id[node.id] is node:
                self.warnings.append(warning("unreachable", "No path from the start node reaches this node.",
                                             node.id, "id"))
        return reachable

    def _spin_loops(self) -> None:
        """Cycles made only of nodes that never wait: SCCs of the no-wait part of the graph."""
        types = self.types
        calm = {n for n, t in types.items() if not t.may_wait}
        nowait = nx.DiGraph()
        nowait.add_edges_from((u, v) for u, v in self.graph.edges if u in calm and v in calm)
        index = {n.id: n.index for n in self.d.nodes}
        for comp in nx.strongly_connected_components(nowait):
            if len(comp) == 1:
                (only,) = comp
                if not nowait.has_edge(only, only):
                    continue
            ordered = sorted(comp, key=lambda n: index.get(n, 0))
            first = self.d.nodes_by_id[ordered[0]]
            back = next((o for o, t in first.outcomes.items() if t in comp), None)
            names = ", ".join(ordered[:6]) + (" ..." if len(ordered) > 6 else "")
            self.warnings.append(warning("loop_without_wait", f"The loop through {names} never waits for the "
                                         f"{self._contact(first.id)}; the loop guard will end the "
                                         f"{self._session(first.id)} in the fallback.",
                                         first.id, f"outcomes.{back}" if back else None))

    def _read_before_set(self, reachable: set[str]) -> None:
        """Forward "maybe set" data flow with one bit per variable read anywhere."""
        if not self.reads:
            return
        names = sorted({name for reads in self.reads.values() for _, name in reads})
        bit = {name: 1 << i for i, name in enumerate(names)}
        gen: dict[str, int] = {}
        for node_id, sets in self.sets.items():
            mask = 0
            for name in sets:
                mask |= bit.get(name, 0)
            if mask:
                gen[node_id] = mask
        succ = self.graph.succ
        reach_in: dict[str, int] = {}
        work = deque(gen)
        while work:
            node_id = work.popleft()
            out = reach_in.get(node_id, 0) | gen.get(node_id, 0)
            for nxt in succ[node_id]:
                before = reach_in.get(nxt, 0)
                if out & ~before:
                    reach_in[nxt] = before | out
                    work.append(nxt)
        must_out = self._must_set(reachable, gen, (1 << len(names)) - 1)
        for node in self.d.nodes:
            reads = self.reads.get(node.id)
            if not reads or node.id not in reachable:
                continue
            known = reach_in.get(node.id, 0) | gen.get(node.id, 0)
            surely = self._must_in(node.id, must_out) | gen.get(node.id, 0)
            for field, name in reads:
                if not known & bit[name]:
                    self.warnings.append(warning("read_before_set", f"vars.{name} is read before any node sets it.",
                                                 node.id, field))
                elif not surely & bit[name]:
                    self.warnings.append(self._maybe_unset(node, field, name, bit[name], must_out))

    def _must_in(self, node_id: str, must_out: dict[str, int]) -> int:
        """Variables every path from the start sets before reaching the node (a bit each)."""
        if node_id == self.d.start:
            return 0
        outs = [must_out[p] for p in self.graph.pred[node_id] if p in must_out]
        known = outs[0] if outs else 0
        for out in outs:
            known &= out
        return known

    def _must_set(self, reachable: set[str], gen: dict[str, int], everything: int) -> dict[str, int]:
        """Forward "surely set" data flow: what every path from the start has set on leaving each node.

        Starts optimistic (everything set) and only shrinks; nodes are visited in reverse postorder
        from the start, so a flow without loops settles in one pass.
        """
        start = self.d.start
        order = list(reversed(list(nx.dfs_postorder_nodes(self.graph, start)))) if start in self.graph else []
        must_out = dict.fromkeys(order, everything)
        preds = {n: [p for p in self.graph.pred[n] if p in must_out] for n in order}
        succ = self.graph.succ
        work = deque(order)
        queued = set(order)
        while work:
            node_id = work.popleft()
            queued.discard(node_id)
            known = 0
            if node_id != start and preds[node_id]:
                known = everything
                for pred in preds[node_id]:
                    known &= must_out[pred]
            out = known | gen.get(node_id, 0)
            if out != must_out[node_id]:
                must_out[node_id] = out
                for nxt in succ[node_id]:
                    if nxt not in queued:
                        work.append(nxt)
                        queued.add(nxt)
        return must_out

    def _maybe_unset(self, node: Node, field: str, name: str, mask: int, must_out: dict[str, int]) -> Issue:
        """The warning for a variable some path reaches `node` without setting, naming a node on that path."""
        by_id = self.d.nodes_by_id
        via = next((p for p in self.graph.pred[node.id] if p in must_out and not must_out[p] & mask), None)
        if via is None or node.id == self.d.start:
            where = f"when the {self._session(node.id)} starts here"
        else:
            where = f"on the path through '{by_id[via].name or via}'"
        return warning("maybe_unset", f"vars.{name} may be empty here: no node sets it {where}.", node.id, field)


def _faulty_outcomes(node: Node, node_type: NodeType, errors: list[Issue]) -> set[str]:
    """Outcomes made by a list item that already has an error (a menu option's bad key): reported once, there."""
    dynamic = node_type.dynamic_outcomes
    items = node.props.get(dynamic["field"]) if dynamic else None
    if not isinstance(items, list):
        return set()
    flagged = {i.field.split(".")[0] for i in errors if i.field}
    return {
        str(item.get(dynamic["key"]))
        for index, item in enumerate(items)
        if isinstance(item, dict) and f"{dynamic['field']}[{index}]" in flagged
    }
