"""Nodes that talk to other systems: http_request, subflow (sending a message is `send_message`)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flows.definition import DefinitionError, Node, load_definition
from flows.formats import VAR_NAME_RE, url_valid
from flows.issues import Issue, error
from flows.registry import EnterSubflow, Field, NodeResult, NodeType, Route, register

if TYPE_CHECKING:
    from flows.runtime import Runtime

log = logging.getLogger("phonetree.flows")
MAX_BODY_CHARS = 16_000
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CONTENT_TYPES = ("application/json", "application/x-www-form-urlencoded", "text/plain")


def lookup(data: Any, path: str) -> Any:
    """Follow a dotted path (``data.items.0.id``) into parsed JSON; None when absent."""
    current = data
    for part in path.split("."):
        if part == "":
            continue
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.lstrip("-").isdigit() and -len(current) <= int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


@register
class HttpRequest(NodeType):
    """Call a web service; parse a JSON answer into the node result and variables."""

    type_name = "http_request"
    channels = ("voice", "messaging")
    label = "HTTP request"
    icon = "globe"
    category = "Integrations"
    description = "Call an HTTP API (5 s at most); JSON answers land in widgets.<id>.parsed."
    fields = (
        Field("method", "select", "Method", default="GET", choices=HTTP_METHODS),
        Field("url", "url", "URL", required=True, help="May use templates: https://api.example.com/{{ vars.id }}"),
        Field("headers", "key_values", "Headers", default={}),
        Field("content_type", "select", "Body type", default="application/json", choices=CONTENT_TYPES),
        Field("body", "template", "Body", default=""),
        Field("timeout", "number", "Timeout (seconds)", default=5, min=0.5, max=5, unit="s"),
        Field("variables", "key_values", "Save to variables", default={},
              help="variable name -> path in the JSON answer, e.g. customer.name"),
    )
    fixed_outcomes = ("success", "failed")
    results = ("status_code", "body", "parsed", "error")
    summary = ("{method} {url}",)

    def validate(self, node: Node) -> Iterable[Issue]:
        """Names of the variables to fill."""
        mapping = node.props.get("variables")
        if isinstance(mapping, dict):
            for name in mapping:
                if not VAR_NAME_RE.match(str(name)):
                    yield error("invalid_variable", f"{name!r} is not a valid variable name.",
                                node.id, f"variables.{name}")

    def templates(self, node: Node) -> Iterable[tuple[str, str]]:
        # `variables` holds JSON paths, not templates.
        """Templates of the node, except the JSON paths of `variables`."""
        return [(f, s) for f, s in super().templates(node) if not f.startswith("variables.")]

    def sets_variables(self, node: Node) -> Iterable[str]:
        """The variables filled from the JSON answer."""
        mapping = node.props.get("variables")
        return [str(k) for k in mapping] if isinstance(mapping, dict) else ()

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Call the service; `success` on 2xx (JSON parsed, variables set), else `failed`."""
        url = rt.render(self.prop(node, "url")).strip()
        method = str(self.prop(node, "method")).upper()
        if not url_valid(url):
            rt.set_result(node.id, {"status_code": 0, "error": "invalid_url"})
            return Route("failed", {"error": "invalid_url"})
        headers = {str(k): rt.render(v) if isinstance(v, str) else str(v)
                   for k, v in (self.prop(node, "headers") or {}).items()}
        body: str | None = None
        if method != "GET":
            body = rt.render(self.prop(node, "body"))
            if not any(k.lower() == "content-type" for k in headers):
                headers["Content-Type"] = self.prop(node, "content_type")
        timeout = min(float(self.prop(node, "timeout")), 5.0)
        return call_endpoint(rt, node.id, method, url, headers, body, timeout, self.prop(node, "variables"))


def call_endpoint(
    rt: Runtime,
    node_id: str,
    method: str,
    url: str,
    headers: dict[str, str],
    body: str | None,
    timeout: float,
    variables: dict[str, Any] | None = None,
) -> NodeResult:
    """Make the request through the services; `success` on 2xx (JSON parsed into
    ``widgets.<id>.parsed``, `variables` filled from it), else `failed`. Never raises."""
    try:
        status, text = rt.services.http_request(method, url, headers, body, timeout)
    except Exception as exc:  # noqa: BLE001  any failure of the service is the failed outcome
        log.info("%s request of %s failed: %s", method, node_id, type(exc).__name__)
        rt.set_result(node_id, {"status_code": 0, "error": type(exc).__name__})
        return Route("failed", {"error": type(exc).__name__, "url": url.split("?")[0]})
    text = text or ""
    result: dict[str, Any] = {"status_code": int(status), "body": text[:MAX_BODY_CHARS]}
    try:
        result["parsed"] = json.loads(text) if text.strip() else None
    except ValueError:
        result["parsed"] = None
    ok = 200 <= int(status) < 300
    if ok:
        for name, path in (variables or {}).items():
            if VAR_NAME_RE.match(str(name)):
                value = lookup(result["parsed"], str(path))
                rt.set_var(str(name), "" if value is None else value)
    rt.set_result(node_id, result)
    return Route("success" if ok else "failed", {"status_code": int(status), "url": url.split("?")[0]})


@register
class Subflow(NodeType):
    """Run another published flow, then come back through `completed`."""

    type_name = "subflow"
    channels = ("voice", "messaging")
    label = "Subflow"
    icon = "git-fork"
    category = "Logic"
    description = ("Run another flow with its own variables; when it ends, its variables are in "
                   "widgets.<id>.variables (and widgets.<id>.<name>, as Studio) and this flow continues.")
    fields = (
        Field("flow", "flow_ref", "Flow", required=True),
        Field("parameters", "key_values", "Parameters", default={},
              help="Variables the subflow starts with (templates); it reads them as vars.<name> "
                   "or trigger.parent.parameters.<name>."),
    )
    fixed_outcomes = ("completed", "failed")
    results = ("status", "flow", "variables", "error", "detail")
    summary = ("Flow #{flow}",)

    @property
    def may_wait(self) -> bool:
        """The subflow may wait for the caller."""
        return True

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Load the other flow and enter it (`failed` when missing, invalid or too deep)."""
        flow_id = str(self.prop(node, "flow"))
        if rt.depth >= rt.settings.max_subflow_depth:
            rt.set_result(node.id, {"status": "failed", "error": "too_deep"})
            return Route("failed", {"error": "too_deep"})
        try:
            data = rt.services.load_flow(flow_id)
        except Exception as exc:  # noqa: BLE001  the flow store failed: the flow handles `failed`
            rt.set_result(node.id, {"status": "failed", "error": "unavailable"})
            return Route("failed", {"error": "unavailable", "detail": type(exc).__name__, "flow": flow_id})
        if data is None:
            rt.set_result(node.id, {"status": "failed", "error": "not_found"})
            return Route("failed", {"error": "not_found", "flow": flow_id})
        try:
            definition = load_definition(data)
        except DefinitionError as exc:
            rt.set_result(node.id, {"status": "failed", "error": "invalid", "detail": str(exc)})
            return Route("failed", {"error": "invalid", "flow": flow_id})
        if definition.node(definition.start) is None:
            rt.set_result(node.id, {"status": "failed", "error": "no_start"})
            return Route("failed", {"error": "no_start", "flow": flow_id})
        variables = {str(k): rt.render(v) if isinstance(v, str) else v
                     for k, v in (self.prop(node, "parameters") or {}).items()}
        return EnterSubflow(flow_id, definition, variables, {"flow": flow_id})
