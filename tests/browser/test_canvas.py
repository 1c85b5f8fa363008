"""The canvas at real sizes, in Chromium: ELK auto-layout, wires from their ports and around cards,
new nodes in free space, and the minimap, search and zoomed-out blocks of big flows.

Flows: the demo flow (as `flask seed-demo` makes it), the 55-widget Studio export in
../shared/studio-flows (read from there) and a generated 300-node flow.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.designer import generate_flow
from tests.browser.canvas_geometry import measure, measure_visible, problems
from tests.plugins.browser import login, shot
from tests.plugins.db import skip_or_fail
from tests.plugins.factories import PASSWORD

ROOT = Path(__file__).resolve().parents[2]
LARGE_STUDIO = ROOT.parent / "shared" / "studio-flows" / "14-large-ivr-connect.json"
README_SHOT = ROOT / "docs" / "designer-canvas.png"


@pytest.fixture
def flows(live_server):
    """Org acme, editor Erin, and the three flows by name."""
    from extensions import db
    from services import flow_revisions as svc
    from services.accounts import ensure_org, ensure_user, set_membership

    org = ensure_org("acme", "Acme Corp")
    erin, _ = ensure_user("erin@example.com", PASSWORD, "Erin")
    set_membership(org, erin, "editor")
    demo = svc.create_flow(org, erin, "Main menu (demo)", template="main_menu")
    big = svc.create_flow(org, erin, "300 nodes", generate_flow(300))
    out = {"demo": demo.id, "300": big.id}
    if LARGE_STUDIO.exists():
        large, *_ = svc.import_flow(org, erin, json.loads(LARGE_STUDIO.read_text()), "Large IVR (Studio)")
        out["large"] = large.id
    db.session.commit()
    return out


def open_flow(page, server, flow_id: int) -> None:
    login(page, server, "erin@example.com", PASSWORD)
    page.goto(f"{server.url}/flows/{flow_id}")
    page.wait_for_selector("#designer[data-ready=true]")


def auto_layout(page) -> None:
    page.click("[data-cmd=layout]")
    page.wait_for_function(
        "() => window.phonetreeDesigner.history.undoStack.at(-1)?.label === 'Auto-layout'", timeout=120_000
    )


def js(page, expr: str):
    return page.evaluate(f"(() => {{ const d = window.phonetreeDesigner; return {expr}; }})()")


@pytest.mark.parametrize("name", ["demo", "large", "300"])
def test_auto_layout_leaves_every_wire_readable(page, live_server, flows, name):
    if name not in flows:
        skip_or_fail(f"{LARGE_STUDIO} is missing")
    open_flow(page, live_server, flows[name])
    auto_layout(page)
    geometry = measure(page)
    assert "error" not in geometry, (geometry, js(page, "({...d.canvas.view})"))
    assert geometry["cards"] == js(page, "d.model.order.length")
    assert geometry["wires"] == js(page, "d.canvas.edges.size") > 0
    assert not problems(geometry), problems(geometry)
    # the start is on top, and no mid-wire label is drawn: chips name the wires
    top = js(page, "Math.min(...[...d.model.pos.values()].map((p) => p.y))")
    assert js(page, "d.model.pos.get(d.model.start).y") == top
    assert page.locator("#edge-layer text").count() == 0
    if name == "large":  # for the README: the top of the flow at a readable size, the minimap for the rest
        page.set_viewport_size({"width": 1600, "height": 1000})
        page.evaluate("""(() => { const c = window.phonetreeDesigner.canvas, s = c.model.start;
            const p = c.model.pos.get(s), r = c.root.getBoundingClientRect(), k = 0.55;
            c.view = { k, x: r.width / 2 - (p.x + c.cards.get(s).w / 2) * k, y: 24 - p.y * k }; c.applyView(); })()""")
        page.wait_for_timeout(200)
        assert not problems(measure_visible(page)), problems(measure_visible(page))
        README_SHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(README_SHOT))
    shot(page, f"canvas-auto-layout-{name}")
    assert not page.js_errors


def test_ports_show_open_and_connected_and_name_their_wire(page, live_server, flows):
    open_flow(page, live_server, flows["demo"])
    wired = page.locator(".node-card[data-id=main] .port[data-outcome='1']")
    assert "wired" in wired.get_attribute("class")
    # an open port looks different: a dashed chip whose dot is hollow
    js(page, "d.act.connect('main', '2', null)")
    open_port = page.locator(".node-card[data-id=main] .port[data-outcome='2']")
    page.wait_for_function("() => !window.phonetreeDesigner.model.node('main').outcomes['2']")
    style = "(el) => [getComputedStyle(el).borderStyle, getComputedStyle(el, '::after').backgroundColor]"
    assert wired.evaluate(style) != open_port.evaluate(style)
    assert open_port.evaluate(style)[0] == "dashed"
    # hovering a wire lights up its chip; its name shows in the wire's tooltip
    key = "main\\u00001"
    page.evaluate(f"window.phonetreeDesigner.canvas.hoverEdge('{key}', true)")
    assert "hot" in wired.get_attribute("class")
    assert js(page, f"d.canvas.edges.get('{key}').hit.textContent") == "1 Sales → Sales"
    # dragging from a chip still connects that outcome
    target = page.locator(".node-card[data-id=support]").bounding_box()
    box = open_port.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + 20, box["y"] + 30, steps=3)
    page.mouse.move(target["x"] + target["width"] / 2, target["y"] + 30, steps=8)
    page.mouse.up()
    page.wait_for_function("() => window.phonetreeDesigner.model.node('main').outcomes['2'] === 'support'")
    assert not measure(page)["offPort"]
    assert not page.js_errors


def test_a_card_dragged_onto_wires_is_routed_around(page, live_server, flows):
    open_flow(page, live_server, flows["demo"])
    auto_layout(page)
    # drop the "Closed" card on the middle of the longest wire that is not its own
    mid = page.evaluate("""(() => { const c = window.phonetreeDesigner.canvas; let best = null;
        for (const e of c.edges.values()) { if (e.src === 'closed' || e.dst === 'closed') continue;
          const len = e.pts.reduce((s, p, i) => i ? s + Math.abs(p.x - e.pts[i-1].x) + Math.abs(p.y - e.pts[i-1].y)
            : 0, 0);
          if (!best || len > best.len) best = { len, key: e.key, x: e.mid.x, y: e.mid.y }; }
        const r = c.root.getBoundingClientRect(), v = c.view;
        return { key: best.key, x: r.left + v.x + best.x * v.k, y: r.top + v.y + best.y * v.k }; })()""")
    card = page.locator(".node-card[data-id=closed]").bounding_box()
    grab = (card["x"] + 30, card["y"] + 12)
    page.mouse.move(*grab)
    page.mouse.down()
    page.mouse.move(grab[0] + 10, grab[1] + 10, steps=2)
    page.mouse.move(mid["x"] - card["width"] / 2 + 30, mid["y"] - card["height"] / 2 + 12, steps=10)
    page.mouse.up()
    page.wait_for_function("() => window.phonetreeDesigner.history.undoStack.at(-1).label === 'Move'")
    geometry = measure(page)
    assert not geometry["throughCards"], geometry["throughCards"]
    assert not geometry["offPort"]
    shot(page, "canvas-card-dropped-on-wires")
    assert not page.js_errors


def overlaps_any(page, node_id: str) -> list[str]:
    return page.evaluate(
        """(id) => { const r = document.querySelector(`.node-card[data-id="${id}"]`).getBoundingClientRect();
        return [...document.querySelectorAll('#nodes .node-card:not([hidden])')].filter((el) => el.dataset.id !== id)
          .filter((el) => { const o = el.getBoundingClientRect();
            return r.left < o.right && o.left < r.right && r.top < o.bottom && o.top < r.bottom; })
          .map((el) => el.dataset.id); }""",
        node_id,
    )


def test_new_nodes_land_in_free_space(page, live_server, flows):
    open_flow(page, live_server, flows["demo"])
    # the view's centre on a card: Enter on the palette puts the new node beside it, not on it
    js(page, "d.canvas.centerOn('main')")
    page.evaluate("""(() => { const c = window.phonetreeDesigner.canvas, r = c.root.getBoundingClientRect();
        const p = c.model.pos.get('main'), w = c.cards.get('main'), k = c.view.k;
        c.view.x = r.width / 2 - (p.x + w.w / 2) * k; c.view.y = r.height / 2 - (p.y + w.h / 2) * k;
        c.applyView(); })()""")
    js(page, "d.canvas.setSelection([])")
    page.click("#tab-add")
    page.locator(".palette-item[data-type=say]").focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".node-card[data-id=say]")
    assert overlaps_any(page, "say") == []
    # with one node selected, a click on the palette puts the new one next to it
    js(page, "d.canvas.setSelection(['sales'])")
    page.click("#tab-add")
    page.click(".palette-item[data-type=hangup]")
    page.wait_for_selector(".node-card[data-id=hangup]")
    assert overlaps_any(page, "hangup") == []
    sales, new = js(page, "[d.model.pos.get('sales'), d.model.pos.get('hangup')]")
    assert abs(new["x"] - sales["x"]) + abs(new["y"] - sales["y"]) < 600
    assert not page.js_errors


def test_big_flow_minimap_search_and_blocks(page, live_server, flows):
    open_flow(page, live_server, flows["300"])
    minimap = page.locator("#minimap")
    assert minimap.is_visible()  # the flow does not fit the screen
    # a click in the minimap moves the view there
    before = js(page, "({...d.canvas.view})")
    box = minimap.bounding_box()
    page.mouse.click(box["x"] + box["width"] - 12, box["y"] + box["height"] - 12)
    after = js(page, "({...d.canvas.view})")
    assert (after["x"], after["y"]) != (before["x"], before["y"])
    # search by name: the node is selected and brought to the middle of the view
    page.fill("#find-node", "Menu 150")
    page.wait_for_selector("#find-results li[data-id=n150]")
    page.keyboard.press("Enter")
    page.wait_for_function("() => window.phonetreeDesigner.canvas.selection.has('n150')")
    canvas = page.locator("#canvas").bounding_box()
    card = page.locator(".node-card[data-id=n150]").bounding_box()
    assert abs(card["x"] + card["width"] / 2 - (canvas["x"] + canvas["width"] / 2)) < 40
    assert canvas["y"] < card["y"] < canvas["y"] + canvas["height"] - card["height"]
    # and by id
    page.fill("#find-node", "n41")
    page.wait_for_selector("#find-results li[data-id=n41]")
    page.click("#find-results li[data-id=n41]")
    page.wait_for_function("() => window.phonetreeDesigner.canvas.selection.has('n41')")
    # zoomed out: coloured blocks with their names, the details hidden
    js(page, "d.canvas.zoomAt(0.25)")
    page.wait_for_timeout(100)
    blocks = page.locator(".node-card[data-id=n41]")
    assert blocks.evaluate("(el) => getComputedStyle(el, '::after').content") == '"Say 41"'
    assert blocks.evaluate("(el) => getComputedStyle(el.querySelector('.nc-text')).visibility") == "hidden"
    shot(page, "canvas-300-zoomed-out")
    auto_layout(page)
    shot(page, "canvas-300-auto-layout")
    assert not page.js_errors


def test_big_flow_warms_the_layout_worker_up_in_idle_time_without_moving_anything(page, live_server, flows):
    open_flow(page, live_server, flows["demo"])
    assert js(page, "document.getElementById('designer').dataset.layoutWarm") == "skipped"  # small: no need
    page.goto(f"{live_server.url}/flows/{flows['300']}")
    page.wait_for_selector("#designer[data-ready=true]")
    before = js(page, "Object.fromEntries(d.model.pos)")
    page.wait_for_selector("#designer[data-layout-warm=done]", state="attached", timeout=120_000)
    # the background run (in ELK's worker) is thrown away: nothing moved, nothing to undo
    assert js(page, "Object.fromEntries(d.model.pos)") == before
    assert js(page, "d.history.undoStack.length") == 0
    assert int(js(page, "document.getElementById('designer').dataset.layoutWarmMs")) > 0
    auto_layout(page)
    assert js(page, "Object.fromEntries(d.model.pos)") != before
    assert not page.js_errors


def test_auto_layout_reports_a_layout_worker_that_never_loads(page, live_server, flows):
    # a worker script that fails to load never answers ELK: the click must say so, not hang
    page.route("**/elk-worker.min.js", lambda route: route.abort())
    open_flow(page, live_server, flows["demo"])
    before = js(page, "JSON.stringify([...d.model.pos.entries()])")
    page.click("[data-cmd=layout]")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.toast')].some((t) => t.textContent.includes('Auto-layout failed'))",
        timeout=30_000,
    )
    assert js(page, "JSON.stringify([...d.model.pos.entries()])") == before
    # the next click starts a fresh worker: once the script loads again, the layout runs
    page.unroute("**/elk-worker.min.js")
    auto_layout(page)
