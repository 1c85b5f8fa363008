"""The designer's test console: simulated calls on the saved draft, and the flow's saved test cases.

The run (engine state, inputs, path, transcript) travels with the browser in a signed blob, so
nothing about a simulated call is stored until the tester saves it as a test case.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from flask import current_app, g, render_template, request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from extensions import db
from models import FlowTestCase, utcnow
from models.base import parse_id
from services import flow_console as console
from services import flow_revisions
from web.context import page_auth
from web.flows_pages import bp, flow_or_404

ACTION_FIELDS = console.ACTION_KEYS


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="phonetree-designer-console")


def _load_flow(flow_id: str) -> dict[str, Any] | None:
    other_id = parse_id(flow_id)
    other = flow_revisions.get_flow(g.org, other_id) if other_id is not None else None
    if other is None or other.published_revision_id is None:
        return None
    return flow_revisions.published_definition(other.published_revision_id)


def _cases(flow) -> list[FlowTestCase]:
    return list(
        db.session.scalars(
            FlowTestCase.for_org(g.org.id).where(FlowTestCase.flow_id == flow.id).order_by(FlowTestCase.id)
        )
    )


def _defaults(flow) -> dict[str, Any]:
    """The console's start options for a flow: its first channel, the caller, the real clock."""
    return console.clean_options({}, console.flow_channels(flow.draft))


def _render(flow, run: dict | None, status: int = 200, **extra):
    blob = _serializer().dumps({"flow": flow.id, "logic": _logic_fingerprint(flow.draft), "run": run}) if run else ""
    zone = console.clock_zone(flow.draft)
    channels = console.flow_channels(flow.draft)
    html = render_template("flows/_console.html", flow=flow, run=run, blob=blob, zone=zone, channels=channels, **extra)
    headers = {}
    if run:
        event = {"path": run["path"], "active": run.get("active"), "done": run["done"]}
        headers["HX-Trigger"] = json.dumps({"console-run": event})
    return html, status, headers


def _run_from_request(flow) -> dict:
    try:
        payload = _serializer().loads(request.form.get("run", ""))
    except BadSignature:
        payload = None
    if not isinstance(payload, dict) or payload.get("flow") != flow.id:
        raise console.ConsoleError("This simulated call is not valid for this flow; start a new one.")
    if payload.get("logic") != _logic_fingerprint(flow.draft):
        raise console.ConsoleError(
            "The flow changed since this simulated call started; start a new call to test the current draft."
        )
    return payload["run"]


def _logic_fingerprint(definition: dict) -> str:
    """A digest of what the flow does (canvas positions and notes left out), so moving cards keeps a run going."""
    logic = {key: value for key, value in (definition or {}).items() if key != "ui"}
    return hashlib.sha256(json.dumps(logic, sort_keys=True, default=str).encode()).hexdigest()[:16]


@bp.post("/<int:flow_id>/console")
@page_auth("viewer")
def console_form(flow_id: int):
    """The console's start form (and the flow's test cases)."""
    flow = flow_or_404(flow_id)
    try:
        options = console.clean_options(request.form, console.flow_channels(flow.draft))
    except console.ConsoleError as err:
        return _render(flow, None, 400, error=str(err), options=_defaults(flow), cases=_cases(flow))
    return _render(flow, None, options=options, cases=_cases(flow))


@bp.post("/<int:flow_id>/console/start")
@page_auth("viewer")
def console_start(flow_id: int):
    """Start a simulated call (or text conversation) on the saved draft with the chosen channel,
    caller, clock and services."""
    flow = flow_or_404(flow_id)
    try:
        run = console.start(flow.draft, request.form, _load_flow)
    except (console.ConsoleError, ValueError) as err:
        return _render(flow, None, 400, error=str(err), options=_defaults(flow), cases=_cases(flow))
    return _render(flow, run, cases=_cases(flow))


