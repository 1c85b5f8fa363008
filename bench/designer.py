"""Benchmark of the visual designer: page served, auto-layout, and (in Chromium) render and drag.

Prints, for flows of 50, 500 and 2,000 nodes:
- the time to serve the designer page (Flask test client, signed in, median of several runs);
- the time `flows.layout.auto_layout` takes;
- with Chromium available: the time until the canvas is drawn, and the frame times of a scripted
  drag of a well-connected node (the JS work per animation frame and the frame interval).

Run: ``.venv/bin/python bench/designer.py`` (``--quick`` for fewer repetitions, ``--no-browser``).
Goal: 500 nodes served in under 300 ms; dragging without lag (JS work per frame well under 16 ms).
"""

from __future__ import annotations

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


def generate_flow(size: int, seed: int = 11) -> dict[str, Any]:
    """A flow shaped like a big IVR: menus, prompts, inputs and branches wired forward, some loops."""
    from flows.layout import auto_layout

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
    definition["ui"] = {"nodes": auto_layout(definition), "notes": []}
    return definition


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms"


def bench_layout(repeat: int) -> None:
    from flows.layout import auto_layout

    print("auto-layout (flows.layout.auto_layout), median:")
    for size in SIZES:
        definition = generate_flow(size)
        times = []
        for _ in range(repeat):
            started = time.perf_counter()
            auto_layout(definition)
            times.append(time.perf_counter() - started)
        print(f"  {size:5d} nodes {ms(statistics.median(times))}")


def make_app(tmp: Path):
    from flask_migrate import upgrade

    from app import create_app
    from tests.plugins.db import base_config

    app = create_app(base_config(f"sqlite:///{tmp / 'bench.db'}", tmp))
    with app.app_context():
        upgrade()
    return app


def seed(app) -> dict[int, int]:
    from extensions import db
    from services import flow_revisions
    from services.accounts import ensure_org, ensure_user, set_membership

    with app.app_context():
        org = ensure_org("bench", "Bench")
        user, _ = ensure_user("bench@example.com", PASSWORD, "Bench")
        set_membership(org, user, "editor")
        flows = {size: flow_revisions.create_flow(org, user, f"{size} nodes", generate_flow(size)).id for size in SIZES}
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


def bench_browser(app, flows: dict[int, int]) -> None:
    from playwright.sync_api import sync_playwright

    from tests.plugins.browser import CHROMIUM, CHROMIUM_ARGS, LiveServer

    if not os.path.exists(CHROMIUM):
        print(f"Chromium not found at {CHROMIUM}: browser figures skipped")
        return
    print("in Chromium (1280x800, headless, --disable-gpu): canvas drawn after navigation; a scripted drag of the")
    print("most connected node (60 pointer moves; the frame interval is bounded by how fast Playwright sends moves):")
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
            page.goto(f"{server.url}/flows/{flow_id}")
            page.wait_for_selector("#designer[data-ready=true]", timeout=60_000)
            ready = page.evaluate("+document.getElementById('designer').dataset.readyMs")
            # the node with the most wires, centred on screen
            node = page.evaluate(MOST_WIRED)
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
                f"  {size:5d} nodes: drawn in {ready:7.0f} ms; drag of {node} ({wires} wires): "
                f"JS per frame mean {statistics.mean(work):5.2f} ms, p95 {work[int(len(work) * 0.95) - 1]:5.2f} ms; "
                f"main thread busy {per_move:5.1f} ms per move (software rendering); "
                f"frame interval median {statistics.median(gaps):5.1f} ms over {len(frames)} frames"
            )
        browser.close()


def main() -> None:
    quick = "--quick" in sys.argv
    repeat = 3 if quick else 9
    bench_layout(repeat)
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["PHONETREE_INSTANCE_PATH"] = tmp
        app = make_app(Path(tmp))
        flows = seed(app)
        bench_page(app, flows, repeat)
        if "--no-browser" not in sys.argv:
            bench_browser(app, flows)


if __name__ == "__main__":
    main()
