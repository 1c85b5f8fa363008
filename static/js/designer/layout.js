// Auto-layout by ELK (elkjs, vendored): the layered algorithm, top to bottom, each outcome chip a
// port at its own place on the card's bottom edge (so the port order is the card's order), one
// input port on top, orthogonal wires. ELK runs in a same-origin Web Worker (elk-worker.min.js), so
// the page never blocks while it lays out; its small API (elk-api.js) is loaded on the first layout only.
// Big flows warm the worker up in idle time (`warmUpLayout`), so the first click does not pay for
// the browser compiling ELK.

const VENDOR = "../../vendor/elkjs-0.12.2/";
const ELK_URL = new URL(`${VENDOR}elk-api.js`, import.meta.url).href;
const WORKER_URL = new URL(`${VENDOR}elk-worker.min.js`, import.meta.url).href;
let elkReady = null;

function loadElk() {
  if (!elkReady) {
    elkReady = new Promise((resolve, reject) => {
      const make = () => resolve(new window.ELK({ workerUrl: WORKER_URL }));
      if (window.ELK) { make(); return; }
      const s = document.createElement("script");
      s.src = ELK_URL;
      s.onload = make;
      s.onerror = () => { elkReady = null; reject(new Error("The layout engine could not be loaded.")); };
      document.head.appendChild(s);
    });
  }
  return elkReady;
}

const portId = (id, outcome) => `${id}\u0000${outcome}`;

// Nodes in breadth-first order from the start, then the rest: ELK keeps this order where it can,
// and a wire against it (a "try again" loop) is the one drawn back up.
function modelOrder(model) {
  const seen = new Set(), order = [];
  const visit = (root) => {
    const queue = [root];
    seen.add(root);
    while (queue.length) {
      const id = queue.shift();
      order.push(id);
      for (const dst of Object.values(model.node(id).outcomes)) {
        if (model.nodes.has(dst) && !seen.has(dst)) { seen.add(dst); queue.push(dst); }
      }
    }
  };
  if (model.start && model.nodes.has(model.start)) visit(model.start);
  const reached = order.length;
  for (const id of model.order) if (!seen.has(id)) visit(id);
  return { order, reached };
}

// Big flows trade some crossing reduction for time (ELK's cost grows faster than the flow).
export const BIG = 150;

function options(size) {
  const big = size > BIG;
  return {
    "elk.algorithm": "layered",
    "elk.direction": "DOWN",
    "elk.edgeRouting": "ORTHOGONAL",
    "elk.layered.cycleBreaking.strategy": "MODEL_ORDER",
    "elk.layered.considerModelOrder.strategy": big ? "NONE" : "NODES_AND_EDGES",
    "elk.layered.thoroughness": big ? "1" : "7",
    "elk.spacing.nodeNode": "48",
    "elk.layered.spacing.nodeNodeBetweenLayers": "64",
    "elk.spacing.edgeNode": "20",
    "elk.layered.spacing.edgeNodeBetweenLayers": "20",
    "elk.layered.mergeEdges": "true",
    "elk.spacing.edgeEdge": "12",
    "elk.layered.spacing.edgeEdgeBetweenLayers": "12",
    "elk.spacing.componentComponent": "64",
    "elk.padding": "[top=40,left=40,bottom=40,right=40]",
  };
}

// A worker whose script fails to load (a 404, a proxy) never answers: give up after this long
// (ELK lays out 500 nodes in about a second here) so the click reports an error instead of hanging.
const LAYOUT_TIMEOUT_MS = 15000;

function withTimeout(promise, ms) {
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error("The layout engine did not answer.")), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

// Positions and wire routes for every node: `{positions: {id: {x, y}}, routes: Map(edgeKey -> points)}`.
// `geometry(id)` gives a card's measured size and its ports' x offsets.
export async function elkLayout(model, geometry) {
  const elk = await loadElk();
  const graph = elkGraph(model, geometry);
  let out;
  try {
    out = await withTimeout(elk.layout(graph), LAYOUT_TIMEOUT_MS);
  } catch (err) {
    // A worker that failed to start (or died) is not reused: the next click starts a fresh one.
    elkReady = null;
    elk.terminateWorker?.();
    throw err instanceof Error ? err : new Error(err?.message || "The layout engine failed.");
  }
  const positions = {}, routes = new Map();
  for (const c of out.children) positions[c.id] = { x: Math.round(c.x), y: Math.round(c.y) };
  for (const e of out.edges || []) {
    const s = e.sections && e.sections[0];
    if (!s) continue;
    const pts = [s.startPoint, ...(s.bendPoints || []), s.endPoint].map((p) => ({ x: Math.round(p.x), y: Math.round(p.y) }));
    routes.set(e.id, pts);
  }
  return { positions, routes };
}

// Lays the flow out once in the background and throws the result away: the worker's first run pays
// for compiling ELK, so a big flow's first Auto-layout click finds it warm. Resolves when done
// (never rejects: a failure shows on the real click instead).
export async function warmUpLayout(model, geometry) {
  try { await elkLayout(model, geometry); } catch { /* reported by the real layout */ }
}

// The graph ELK lays out: one child per node (ports at their chips), one edge per wire.
function elkGraph(model, geometry) {
  const { order, reached } = modelOrder(model);
  const children = order.map((id) => {
    const g = geometry(id);
    const ports = [{ id: portId(id, ""), x: Math.round(g.w / 2), y: 0, width: 0, height: 0, layoutOptions: { "elk.port.side": "NORTH" } }];
    for (const [o, px] of g.ports) {
      ports.push({ id: portId(id, `>${o}`), x: Math.round(px), y: g.h, width: 0, height: 0, layoutOptions: { "elk.port.side": "SOUTH" } });
    }
    return { id, width: g.w, height: g.h, ports, layoutOptions: { "elk.portConstraints": "FIXED_POS" } };
  });
  // In a big flow the wires back up to an earlier node (loops) stay out of ELK: each one would be
  // reversed and split into a dummy node per layer it spans, most of ELK's time on 500 nodes. The
  // canvas's router draws them around the laid-out cards instead (they have no entry in `routes`).
  // Wires out of nodes the start does not reach stay in: they tie those nodes to the flow, which
  // keeps them beside the nodes they lead to and the start on top.
  const rank = new Map(order.map((id, i) => [id, i]));
  const skipBack = children.length > BIG;
  const edges = [];
  for (const id of order) {
    for (const [o, dst] of Object.entries(model.node(id).outcomes)) {
      if (!model.nodes.has(dst)) continue;
      if (skipBack && rank.get(id) < reached && rank.get(dst) < rank.get(id)) continue;
      edges.push({ id: portId(id, o), sources: [portId(id, `>${o}`)], targets: [portId(dst, "")] });
    }
  }
  return { id: "root", layoutOptions: options(children.length), children, edges };
}
