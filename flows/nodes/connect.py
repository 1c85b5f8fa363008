"""Nodes that hand the caller to someone or something: transfer, enqueue, ai_agent."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flows.definition import Node
from flows.formats import is_template, to_e164, url_valid
from flows.issues import Issue, error, warning
from flows.prompts import add_prompt
from flows.registry import Field, NodeResult, NodeType, Route, Wait, prompt_summary, register

if TYPE_CHECKING:
    from flows.runtime import Event, Runtime

DIAL_OUTCOMES = {
    "completed": "answered",
    "answered": "answered",
    "no-answer": "no_answer",
    "busy": "busy",
    "failed": "failed",
    "canceled": "failed",
}
QUEUE_OUTCOMES = {
    "bridged": "bridged",
    "bridging-in-process": "bridged",
    "hangup": "hangup",
    "leave": "leave",
    "redirected": "leave",
    "queue-full": "error",
    "error": "error",
    "system-error": "error",
}
DEFAULT_HOLD_MUSIC = "http://com.twilio.sounds.music.s3.amazonaws.com/MARKOVICHAMP-Borghestral.mp3"
DIAL_FIELDS = ("DialCallStatus", "DialCallSid", "DialCallDuration", "DialBridged", "RecordingUrl")
QUEUE_FIELDS = ("QueueResult", "QueueSid", "QueueTime")
ENQUEUE_TARGETS = ("queue", "workflow")
WORKFLOW_SID_RE = re.compile(r"WW[0-9a-fA-F]{32}")
MAX_TASK_NUMBER = 2**31 - 1
_TEMPLATE_PARTS = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def task_attributes_problem(text: str) -> str | None:
    """Why task attributes are not a JSON object (each template expression read as 0), or None."""
    try:
        value = json.loads(_TEMPLATE_PARTS.sub("0", text))
    except ValueError as exc:
        return str(exc).split(":")[0]
    return None if isinstance(value, dict) else "not an object"


@register
class Transfer(NodeType):
    """Dial a phone number, or ring the softphones of assigned users that are online."""

    type_name = "transfer"
    label = "Transfer"
    icon = "phone-forwarded"
    category = "Connect"
    description = "Connect the caller to a number or to users' softphones."
    fields = (
        Field("target", "select", "Connect to", default="number", choices=("number", "users")),
        Field("number", "phone", "Number", default="", help="E.164, may be a template."),
        Field("users", "users", "Users", default=[], help="Their online softphones ring together."),
        Field("caller_id", "phone", "Caller ID", default="", help="A number you own; the caller's when empty."),
        Field("timeout", "number", "Ring for (seconds)", default=30, min=5, max=600, unit="s"),
        Field("time_limit", "number", "Maximum call length (seconds)", default=14400, min=60, max=14400, unit="s"),
        Field("record", "bool", "Record the call", default=False),
        Field("whisper", "prompt", "Say before connecting", default=None),
    )
    fixed_outcomes = ("answered", "no_answer", "busy", "failed")
    quiet_outcomes = ("answered",)
    waits_for = ("dial",)
    results = (*DIAL_FIELDS, "reason")
    summary = (*prompt_summary("whisper"), {"when": {"target": "users"}, "text": "Ring {users}"}, "{number}")

    def validate(self, node: Node) -> Iterable[Issue]:
        """A number or users, depending on the target."""
        target = node.props.get("target", "number")
        if target == "number" and not node.props.get("number"):
            yield error("required", "Number is required.", node.id, "number")
        if target == "users" and not node.props.get("users"):
            yield error("required", "Pick at least one user.", node.id, "users")

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Dial the number or the online softphones and wait (`no_answer` when nobody is online)."""
        attrs: dict[str, Any] = {
            "action": rt.url("ivr-continue"),
            "method": "POST",
            "timeout": int(self.prop(node, "timeout")),
            "time_limit": int(self.prop(node, "time_limit")),
        }
        caller_id = rt.render(self.prop(node, "caller_id")).strip()
        if caller_id:
            attrs["caller_id"] = to_e164(caller_id, rt.settings.region) or caller_id
        if self.prop(node, "record"):
            attrs["record"] = "record-from-answer-dual"
            attrs["recording_status_callback"] = rt.url("recording-status")
            attrs["recording_status_callback_method"] = "POST"
        if self.prop(node, "target") == "users":
            users = [str(u) for u in self.prop(node, "users") or []]
            try:
                clients = list(rt.services.online_clients(users)) if users else []
            except Exception as exc:  # noqa: BLE001  presence unknown: the flow handles `failed`
                rt.set_result(node.id, {"DialCallStatus": "failed", "reason": "presence_unavailable"})
                return Route("failed", {"reason": "presence_unavailable", "error": type(exc).__name__})
            if not clients:
                rt.set_result(node.id, {"DialCallStatus": "no-answer", "reason": "no_user_online"})
                return Route("no_answer", {"reason": "no_user_online", "users": len(users)})
            add_prompt(rt, rt.response, self.prop(node, "whisper"))
            dial = rt.response.dial(**attrs)
            for identity in clients:
                dial.client(identity)
            return Wait({"clients": len(clients)})
        raw = rt.render(self.prop(node, "number")).strip()
        number = to_e164(raw, rt.settings.region) if raw else None
        if number is None:
            rt.set_result(node.id, {"DialCallStatus": "failed", "reason": "invalid_number"})
            return Route("failed", {"reason": "invalid_number"})
        add_prompt(rt, rt.response, self.prop(node, "whisper"))
        rt.response.dial(**attrs).number(number)
        return Wait({"number": number})

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """Route on Twilio's DialCallStatus."""
        return _route_on_status(node, rt, event, DIAL_FIELDS, "DialCallStatus", DIAL_OUTCOMES, "failed")


