"""The test console: simulated calls on the draft, saved test cases and re-runs."""

import copy
import json
import re

from extensions import db
from models import FlowTestCase
from services import flow_console as console
from services import flow_revisions as svc
from services.flow_templates import template_definition


def _run(html: str) -> str:
    return re.search(r'id="console-run" name="run" value="([^"]*)"', html).group(1)


def _start(session, acme, **options):
    resp = session.htmx(f"/flows/{acme['flow'].id}/console/start", {"clock": "open", **options})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp


def test_a_simulated_call_through_the_menu(ed, acme):
    fid = acme["flow"].id
    resp = _start(ed, acme)
    html = resp.get_data(as_text=True)
    assert "Thanks for calling. For sales press 1." in html and 'class="keypad"' in html
    event = json.loads(resp.headers["HX-Trigger"])["console-run"]
    assert event["active"] == "main" and event["path"][0] == {"node": "hours", "outcome": "open"}
    resp = ed.htmx(f"/flows/{fid}/console/act", {"run": _run(html), "kind": "press", "digits": "2"})
    html = resp.get_data(as_text=True)
    assert "presses 2" in html
    assert "six digit ticket number" in html
    resp = ed.htmx(f"/flows/{fid}/console/act", {"run": _run(html), "kind": "press", "digits": "123456"})
    html = resp.get_data(as_text=True)
    event = json.loads(resp.headers["HX-Trigger"])["console-run"]
    assert "We will call you back about ticket 123456" in html and "Call ended" in html and event["done"] is True
    assert [s["node"] for s in event["path"]] == ["hours", "main", "main", "support", "support", "thanks"]


def test_closed_clock_silence_and_recording(ed, acme):
    fid = acme["flow"].id
    html = _start(ed, acme, clock="closed").get_data(as_text=True)
    assert "We are closed right now" in html and "Speak for" in html
    resp = ed.htmx(f"/flows/{fid}/console/act", {"run": _run(html), "kind": "record", "seconds": "9"})
    event = json.loads(resp.headers["HX-Trigger"])["console-run"]
    assert event["path"][-1] == {"node": "voicemail", "outcome": "recorded"} and event["done"]


def test_custom_clock_uses_the_flow_time_zone(ed, acme):
    html = _start(ed, acme, clock="custom", at="2025-06-02T10:00").get_data(as_text=True)  # a Monday, New York
    assert "For sales press 1" in html
    html = _start(ed, acme, clock="custom", at="2025-06-01T10:00").get_data(as_text=True)  # a Sunday
    assert "We are closed" in html
    resp = ed.htmx(f"/flows/{acme['flow'].id}/console/start", {"clock": "custom", "at": "soon"})
    assert resp.status_code == 400 and "Pick a date and time" in resp.get_data(as_text=True)


def test_payment_success_and_failure(ed, acme, make):
    flow = svc.create_flow(acme["org"], acme["editor"], "Pay", template="payment_line")
    db.session.commit()
    for success, heard in (("1", "your payment was received"), ("0", "could not take your payment")):
        html = ed.htmx(f"/flows/{flow.id}/console/start", {}).get_data(as_text=True)
        html = ed.htmx(
            f"/flows/{flow.id}/console/act", {"run": _run(html), "kind": "press", "digits": "12345678"}
        ).get_data(as_text=True)
        assert "Payment succeeds" in html
        html = ed.htmx(
            f"/flows/{flow.id}/console/act", {"run": _run(html), "kind": "pay", "success": success}
        ).get_data(as_text=True)
        assert heard in html


def test_actions_that_do_not_fit_and_forged_runs_are_refused(ed, acme):
    fid = acme["flow"].id
    html = _start(ed, acme).get_data(as_text=True)
    resp = ed.htmx(f"/flows/{fid}/console/act", {"run": _run(html), "kind": "pay", "success": "1"})
    assert resp.status_code == 400 and "not waiting for that" in resp.get_data(as_text=True)
    resp = ed.htmx(f"/flows/{fid}/console/act", {"run": _run(html), "kind": "press", "digits": "abc"})
    assert resp.status_code == 400 and "Press keys 0-9" in resp.get_data(as_text=True)
    resp = ed.htmx(f"/flows/{fid}/console/act", {"run": _run(html)[:-3] + "xyz", "kind": "press", "digits": "1"})
    assert resp.status_code == 400 and "not valid for this flow" in resp.get_data(as_text=True)
    resp = ed.htmx(f"/flows/{fid}/console/act", {"run": _run(html), "kind": "hangup"})
    assert "caller hung up" in resp.get_data(as_text=True)