@bp.post("/<int:flow_id>/console/act")
@page_auth("viewer")
def console_act(flow_id: int):
    """Apply one caller action (press, say, silence, record, pay, dial, queue, hang up), or one of
    a texting contact (text, skip the wait)."""
    flow = flow_or_404(flow_id)
    try:
        run = _run_from_request(flow)
    except console.ConsoleError as err:
        return _render(flow, None, 400, error=str(err), options=_defaults(flow), cases=_cases(flow))
    action: dict[str, Any] = {k: request.form[k] for k in ACTION_FIELDS if request.form.get(k) not in (None, "")}
    if "seconds" in action:
        action["seconds"] = int(action["seconds"]) if str(action["seconds"]).isdigit() else 0
    if "success" in action:
        action["success"] = action["success"] == "1"
    try:
        run = console.act(run, flow.draft, action, _load_flow)
    except console.ConsoleError as err:
        return _render(flow, run, 400, error=str(err), cases=_cases(flow))
    return _render(flow, run, cases=_cases(flow))


@bp.post("/<int:flow_id>/tests")
@page_auth("editor")
def save_test(flow_id: int):
    """Save the simulated call as a test case: its inputs and the path the flow took (a text
    conversation's inputs keep the replies each brought)."""
    flow = flow_or_404(flow_id)
    try:
        run = _run_from_request(flow)
    except console.ConsoleError as err:
        return _render(flow, None, 400, error=str(err), options=_defaults(flow), cases=_cases(flow))
    name = request.form.get("name", "").strip()[:200]
    if not name:
        return _render(flow, run, 400, error="Give the test case a name.", cases=_cases(flow))
    case = FlowTestCase(
        org_id=g.org.id,
        flow_id=flow.id,
        name=name,
        inputs=run["inputs"],
        expected_path=run["path"],
        options=console.saved_options(run),
        last_result={"passed": True, "ran_at": utcnow().isoformat(), "message": "Saved from a run."},
    )
    db.session.add(case)
    db.session.commit()
    return _render(flow, run, notice=f"Saved test case “{name}”.", cases=_cases(flow))


def run_case(flow, case: FlowTestCase) -> dict:
    """Replay one test case on the saved draft and store the result on it."""
    try:
        run = console.replay(flow.draft, list(case.inputs or []), case.options or {}, _load_flow)
        problem = (
            console.compare_paths(case.expected_path or [], run["path"])
            or run.get("error")
            or run.get("replies_differ")
        )
        path = run["path"]
    except (console.ConsoleError, ValueError) as err:
        problem, path = str(err), []
    case.last_result = {
        "passed": problem is None,
        "message": problem or "Same path as expected.",
        "path": path,
        "ran_at": utcnow().isoformat(),
    }
    return case.last_result


@bp.post("/<int:flow_id>/tests/run")
@page_auth("editor")
def run_tests(flow_id: int):
    """Re-run every test case of the flow against the saved draft."""
    flow = flow_or_404(flow_id)
    cases = _cases(flow)
    results = [run_case(flow, case) for case in cases]
    db.session.commit()
    passed = sum(1 for r in results if r["passed"])
    notice = f"{passed} of {len(results)} test cases passed." if results else "No test cases yet."
    return _render(
        flow,
        None,
        options=_defaults(flow),
        cases=cases,
        notice=notice,
        summary={"passed": passed, "failed": len(results) - passed},
    )


@bp.post("/<int:flow_id>/tests/<int:case_id>/delete")
@page_auth("editor")
def delete_test(flow_id: int, case_id: int):
    """Delete a test case."""
    flow = flow_or_404(flow_id)
    case = db.session.scalar(
        select(FlowTestCase).where(
            FlowTestCase.id == case_id, FlowTestCase.org_id == g.org.id, FlowTestCase.flow_id == flow.id
        )
    )
    if case is None:
        from flask import abort

        abort(404)
    db.session.delete(case)
    db.session.commit()
    return _render(flow, None, options=_defaults(flow), cases=_cases(flow), notice=f"Deleted test case “{case.name}”.")