@register
class Enqueue(NodeType):
    """Put the caller in a named queue, or hand the call to a TaskRouter workflow (Flex)."""

    type_name = "enqueue"
    label = "Queue"
    icon = "users"
    category = "Connect"
    description = ("Hold the caller in a named queue that agents dequeue, or hand the call to a TaskRouter "
                   "workflow (a Flex contact centre) as a task with its attributes.")
    fields = (
        Field("target", "select", "Send to", default="queue", choices=ENQUEUE_TARGETS,
              help="A named queue, or a TaskRouter workflow (Flex)."),
        Field("queue", "template", "Queue name", default=""),
        Field("workflow_sid", "text", "TaskRouter workflow SID", default="", help="WW followed by 32 hex characters."),
        Field("task_attributes", "template", "Task attributes (JSON)", default="",
              help='A JSON object once rendered, e.g. {"type": "inbound", "name": "{{ call.from }}"}.'),
        Field("priority", "number", "Task priority", min=0, max=MAX_TASK_NUMBER),
        Field("task_timeout", "number", "Task timeout (seconds)", min=1, max=MAX_TASK_NUMBER, unit="s"),
        Field("hold_message", "prompt", "Hold message", default=None),
        Field("hold_music_url", "url", "Hold music", default=DEFAULT_HOLD_MUSIC),
        Field("wait_url", "url", "Wait URL (TwiML)", default="",
              help="TwiML played while the caller waits, instead of the hold message and music."),
        Field("wait_url_method", "select", "Wait URL method", default="POST", choices=("POST", "GET")),
        Field("max_queue_size", "number", "Maximum queue size", min=1, max=5000),
    )
    fixed_outcomes = ("bridged", "hangup", "leave", "error")
    quiet_outcomes = ("bridged", "hangup")
    waits_for = ("queue",)
    results = (*QUEUE_FIELDS, "reason")
    summary = ({"when": {"target": "workflow"}, "text": "Flex {workflow_sid}"}, "Queue {queue}")

    def validate(self, node: Node) -> Iterable[Issue]:
        """A queue name, or a workflow SID and task attributes that are JSON."""
        if node.props.get("target", "queue") != "workflow":
            if not node.props.get("queue"):
                yield error("required", "Queue name is required.", node.id, "queue")
            return
        sid = node.props.get("workflow_sid")
        if not sid:
            yield error("required", "TaskRouter workflow SID is required.", node.id, "workflow_sid")
        elif isinstance(sid, str) and not is_template(sid) and not WORKFLOW_SID_RE.fullmatch(sid.strip()):
            yield error("invalid_workflow", f"{sid!r} is not a TaskRouter workflow SID (WW followed by 32 "
                        "hexadecimal characters).", node.id, "workflow_sid")
        attributes = node.props.get("task_attributes")
        if isinstance(attributes, str) and attributes.strip():
            problem = task_attributes_problem(attributes)
            if problem and not is_template(attributes):
                yield error("invalid_task_attributes", f"Task attributes are not a JSON object: {problem}.",
                            node.id, "task_attributes")
            elif problem:
                yield warning("invalid_task_attributes", "Task attributes may not be a JSON object once "
                              f"rendered ({problem}); such a call takes the error outcome.",
                              node.id, "task_attributes")

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Enqueue the caller (a named queue, or a TaskRouter task) with its waitUrl and wait."""
        attrs: dict[str, Any] = {"action": rt.url("ivr-continue"), "method": "POST"}
        wait_url = rt.render(self.prop(node, "wait_url")).strip()
        if wait_url and url_valid(wait_url):
            attrs.update(wait_url=wait_url, wait_url_method=str(self.prop(node, "wait_url_method")).upper())
        else:
            attrs.update(wait_url=rt.url("ivr-queue-music"), wait_url_method="POST")
        if self.prop(node, "target") == "workflow":
            return self._task(node, rt, attrs)
        name = rt.render(self.prop(node, "queue")).strip()[:64]
        if not name:
            rt.set_result(node.id, {"QueueResult": "error", "reason": "no_queue_name"})
            return Route("error", {"reason": "no_queue_name"})
        if self.prop(node, "max_queue_size"):
            attrs["max_queue_size"] = int(self.prop(node, "max_queue_size"))
        rt.response.enqueue(name, **attrs)
        return Wait({"queue": name})

    def _task(self, node: Node, rt: Runtime, attrs: dict[str, Any]) -> NodeResult:
        """<Enqueue workflowSid><Task priority timeout>{attributes}</Task></Enqueue>, or `error`."""
        sid = rt.render(self.prop(node, "workflow_sid")).strip()
        if not WORKFLOW_SID_RE.fullmatch(sid):
            rt.set_result(node.id, {"QueueResult": "error", "reason": "invalid_workflow"})
            return Route("error", {"reason": "invalid_workflow"})
        text = rt.render(self.prop(node, "task_attributes")).strip() or "{}"
        try:
            attributes = json.loads(text)
        except ValueError:
            attributes = None
        if not isinstance(attributes, dict):
            rt.set_result(node.id, {"QueueResult": "error", "reason": "invalid_task_attributes"})
            return Route("error", {"reason": "invalid_task_attributes"})
        task: dict[str, Any] = {}
        for prop, attr in (("priority", "priority"), ("task_timeout", "timeout")):
            if self.prop(node, prop) is not None:
                task[attr] = int(self.prop(node, prop))
        enqueue = rt.response.enqueue(None, workflow_sid=sid, **attrs)
        enqueue.task(json.dumps(attributes, separators=(",", ":")), **task)
        return Wait({"workflow": sid})

    def hold(self, node: Node, rt: Runtime) -> None:
        """The waitUrl document: the hold message then the music (Twilio loops it)."""
        add_prompt(rt, rt.response, self.prop(node, "hold_message"))
        url = rt.render(self.prop(node, "hold_music_url")).strip()
        if url:
            rt.response.play(url)
        else:
            rt.response.pause(length=10)

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """Route on Twilio's QueueResult."""
        return _route_on_status(node, rt, event, QUEUE_FIELDS, "QueueResult", QUEUE_OUTCOMES, "error")


