"""The outgoing call of a request-triggered flow (Studio's ``make-outgoing-call-v2``).

A flow started by ``POST /api/flows/<id>/executions`` runs on the call that request placed (to the
request's ``to``, from its ``from``). This node, first on the flow's request path, is where that
call's answer comes in: the call options it declares (ring time, answering machine detection) are
the ones the call is placed with (`call_options`), and it routes on how the call went:

- ``answered``, with ``widgets.<id>.AnsweredBy`` (``human``, ``machine_start``, ``machine_end_beep``,
  ``fax``, ``unknown``... when machine detection is on) for a branch;
- ``busy``, ``no_answer``, ``failed`` (also canceled) when the call never connected: the runtime
  then runs the flow from the status callback, so non-voice work (an SMS, an HTTP request) still runs.

With asynchronous detection (``async_amd``) the call is answered at once and the result arrives on a
callback: the node waits with short pauses (``continue``) until it comes, or until
``machine_detection_timeout`` has passed (``AnsweredBy`` is then ``unknown``). On a call the flow did
not place (an inbound call) it takes ``failed``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from flows.definition import Node
from flows.issues import Issue, error
from flows.registry import Field, NodeResult, NodeType, Route, StudioMapping, Wait, register
from flows.studio.export_voice import main_widget
from flows.studio.map_voice import Mapped, as_int, clamp, route

if TYPE_CHECKING:
    from flows.runtime import Event, Runtime
    from flows.studio.exporter import Exporter
    from flows.studio.importer import Importer

TYPE_NAME = "outbound_call"
WIDGET = "make-outgoing-call-v2"
MACHINE_DETECTION = ("off", "Enable", "DetectMessageEnd")
# Twilio's final CallStatus of a call that never connected → the node's outcome
NOT_CONNECTED = {"busy": "busy", "no-answer": "no_answer", "failed": "failed", "canceled": "failed"}
STUDIO_EVENTS = {"answered": ("answered",), "busy": ("busy",), "noAnswer": ("no_answer",), "failed": ("failed",)}
STUDIO_BACK = {"answered": "answered", "busy": "busy", "no_answer": "noAnswer", "failed": "failed"}
POLL_SECONDS = 2
# node prop → (Twilio Calls parameter, Studio property)
THRESHOLDS = (
    ("speech_threshold", "MachineDetectionSpeechThreshold", "machine_detection_speech_threshold"),
    ("speech_end_threshold", "MachineDetectionSpeechEndThreshold", "machine_detection_speech_end_threshold"),
    ("silence_timeout", "MachineDetectionSilenceTimeout", "machine_detection_silence_timeout"),
)
CALL_RESULTS = ("AnsweredBy", "CallStatus", "CallSid", "MachineDetectionDuration")


def machine_detection(value: Any) -> str:
    """Studio's or Twilio's machine detection value folded to one of `MACHINE_DETECTION`."""
    folded = str(value or "").strip().lower().replace("-", "").replace("_", "").replace(" ", "")
    return {"enable": "Enable", "detectmessageend": "DetectMessageEnd"}.get(folded, "off")


def _truthy(value: Any) -> bool:
    return value is True or str(value).strip().lower() in ("true", "1", "yes")


def export_outbound(cx: Exporter, node: Node) -> list[dict[str, Any]]:
    """outbound_call → make-outgoing-call-v2."""
    props = node.props
    detection = machine_detection(props.get("machine_detection"))
    properties: dict[str, Any] = {
        "to": props.get("to") or "{{contact.channel.address}}",
        "from": props.get("from") or "{{flow.channel.address}}",
        "timeout": int(props.get("timeout") or 60),
        "detect_answering_machine": detection != "off",
        "machine_detection": detection if detection != "off" else None,
        "machine_detection_timeout": str(props.get("machine_detection_timeout") or 30) if detection != "off" else None,
        "async_amd": "true" if detection != "off" and props.get("async_amd") else None,
    }
    for prop, _, studio in THRESHOLDS:
        if props.get(prop) is not None and detection != "off":
            properties[studio] = str(props[prop])
    transitions = [cx.transition(event, node.outcomes.get(outcome)) for outcome, event in STUDIO_BACK.items()]
    return [main_widget(cx, node, WIDGET, transitions, properties)]


def import_outbound(cx: Importer, state: dict[str, Any], node_id: str) -> Mapped:
    """make-outgoing-call-v2 → outbound_call (machine detection values folded)."""
    props = state.get("properties") or {}
    notes: list[str] = []
    detect = _truthy(props.get("detect_answering_machine")) or (
        "detect_answering_machine" not in props and machine_detection(props.get("machine_detection")) != "off"
    )
    mapped: dict[str, Any] = {
        "to": str(props.get("to") or ""),  # informative: the execution request's numbers are dialled
        "from": str(props.get("from") or ""),
        "timeout": clamp(as_int(props.get("timeout"), 60), 5, 600, "timeout", notes),
        "machine_detection": machine_detection(props.get("machine_detection") or "Enable") if detect else "off",
        "async_amd": _truthy(props.get("async_amd")),
    }
    if detect:
        mapped["machine_detection_timeout"] = clamp(
            as_int(props.get("machine_detection_timeout"), 30), 3, 59, "machine detection timeout", notes
        )
        for prop, _, studio in THRESHOLDS:
            value = as_int(props.get(studio))
            if value is not None:
                mapped[prop] = value
    if _truthy(props.get("record")):
        notes.append("recording the outgoing call is not supported")
    outcomes, _, more = route(cx, state, STUDIO_EVENTS)
    used = {
        "record",
        "to",
        "from",
        "timeout",
        "detect_answering_machine",
        "machine_detection",
        "machine_detection_timeout",
        "async_amd",
        *(studio for _, _, studio in THRESHOLDS),
    }
    return Mapped(TYPE_NAME, mapped, outcomes, TYPE_NAME, notes + more, used=used)


@register
class OutboundCall(NodeType):
    """The call a request placed: answered (by a human or a machine), busy, no answer or failed."""

    type_name = TYPE_NAME
    label = "Outgoing call"
    icon = "phone-call"
    category = "Connect"
    description = (
        "The call a flow execution places (POST /api/flows/<id>/executions): route on its answer, "
        "with answering machine detection."
    )
    fields = (
        Field("to", "phone", "To", default="", help="Informative: the request's to is dialled."),
        Field("from", "phone", "From", default="", help="Informative: the call comes from the request's from."),
        Field("timeout", "number", "Ring for (seconds)", default=60, min=5, max=600, unit="s"),
        Field(
            "machine_detection",
            "select",
            "Answering machine detection",
            default="off",
            choices=MACHINE_DETECTION,
            help="Enable: as soon as it is known; DetectMessageEnd: after the greeting's beep.",
        ),
        Field("async_amd", "bool", "Detect while the call goes on (async)", default=False),
        Field("machine_detection_timeout", "number", "Detection time limit (seconds)", default=30, min=3, max=59,
              unit="s"),
        Field("speech_threshold", "number", "Speech threshold (ms)", min=1000, max=6000, unit="ms"),
        Field("speech_end_threshold", "number", "Speech end threshold (ms)", min=500, max=5000, unit="ms"),
        Field("silence_timeout", "number", "Silence timeout (ms)", min=2000, max=10000, unit="ms"),
    )
    fixed_outcomes = ("answered", "busy", "no_answer", "failed")
    quiet_outcomes = ("busy", "no_answer", "failed")
    waits_for = ("continue",)
    results = (*CALL_RESULTS, "reason")
    summary = (
        {"when": {"machine_detection": "off"}, "text": "Call {to}"},
        "Call {to}, detect machines ({machine_detection})",
        "Outgoing call",
    )
    starter_props: ClassVar[dict[str, Any]] = {"machine_detection": "Enable"}
    studio = StudioMapping(export=export_outbound, imports={WIDGET: import_outbound})

    def validate(self, node: Node) -> Iterable[Issue]:
        """Machine detection is one of Twilio's values."""
        value = node.props.get("machine_detection")
        if value is not None and value not in MACHINE_DETECTION:
            yield error(
                "invalid_choice",
                f"Machine detection must be one of {', '.join(MACHINE_DETECTION)}.",
                node.id,
                "machine_detection",
            )

    def call_options(self, node: Node) -> dict[str, str]:
        """The Twilio Calls parameters this node asks the call to be placed with (no URLs)."""
        options = {"Timeout": str(int(self.prop(node, "timeout")))}
        detection = self.prop(node, "machine_detection")
        if detection in ("Enable", "DetectMessageEnd"):
            options["MachineDetection"] = detection
            options["MachineDetectionTimeout"] = str(int(self.prop(node, "machine_detection_timeout")))
            for prop, param, _ in THRESHOLDS:
                if node.props.get(prop) is not None:
                    options[param] = str(int(node.props[prop]))
            if self.prop(node, "async_amd"):
                options["AsyncAmd"] = "true"
        return options

    def _answered(self, node: Node, rt: Runtime, fields: dict[str, Any]) -> NodeResult | None:
        call = rt.call
        result = {k: str(fields.get(k) or call.get(k) or "") for k in CALL_RESULTS}
        detecting = self.prop(node, "machine_detection") in ("Enable", "DetectMessageEnd")
        if detecting and not result["AnsweredBy"]:
            return None
        result["CallStatus"] = result["CallStatus"] or "in-progress"
        rt.set_result(node.id, {k: v for k, v in result.items() if v})
        return Route("answered", {"answered_by": result["AnsweredBy"]} if result["AnsweredBy"] else {})

    def _poll(self, rt: Runtime) -> Wait:
        rt.response.pause(length=POLL_SECONDS)
        rt.response.redirect(rt.url("ivr-continue"), method="POST")
        return Wait({"machine_detection": "pending"})

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Route on the placed call's status; wait for an asynchronous machine detection result."""
        call = rt.call
        if not str(call.get("Direction") or "").startswith("outbound"):
            rt.set_result(node.id, {"CallStatus": "failed", "reason": "not_outbound"})
            return Route("failed", {"reason": "not_outbound"})
        status = str(call.get("CallStatus") or "")
        if status in NOT_CONNECTED:
            rt.set_result(node.id, {"CallStatus": status, "CallSid": str(call.get("CallSid") or "")})
            return Route(NOT_CONNECTED[status], {"status": status})
        answered = self._answered(node, rt, {})
        if answered is not None:
            return answered
        rt.set_attempts(node.id, 0)
        return self._poll(rt)

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """The asynchronous detection result (or one more pause until the time limit)."""
        answered = self._answered(node, rt, dict(event.params))
        if answered is not None:
            return answered
        polls = rt.attempts(node.id) + 1
        if polls * POLL_SECONDS >= int(self.prop(node, "machine_detection_timeout")):
            return self._answered(node, rt, {"AnsweredBy": "unknown"}) or Route("answered")
        rt.set_attempts(node.id, polls)
        return self._poll(rt)
