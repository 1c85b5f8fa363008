"""Benchmark of the visual designer: page served, and in Chromium page load, drag and auto-layout.

Prints, for flows of 50, 500 and 2,000 nodes:
- the time to serve the designer page (Flask test client, signed in, median of several runs);
- with Chromium available: the time until the canvas is drawn (page load), the frame times of a
  scripted drag of a well-connected node (the JS work per animation frame and the frame interval),
  the time ELK's auto-layout takes in the page (button to wires drawn; a warm click: the page
  warms ELK's worker up in idle time on flows over 150 nodes, and the bench waits for that, whose
  own time is printed as the cold figure), and how many wires then pass through a card that is
  neither their source nor their target.

Run: ``.venv/bin/python bench/designer.py`` (``--quick`` for fewer repetitions, ``--no-browser``,
``--sizes 50,500`` for some sizes only, ``--loads N`` to take the median page load of N loads,
``--flow FILE`` to bench one stored definition instead, e.g. a flow saved by an older version).
Goals: 500 nodes served in under 300 ms; dragging without lag (JS work per frame well under 16 ms);
auto-layout of 500 nodes under 1 s; no wire through a card after auto-layout.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LOG_LEVEL", "WARNING")

SIZES = (50, 500, 2000)
PASSWORD = "bench-password-123"


logging.getLogger("werkzeug").setLevel(logging.WARNING)  # the served page's request log would drown the figures


def stored_positions(nodes: list[dict[str, Any]], start: str) -> dict[str, dict[str, int]]:
    """Positions as a previous session may have left them: rows by distance from the start."""
    depth = {start: 0}
    queue = [start]
    targets = {n["id"]: list(n["outcomes"].values()) for n in nodes}
    while queue:
        node = queue.pop(0)
        for dst in targets[node]:
            if dst not in depth:
                depth[dst] = depth[node] + 1
                queue.append(dst)
    rows: dict[int, int] = {}
    positions = {}
    for n in nodes:
        row = depth.get(n["id"], 0)
        col = rows[row] = rows.get(row, -1) + 1
        positions[n["id"]] = {"x": 40 + col * 300, "y": 40 + row * 220}
    return positions


def generate_flow(size: int, seed: int = 11) -> dict[str, Any]:
    """A flow shaped like a big IVR: menus, prompts, inputs and branches wired forward, some loops."""
    rng = random.Random(seed)
    ids = [f"n{i}" for i in range(size)]
    nodes = []

    def ahead(i: int) -> str:
        return ids[min(size - 1, i + rng.randint(1, 5))]

    for i, node_id in enumerate(ids):
        if i >= size - max(2, size // 25):
            nodes.append(
                {"id": node_id, "type": "hangup", "name": f"Bye {i}", "props": {"say": "Goodbye."}, "outcomes": {}}
            )
            continue
        kind = ("menu", "say", "collect_input", "say", "branch")[i % 5]
        if kind == "menu":
            digits = [str(d) for d in range(1, rng.randint(2, 4) + 1)]
            outcomes = {d: ahead(i) for d in digits} | {"fallback": ids[rng.randint(0, i)] if i > 5 else ahead(i)}
            props = {
                "prompt": {"say": f"Menu {i}: press " + ", ".join(digits)},
                "options": [{"digit": d, "label": f"Option {d}"} for d in digits],
            }
        elif kind == "collect_input":
            outcomes = {"success": ahead(i), "invalid": ahead(i), "no_input": ahead(i)}
            props = {"prompt": {"say": "Enter your account number."}, "variable": f"v{i}", "num_digits": 6}
        elif kind == "branch":
            outcomes = {"c1": ahead(i), "no_match": ahead(i)}
            props = {"input": "{{ call.from }}", "conditions": [{"id": "c1", "operator": "starts_with", "value": "+1"}]}
        else:
            outcomes = {"next": ahead(i)}
            props = {"prompt": {"say": f"Step {i} of the flow, thanks for waiting."}}
        nodes.append({"id": node_id, "type": kind, "name": f"{kind.title()} {i}", "props": props, "outcomes": outcomes})
    definition = {"spec": "phonetree/1", "start": "n0", "settings": {}, "nodes": nodes, "ui": {}}
    definition["ui"] = {"nodes": stored_positions(nodes, "n0"), "notes": []}
    return definition


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def make_app(tmp: Path):
    from flask_migrate import upgrade

    from app import create_app
    from tests.plugins.db import base_config

    app = create_app(base_config(f"sqlite:///{tmp / 'bench.db'}", tmp))
    with app.app_context():
        upgrade()
    return app


def seed(app, sizes, path: str | None = None) -> dict[int, int]:
    from extensions import db
    from services import flow_revisions
    from services.accounts import ensure_org, ensure_user, set_membership

    with app.app_context():
        org = ensure_org("bench", "Bench")
        user, _ = ensure_user("bench@example.com", PASSWORD, "Bench")
        set_membership(org, user, "editor")
        if path:
            definition = json.loads(Path(path).read_text())
            flows = {len(definition["nodes"]): flow_revisions.create_flow(org, user, Path(path).name, definition).id}
        else:
            flows = {
                size: flow_revisions.create_flow(org, user, f"{size} nodes", generate_flow(size)).id for size in sizes
            }
        db.session.commit()
        return flows


def bench_page(app, flows: dict[int, int], repeat: int) -> None:
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html) or re.search(r'csrf-token" content="([^"]+)"', html)
    client.post("/login", data={"email": "bench@example.com", "password": PASSWORD, "csrf_token": token.group(1)})
    print("designer page served (GET /flows/<id>, test client), median:")
    for size, flow_id in flows.items():
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            resp = client.get(f"/flows/{flow_id}")
            times.append(time.perf_counter() - started)
            assert resp.status_code == 200
        goal = "  (goal < 300 ms)" if size == 500 else ""
        print(f"  {size:5d} nodes {ms(statistics.median(times))}  {len(resp.data) / 1024:7.0f} KiB{goal}")


MOST_WIRED = """() => {
  const c = window.phonetreeDesigner.canvas;
  let best = null, n = -1;
  for (const id of c.cards.keys()) { const k = c.edgesTouching([id]).size; if (k > n) { n = k; best = id; } }
  c.centerOn(best);
  return best;
}"""
DRAG_PROBE = """() => {
  window.__frames = [];
  const raf = window.requestAnimationFrame.bind(window);
  window.requestAnimationFrame = (cb) => raf((ts) => { const t0 = performance.now(); cb(ts);
    window.__frames.push({ts, work: performance.now() - t0}); });
}"""
# Every wire drawn (also those off screen, which the page routes only when they come into view),
# then the wires whose path meets a card other than their own two.
WIRES_THROUGH_CARDS = """() => {
  const c = window.phonetreeDesigner.canvas;
  c.visibleRect = () => ({ x0: -1e9, y0: -1e9, x1: 1e9, y1: 1e9 });
  for (const e of c.edges.values()) if (e.pending || !e.pts) c.drawEdge(e);
  delete c.visibleRect;
  const index = c.index();
  let n = 0;
  for (const e of c.edges.values()) if (index.pathHits(e.pts.slice(1), new Set([e.src, e.dst]))) n++;
  return [n, c.edges.size];
}"""


def load(page, url: str) -> float:
    page.goto(url)
    page.wait_for_selector("#designer[data-ready=true]", timeout=120_000)
    return page.evaluate("+document.getElementById('designer').dataset.readyMs")


def bench_browser(app, flows: dict[int, int], loads: int) -> None:
    from playwright.sync_api import sync_playwright

    from tests.plugins.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer

    if not os.path.exists(CHROMIUM):
        print(f"Chromium not found at {CHROMIUM}: browser figures skipped")
        return
    print("in Chromium (1280x800, headless, --disable-gpu): page load = canvas drawn after navigation (median of")
    print(f"{loads}); a scripted drag of the most connected node (60 pointer moves; the frame interval is bounded by")
    print("how fast Playwright sends moves); then Auto-layout (ELK in the page) and the wires through cards after it:")
    with app.app_context(), LiveServer(app) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.goto(server.url + "/login")
        page.fill("input[name=email]", "bench@example.com")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_load_state("networkidle")
        cdp = page.context.new_cdp_session(page)
        cdp.send("Performance.enable")

        def busy() -> float:
            return next(
                m["value"] for m in cdp.send("Performance.getMetrics")["metrics"] if m["name"] == "TaskDuration"
            )

        for size, flow_id in flows.items():
            ready = statistics.median(load(page, f"{server.url}/flows/{flow_id}") for _ in range(loads))
            # the page warms the layout worker up in idle time: wait for it (the drag is then measured
            # alone and the click warm; the warm-up's own time is the cold figure)
            page.wait_for_selector("#designer[data-layout-warm]", state="attached", timeout=600_000)
            cold = page.evaluate("document.getElementById('designer').dataset.layoutWarmMs")
            # the node with the most wires, centred on screen (the cull shows it a frame later)
            node = page.evaluate(MOST_WIRED)
            page.wait_for_selector(f".node-card[data-id='{node}']:not([hidden])")
            page.evaluate(DRAG_PROBE)
            box = page.locator(f".node-card[data-id='{node}']").bounding_box()
            x, y = box["x"] + 40, box["y"] + 10
            page.mouse.move(x, y)
            page.mouse.down()
            before = busy()
            for step in range(60):
                page.mouse.move(x + step * 4, y + step * 2)
                page.wait_for_timeout(8)
            per_move = (busy() - before) * 1000 / 60
            page.mouse.up()
            frames = page.evaluate("window.__frames")
            work = sorted(f["work"] for f in frames) or [0.0]
            gaps = [b["ts"] - a["ts"] for a, b in zip(frames, frames[1:], strict=False)] or [0.0]
            wires = page.evaluate(f"window.phonetreeDesigner.canvas.edgesTouching(['{node}']).size")
            print(
                f"  {size:5d} nodes: page load {ready:7.0f} ms; drag of {node} ({wires} wires): "
                f"JS per frame mean {statistics.mean(work):5.2f} ms, p95 {work[int(len(work) * 0.95) - 1]:5.2f} ms; "
                f"main thread busy {per_move:5.1f} ms per move (software rendering); "
                f"frame interval median {statistics.median(gaps):5.1f} ms over {len(frames)} frames"
            )
            page.click("[data-cmd=layout]")
            page.wait_for_function(
                "() => window.phonetreeDesigner.history.undoStack.at(-1)?.label === 'Auto-layout'", timeout=600_000
            )
            took = page.evaluate("+document.getElementById('designer').dataset.layoutMs")
            through, total = page.evaluate(WIRES_THROUGH_CARDS)
            goal = " (goal < 1000 ms)" if size == 500 else ""
            warmup = f"; cold first layout (idle warm-up) {int(cold):7d} ms" if cold else "; no warm-up: a cold click"
            print(
                f"  {size:5d} nodes: auto-layout click {took:7.0f} ms{goal}{warmup}; "
                f"wires through a card after: {through}/{total}"
            )
        browser.close()


def main() -> None:
    args = sys.argv[1:]
    quick = "--quick" in args
    repeat = 3 if quick else 9
    sizes = tuple(int(n) for n in args[args.index("--sizes") + 1].split(",")) if "--sizes" in args else SIZES
    loads = int(args[args.index("--loads") + 1]) if "--loads" in args else (1 if quick else 3)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PHONETREE_INSTANCE_PATH"] = tmp
        app = make_app(Path(tmp))
        flows = seed(app, sizes, args[args.index("--flow") + 1] if "--flow" in args else None)
        bench_page(app, flows, repeat)
        if "--no-browser" not in args:
            bench_browser(app, flows, loads)


if __name__ == "__main__":
    main()