@register
class AiAgent(NodeType):
    """Stream the call to a voice AI gateway over a WebSocket."""

    type_name = "ai_agent"
    label = "AI agent"
    icon = "bot"
    category = "AI"
    description = "Hand the conversation to a voice AI gateway (<Connect><Stream>), then continue."
    fields = (
        Field("gateway_url", "url", "Gateway URL", required=True, help="wss://..."),
        Field("greeting", "prompt", "Say before connecting", default=None),
        Field("parameters", "key_values", "Parameters", default={}, help="Sent to the gateway; templates."),
    )
    fixed_outcomes = ("next",)
    waits_for = ("continue",)
    results = ("CallStatus", "StreamSid")
    summary = prompt_summary("greeting")

    def validate(self, node: Node) -> Iterable[Issue]:
        """The gateway must be a wss:// URL."""
        url = node.props.get("gateway_url")
        if isinstance(url, str) and url and not is_template(url) and not url_valid(url, ("wss", "ws")):
            yield error("invalid_url", "The gateway URL must start with wss://.", node.id, "gateway_url")

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Connect a media stream to the gateway with the parameters and wait."""
        url = rt.render(self.prop(node, "gateway_url")).strip()
        if not url_valid(url, ("wss", "ws")):
            raise ValueError("the AI gateway URL is not a wss:// URL")
        add_prompt(rt, rt.response, self.prop(node, "greeting"))
        connect = rt.response.connect(action=rt.url("ivr-continue"), method="POST")
        stream = connect.stream(url=url)
        params = {"call_sid": rt.call.get("sid", ""), "from": rt.call.get("from", ""),
                  "to": rt.call.get("to", ""), "node": node.id}
        for key, value in (self.prop(node, "parameters") or {}).items():
            params[str(key)] = rt.render(value) if isinstance(value, str) else str(value)
        for key, value in params.items():
            stream.parameter(name=key, value=value)
        return Wait({"gateway": url.split("?")[0]})

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """Continue through `next` when the stream ends."""
        rt.set_result(node.id, {k: str(v) for k, v in event.params.items() if k in ("CallStatus", "StreamSid")})
        return Route("next")


def _route_on_status(
    node: Node, rt: Runtime, event: Event, fields, key: str, outcomes: dict, default: str
) -> NodeResult:
    """Keep Twilio's result fields as the node's result and route on its status field (`key`)."""
    result = {k: str(event.params[k]) for k in fields if event.params.get(k) not in (None, "")}
    status = result.get(key, default)
    rt.set_result(node.id, result)
    return Route(outcomes.get(status, default), {"status": status})