def test_save_a_run_as_a_test_case_and_rerun_all(ed, acme):
    fid = acme["flow"].id
    html = _start(ed, acme).get_data(as_text=True)
    html = ed.htmx(f"/flows/{fid}/console/act", {"run": _run(html), "kind": "press", "digits": "1"}).get_data(
        as_text=True
    )
    resp = ed.htmx(f"/flows/{fid}/tests", {"run": _run(html), "name": "Sales path"})
    assert "Saved test case “Sales path”" in resp.get_data(as_text=True)
    case = db.session.scalar(db.select(FlowTestCase))
    assert case.inputs == [{"kind": "press", "digits": "1"}] and case.options["clock"] == "open"
    assert [s["node"] for s in case.expected_path] == ["hours", "main", "main", "sales", "voicemail"]
    assert ed.htmx(f"/flows/{fid}/tests", {"run": _run(html), "name": ""}).status_code == 400

    html = ed.htmx(f"/flows/{fid}/tests/run").get_data(as_text=True)
    assert "1 of 1 test cases passed." in html and "badge-ok" in html

    flow = svc.get_flow(acme["org"], fid)
    changed = copy.deepcopy(flow.draft)
    next(n for n in changed["nodes"] if n["id"] == "main")["outcomes"]["1"] = "support"
    svc.save_draft(acme["org"], acme["editor"], flow, changed, flow.draft_version)
    db.session.commit()
    html = ed.htmx(f"/flows/{fid}/tests/run").get_data(as_text=True)
    assert "0 of 1 test cases passed." in html and "expected main → 1" not in html
    assert "Step 4: expected sales" in html
    db.session.expire_all()
    assert db.session.get(FlowTestCase, case.id).last_result["passed"] is False
    html = ed.htmx(f"/flows/{fid}/tests/{case.id}/delete").get_data(as_text=True)
    assert "Deleted test case" in html and db.session.scalar(db.select(FlowTestCase)) is None


def test_viewers_may_simulate_but_not_save_tests(vi, acme):
    fid = acme["flow"].id
    html = _start(vi, acme).get_data(as_text=True)
    assert "Save as test" not in html
    assert vi.htmx(f"/flows/{fid}/tests", {"run": _run(html), "name": "x"}).status_code == 403
    assert vi.htmx(f"/flows/{fid}/tests/run").status_code == 403


def test_a_run_of_one_flow_cannot_be_replayed_on_another(ed, acme):
    other = svc.create_flow(acme["org"], acme["editor"], "Other")
    db.session.commit()
    html = _start(ed, acme).get_data(as_text=True)
    resp = ed.htmx(f"/flows/{other.id}/console/act", {"run": _run(html), "kind": "press", "digits": "1"})
    assert resp.status_code == 400 and "not valid for this flow" in resp.get_data(as_text=True)


def test_a_run_started_before_the_flow_changed_cannot_continue_or_be_saved(ed, acme):
    fid = acme["flow"].id
    html = _start(ed, acme).get_data(as_text=True)
    flow = svc.get_flow(acme["org"], fid)
    moved = copy.deepcopy(flow.draft)
    moved["ui"]["nodes"]["main"] = {"x": 999, "y": 999}  # moving a card does not change what the flow does
    flow = svc.save_draft(acme["org"], acme["editor"], flow, moved, flow.draft_version)
    db.session.commit()
    resp = ed.htmx(f"/flows/{fid}/console/act", {"run": _run(html), "kind": "press", "digits": "1"})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    changed = copy.deepcopy(flow.draft)
    next(n for n in changed["nodes"] if n["id"] == "main")["outcomes"]["1"] = "support"
    svc.save_draft(acme["org"], acme["editor"], flow, changed, flow.draft_version)
    db.session.commit()
    for path, data in ((f"/flows/{fid}/console/act", {"kind": "hangup"}), (f"/flows/{fid}/tests", {"name": "Mixed"})):
        resp = ed.htmx(path, {"run": _run(html), **data})
        assert resp.status_code == 400 and "flow changed since" in resp.get_data(as_text=True)
    assert db.session.scalar(db.select(FlowTestCase)) is None


