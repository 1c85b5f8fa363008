"""twiml_redirect: hand the call to TwiML hosted elsewhere and, optionally, take it back.

Like Studio's TwiML Redirect widget, the node answers ``<Redirect method=...>`` to the URL. The
URL gets one more query parameter, ``FlowReturnUrl``: Phonetree's signed ``ivr-continue``
webhook for this call and turn. The outside application brings the call back by redirecting
there with ``FlowEvent=return`` appended (as a Studio app redirects to the flow's webhook with
``?FlowEvent=return``); its other query parameters become ``widgets.<id>.parameters.<name>``. A return
after `timeout` seconds takes the `timeout` outcome; a timeout of 0 hands the call away for
good (the flow ends there). A URL that does not render to http(s) takes `failed`.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from flows.definition import Node
from flows.formats import url_valid
from flows.registry import Field, Finish, NodeResult, NodeType, Route, Wait, register

if TYPE_CHECKING:
    from flows.runtime import Event, Runtime

RETURN_PARAM = "FlowReturnUrl"
MAX_TIMEOUT = 14400


def with_query(url: str, params: dict[str, Any]) -> str:
    """`url` with more query parameters (after its own, before any fragment)."""
    base, hash_, fragment = url.partition("#")
    joined = base + ("&" if "?" in base else "?") + urlencode(params)
    return joined + hash_ + fragment


@register
class TwimlRedirect(NodeType):
    """Redirect the call to outside TwiML; continue through `return` when it comes back."""

    type_name = "twiml_redirect"
    label = "TwiML redirect"
    icon = "phone-forwarded"
    category = "Connect"
    description = (
        "Hand the call to TwiML at a URL. It comes back by redirecting to the URL given in its "
        f"{RETURN_PARAM} query parameter with FlowEvent=return (its other parameters land in "
        "widgets.<id>.parameters)."
    )
    fields = (
        Field(
            "url",
            "url",
            "TwiML URL",
            required=True,
            help="May use templates: https://example.com/ivr?id={{ call.sid }}",
        ),
        Field("method", "select", "Method", default="POST", choices=("POST", "GET")),
        Field(
            "timeout",
            "number",
            "Wait for the return (seconds)",
            default=MAX_TIMEOUT,
            min=0,
            max=MAX_TIMEOUT,
            unit="s",
            help="A later return takes the timeout outcome; 0: the call does not come back.",
        ),
    )
    fixed_outcomes = ("return", "timeout", "failed")
    quiet_outcomes = ("timeout",)
    waits_for = ("continue",)
    results = ("FlowEvent", "parameters", "url", "redirected_at", "error")
    summary = ("{url}",)

    def run(self, node: Node, rt: Runtime) -> NodeResult:
        """Answer the Redirect (with the return URL) and wait for the call to come back."""
        url = rt.render(self.prop(node, "url")).strip()
        if not url_valid(url):
            rt.set_result(node.id, {"error": "invalid_url"})
            return Route("failed", {"error": "invalid_url"})
        method = str(self.prop(node, "method")).upper()
        timeout = int(self.prop(node, "timeout"))
        shown = url.split("?")[0]
        if timeout <= 0:
            rt.response.redirect(url, method=method)
            rt.set_result(node.id, {"url": shown})
            return Finish({"url": shown, "handed_over": True}, reason="completed")
        rt.response.redirect(with_query(url, {RETURN_PARAM: rt.url("ivr-continue")}), method=method)
        rt.set_result(node.id, {"url": shown, "redirected_at": rt.now.isoformat()})
        return Wait({"url": shown})

    def resume(self, node: Node, rt: Runtime, event: Event) -> NodeResult:
        """Back from the outside TwiML: `return`, or `timeout` when it took too long."""
        result = dict(rt.result(node.id) or {})
        parameters = event.params.get("FlowParameters")
        result["parameters"] = (
            {str(k): str(v) for k, v in (parameters or {}).items()} if isinstance(parameters, dict) else {}
        )
        result["FlowEvent"] = str(event.params.get("FlowEvent") or "return")
        rt.set_result(node.id, result)
        try:
            waited = (rt.now - datetime.fromisoformat(str(result.get("redirected_at")))).total_seconds()
        except ValueError:
            waited = 0.0
        if waited > int(self.prop(node, "timeout")):
            return Route("timeout", {"waited": int(waited)})
        return Route("return", {"waited": int(waited)})
