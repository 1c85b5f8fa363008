"""Studio widget → Phonetree node mappers: connect, logic, integrations and placeholders."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from flows.nodes.redirect import TwimlRedirect
from flows.studio.map_messaging import map_send_message, map_wait_for_reply
from flows.studio.map_voice import (
    CONTACT_ADDRESS,
    Mapped,
    Targets,
    as_int,
    as_list,
    clamp,
    map_record,
    map_say,
    route,
    truthy,
)
from flows.studio.shape import STUDIO_WIDGET_TYPES
from flows.studio.tables import (
    EVENT_OUTCOMES,
    NO_VALUE_OPERATORS,
    OPERATOR_MAP,
    PLACEHOLDER_FALLBACK,
    UNSUPPORTED_WHY,
)

if TYPE_CHECKING:
    from flows.studio.importer import Importer


# ---------------------------------------------------------------- connect


def map_transfer(cx: Importer, state: dict[str, Any]) -> Mapped | None:
    """connect-call-to → transfer (a number, or the softphone of a client); None when unsupported."""
    props, notes = state.get("properties") or {}, []
    noun = str(props.get("noun") or "number")
    to = str(props.get("to") or "")
    node_props: dict[str, Any]
    if noun in ("number", "number-multi"):
        numbers = [n.strip() for n in to.split(",") if n.strip()]
        if len(numbers) > 1:
            notes.append(f"rings only the first of {len(numbers)} numbers ({numbers[0]})")
        node_props = {"target": "number", "number": cx.tpl(numbers[0] if numbers else "", notes)}
    elif noun == "client":
        node_props = {"target": "users", "users": [cx.tpl(to, notes)]}
        notes.append(f"client {to!r} must be a Phonetree user identity")
    else:
        return None
    caller_id = str(props.get("caller_id") or "")
    if caller_id.replace(" ", "") not in ("", CONTACT_ADDRESS):
        node_props["caller_id"] = cx.tpl(caller_id, notes)
    if props.get("timeout") is not None:
        node_props["timeout"] = clamp(as_int(props["timeout"], 30), 5, 600, "timeout", notes)
    if props.get("time_limit") not in (None, ""):
        node_props["time_limit"] = clamp(as_int(props["time_limit"], 14400), 60, 14400, "time_limit", notes)
    if props.get("record") is not None:
        node_props["record"] = truthy(props["record"])
    outcomes, by_outcome, more = route(cx, state, EVENT_OUTCOMES["connect-call-to"])
    notes.extend(more)
    used = {"noun", "to", "caller_id", "timeout", "time_limit", "record", "offset"}
    return Mapped("transfer", node_props, outcomes, f"transfer ({node_props['target']})", notes, used=used)


def map_enqueue(cx: Importer, state: dict[str, Any]) -> Mapped:
    """enqueue-call → enqueue: a named queue, or a TaskRouter workflow with its task
    (callComplete → bridged/leave, failedToEnqueue → error, callFailure → hangup)."""
    props, notes = state.get("properties") or {}, []
    if props.get("workflow_sid") and not props.get("queue_name"):
        task = {
            "workflow": "workflow_sid",
            "attributes": "task_attributes",
            "priority": "priority",
            "timeout": "timeout",
            "wait_url": "wait_url",
            "wait_url_method": "wait_url_method",
        }
        return _map_task(cx, state, task, "enqueue (TaskRouter workflow)")
    node_props: dict[str, Any] = {"queue": cx.tpl(str(props.get("queue_name") or ""), notes)}
    wait_url = str(props.get("wait_url") or "")
    if wait_url.lower().split("?")[0].endswith((".mp3", ".wav")):
        node_props["hold_music_url"] = wait_url
    elif wait_url:
        node_props["wait_url"] = cx.tpl(wait_url, notes)
        method = str(props.get("wait_url_method") or "POST").upper()
        if method in ("GET", "POST"):
            node_props["wait_url_method"] = method
    outcomes, _, more = route(cx, state, EVENT_OUTCOMES["enqueue-call"])
    notes.extend(more)
    used = {
        "queue_name",
        "workflow_sid",
        "wait_url",
        "wait_url_method",
        "task_attributes",
        "priority",
        "timeout",
        "offset",
    }
    return Mapped("enqueue", node_props, outcomes, "enqueue", notes, used=used)


TEXTED_FLEX = "a text conversation reaches it: Flex chat tasks are not available (a queue takes calls only)"


def map_flex(cx: Importer, state: dict[str, Any]) -> Mapped:
    """send-to-flex → enqueue to its TaskRouter workflow (<Enqueue workflowSid><Task>)."""
    if state["name"] in cx.texted:  # a Flex chat task: Phonetree's queue takes calls
        return map_unsupported(cx, state, cx.ids[state["name"]], TEXTED_FLEX)
    task = {
        "workflow": "workflow",
        "attributes": "attributes",
        "priority": "priority",
        "timeout": "timeout",
        "wait_url": "waitUrl",
        "wait_url_method": "waitUrlMethod",
    }
    return _map_task(cx, state, task, "enqueue (Flex: TaskRouter workflow)", used={"channel"})


def _map_task(
    cx: Importer, state: dict[str, Any], keys: dict[str, str], summary: str, used: set[str] = frozenset()
) -> Mapped:
    """A widget that hands the call to a TaskRouter workflow; `keys` names its Studio properties."""
    props, notes = state.get("properties") or {}, []
    node_props: dict[str, Any] = {
        "target": "workflow",
        "workflow_sid": cx.tpl(str(props.get(keys["workflow"]) or "").strip(), notes),
    }
    attributes = props.get(keys["attributes"])
    if attributes not in (None, ""):
        text = attributes if isinstance(attributes, str) else json.dumps(attributes)
        node_props["task_attributes"] = cx.tpl(text, notes)
    for key, prop in (("priority", "priority"), ("timeout", "task_timeout")):
        if props.get(keys[key]) not in (None, ""):
            node_props[prop] = clamp(
                as_int(props[keys[key]], 0), 0 if key == "priority" else 1, 2**31 - 1, keys[key], notes
            )
    if props.get(keys["wait_url"]):
        node_props["wait_url"] = cx.tpl(str(props[keys["wait_url"]]), notes)
    method = str(props.get(keys["wait_url_method"]) or "").upper()
    if method in ("GET", "POST") and props.get(keys["wait_url"]):
        node_props["wait_url_method"] = method
    outcomes, _, more = route(cx, state, EVENT_OUTCOMES["enqueue-call"])
    notes.extend(more)
    return Mapped("enqueue", node_props, outcomes, summary, notes, used={*keys.values(), *used, "offset"})


def redirect_aliases(states: list[dict[str, Any]], ids: dict[str, str]) -> dict[str, str]:
    """Template aliases for the parameters a TwiML Redirect's app returns with: Studio reads them as
    ``widgets.<name>.<param>``, Phonetree keeps them in ``widgets.<id>.parameters.<param>``."""
    names = [s["name"] for s in states if s.get("type") == "add-twiml-redirect" and s["name"] in ids]
    if not names:
        return {}
    text = json.dumps(states)
    aliases: dict[str, str] = {}
    for name in names:
        for param in sorted(set(re.findall(rf"widgets\.{re.escape(name)}\.(\w+)", text)) - set(TwimlRedirect.results)):
            aliases[f"widgets.{name}.{param}"] = f"widgets.{ids[name]}.parameters.{param}"
    return aliases


def map_redirect(cx: Importer, state: dict[str, Any]) -> Mapped:
    """add-twiml-redirect → twiml_redirect (return / timeout / fail → return / timeout / failed)."""
    props, notes = state.get("properties") or {}, []
    node_props: dict[str, Any] = {"url": cx.tpl(str(props.get("url") or ""), notes)}
    method = str(props.get("method") or "POST").upper()
    if method in ("GET", "POST"):
        node_props["method"] = method
    if props.get("timeout") not in (None, ""):
        node_props["timeout"] = clamp(as_int(props["timeout"], 14400), 0, 14400, "timeout", notes)
    outcomes, _, more = route(cx, state, EVENT_OUTCOMES["add-twiml-redirect"])
    notes.extend(more)
    return Mapped("twiml_redirect", node_props, outcomes, "twiml_redirect", notes, used={"url", "method", "timeout"})


# ---------------------------------------------------------------- logic & integrations


def map_set_variables(cx: Importer, state: dict[str, Any]) -> Mapped:
    """set-variables → set_variables ({key, value} → {name, value})."""
    props, notes = state.get("properties") or {}, []
    assignments = []
    for item in as_list(props.get("variables")):
        if not isinstance(item, dict) or not item.get("key"):
            continue
        name = cx.var_name(str(item["key"]), notes)
        value = item.get("value", "")
        assignments.append({"name": name, "value": cx.tpl(value, notes) if isinstance(value, str) else value})
    outcomes, _, more = route(cx, state, EVENT_OUTCOMES["set-variables"])
    notes.extend(more)
    return Mapped(
        "set_variables",
        {"assignments": assignments},
        outcomes,
        f"set_variables ({len(assignments)})",
        notes,
        used={"variables", "offset"},
    )


def _same_template(a: str, b: str) -> bool:
    return a.replace(" ", "") == b.replace(" ", "")


def map_branch(cx: Importer, state: dict[str, Any]) -> Mapped:
    """split-based-on → branch: each match transition is a condition, noMatch is no_match."""
    props, notes = state.get("properties") or {}, []
    raw_input = str(props.get("input") or "")
    conditions: list[dict[str, Any]] = []
    outcomes: Targets = {}
    seen: set[str] = set()
    for t in state.get("transitions") or []:
        target = t.get("next") or None
        if t["event"] == "noMatch":
            outcomes["no_match"] = target
            continue
        if t["event"] != "match":
            if target:
                notes.append(f"event '{t['event']}' has no Phonetree outcome; its transition to {target} is dropped")
            continue
        conds = t.get("conditions") or []
        if not conds:
            notes.append(f"a match transition to {target} has no condition and is dropped")
            continue
        cond = conds[0]
        if len(conds) > 1:
            notes.append(f"only the first of {len(conds)} conditions (AND) to {target} is tested")
        args = cond.get("arguments") or []
        if not raw_input and args:
            raw_input = str(args[0])
        elif args and not _same_template(str(args[0]), raw_input):
            notes.append(f"condition {cond.get('friendly_name')!r} tests {args[0]} but the branch tests the input")
        operator = OPERATOR_MAP.get(str(cond.get("type")))
        value = cond.get("value")
        if operator is None:
            notes.append(f"operator {cond.get('type')!r} is not supported; that condition never matches")
            operator, value = "regex", "(?!)"
        cid = _condition_id(value if operator not in ("regex", *NO_VALUE_OPERATORS) else None, seen)
        item: dict[str, Any] = {"id": cid, "label": str(cond.get("friendly_name") or cid), "operator": operator}
        if operator not in NO_VALUE_OPERATORS:
            text = "" if value is None else str(value)
            item["value"] = cx.tpl(text, notes) if operator != "regex" else text
        conditions.append(item)
        outcomes[cid] = target
    node_props = {"input": cx.tpl(raw_input, notes), "conditions": conditions}
    return Mapped(
        "branch", node_props, outcomes, f"branch ({len(conditions)} conditions)", notes, used={"input", "offset"}
    )


def _condition_id(value: Any, seen: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", str(value or "")).strip("_")[:32] if value is not None else ""
    if not base or base == "no_match":
        base = f"c{len(seen) + 1}"
    cid, n = base, 2
    while cid in seen:
        cid, n = f"{base}_{n}", n + 1
    seen.add(cid)
    return cid


def _key_values(cx: Importer, items: Any, notes: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in as_list(items):
        if isinstance(item, dict) and item.get("key"):
            value = item.get("value", "")
            out[str(item["key"])] = cx.tpl(value, notes) if isinstance(value, str) else str(value)
    return out


def map_http(cx: Importer, state: dict[str, Any]) -> Mapped:
    """make-http-request → http_request (parameters become the form body or the query string)."""
    props, notes = state.get("properties") or {}, []
    method = str(props.get("method") or "GET").upper()
    ctype = str(props.get("content_type") or "application/x-www-form-urlencoded").split(";")[0].strip()
    url = cx.tpl(str(props.get("url") or ""), notes)
    node_props: dict[str, Any] = {"method": method, "url": url}
    if ctype in ("application/json", "application/x-www-form-urlencoded", "text/plain"):
        node_props["content_type"] = ctype
    params = _key_values(cx, props.get("parameters"), notes)
    body = cx.tpl(str(props.get("body") or ""), notes)
    if params:
        encoded = "&".join(f"{quote(k)}={_url_value(v)}" for k, v in params.items())
        if method == "GET" or ctype != "application/x-www-form-urlencoded":
            node_props["url"] = url + ("&" if "?" in url else "?") + encoded
        else:
            body = encoded if not body else f"{body}&{encoded}"
    if body and method != "GET":
        node_props["body"] = body
    if truthy(props.get("add_twilio_auth", False)):
        notes.append("add_twilio_auth is not supported (no Twilio credentials are sent)")
    outcomes, _, more = route(cx, state, EVENT_OUTCOMES["make-http-request"])
    notes.extend(more)
    used = {"method", "content_type", "url", "parameters", "body", "add_twilio_auth", "offset"}
    return Mapped("http_request", node_props, outcomes, f"http_request ({method})", notes, used=used)


def _url_value(value: str) -> str:
    """A query or form value: plain text is percent-encoded, a lone ``{{ expr }}`` is urlencoded."""
    stripped = value.strip()
    if stripped.startswith("{{") and stripped.endswith("}}") and stripped.count("{{") == 1:
        return "{{ (" + stripped[2:-2].strip() + ") | urlencode }}"
    if "{{" in value or "{%" in value:
        return value
    return quote(value, safe="")


def map_function(cx: Importer, state: dict[str, Any]) -> Mapped:
    """run-function → run_function: its parameters posted form-encoded and signed, as Studio does."""
    props, notes = state.get("properties") or {}, []
    node_props: dict[str, Any] = {
        "url": cx.tpl(str(props.get("url") or ""), notes),
        "parameters": _key_values(cx, props.get("parameters"), notes),
    }
    outcomes, _, more = route(cx, state, EVENT_OUTCOMES["run-function"])
    notes.extend(more)
    # the Function's service, environment and SID only locate it in Twilio's console: the URL runs it
    used = {"url", "parameters", "service_sid", "environment_sid", "function_sid", "offset"}
    return Mapped("run_function", node_props, outcomes, "run_function (signed POST)", notes, used=used)


def map_subflow(cx: Importer, state: dict[str, Any]) -> Mapped:
    """run-subflow → subflow; the Studio flow SID must be re-pointed at an imported Phonetree flow."""
    props, notes = state.get("properties") or {}, []
    flow = str(props.get("flow_sid") or "")
    node_props: dict[str, Any] = {"flow": flow, "parameters": _key_values(cx, props.get("parameters"), notes)}
    notes.append(f"the subflow is Studio flow {flow or '(none)'}: import it and pick it in this node")
    outcomes, _, more = route(cx, state, EVENT_OUTCOMES["run-subflow"])
    notes.extend(more)
    return Mapped(
        "subflow", node_props, outcomes, "subflow", notes, used={"flow_sid", "flow_revision", "parameters", "offset"}
    )


def map_unsupported(cx: Importer, state: dict[str, Any], node_id: str, why: str | None = None) -> Mapped:
    """A widget Phonetree cannot run: a branch that keeps every transition as an outcome.

    Nothing sets ``widgets.<id>.event``, so calls take `no_match` (the widget's failure or
    pass-through event); the other events stay wired for whoever replaces the node.
    """
    wtype = state["type"]
    transitions = [t for t in state.get("transitions") or [] if t.get("event")]
    events = [t["event"] for t in transitions]
    fallback = PLACEHOLDER_FALLBACK.get(wtype, events[0] if events else "")
    conditions, outcomes, seen = [], {}, set()
    for t in transitions:
        cid = _condition_id(t["event"], seen)
        conditions.append({"id": cid, "label": t["event"], "operator": "equal_to", "value": t["event"]})
        outcomes[cid] = t.get("next") or None
        if t["event"] == fallback:
            outcomes["no_match"] = t.get("next") or None
    if not conditions:
        conditions.append({"id": "unsupported", "label": wtype, "operator": "equal_to", "value": wtype})
    props = {"input": f"{{{{ widgets.{node_id}.event }}}}", "conditions": conditions}
    reason = why or UNSUPPORTED_WHY.get(wtype)
    if reason is None:
        reason = (
            "Phonetree has no equivalent"
            if wtype in STUDIO_WIDGET_TYPES
            else f"{wtype!r} is not a widget type of Twilio's Studio library"
        )
    detail = (
        f"placeholder branch keeping its transitions; calls continue through '{fallback}'"
        if fallback
        else "placeholder branch"
    )
    return Mapped("branch", props, outcomes, detail, [reason], unsupported=True)


MAPPERS: dict[str, Callable[..., Mapped | None]] = {
    "say-play": map_say,
    "record-voicemail": map_record,
    "connect-call-to": map_transfer,
    "enqueue-call": map_enqueue,
    "send-to-flex": map_flex,
    "run-function": map_function,
    "add-twiml-redirect": map_redirect,
    "set-variables": map_set_variables,
    "split-based-on": map_branch,
    "make-http-request": map_http,
    "send-message": map_send_message,
    "send-and-wait-for-reply": map_wait_for_reply,
    "run-subflow": map_subflow,
}
