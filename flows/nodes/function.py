"""run_function: call a Twilio Function (or any endpoint) the way Studio's Run Function does.

The parameters are POSTed form-encoded and the request carries ``X-Twilio-Signature``,
computed over the URL and the parameters with the org's auth token (through the services:
the engine never sees the token), so a Function marked *protected* accepts it. The answer is
``widgets.<id>.status_code``, ``.body`` and ``.parsed`` (JSON); a 2xx answer is `success`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from flows.definition import Node
from flows.formats import url_valid
from flows.nodes.integrations import call_endpoint
from flows.registry import Field, NodeResult, NodeType, Route, register

if TYPE_CHECKING:
    from flows.runtime import Runtime

log = logging.getLogger("phonetree.flows")
FORM = "application/x-www-form-urlencoded"


@register
class RunFunction(NodeType):
    """POST parameters to a Twilio Function, signed as Twilio signs its own requests."""

    type_name = "run_function"
    label = "Run function"
    icon = "play"
    category = "Integrations"
    channels = ("voice", "messaging")  # a signed POST: text conversations run Functions too
    description = (
        "Run a Twilio Function (5 s at most): its parameters are posted form-encoded and signed "
        "with X-Twilio-Signature, so protected Functions accept it. JSON answers land in "
        "widgets.<id>.parsed."
    )
    fields = (
        Field("url", "url", "Function URL", required=True, help="https://your-service-1234.twil.io/lookup"),
        Field(
            "parameters",
            "key_values",
            "Parameters",
            default={},
            help="Posted form-encoded (the Function's event); values are templates.",
        ),
        Field("timeout", "number", "Timeout (seconds)", default=5, min=0.5, max=5, unit="s"),
    )
    fixed_outcomes = ("success", "failed")
    results = ("status_code", "body", "parsed", "error")
    summary = ("POST {url}",)

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Sign and POST the parameters; `success` on 2xx, else `failed` (never an error of the call)."""
        url = rt.render(self.prop(node, "url")).strip()
        if not url_valid(url):
            rt.set_result(node.id, {"status_code": 0, "error": "invalid_url"})
            return Route("failed", {"error": "invalid_url"})
        params = {
            str(k): rt.render(v) if isinstance(v, str) else str(v)
            for k, v in (self.prop(node, "parameters") or {}).items()
        }
        try:
            signature = rt.services.twilio_signature(url, params)
        except Exception as exc:  # noqa: BLE001  no account to sign with: the flow handles `failed`
            log.info("run_function %s could not be signed: %s", node.id, type(exc).__name__)
            rt.set_result(node.id, {"status_code": 0, "error": "unsigned"})
            return Route("failed", {"error": "unsigned", "url": url.split("?")[0]})
        headers = {"Content-Type": FORM, "X-Twilio-Signature": signature}
        timeout = min(float(self.prop(node, "timeout")), 5.0)
        return call_endpoint(rt, node.id, "POST", url, headers, urlencode(params), timeout)
