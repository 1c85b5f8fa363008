"""Phonetree node → Studio widget builders: logic, connect and integrations, and the table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flows.nodes.connect import DEFAULT_HOLD_MUSIC
from flows.nodes.hours import WEEKDAYS, holiday_dates
from flows.studio.export_messaging import build_send_message, build_wait_for_reply
from flows.studio.export_voice import (
    Widgets,
    build_collect,
    build_hangup,
    build_menu,
    build_pay,
    build_record,
    build_say,
    build_voicemail,
    clean,
    helper_prompt,
    main_widget,
)
from flows.studio.exporter import widget
from flows.studio.tables import OPERATOR_BACK, WIDGET_NODE

if TYPE_CHECKING:
    from flows.definition import Node
    from flows.studio.exporter import Exporter


# ---------------------------------------------------------------- logic


def build_branch(cx: Exporter, node: Node) -> Widgets:
    """branch → split-based-on (a placeholder for an unsupported widget → that widget again)."""
    stash = cx.stash.get(node.id) or {}
    conditions = [c for c in node.props.get("conditions") or [] if isinstance(c, dict) and c.get("id")]
    # a widget type that is not a branch's (not mapped, or not here: a send-to-flex texts reach)
    if stash.get("type") and WIDGET_NODE.get(stash["type"]) != "branch" and stash["type"] != "trigger":
        transitions = [
            cx.transition(str(c.get("value") or c.get("label") or c["id"]), node.outcomes.get(c["id"]))
            for c in conditions
            if c["id"] != "unsupported"
        ]
        return [
            widget(
                cx.name(node.id), stash["type"], transitions, dict(stash.get("properties") or {}), cx.offset(node.id)
            )
        ]
    source = cx.liquid(node.props.get("input", ""))
    transitions = [cx.transition("noMatch", node.outcomes.get("no_match"))]
    for c in conditions:
        operator = str(c.get("operator"))
        value = c.get("value")
        transitions.append(
            clean(
                {
                    "next": cx.target(node.outcomes.get(c["id"])),
                    "event": "match",
                    "conditions": [
                        {
                            "friendly_name": str(c.get("label") or f"If value {operator} {value or ''}".strip()),
                            "arguments": [source],
                            "type": OPERATOR_BACK.get(operator, operator),
                            "value": cx.liquid(value)
                            if isinstance(value, str)
                            else ("" if value is None else str(value)),
                        }
                    ],
                }
            )
        )
        if operator not in OPERATOR_BACK:
            cx.note(node, f"operator {operator} has no Studio equivalent")
    return [main_widget(cx, node, "split-based-on", transitions, {"input": source})]


def build_set_variables(cx: Exporter, node: Node) -> Widgets:
    """set_variables → set-variables."""
    items = [
        {"key": str(i.get("name")), "value": cx.liquid(i.get("value", ""))}
        for i in node.props.get("assignments") or []
        if isinstance(i, dict) and i.get("name")
    ]
    return [
        main_widget(cx, node, "set-variables", [cx.transition("next", node.outcomes.get("next"))], {"variables": items})
    ]


def build_hours(cx: Exporter, node: Node) -> Widgets:
    """business_hours → split-based-on on the current UTC time (best effort)."""
    hours = node.props.get("hours") or {}
    open_id, closed_id = node.outcomes.get("open"), node.outcomes.get("closed")
    day_ref, time_ref = "{{'now' | date: '%a'}}", "{{'now' | date: '%H:%M'}}"
    transitions = [cx.transition("noMatch", closed_id)]
    holidays = sorted(holiday_dates(node.props.get("holidays")))
    if holidays:
        transitions.append(
            clean(
                {
                    "next": cx.target(closed_id),
                    "event": "match",
                    "conditions": [
                        {
                            "friendly_name": "Holiday",
                            "arguments": ["{{'now' | date: '%Y-%m-%d'}}"],
                            "type": "matches_any_of",
                            "value": ", ".join(holidays),
                        }
                    ],
                }
            )
        )
    for i, day in enumerate(WEEKDAYS):
        for start, end in hours.get(day) or []:
            spans = (
                [(day, start, end)] if start < end else [(day, start, "24:00"), (WEEKDAYS[(i + 1) % 7], "00:00", end)]
            )
            for d, s, e in spans:
                transitions.append(
                    clean(
                        {
                            "next": cx.target(open_id),
                            "event": "match",
                            "conditions": [
                                {
                                    "friendly_name": f"{d.title()} {s}-{e}",
                                    "arguments": [day_ref],
                                    "type": "equal_to",
                                    "value": d.title(),
                                },
                                {
                                    "friendly_name": f"after {s}",
                                    "arguments": [time_ref],
                                    "type": "is_after_time",
                                    "value": s,
                                },
                                {
                                    "friendly_name": f"before {e}",
                                    "arguments": [time_ref],
                                    "type": "is_before_time",
                                    "value": e,
                                },
                            ],
                        }
                    )
                )
    tz = node.props.get("timezone") or cx.d.settings.timezone
    cx.note(node, f"business hours became a split on the current time in UTC; the hours are in {tz}")
    return [main_widget(cx, node, "split-based-on", transitions, {"input": time_ref})]


# ---------------------------------------------------------------- connect & integrations


def build_transfer(cx: Exporter, node: Node) -> Widgets:
    """transfer → connect-call-to (+ a split on DialCallStatus when outcomes differ)."""
    p, out = node.props, node.outcomes
    props: dict[str, Any] = {
        "caller_id": cx.liquid(p.get("caller_id") or "{{contact.channel.address}}"),
        "timeout": p.get("timeout", 30),
        "record": bool(p.get("record", False)),
    }
    if p.get("target") == "users":
        users = [str(u) for u in p.get("users") or []]
        props.update(noun="client", to=users[0] if users else "")
        if len(users) > 1:
            cx.note(node, f"rings only {users[0]} of {len(users)} users")
    else:
        props.update(noun="number", to=cx.liquid(p.get("number", "")))
    if p.get("time_limit"):
        props["time_limit"] = str(p["time_limit"])
    name = cx.name(node.id)
    answered = out.get("answered")
    differing = [
        (o, s)
        for o, s in (("no_answer", "no-answer"), ("busy", "busy"), ("failed", "failed, canceled"))
        if out.get(o) != answered
    ]
    extra: Widgets = []
    completed = cx.transition("callCompleted", answered)
    if differing:
        status = cx.name(node.id, "status")
        ref = f"{{{{widgets.{name}.DialCallStatus}}}}"
        completed = {"next": status, "event": "callCompleted"}
        extra = [
            widget(
                status,
                "split-based-on",
                [cx.transition("noMatch", answered)]
                + [
                    clean(
                        {
                            "next": cx.target(out.get(o)),
                            "event": "match",
                            "conditions": [
                                {"friendly_name": o, "arguments": [ref], "type": "matches_any_of", "value": s}
                            ],
                        }
                    )
                    for o, s in differing
                ],
                {"input": ref},
                cx.offset(node.id, 0, 220),
            )
        ]
    return (
        helper_prompt(cx, node, name)
        + [main_widget(cx, node, "connect-call-to", [completed, {"event": "hangup"}], props)]
        + extra
    )


def build_enqueue(cx: Exporter, node: Node) -> Widgets:
    """enqueue → enqueue-call; a TaskRouter workflow target → send-to-flex (or the enqueue-call it came from)."""
    p, out = node.props, node.outcomes
    wtype = "enqueue-call"
    if p.get("target") == "workflow":
        wtype = "enqueue-call" if (cx.stash.get(node.id) or {}).get("type") == "enqueue-call" else "send-to-flex"
        props = _task_props(cx, node, wtype)
    else:
        props: dict[str, Any] = {"queue_name": cx.liquid(p.get("queue", ""))}
        if p.get("wait_url"):
            props.update(wait_url=cx.liquid(p["wait_url"]), wait_url_method=p.get("wait_url_method", "POST"))
        elif p.get("hold_music_url") and p["hold_music_url"] != DEFAULT_HOLD_MUSIC:
            props.update(wait_url=p["hold_music_url"], wait_url_method="GET")
    if p.get("hold_message") and not p.get("wait_url"):
        cx.note(node, "the hold message is not exported (Studio plays the wait URL)")
    if out.get("leave") and out.get("leave") != out.get("bridged"):
        cx.note(node, "'leave' and 'bridged' are one Studio event (callComplete)")
    transitions = [
        cx.transition("callComplete", out.get("bridged") or out.get("leave")),
        cx.transition("failedToEnqueue", out.get("error")),
        cx.transition("callFailure", out.get("hangup")),
    ]
    return [main_widget(cx, node, wtype, transitions, props)]


def _task_props(cx: Exporter, node: Node, wtype: str) -> dict[str, Any]:
    """A TaskRouter target's properties as Send to Flex (or Enqueue Call) names them."""
    p = node.props
    names = (
        ("workflow", "attributes", "waitUrl", "waitUrlMethod")
        if wtype == "send-to-flex"
        else ("workflow_sid", "task_attributes", "wait_url", "wait_url_method")
    )
    props: dict[str, Any] = {names[0]: cx.liquid(p.get("workflow_sid", ""))}
    if wtype == "send-to-flex":
        kept = (cx.stash.get(node.id) or {}).get("properties") or {}
        props["channel"] = kept.get("channel") or ""
        if "channel" not in kept:
            cx.note(node, "choose the Send to Flex widget's task channel (Voice) in Studio")
    if p.get("task_attributes"):
        props[names[1]] = cx.liquid(p["task_attributes"])
    if p.get("priority") is not None:
        props["priority"] = str(p["priority"])
    if p.get("task_timeout") is not None:
        props["timeout"] = str(p["task_timeout"])
    if p.get("wait_url"):
        props[names[2]] = cx.liquid(p["wait_url"])
        props[names[3]] = p.get("wait_url_method", "POST")
    return props


