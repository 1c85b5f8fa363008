"""The interpreter: one webhook in, one TwiML document out ("continue until a wait").

A turn resumes the waiting node with the event (or enters the start node on ``start``),
then follows outcomes node after node until one waits for the caller (Gather, Record,
Pay, Dial, Enqueue, Connect), hangs up, or the flow runs out of nodes (then `<Hangup/>`).
Says of non-waiting nodes accumulate in the same response, before the wait.

Guards: at most ``settings.max_steps_per_turn`` nodes entered per turn and
``settings.max_node_visits`` entries of one node per call (per subflow frame); past
either, and on any exception inside a node, the turn answers the flow's fallback TwiML; in a text
conversation, a text refused by the provider on a node with no ``failed`` outcome ends it ``not_sent``,
and a contact's opt-out keyword (STOP ..., `flows.opt_out`) ends it ``opted_out`` before anything runs.
"""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

from twilio.twiml.voice_response import VoiceResponse

from flows.definition import DefinitionError, FlowDefinition, Node, load_definition
from flows.opt_out import opt_out_keyword
from flows.registry import NODE_TYPES, EnterSubflow, Finish, NodeResult, NodeType, Route, Wait
from flows.runtime import Event, Runtime, Step, TurnContext, TurnResult
from flows.state import CallState, mark_ended, new_state
from flows.twiml import fallback_twiml, render

log = logging.getLogger("phonetree.flows")


