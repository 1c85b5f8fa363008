"""The visual designer in Chromium: build, edit, validate, publish, roll back, undo, import, simulate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.plugins.browser import login, shot
from tests.plugins.factories import PASSWORD

STUDIO = Path(__file__).resolve().parents[1] / "fixtures" / "studio"


@pytest.fixture
def acme(live_server):
    """Org acme with editor Erin, viewer Vic, a blank flow and a main-menu flow."""
    from extensions import db
    from services import flow_revisions as svc
    from services.accounts import ensure_org, ensure_user, set_membership

    org = ensure_org("acme", "Acme Corp")
    erin, _ = ensure_user("erin@example.com", PASSWORD, "Erin")
    vic, _ = ensure_user("vic@example.com", PASSWORD, "Vic")
    set_membership(org, erin, "editor")
    set_membership(org, vic, "viewer")
    blank = svc.create_flow(org, erin, "Front desk", template="blank")
    menu = svc.create_flow(org, erin, "Support line", template="main_menu")
    db.session.commit()
    return {"org": org, "erin": erin, "vic": vic, "blank": blank, "menu": menu}


def open_designer(page, server, flow_id: int, query: str = "") -> None:
    page.goto(f"{server.url}/flows/{flow_id}{query}")
    page.wait_for_selector("#designer[data-ready=true]")


def open_draft(page, server, acme, definition: dict) -> int:
    """Save `definition` as the draft of acme's blank flow, sign Erin in and open it; the flow's id."""
    from extensions import db
    from services import flow_revisions as svc

    flow = acme["blank"]
    svc.save_draft(acme["org"], acme["erin"], flow, definition, flow.draft_version)
    db.session.commit()
    login(page, server, "erin@example.com", PASSWORD)
    open_designer(page, server, flow.id)
    return flow.id


def card(page, node_id: str):
    return page.locator(f".node-card[data-id='{node_id}']")


def center(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["x"] + box["width"] / 2, box["y"] + box["height"] / 2


def drag(page, locator, to: tuple[float, float], grab: tuple[float, float] | None = None) -> None:
    """Press on `locator` (at its centre, or `grab` offsets from its top-left) and drop at `to`."""
    box = locator.bounding_box()
    x, y = (box["x"] + grab[0], box["y"] + grab[1]) if grab else center(locator)
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 8, y + 8, steps=2)
    page.mouse.move(to[0], to[1], steps=12)
    page.mouse.up()


def add_node(page, node_type: str, at: tuple[float, float]) -> None:
    """Drag a node type from the Add tab's palette onto the canvas."""
    page.click("#tab-add")
    drag(page, page.locator(f".palette-item[data-type={node_type}]"), at)


def wait_saved(page) -> None:
    page.wait_for_function("() => document.querySelector('#save-state').dataset.state === 'saved'", timeout=10_000)


def js(page, expr: str):
    return page.evaluate(f"(() => {{ const d = window.phonetreeDesigner; return {expr}; }})()")


def stored_draft(flow_id: int) -> dict:
    from extensions import db
    from models import Flow

    db.session.expire_all()
    return db.session.get(Flow, flow_id).draft