def build_http(cx: Exporter, node: Node) -> Widgets:
    """http_request → make-http-request (+ Set Variables for its saved JSON paths)."""
    p, out = node.props, node.outcomes
    ctype = str(p.get("content_type", "application/json"))
    props: dict[str, Any] = {
        "method": str(p.get("method", "GET")),
        "url": cx.liquid(p.get("url", "")),
        "content_type": ctype + (";charset=utf-8" if ctype != "text/plain" else ""),
    }
    if p.get("body"):
        props["body"] = cx.liquid(p["body"])
    if p.get("headers"):
        cx.note(node, "request headers are not exported")
    name = cx.name(node.id)
    success: dict[str, Any] = cx.transition("success", out.get("success"))
    extra: Widgets = []
    if p.get("variables"):
        store = cx.name(node.id, "vars")
        success = {"next": store, "event": "success"}
        extra = [
            widget(
                store,
                "set-variables",
                [cx.transition("next", out.get("success"))],
                {
                    "variables": [
                        {"key": str(k), "value": f"{{{{widgets.{name}.parsed.{v}}}}}"}
                        for k, v in p["variables"].items()
                    ]
                },
                cx.offset(node.id, 260, 120),
            )
        ]
    return [
        main_widget(cx, node, "make-http-request", [success, cx.transition("failed", out.get("failed"))], props)
    ] + extra