class _FallbackError(Exception):
    """Unwind the turn into the flow's fallback."""

    def __init__(self, reason: str, node: Node | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.node = node


def normalize_event(event: Event) -> Event:
    """Give a generic ``continue`` its precise kind from Twilio's fields (Dial, Enqueue)."""
    if event.kind == "continue":
        if event.params.get("DialCallStatus"):
            return Event("dial", event.params)
        if event.params.get("QueueResult"):
            return Event("queue", event.params)
    return event


def copy_state(state: dict[str, Any]) -> dict[str, Any]:
    """A deep, JSON-checked copy of a call state (the caller's dict is never mutated)."""
    return json.loads(json.dumps(state))


class _Turn:
    def __init__(self, root: FlowDefinition, state: dict[str, Any], event: Event, ctx: TurnContext) -> None:
        self.root = root
        self.state = state
        self.event = normalize_event(event)
        self.ctx = ctx
        self.at = ctx.now.isoformat()
        self.steps: list[Step] = []
        self.entered = 0
        self.current: Node | None = None
        self.definitions: dict[str | None, FlowDefinition] = {None: root}
        resuming = event.kind != "start" and state.get("status") != "done"
        self.rt = Runtime(self._definition_for(state.get("flow")) if resuming else root, state, ctx)

    # -- public ------------------------------------------------------------------
    def run(self) -> TurnResult:
        try:
            done = self._turn()
            twiml = render(self.rt.response)
        except _FallbackError as fb:
            twiml, done = self._fallback(fb.reason, fb.node, None), True
        except Exception as exc:  # noqa: BLE001  a node fault must never reach Twilio as a 5xx
            node = self.current
            if exc is self.rt.refusal and self.ctx.channel == "messaging":
                return TurnResult(self.state, self.steps, self._not_sent(node, exc), True)
            log.exception("flow node %s failed", node.id if node else "?")
            twiml, done = self._fallback("node error", node, f"{type(exc).__name__}: {exc}"[:300]), True
        return TurnResult(self.state, self.steps, twiml, done)

    # -- the loop ----------------------------------------------------------------
    def _turn(self) -> bool:
        state, rt = self.state, self.rt
        keyword = opt_out_keyword(self.event.params) if self.ctx.channel == "messaging" else None
        if self.event.kind == "start":
            channel = self.ctx.channel
            if channel == "messaging":
                state["trigger"] = {k: v for k, v in self.event.params.items() if isinstance(v, str)}
            if keyword:
                return self._opted_out(keyword)
            node = self.root.node(self.root.settings.start_for(channel, self.root.start))
            if node is None:
                raise _FallbackError("the flow has no start node" + ("" if channel == "voice" else f" for {channel}"))
            return self._follow(node, self._enter(node), None, {})
        if keyword and self.event.kind == "input" and state.get("status") != "done":
            return self._opted_out(keyword)
        waiting = state.get("waiting")
        if state.get("status") == "done" or not waiting:
            rt.response.hangup()
            self.steps.append(Step("", "", self.event.kind, None, {"ignored": "the call flow has ended"}, self.at))
            return True
        node = rt.definition.node(waiting.get("node"))
        if node is None:
            raise _FallbackError(f"waiting node {waiting.get('node')!r} is gone")
        self.current = node
        node_type = self._type(node)
        state["waiting"] = None
        kind = self.event.kind
        if kind not in node_type.waits_for:
            # a stale or mismatched webhook: prompt the waiting node again
            return self._follow(node, node_type.run(node, rt), kind, {"stale_event": True})
        return self._follow(node, node_type.resume(node, rt, self.event), kind, {})

    def _follow(self, node: Node, result: NodeResult, event_kind: str | None, extra: dict[str, Any]) -> bool:
        state, rt = self.state, self.rt
        while True:
            if isinstance(result, Wait):
                node_type = self._type(node)
                state["waiting"] = {"node": node.id, "expects": list(node_type.waits_for), "turn": rt.turn}
                if result.timeout is not None:
                    until = self.ctx.now + timedelta(seconds=float(result.timeout))
                    state["waiting"]["until"] = until.isoformat()
                state["status"] = "waiting"
                self._step(node, event_kind, None, {**extra, **result.detail, "wait": node_type.waits_for[0]})
                return False
            if isinstance(result, Finish):
                self._step(node, event_kind, result.outcome, {**extra, **result.detail, "hangup": True})
                self._end(result.reason, node)
                return True
            if isinstance(result, EnterSubflow):
                self._step(node, event_kind, None, {**extra, **result.detail, "enter_subflow": result.flow_id})
                self._push(node, result)
                node = rt.definition.node(rt.definition.start)  # type: ignore[assignment]
                event_kind, extra = None, {}
                result = self._enter(node)
                continue
            self._step(node, event_kind, result.outcome, {**extra, **result.detail})
            event_kind, extra = None, {}
            target_id = node.outcomes.get(result.outcome)
            if target_id is None:
                if state["stack"]:
                    node = self._pop()
                    result = Route("completed", {"flow": state["results"][node.id]["flow"]})
                    continue
                rt.response.hangup()
                self._end("completed", node)
                return True
            target = rt.definition.node(target_id)
            if target is None:
                reason = f"outcome {result.outcome!r} of {node.id} points at missing node {target_id!r}"
                raise _FallbackError(reason, node)
            node = target
            result = self._enter(node)

    def _enter(self, node: Node) -> NodeResult:
        self.current = node
        self.entered += 1
        if self.entered > self.root.settings.max_steps_per_turn:
            raise _FallbackError("too many steps in one turn (a loop that never waits?)", node)
        visits = self.state["visits"]
        visits[node.id] = visits.get(node.id, 0) + 1
        if visits[node.id] > self.root.settings.max_node_visits:
            raise _FallbackError(f"node {node.id} visited more than {self.root.settings.max_node_visits} times", node)
        self.state["attempts"].pop(node.id, None)
        return self._type(node).run(node, self.rt)

    # -- helpers -----------------------------------------------------------------
    def _type(self, node: Node) -> NodeType:
        node_type = NODE_TYPES.get(node.type)
        if node_type is None:
            raise _FallbackError(f"unknown node type {node.type!r}", node)
        return node_type

    def _step(self, node: Node, event_kind: str | None, outcome: str | None, detail: dict[str, Any]) -> None:
        if self.state["flow"] is not None:
            detail = {**detail, "flow": self.state["flow"]}
        self.steps.append(Step(node.id, node.type, event_kind, outcome, detail, self.at))

    def _definition_for(self, flow_id: str | None) -> FlowDefinition:
        if flow_id in self.definitions:
            return self.definitions[flow_id]
        try:
            data = self.ctx.services.load_flow(str(flow_id))
        except Exception as exc:  # noqa: BLE001  a service fault on a later turn is the fallback
            raise _FallbackError(f"subflow {flow_id!r} could not be loaded: {type(exc).__name__}") from exc
        if data is None:
            raise _FallbackError(f"subflow {flow_id!r} is no longer available")
        try:
            definition = load_definition(data)
        except DefinitionError as exc:
            raise _FallbackError(f"subflow {flow_id!r} is invalid: {exc}") from exc
        self.definitions[flow_id] = definition
        return definition

    def _push(self, node: Node, enter: EnterSubflow) -> None:
        state = self.state
        state["stack"].append({
            "flow": state["flow"], "node": node.id, "vars": state["vars"], "results": state["results"],
            "attempts": state["attempts"], "visits": state["visits"], "params": dict(enter.variables),
        })
        state.update(flow=enter.flow_id, vars=dict(enter.variables), results={}, attempts={}, visits={})
        self.definitions[enter.flow_id] = enter.definition
        self.rt.definition = enter.definition

    def _pop(self) -> Node:
        state = self.state
        frame = state["stack"].pop()
        child_flow, child_vars = state["flow"], state["vars"]
        state.update(flow=frame["flow"], vars=frame["vars"], results=frame["results"],
                     attempts=frame["attempts"], visits=frame["visits"])
        self.rt.definition = self._definition_for(frame["flow"])
        parent = self.rt.definition.node(frame["node"])
        if parent is None:
            raise _FallbackError(f"subflow return node {frame['node']!r} is gone")
        # the subflow's variables, also as widgets.<id>.<name> (how Studio's run-subflow returns them)
        state["results"][parent.id] = {**child_vars, "status": "completed", "flow": child_flow,
                                       "variables": child_vars}
        self.current = parent
        return parent

    def _end(self, reason: str, node: Node | None, detail: str | None = None) -> None:
        mark_ended(self.state, reason, node.id if node else None, self.rt.turn, detail)

    def _opted_out(self, keyword: str) -> bool:
        """The contact texted an opt-out keyword (`flows.opt_out`): the conversation ends
        ``opted_out`` at the node it waited at (if any), which does not run: Twilio would refuse
        anything it sent."""
        waiting = self.state.get("waiting") or {}
        node = self.rt.definition.node(waiting.get("node")) if waiting.get("node") else None
        self.state["waiting"] = None
        self.steps.append(Step(node.id if node else "", node.type if node else "", self.event.kind, None,
                               {"opted_out": keyword}, self.at))
        self._end("opted_out", node, keyword)
        return True

    def _not_sent(self, node: Node | None, exc: Exception) -> str:
        """A text conversation whose node (one with no `failed` outcome) could not send: it ends
        ``not_sent`` with the provider's code, without the fallback (its apology would be refused too)."""
        code = getattr(exc, "code", None)
        error = str(code) if code not in (None, "") else f"{type(exc).__name__}: {exc}"[:300]
        log.info("flow node %s: its text was refused (%s); the conversation ends", node.id if node else "?", error)
        resumed = self.event.kind if self.event.kind != "start" and not self.steps else None  # the waiting node
        self.steps.append(Step(node.id if node else "", node.type if node else "", resumed, None,
                               {"not_sent": error}, self.at))
        self._end("not_sent", node, error)
        return render(self.rt.response)

    def _fallback(self, reason: str, node: Node | None, error: str | None) -> str:
        detail: dict[str, Any] = {"fallback": reason}
        if error:
            detail["error"] = error
        self.steps.append(Step(node.id if node else "", node.type if node else "", None, None, detail, self.at))
        self._end("fallback", node, reason)
        turn = self.rt.turn

        def url_for(service_id: str, **params: Any) -> str:
            return self.ctx.url_for(service_id, turn=turn, **params)

        return fallback_twiml(self.root.settings, reason, url_for)


def run_turn(
    definition: FlowDefinition | dict[str, Any],
    state: CallState | dict[str, Any] | None,
    event: Event,
    ctx: TurnContext,
) -> TurnResult:
    """Advance one call by one Twilio webhook. Never raises for flow or node problems.

    `state` is the previous turn's `TurnResult.state` (None, or any state with a ``start``
    event, begins a new call). The input state is not mutated.
    """
    return _run(definition, state, event, ctx, handover=False)


def hand_over(definition: FlowDefinition | dict[str, Any], state: CallState | dict[str, Any] | None,
              event: Event, ctx: TurnContext) -> TurnResult:
    """Begin `definition` from its start node on a live call (its state so far is left behind,
    its turns keep counting): an AI handing the call to the built-in transfer flow."""
    return _run(definition, state, Event("start", event.params), ctx, handover=True)


def _run(definition: FlowDefinition | dict[str, Any], state: CallState | dict[str, Any] | None, event: Event,
         ctx: TurnContext, handover: bool) -> TurnResult:
    at = ctx.now.isoformat()
    previous_turn = int((state or {}).get("turn", 0))
    try:
        root = load_definition(definition)
    except DefinitionError as exc:
        fresh = new_state()
        fresh["turn"] = previous_turn + 1
        mark_ended(fresh, "fallback", None, previous_turn + 1, str(exc))
        step = Step("", "", event.kind, None, {"fallback": "invalid definition", "error": str(exc)[:300]}, at)
        return TurnResult(fresh, [step], fallback_twiml(None, "invalid definition"), True)
    current = new_state() if state is None or event.kind == "start" else copy_state(state)
    current["turn"] = (previous_turn if handover else int(current.get("turn", 0))) + 1
    try:
        turn = _Turn(root, current, event, ctx)
    except _FallbackError as fb:  # the running subflow could not be loaded
        mark_ended(current, "fallback", None, current["turn"], fb.reason)
        step = Step("", "", event.kind, None, {"fallback": fb.reason}, at)
        return TurnResult(current, [step], fallback_twiml(root.settings, fb.reason), True)
    return turn.run()


def queue_music_twiml(definition: FlowDefinition | dict[str, Any], state: dict[str, Any] | None,
                      ctx: TurnContext) -> str:
    """The document for an Enqueue's waitUrl (ivr-queue-music): hold message and music.

    Not a turn: the state is not changed. Outside a queue it answers a short pause.
    """
    response = VoiceResponse()
    try:
        root = load_definition(definition)
        current = copy_state(state or new_state())
        waiting = current.get("waiting") or {}
        turn = _Turn(root, current, Event("continue"), ctx)
        rt = turn.rt
        rt.response = response
        node = rt.definition.node(waiting.get("node"))
        node_type = NODE_TYPES.get(node.type) if node else None
        hold = getattr(node_type, "hold", None)
        if node is None or hold is None:
            response.pause(length=10)
        else:
            hold(node, rt)
    except Exception:  # noqa: BLE001  hold music must never fail the caller
        log.exception("queue music failed")
        response = VoiceResponse()
        response.pause(length=10)
    return render(response)