def test_build_a_menu_with_two_options_by_dragging_and_connecting(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    flow_id = acme["blank"].id
    open_designer(page, live_server, flow_id)
    assert page.locator(".node-card").count() == 2

    add_node(page, "menu", (800, 180))
    card(page, "menu").wait_for()
    page.wait_for_selector("#node-form form[data-node-id=menu]")
    page.fill("#node-form input[name=name]", "Main menu")
    page.fill("#node-form textarea[name='f.prompt.text']", "For sales press 1. For support press 2.")
    page.fill("#node-form input[name='f.options.0.label']", "Sales")
    page.fill("#node-form input[name='f.options.1.label']", "Support")
    page.wait_for_function(
        "() => document.querySelector(\".node-card[data-id=menu] .nc-name\").textContent === 'Main menu'"
    )
    page.wait_for_selector(".node-card[data-id=menu] .port[data-outcome='2'] >> text=2 Support")

    add_node(page, "say", (330, 690))
    page.wait_for_selector("#node-form form[data-node-id=say]")
    page.fill("#node-form textarea[name='f.prompt.text']", "Connecting you to sales.")
    add_node(page, "say", (800, 560))
    page.wait_for_selector("#node-form form[data-node-id=say_2]")
    page.fill("#node-form textarea[name='f.prompt.text']", "Connecting you to support.")

    drag(page, page.locator(".node-card[data-id=menu] .port[data-outcome='1']"), center(card(page, "say")))
    drag(page, page.locator(".node-card[data-id=menu] .port[data-outcome='2']"), center(card(page, "say_2")))
    drag(page, page.locator(".node-card[data-id=hello] .port[data-outcome=next]"), center(card(page, "menu")))
    page.wait_for_function("() => window.phonetreeDesigner.canvas.edges.size === 3")
    assert js(page, "d.model.node('menu').outcomes") == {"1": "say", "2": "say_2"}
    assert js(page, "d.model.node('hello').outcomes") == {"next": "menu"}
    assert page.locator(".edge").count() == 3
    assert "wired" in page.locator(".node-card[data-id=menu] .port[data-outcome='1']").get_attribute("class")

    wait_saved(page)
    draft = stored_draft(flow_id)
    menu = next(n for n in draft["nodes"] if n["id"] == "menu")
    assert menu["props"]["prompt"] == {"say": "For sales press 1. For support press 2."}
    assert [o["label"] for o in menu["props"]["options"]] == ["Sales", "Support"]
    assert menu["outcomes"] == {"1": "say", "2": "say_2"} and draft["ui"]["nodes"]["menu"]
    page.click("[data-cmd=fit]")
    page.wait_for_timeout(200)
    shot(page, "designer-build-menu")
    assert not page.js_errors


def test_validation_errors_appear_and_clear_and_gate_publishing(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    open_designer(page, live_server, acme["menu"].id)
    page.wait_for_function("() => !document.querySelector('#publish-btn').disabled")
    card(page, "main").click()
    page.wait_for_selector("#node-form form[data-node-id=main]")
    page.fill("#node-form textarea[name='f.prompt.text']", "")
    page.wait_for_selector(".node-card[data-id=main].has-error")
    page.wait_for_selector("#node-form [data-field=prompt] .nf-error >> text=Prompt is required.")
    assert page.locator("#publish-btn").is_disabled()
    assert page.locator("#problem-count").inner_text() == "1"
    page.click("#tab-problems")
    page.wait_for_selector("#problems >> text=Prompt is required.")
    shot(page, "designer-validation-error")
    page.click("#problems button[data-issue='0']")
    page.wait_for_selector("#node-form form[data-node-id=main]")
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'f.prompt.text'")
    page.keyboard.type("Press 1 for sales, 2 for support.")
    page.wait_for_selector(".node-card[data-id=main]:not(.has-error)")
    page.wait_for_function("() => !document.querySelector('#publish-btn').disabled")
    assert page.locator("#node-form .nf-error >> text=Prompt is required.").count() == 0
    wait_saved(page)
    assert not page.js_errors


def test_publish_view_history_and_roll_back(page, live_server, acme):
    page.on("dialog", lambda dialog: dialog.accept())
    login(page, live_server, "erin@example.com", PASSWORD)
    flow_id = acme["menu"].id
    open_designer(page, live_server, flow_id)
    page.click("#publish-btn")
    page.fill("#publish-dialog textarea[name=message]", "First version")
    page.click("#publish-dialog button[type=submit]")
    page.wait_for_selector("#history >> text=Revision 1 is live.")
    assert page.locator("[data-published]").inner_text() == "Published · r1"
    assert page.locator("#pane-history").is_visible()

    card(page, "sales").click()
    page.wait_for_selector("#node-form form[data-node-id=sales]")
    page.fill("#node-form input[name=name]", "Sales team")
    page.wait_for_selector("[data-unpublished]:not([hidden])")
    wait_saved(page)
    page.click("#publish-btn")
    page.fill("#publish-dialog textarea[name=message]", "Renamed sales")
    page.click("#publish-dialog button[type=submit]")
    page.wait_for_selector("#history >> text=Revision 2 is live.")
    entry = page.locator(".revision[data-revision='2']")
    assert "Renamed sales" in entry.inner_text() and "Erin" in entry.inner_text() and "1 changed" in entry.inner_text()
    shot(page, "designer-history")

    page.locator(".revision[data-revision='1'] >> text=Roll back to this").click()
    page.wait_for_selector("#history >> text=is a copy of revision 1 and is live")
    assert "Live" in page.locator(".revision[data-revision='3']").inner_text()
    assert page.locator("[data-published]").inner_text() == "Published · r3"
    page.click("#history [data-restore='1']")
    page.wait_for_function("() => window.phonetreeDesigner.model.node('sales').name === 'Sales'")
    wait_saved(page)
    assert next(n for n in stored_draft(flow_id)["nodes"] if n["id"] == "sales")["name"] == "Sales"

    page.locator(".revision[data-revision='2'] >> text=View").click()
    page.wait_for_selector("#designer[data-ready=true]")
    assert "Revision 2 · read-only" in page.locator(".dz-state").inner_text()
    assert page.locator(".node-card[data-id=sales] .nc-name").inner_text() == "Sales team"
    assert page.locator("#publish-btn").count() == 0
    shot(page, "designer-revision-readonly")
    assert not page.js_errors


def test_undo_and_redo_every_kind_of_edit_with_the_keyboard(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    flow_id = acme["menu"].id
    open_designer(page, live_server, flow_id)
    original = js(page, "d.model.toJSON()")

    card(page, "closed").focus()  # keyboard: a focused card is selected
    page.wait_for_function("() => window.phonetreeDesigner.canvas.selection.has('closed')")
    before = js(page, "d.model.pos.get('closed')")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Shift+ArrowDown")
    assert js(page, "d.model.pos.get('closed')") == {"x": before["x"] + 16, "y": before["y"] + 40}

    drag(page, card(page, "thanks"), (300, 720), grab=(60, 12))  # move
    page.keyboard.press("Escape")
    card(page, "sales").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")  # paste a copy
    page.wait_for_selector(".node-card[data-id=sales_2]")
    assert js(page, "[...d.canvas.selection]") == ["sales_2"]
    page.keyboard.press("Delete")  # delete the copy again
    card(page, "support").click()
    page.keyboard.press("Delete")  # delete a wired node: its incoming wire goes too
    page.wait_for_selector(".node-card[data-id=support]", state="detached")
    assert "2" not in js(page, "d.model.node('main').outcomes")
    page.click("[data-cmd=note]")
    page.keyboard.type("Ask Bob about holidays")
    page.wait_for_function(
        "() => [...window.phonetreeDesigner.model.notes.values()][0]?.text === 'Ask Bob about holidays'"
    )
    page.locator("#canvas").click(position={"x": 30, "y": 30})
    steps = js(page, "d.history.undoStack.length")
    assert steps >= 7
    shot(page, "designer-edited")

    for _ in range(steps):
        page.keyboard.press("Control+z")
    assert js(page, "d.model.toJSON()") == original
    assert page.locator(".node-card[data-id=support]").count() == 1 and page.locator(".note").count() == 0
    page.keyboard.press("Control+Shift+z")
    page.keyboard.press("Control+y")
    page.keyboard.press("Control+y")
    assert js(page, "d.model.pos.get('closed')") == {"x": before["x"] + 16, "y": before["y"] + 40}
    assert page.locator("[data-cmd=undo]").is_enabled() and page.locator("[data-cmd=redo]").is_enabled()
    wait_saved(page)
    assert stored_draft(flow_id)["ui"]["nodes"]["closed"] == {"x": before["x"] + 16, "y": before["y"] + 40}
    assert not page.js_errors


def test_keyboard_only_editing_tab_enter_and_connections(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    open_designer(page, live_server, acme["blank"].id)
    page.locator(".node-card").first.focus()
    assert page.evaluate("document.activeElement.getAttribute('aria-label')") == "Say / Play: Greeting (start)"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.id") == "bye"
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Enter")  # opens the node's form with the name focused
    page.wait_for_function("() => document.activeElement && document.activeElement.name === 'name'")
    page.keyboard.press("Control+a")
    page.keyboard.type("Welcome")
    page.wait_for_function("() => window.phonetreeDesigner.model.node('hello').name === 'Welcome'")
    page.select_option("#node-form select[data-outcome=next]", "")  # disconnect from the form
    page.wait_for_function("() => !window.phonetreeDesigner.model.node('hello').outcomes.next")
    assert page.locator(".edge").count() == 0
    page.select_option("#node-form select[data-outcome=next]", "bye")
    page.wait_for_function("() => window.phonetreeDesigner.model.node('hello').outcomes.next === 'bye'")
    page.locator(".edge .hit").first.click(force=True)  # select the wire, delete it with the key
    page.locator("#canvas").focus()
    page.keyboard.press("Delete")
    page.wait_for_function("() => !window.phonetreeDesigner.model.node('hello').outcomes.next")
    page.click("#tab-add")
    page.locator(".palette-item[data-type=voicemail]").focus()
    page.keyboard.press("Enter")
    card(page, "voicemail").wait_for()
    assert not page.js_errors


def test_import_a_studio_flow_and_auto_layout_it(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    page.goto(live_server.url + "/flows/")
    page.click("text=Import")
    page.fill("#import-dialog input[name=name]", "Studio IVR")
    page.set_input_files("#import-dialog input[type=file]", str(STUDIO / "ivr_main_menu.json"))
    page.click("#import-dialog button[type=submit]")
    page.wait_for_selector("#import-result .import-done")
    assert page.locator("#import-result .import-report tbody tr").count() >= 5
    assert "mapped" in page.locator("#import-result").inner_text()
    shot(page, "designer-import-report")
    page.click("#import-result >> text=Open in the designer")
    page.wait_for_selector("#designer[data-ready=true]")
    count = page.locator(".node-card").count()
    assert count >= 5
    # scatter the nodes, then let auto-layout tidy them up
    page.evaluate("""(() => { const d = window.phonetreeDesigner; const pos = {};
        d.model.order.forEach((id, i) => { pos[id] = {x: (i * 37) % 120, y: (i * 53) % 90}; });
        d.act.do({pos}, "Scatter"); })()""")
    page.click("[data-cmd=layout]")
    page.wait_for_function("() => window.phonetreeDesigner.history.undoStack.at(-1).label === 'Auto-layout'")
    positions = js(page, "Object.fromEntries(d.model.pos)")
    start = js(page, "d.model.start")
    assert positions[start]["y"] == min(p["y"] for p in positions.values())
    boxes = [card(page, n).bounding_box() for n in positions]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            overlap = (
                a["x"] < b["x"] + b["width"]
                and b["x"] < a["x"] + a["width"]
                and a["y"] < b["y"] + b["height"]
                and b["y"] < a["y"] + a["height"]
            )
            assert not overlap
    wait_saved(page)
    shot(page, "designer-studio-auto-layout")
    assert not page.js_errors


def test_console_runs_the_draft_highlights_the_path_and_saves_a_test(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    open_designer(page, live_server, acme["menu"].id)
    page.click("#tab-test")
    page.wait_for_selector("#console form.console-start")
    page.click("#console label:has(input[name=clock][value=open])")
    page.click("#console button[type=submit]")
    page.wait_for_selector("#console .transcript >> text=For sales press 1")
    page.wait_for_selector(".node-card[data-id=main].active")
    page.click("#console .keypad >> text=2")
    page.wait_for_selector("#console .transcript >> text=six digit ticket number")
    page.fill("#console input[name=digits]", "424242")
    page.press("#console input[name=digits]", "Enter")
    page.wait_for_selector("#console .transcript >> text=about ticket 424242")
    for node in ("hours", "main", "support", "thanks"):
        assert "on-path" in card(page, node).get_attribute("class")
    assert "on-path" not in card(page, "sales").get_attribute("class")
    assert page.evaluate("document.querySelectorAll('.edge.on-path').length") == 3
    shot(page, "designer-console")
    page.fill("#console input[name=name]", "Support ticket")
    page.click("#console >> text=Save as test")
    page.wait_for_selector("#console >> text=Saved test case")
    page.click("#console >> text=Run all")
    page.wait_for_selector("#console .test-summary >> text=1 passed · 0 failed")

    # change the draft: the saved test now fails
    card(page, "main").click()  # the console stays open while testing; the form is one tab away
    assert page.locator("#pane-test").is_visible()
    page.click("#tab-edit")
    page.wait_for_selector("#node-form form[data-node-id=main]")
    page.select_option("#node-form select[data-outcome='2']", "sales")
    page.click("#tab-test")
    page.click("#console >> text=Run all")  # waits for the autosave first
    page.wait_for_selector("#console .test-summary >> text=0 passed · 1 failed")
    assert "expected support" in page.locator("#console .case-msg").inner_text()
    assert not page.js_errors


def test_console_business_hours_closed_and_a_recording(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    open_designer(page, live_server, acme["menu"].id)
    page.click("#tab-test")
    page.wait_for_selector("#console form.console-start")
    page.click("#console label:has(input[name=clock][value=closed])")
    page.click("#console button[type=submit]")
    page.wait_for_selector("#console .transcript >> text=We are closed right now")
    page.click("#console button:has-text('Record')")
    page.wait_for_selector("#console .transcript >> text=Call ended")
    assert "on-path" in card(page, "voicemail").get_attribute("class")
    assert not page.js_errors


def _conflict_after_save_by(page, live_server, acme, user) -> str:
    """Erin opens the menu flow, `user` saves it elsewhere, Erin edits: the conflict banner's text."""
    from extensions import db
    from services import flow_revisions as svc

    login(page, live_server, "erin@example.com", PASSWORD)
    flow_id = acme["menu"].id
    open_designer(page, live_server, flow_id)
    flow = svc.get_flow(acme["org"], flow_id)
    elsewhere = json.loads(json.dumps(flow.draft))
    elsewhere["nodes"][0]["name"] = "Saved elsewhere"
    svc.save_draft(acme["org"], user, flow, elsewhere, flow.draft_version)
    db.session.commit()
    card(page, "closed").click()
    page.wait_for_selector("#node-form form[data-node-id=closed]")
    page.fill("#node-form input[name=name]", "Closed now")
    page.wait_for_selector("#conflict:not([hidden])")
    return page.locator("#conflict").inner_text()


def test_a_conflict_with_my_own_other_tab_does_not_blame_anyone(page, live_server, acme):
    text = _conflict_after_save_by(page, live_server, acme, acme["erin"])  # Erin's other tab saved first
    assert "You saved this flow in another tab at" in text and "Erin" not in text and "Conflict:" not in text
    assert "Reload that version" in text and "Overwrite with this tab's" in text and "their" not in text
    shot(page, "designer-conflict-own-tab")
    assert not page.js_errors


def test_a_conflicting_save_is_shown_and_can_be_overwritten(page, live_server, acme):
    flow_id = acme["menu"].id
    text = _conflict_after_save_by(page, live_server, acme, acme["vic"])  # meanwhile Vic's browser saves the draft
    assert "Conflict: Vic saved at" in text and "reload" in text and "overwrite" in text
    assert page.locator("#save-state").inner_text() == "Conflict"
    shot(page, "designer-conflict")
    page.click("[data-cmd=conflict-overwrite]")
    wait_saved(page)
    assert page.locator("#conflict").is_hidden()
    draft = stored_draft(flow_id)
    assert draft["nodes"][0]["name"] == "Open now?" and draft["nodes"][5]["name"] == "Closed now"
    assert not page.js_errors


def test_unsaved_edits_survive_a_lost_connection_in_the_browser(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    flow_id = acme["menu"].id
    open_designer(page, live_server, flow_id)
    page.route("**/draft", lambda route: route.abort())  # the network is gone
    card(page, "sales").click()
    page.wait_for_selector("#node-form form[data-node-id=sales]")
    page.fill("#node-form input[name=name]", "Sales (offline edit)")
    page.wait_for_selector("#save-state[data-state=error]")
    assert "Offline" in page.locator("#save-state").inner_text()
    context = page.context
    page.close()  # the tab is closed before the retry could reach the server
    new = context.new_page()
    new.goto(f"{live_server.url}/flows/{flow_id}")
    new.wait_for_selector("#restore-banner:not([hidden])")
    new.click("[data-cmd=restore-local]")
    new.wait_for_function("() => window.phonetreeDesigner.model.node('sales').name === 'Sales (offline edit)'")
    new.wait_for_function("() => document.querySelector('#save-state').dataset.state === 'saved'")
    assert next(n for n in stored_draft(flow_id)["nodes"] if n["id"] == "sales")["name"] == "Sales (offline edit)"


def test_viewer_sees_a_read_only_canvas(page, live_server, acme):
    login(page, live_server, "vic@example.com", PASSWORD)
    flow_id = acme["menu"].id
    open_designer(page, live_server, flow_id)
    assert page.locator("#publish-btn").count() == 0 and page.locator("#tab-add").count() == 0
    before = js(page, "d.model.pos.get('sales')")
    drag(page, card(page, "sales"), (700, 700), grab=(40, 10))
    assert js(page, "d.model.pos.get('sales')") == before
    page.wait_for_selector("#node-form form[data-node-id=sales] fieldset[disabled]")
    page.keyboard.press("Delete")
    assert page.locator(".node-card[data-id=sales]").count() == 1
    page.click("#tab-test")
    page.wait_for_selector("#console form.console-start")
    assert not page.js_errors


def test_analytics_overlay_shows_calls_per_node_and_outcome(page, live_server, acme):
    from datetime import timedelta

    from extensions import db
    from models import utcnow
    from models.calls import CallSession, CallStep
    from services.analytics_rollup import rebuild

    org, flow_id = acme["org"], acme["menu"].id
    now = utcnow()
    for i, (digit, target) in enumerate([("1", "sales"), ("1", "sales"), ("2", "support"), (None, None)]):
        started = now - timedelta(hours=1)
        session = CallSession(org_id=org.id, call_sid=f"CA{i:032d}", flow_id=flow_id, started_at=started)
        db.session.add(session)
        db.session.flush()
        steps = [("hours", "enter", "open"), ("main", "enter", None), ("main", "input", digit), (target, "enter", None)]
        if digit is None:  # the fourth caller hangs up at the menu
            steps = [("hours", "enter", "open"), ("main", "enter", None), ("main", "hangup", None)]
        for seq, (node, event, outcome) in enumerate(steps):
            db.session.add(
                CallStep(
                    org_id=org.id,
                    session_id=session.id,
                    seq=seq,
                    turn=1,
                    node_id=node,
                    node_type="x",
                    event=event,
                    outcome=outcome,
                    detail={},
                    at=now,
                )
            )
    db.session.commit()
    rebuild()  # calls stored straight into the tables: their rollups come from the rebuild
    login(page, live_server, "erin@example.com", PASSWORD)
    open_designer(page, live_server, flow_id)
    page.select_option("#analytics-period", "7d")
    page.wait_for_selector("#analytics-legend:not([hidden])")
    assert "4 calls" in page.locator("#analytics-legend").inner_text()
    main = page.locator(".node-card[data-id=main]")
    assert main.locator(".nc-stats").inner_text() == "4 visits · 1 hung up (25%)"
    assert "heat-2" in main.get_attribute("class") and "heat-0" in page.locator(
        ".node-card[data-id=hours]"
    ).get_attribute("class")
    assert page.locator(".node-card[data-id=main] .port[data-outcome='1'] .port-count").inner_text().strip() == "2"
    # the wire's name (its chip's) shows on hover, with the calls that took it
    assert js(page, "d.canvas.edges.get('main\\u00001').hit.textContent") == "1 Sales → Sales · 2 calls"
    shot(page, "designer-analytics")
    page.select_option("#analytics-period", "")
    assert page.locator(".node-card[data-id=main] .nc-stats").is_hidden()
    assert not page.js_errors


def test_flows_list_create_rename_duplicate_archive(page, live_server, acme):
    from extensions import db
    from models import PhoneNumber

    page.on("dialog", lambda dialog: dialog.accept())
    db.session.add(PhoneNumber(org_id=acme["org"].id, phone_number="+14155550100", mode="ivr", flow_id=acme["menu"].id))
    db.session.commit()
    login(page, live_server, "erin@example.com", PASSWORD)
    page.goto(live_server.url + "/flows/")
    row = page.locator("tr", has_text="Support line")
    assert "+14155550100" in row.inner_text() and "Draft only" in row.inner_text()
    shot(page, "designer-flows-list")

    row = page.locator("tr", has_text="Front desk")
    row.locator("summary", has_text="Rename").click()
    row.locator("input[name=name]").fill("Reception")
    row.locator("button", has_text="Save").click()
    page.wait_for_selector("text=“Front desk” is now “Reception”")
    row = page.locator("tr", has_text="Reception")
    row.locator("summary[aria-label^='More actions']").click()
    row.locator("button", has_text="Duplicate").click()
    page.wait_for_selector("text=Reception (copy)")
    row = page.locator("tr", has_text="Reception (copy)")
    row.locator("summary[aria-label^='More actions']").click()
    row.locator("button", has_text="Archive").click()
    page.wait_for_selector("text=“Reception (copy)” was archived.")
    assert page.locator("a.flow-name", has_text="Reception (copy)").count() == 0

    page.click("text=New flow")
    page.fill("#new-flow-dialog input[name=name]", "After hours")
    page.click("#new-flow-dialog label:has-text('After-hours voicemail')")
    shot(page, "designer-new-flow")
    page.click("#new-flow-dialog button[type=submit]")
    page.wait_for_selector("#designer[data-ready=true]")
    assert page.locator("h1").inner_text() == "After hours"
    assert page.locator(".node-card[data-id=hours]").count() == 1
    page.click("#tab-flow")
    page.wait_for_selector("#settings-form input[name='f.voice']")
    page.fill("#settings-form input[name='f.voice']", "Polly.Amy")
    page.wait_for_function("() => window.phonetreeDesigner.model.settings.voice === 'Polly.Amy'")
    page.fill("#test-users textarea", "+1 415 555 0199")
    page.click("#test-users button[type=submit]")
    page.wait_for_selector("#test-users >> text=Test users saved.")
    shot(page, "designer-flow-settings")
    assert not page.js_errors


def test_zoom_pan_rubber_band_and_moving_a_group(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    open_designer(page, live_server, acme["menu"].id)
    canvas = page.locator("#canvas").bounding_box()
    page.mouse.move(canvas["x"] + 300, canvas["y"] + 300)
    k0 = js(page, "d.canvas.view.k")
    page.keyboard.down("Control")
    page.mouse.wheel(0, -300)
    page.keyboard.up("Control")
    page.wait_for_function(f"() => window.phonetreeDesigner.canvas.view.k > {k0}")
    assert page.locator("#zoom-level").inner_text() == f"{round(js(page, 'd.canvas.view.k') * 100)}%"
    x0 = js(page, "d.canvas.view.x")
    drag(page, page.locator("#canvas"), (canvas["x"] + 230, canvas["y"] + 150), grab=(30, 30))  # pan the background
    assert js(page, "d.canvas.view.x") != x0
    page.click("[data-cmd=fit]")

    sales, support = card(page, "sales").bounding_box(), card(page, "support").bounding_box()
    page.keyboard.down("Shift")
    page.mouse.move(sales["x"] - 20, sales["y"] - 20)
    page.mouse.down()
    page.mouse.move(support["x"] + support["width"] + 10, support["y"] + support["height"] + 10, steps=8)
    page.mouse.up()
    page.keyboard.up("Shift")
    assert sorted(js(page, "[...d.canvas.selection]")) == ["sales", "support"]
    before = js(page, "({sales: d.model.pos.get('sales'), support: d.model.pos.get('support')})")
    drag(page, card(page, "sales"), (sales["x"] + 120, sales["y"] + 100), grab=(50, 12))
    after = js(page, "({sales: d.model.pos.get('sales'), support: d.model.pos.get('support')})")
    assert after["sales"]["y"] > before["sales"]["y"] and after["support"]["y"] > before["support"]["y"]
    assert after["sales"]["x"] - before["sales"]["x"] == after["support"]["x"] - before["support"]["x"]
    page.click("[data-cmd=undo]")
    assert js(page, "({sales: d.model.pos.get('sales'), support: d.model.pos.get('support')})") == before
    assert not page.js_errors


def test_the_flow_channels_show_and_grey_the_palette(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    open_designer(page, live_server, acme["menu"].id)
    assert page.locator("#flow-channels").inner_text() == "Calls"
    page.click("#tab-add")
    assert "off-channel" in page.locator(".palette-item[data-type=wait_for_reply]").get_attribute("class")
    assert "off-channel" not in page.locator(".palette-item[data-type=record]").get_attribute("class")
    page.click("#tab-flow")
    page.wait_for_selector("#settings-form select[name='f.channels']")
    page.select_option("#settings-form select[name='f.channels']", "messaging")
    page.wait_for_function("() => (window.phonetreeDesigner.model.settings.channels || []).join() === 'messaging'")
    assert page.locator("#flow-channels").inner_text() == "Texts"
    page.wait_for_selector("#settings-form [data-field=voice]", state="hidden")  # a text flow has no voice
    assert page.locator("#settings-form [data-field=inactivity_timeout]").is_visible()
    assert page.evaluate("document.activeElement.name") == "f.channels"  # the reloaded form keeps the focus
    page.click("#tab-add")
    assert "off-channel" in page.locator(".palette-item[data-type=record]").get_attribute("class")
    assert "off-channel" not in page.locator(".palette-item[data-type=wait_for_reply]").get_attribute("class")
    assert "off-channel" not in page.locator(".palette-item[data-type=menu]").get_attribute("class")
    wait_saved(page)
    assert stored_draft(acme["menu"].id)["settings"]["channels"] == ["messaging"]
    shot(page, "designer-channels")
    assert not page.js_errors


def _inside(inner: dict, outer: dict) -> bool:
    return (inner["x"] >= outer["x"] and inner["y"] >= outer["y"] and inner["x"] + inner["width"] <= outer["x"]
            + outer["width"] and inner["y"] + inner["height"] <= outer["y"] + outer["height"])


def test_a_text_conversation_from_its_starter_speaks_of_texts(page, live_server, acme):
    login(page, live_server, "erin@example.com", PASSWORD)
    page.goto(f"{live_server.url}/flows/")
    page.click("button[data-open-dialog=new-flow-dialog]")
    page.fill("#new-flow-dialog input[name=name]", "Texts for the front desk of the Acme Corporation")
    page.check("#new-flow-dialog input[value=text_line]")
    page.click("#new-flow-dialog button[type=submit]")
    page.wait_for_selector("#designer[data-ready=true]")
    assert page.locator("#flow-channels").inner_text() == "Texts"
    assert card(page, "end").locator(".nc-text").text_content() == "Ends the conversation"
    assert card(page, "menu").locator(".nc-text").text_content().startswith("Thanks for texting us!")
    # the toolbar's badges and links sit side by side, none over another, all on the toolbar
    boxes = [page.locator(s).bounding_box() for s in ("#flow-channels", "[data-published]", "#save-state",
                                                         "#flow-state a:has-text('Dashboard')")]
    toolbar = page.locator(".dz-toolbar").bounding_box()
    assert all(_inside(b, toolbar) for b in boxes)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert a["x"] + a["width"] <= b["x"] or b["x"] + b["width"] <= a["x"] or a["y"] + a["height"] <= b["y"]

    wait_saved(page)
    page.locator(".dz-toolbar button:has-text('Publish')").click()
    assert page.locator("#publish-what").inner_text().startswith("New conversations with the flow's numbers")
    page.click("#publish-dialog button:has-text('Cancel')")

    page.click("#tab-add")
    assert "off-channel" in page.locator(".palette-item[data-type=record]").get_attribute("class")
    canvas = page.locator("#canvas").bounding_box()
    for node_type, new_id in (("send_message", "send_message"), ("wait_for_reply", "wait_for_reply"),
                              ("menu", "menu_2")):  # each added beside the last, brought into view
        page.click("#tab-add")
        page.locator(f".palette-item[data-type={node_type}]").click()
        page.wait_for_selector(f"#node-form form[data-node-id={new_id}]")
        assert _inside(card(page, new_id).bounding_box(), canvas), new_id
    assert page.locator("#node-form [data-field=prompt] .seg label").all_inner_texts() == ["Text", "Media URL"]
    assert not page.locator("#node-form [data-field=timeout]").is_visible()
    shot(page, "designer-text-starter")
    assert not page.js_errors


def test_a_flow_whose_texts_start_elsewhere_badges_both_starts(page, live_server, acme):
    from extensions import db
    from services import flow_revisions as svc

    flow = acme["blank"]
    definition = stored_draft(flow.id)
    definition["nodes"].append({"id": "texts", "type": "send_message", "name": "Text reply",
                                "props": {"body": "Thanks for your text!"}, "outcomes": {"sent": "bye"}})
    definition["settings"] |= {"channels": ["voice", "messaging"], "messaging_start": "texts"}
    svc.save_draft(acme["org"], acme["erin"], flow, definition, flow.draft_version)
    db.session.commit()
    login(page, live_server, "erin@example.com", PASSWORD)
    open_designer(page, live_server, flow.id)
    assert page.locator("#flow-channels").inner_text() == "Calls and texts"
    assert card(page, "hello").locator(".nc-start").inner_text() == "Calls start"
    assert card(page, "texts").locator(".nc-start").inner_text() == "Texts start"
    assert card(page, "texts").get_attribute("aria-label") == "Send message: Text reply (texts start)"
    assert card(page, "bye").locator(".nc-text").inner_text() == "Ends the call or conversation"
    shot(page, "designer-calls-and-texts-starts")
    page.click("#tab-flow")
    page.select_option("#settings-form select[name='f.channels']", "voice")  # calls only: one start again
    page.wait_for_function(
        "() => document.querySelector('.node-card[data-id=hello] .nc-start').textContent === 'Start'"
    )
    assert card(page, "texts").locator(".nc-start").count() == 0
    assert not page.js_errors