def build_run_function(cx: Exporter, node: Node) -> Widgets:
    """run_function → run-function (Studio finds the Function by its URL; its SIDs, if imported, are kept)."""
    p, out = node.props, node.outcomes
    params = [{"key": str(k), "value": cx.liquid(v)} for k, v in (p.get("parameters") or {}).items()]
    props: dict[str, Any] = {"url": cx.liquid(p.get("url", "")), "parameters": params}
    kept = (cx.stash.get(node.id) or {}).get("properties") or {}
    props.update({k: kept[k] for k in ("service_sid", "environment_sid", "function_sid") if kept.get(k)})
    transitions = [cx.transition("success", out.get("success")), cx.transition("fail", out.get("failed"))]
    return [main_widget(cx, node, "run-function", transitions, props)]


def build_twiml_redirect(cx: Exporter, node: Node) -> Widgets:
    """twiml_redirect → add-twiml-redirect (its app returns to the Studio webhook with FlowEvent=return)."""
    p, out = node.props, node.outcomes
    props = {
        "url": cx.liquid(p.get("url", "")),
        "method": p.get("method", "POST"),
        "timeout": str(p.get("timeout", 14400)),
    }
    transitions = [
        cx.transition("return", out.get("return")),
        cx.transition("timeout", out.get("timeout")),
        cx.transition("fail", out.get("failed")),
    ]
    return [main_widget(cx, node, "add-twiml-redirect", transitions, props)]


def build_subflow(cx: Exporter, node: Node) -> Widgets:
    """subflow → run-subflow (the flow id must be a Studio flow SID there)."""
    p = node.props
    params = [{"key": str(k), "value": cx.liquid(v)} for k, v in (p.get("parameters") or {}).items()]
    flow = str(p.get("flow", ""))
    if not flow.startswith("FW"):
        cx.note(node, f"runs Phonetree flow {flow}: export it too and set its Studio flow SID")
    props = {"flow_sid": flow, "flow_revision": "LatestPublished", "parameters": params}
    transitions = [
        cx.transition("completed", node.outcomes.get("completed")),
        cx.transition("failed", node.outcomes.get("failed")),
    ]
    return [main_widget(cx, node, "run-subflow", transitions, props)]


def build_ai_agent(cx: Exporter, node: Node) -> Widgets:
    """ai_agent → connect-virtual-agent (best effort: Studio needs a connector there)."""
    cx.note(node, "the AI agent became a Connect Virtual Agent widget; configure a connector for it")
    props = {"connector": str(node.props.get("gateway_url", ""))}
    transitions = [cx.transition("return", node.outcomes.get("next")), {"event": "hangup"}]
    return helper_prompt(cx, node, cx.name(node.id)) + [
        main_widget(cx, node, "connect-virtual-agent", transitions, props)
    ]


def generic(cx: Exporter, node: Node) -> Widgets:
    """A node type Studio has no widget for: a Say/Play that explains, keeping the first outcome."""
    cx.note(node, f"node type {node.type} has no Studio widget; exported as a Say/Play placeholder")
    first = next(iter(node.outcomes.values()), None)
    return [
        widget(
            cx.name(node.id),
            "say-play",
            [cx.transition("audioComplete", first)],
            {"say": f"This step ({node.type}) is not available in Studio.", "loop": 1},
            cx.offset(node.id),
        )
    ]


BUILDERS = {
    "say": build_say,
    "hangup": build_hangup,
    "record": build_record,
    "voicemail": build_voicemail,
    "menu": build_menu,
    "collect_input": build_collect,
    "pay": build_pay,
    "branch": build_branch,
    "set_variables": build_set_variables,
    "business_hours": build_hours,
    "transfer": build_transfer,
    "enqueue": build_enqueue,
    "http_request": build_http,
    "send_message": build_send_message,
    "wait_for_reply": build_wait_for_reply,
    "run_function": build_run_function,
    "twiml_redirect": build_twiml_redirect,
    "subflow": build_subflow,
    "ai_agent": build_ai_agent,
}