def test_find_time_and_event_mapping_units():
    from datetime import UTC, datetime

    definition = template_definition("after_hours")
    base = datetime(2025, 6, 7, 12, 0, tzinfo=UTC)  # a Saturday
    opened = console.find_time(definition, True, base)
    assert opened.weekday() == 0 and 9 <= opened.hour < 17
    assert console.find_time(definition, False, base) == base
    assert console.event_for({"kind": "silence"}, ["input", "timeout"]).kind == "timeout"
    assert console.event_for({"kind": "dial", "status": "busy"}, ["dial"]).params["DialCallStatus"] == "busy"
    assert console.event_for({"kind": "hangup"}, []) is None


def test_a_bad_clock_on_the_console_form_is_a_400_not_a_500(ed, acme):
    resp = ed.htmx(f"/flows/{acme['flow'].id}/console", {"clock": "tomorrow"})
    assert resp.status_code == 400 and "clock must be one of" in resp.get_data(as_text=True)


def test_a_run_cannot_grow_without_bound(ed, acme):
    flow = acme["flow"]
    loop = {
        "spec": "phonetree/1",
        "start": "menu",
        "settings": {"max_node_visits": 1000},
        "nodes": [
            {
                "id": "menu",
                "type": "menu",
                "name": "Loop",
                "props": {"prompt": "Press 1 again.", "options": [{"digit": "1"}]},
                "outcomes": {"1": "menu"},
            }
        ],
    }
    svc.save_draft(acme["org"], acme["editor"], flow, loop, flow.draft_version)
    db.session.commit()
    run = _run(_start(ed, acme, clock="now").get_data(as_text=True))
    for _ in range(console.MAX_ACTIONS):
        resp = ed.htmx(f"/flows/{flow.id}/console/act", {"run": run, "kind": "press", "digits": "1"})
        assert resp.status_code == 200
        run = _run(resp.get_data(as_text=True))
    resp = ed.htmx(f"/flows/{flow.id}/console/act", {"run": run, "kind": "press", "digits": "1"})
    assert resp.status_code == 400 and f"at most {console.MAX_ACTIONS} caller actions" in resp.get_data(as_text=True)


def test_pattern_checked_inputs_say_what_they_accept(ed, acme):
    """A browser's 'Please match the requested format' is shown with the input's title: every pattern has one."""
    html = _start(ed, acme).get_data(as_text=True)
    inputs = re.findall(r"<input [^>]*pattern=[^>]*>", html)
    assert inputs and all('title="' in i for i in inputs)
    assert 'title="Keypad keys only: 0-9, * and #"' in html


def test_a_copy_of_the_voice_number_builtin_runs_in_the_console(ed, acme):
    from flows.builtin import BUILTIN_FLOWS

    flow = acme["flow"]
    svc.save_draft(acme["org"], None, flow, BUILTIN_FLOWS["voice-number"].definition(), flow.draft_version)
    db.session.commit()
    html = _start(ed, acme, agents="offline").get_data(as_text=True)
    assert "Please leave a message after the beep." in html
    resp = ed.htmx(f"/flows/{flow.id}/console/act", {"run": _run(html), "kind": "record", "seconds": "4"})
    event = json.loads(resp.headers["HX-Trigger"])["console-run"]
    assert event["path"][0] == {"node": "softphones", "outcome": "no_answer"}
    assert event["path"][-1] == {"node": "voicemail", "outcome": "recorded"} and event["done"]
    html = _start(ed, acme, agents="online").get_data(as_text=True)
    assert "Please leave a message" not in html and "Call ended" not in html
