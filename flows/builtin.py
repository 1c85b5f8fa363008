"""The built-in flows: what a call runs when no flow of the org's owns it.

A number in voice mode, a softphone's outgoing call, a call to a softphone and the AI calls
(``ai-voice``, ``ivr-ai-outbound``, ``ivr-ai-transfer``) each run one of these definitions in the
engine like any flow, and leave the same step timeline. They are code, not data: each has a
`version`, bumped whenever its definition changes, and a call records ``key@version``
(`BuiltinFlow.ref`, `CallSession.builtin_flow`) as an IVR call records its revision. The designer
shows them read-only and copies them into an editable flow.

Per-call inputs come in as ``flow.data`` (`TurnContext.flow_data`): ``target`` and
``caller_id`` (softphones, transfers), ``gateway_url`` and ``stream_parameters`` (AI streams),
``voicemail_greeting`` (the org's).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from typing import Any

from flows.definition import SPEC_VERSION, FlowDefinition, load_definition


def _node(node_id: str, node_type: str, name: str, props: dict[str, Any], x: int, **outcomes: str) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "name": name, "props": props, "outcomes": outcomes, "x": x}


@dataclass(frozen=True)
class BuiltinFlow:
    """One built-in flow: its key, version, name, what it is for, and its nodes."""

    key: str
    version: int
    name: str
    description: str
    nodes: tuple[dict[str, Any], ...]

    @property
    def ref(self) -> str:
        """``key@version``, as recorded on a call."""
        return f"{self.key}@{self.version}"

    def definition(self) -> dict[str, Any]:
        """The flow as a phonetree/1 definition (a fresh copy, with a canvas layout)."""
        nodes = [{k: copy.deepcopy(v) for k, v in n.items() if k != "x"} for n in self.nodes]
        return {
            "spec": SPEC_VERSION,
            "start": nodes[0]["id"],
            "settings": {},
            "nodes": nodes,
            "ui": {"nodes": {n["id"]: {"x": n["x"], "y": 80} for n in self.nodes}},
        }


_TARGET, _CALLER = "{{ flow.data.target }}", "{{ flow.data.caller_id }}"
BUILTIN_FLOWS: dict[str, BuiltinFlow] = {
    flow.key: flow
    for flow in (
        BuiltinFlow(
            "voice-number", 1, "Voice-mode number",
            "A call to a number in voice mode: ring its users' softphones, then take a message.",
            (
                _node("softphones", "ring_users", "Ring the number's users", {"timeout": 25}, 40,
                      no_answer="voicemail", busy="voicemail", failed="voicemail", canceled="voicemail"),
                _node("voicemail", "take_message", "Voicemail", {}, 360),
            ),
        ),
        BuiltinFlow(
            "softphone-outbound", 1, "Softphone call out",
            "A softphone calls a number (or another softphone) with the org's caller ID.",
            (
                _node("dial", "connect_call", "Dial", {
                    "to": _TARGET, "caller_id": _CALLER, "needs_caller_id": True, "timeout": 30,
                    "answer_on_bridge": True, "on_invalid": "apologise",
                }, 40),
            ),
        ),
        BuiltinFlow(
            "softphone-inbound", 1, "Call to a softphone",
            "A call to client:identity rings that softphone.",
            (
                _node("dial", "connect_call", "Ring the softphone",
                      {"to": _TARGET, "timeout": 25, "on_invalid": "end"}, 40),
            ),
        ),
        BuiltinFlow(
            "ai-call", 1, "AI call",
            "ai-voice and ivr-ai-outbound: stream the call to the voice AI gateway.",
            (_node("ai", "ai_stream", "AI gateway", {"gateway_url": "{{ flow.data.gateway_url }}"}, 40),),
        ),
        BuiltinFlow(
            "ai-transfer", 1, "AI transfer",
            "ivr-ai-transfer: the AI hands the live call to a number, a softphone or a queue.",
            (
                _node("transfer", "connect_call", "Transfer", {
                    "to": _TARGET, "caller_id": _CALLER, "queues": True, "timeout": 30, "on_invalid": "fallback",
                }, 40),
            ),
        ),
    )
}

_LOADED: dict[tuple[str, str], FlowDefinition] = {}


def builtin_flow(ref: str) -> BuiltinFlow | None:
    """The built-in flow of a ``key@version`` (or bare key) reference, or None.

    A call recorded under an older version runs the current one: built-in flows keep their
    node ids across versions, so a call waiting at a node finds it again.
    """
    return BUILTIN_FLOWS.get(ref.split("@", 1)[0]) if ref else None


def builtin_definition(ref: str, settings: dict[str, Any] | None = None) -> FlowDefinition | None:
    """The loaded definition of a built-in flow with `settings` (the org's fallback, voice...);
    None for an unknown reference. Loaded once per flow and settings (definitions are code)."""
    flow = builtin_flow(ref)
    if flow is None:
        return None
    key = (flow.ref, json.dumps(settings or {}, sort_keys=True))
    loaded = _LOADED.get(key)
    if loaded is None:
        if len(_LOADED) >= 256:
            _LOADED.clear()
        data = flow.definition()
        data["settings"] = dict(settings or {})
        loaded = _LOADED[key] = load_definition(data)
    return loaded
