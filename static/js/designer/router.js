// Wire geometry without ELK: a spatial index of the cards, an orthogonal router that goes around
// them (A* over the lines just outside the nearby cards, with a cost per bend), and a search for
// free space where a new card can go.
//
// ELK routes every wire at auto-layout time; once cards are moved by hand (or the flow is opened
// again) this router draws the wires, so a wire never runs under a card that is not its own.

const CELL = 320;
export const MARGIN = 14;  // how far a wire keeps from a card
const BEND = 36;  // a bend costs as much as this many pixels of wire

// Cards as rectangles in a uniform grid of cells, for "what is near here" in O(cells).
export class CardIndex {
  constructor(rects) {
    this.rects = rects;  // Map id -> {x0, y0, x1, y1}
    this.cells = new Map();
    this.x0 = Infinity; this.x1 = -Infinity;
    for (const [id, r] of rects) {
      this.x0 = Math.min(this.x0, r.x0); this.x1 = Math.max(this.x1, r.x1);
      for (let cx = Math.floor(r.x0 / CELL); cx <= Math.floor(r.x1 / CELL); cx++) {
        for (let cy = Math.floor(r.y0 / CELL); cy <= Math.floor(r.y1 / CELL); cy++) {
          const k = `${cx},${cy}`;
          if (!this.cells.has(k)) this.cells.set(k, []);
          this.cells.get(k).push(id);
        }
      }
    }
  }

  // Ids of the cards whose rectangle meets the box.
  query(x0, y0, x1, y1) {
    const out = new Set();
    for (let cx = Math.floor(x0 / CELL); cx <= Math.floor(x1 / CELL); cx++) {
      for (let cy = Math.floor(y0 / CELL); cy <= Math.floor(y1 / CELL); cy++) {
        for (const id of this.cells.get(`${cx},${cy}`) || []) {
          const r = this.rects.get(id);
          if (r.x0 < x1 && r.x1 > x0 && r.y0 < y1 && r.y1 > y0) out.add(id);
        }
      }
    }
    return out;
  }

  // Whether the axis-aligned segment passes through a card's body (a 1 px rim is allowed).
  segmentHits(ax, ay, bx, by, skip = null) {
    const x0 = Math.min(ax, bx), x1 = Math.max(ax, bx), y0 = Math.min(ay, by), y1 = Math.max(ay, by);
    for (const id of this.query(x0 - 1, y0 - 1, x1 + 1, y1 + 1)) {
      if (skip && skip.has(id)) continue;
      const r = this.rects.get(id);
      if (x0 < r.x1 - 1 && x1 > r.x0 + 1 && y0 < r.y1 - 1 && y1 > r.y0 + 1) return id;
    }
    return null;
  }

  pathHits(points, skip = null) {
    for (let i = 1; i < points.length; i++) {
      const a = points[i - 1], b = points[i];
      if (this.segmentHits(a.x, a.y, b.x, b.y, skip)) return true;
    }
    return false;
  }

  // The free spot for a w x h card nearest to (x, y), searched ring by ring on a 24 px grid.
  freeSpot(x, y, w, h, gap = 32, skip = null) {
    const fits = (px, py) => {
      const near = this.query(px - gap, py - gap, px + w + gap, py + h + gap);
      return near.size === 0 || (near.size === 1 && near.has(skip));
    };
    for (let ring = 0; ring < 80; ring++) {
      for (let i = -ring; i <= ring; i++) {
        for (const [dx, dy] of [[i, -ring], [i, ring], [-ring, i], [ring, i]]) {
          const px = x + dx * 24, py = y + dy * 24;
          if (fits(px, py)) return { x: px, y: py };
        }
      }
    }
    return { x, y };
  }
}

// Drop points that sit on a straight line between their neighbours.
export function simplify(points) {
  const out = [];
  for (const p of points) {
    const n = out.length;
    if (n && out[n - 1].x === p.x && out[n - 1].y === p.y) continue;
    if (n >= 2) {
      const a = out[n - 2], b = out[n - 1];
      if ((a.x === b.x && b.x === p.x) || (a.y === b.y && b.y === p.y)) out.pop();
    }
    out.push(p);
  }
  return out;
}

// An SVG path through orthogonal points with small rounded corners.
export function pathD(points, radius = 8) {
  if (!points.length) return "";
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const a = points[i - 1], b = points[i], c = points[i + 1];
    const r = Math.min(radius, Math.hypot(b.x - a.x, b.y - a.y) / 2, Math.hypot(c.x - b.x, c.y - b.y) / 2);
    const ux = Math.sign(b.x - a.x), uy = Math.sign(b.y - a.y), vx = Math.sign(c.x - b.x), vy = Math.sign(c.y - b.y);
    d += ` L${b.x - ux * r},${b.y - uy * r} Q${b.x},${b.y} ${b.x + vx * r},${b.y + vy * r}`;
  }
  const z = points[points.length - 1];
  return `${d} L${z.x},${z.y}`;
}

// A quick three-segment route with no obstacle test, for the frames of a drag.
export function roughRoute(s, sOut, t) {
  const a = { x: s.x, y: sOut + MARGIN }, b = { x: t.x, y: t.y - MARGIN };
  if (b.y >= a.y) {
    const ym = Math.round((a.y + b.y) / 2);
    return simplify([s, a, { x: s.x, y: ym }, { x: t.x, y: ym }, b, t]);
  }
  const side = Math.max(s.x, t.x) + 150;
  return simplify([s, a, { x: side, y: a.y }, { x: side, y: b.y }, b, t]);
}

class Heap {
  constructor() { this.a = []; }
  push(item) {
    const a = this.a;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) { const p = (i - 1) >> 1; if (a[p][0] <= a[i][0]) break; [a[p], a[i]] = [a[i], a[p]]; i = p; }
  }
  pop() {
    const a = this.a, top = a[0], last = a.pop();
    if (a.length) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < a.length && a[l][0] < a[m][0]) m = l;
        if (r < a.length && a[r][0] < a[m][0]) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i], a[m]];
        i = m;
      }
    }
    return top;
  }
  get size() { return this.a.length; }
}

const uniq = (vals) => [...new Set(vals.map(Math.round))].sort((p, q) => p - q);

// A* on the grid made of the lines MARGIN outside each card near the wire. Returns points or null.
function search(index, a, b, pad) {
  const bx0 = Math.min(a.x, b.x) - pad, bx1 = Math.max(a.x, b.x) + pad;
  const by0 = Math.min(a.y, b.y) - pad, by1 = Math.max(a.y, b.y) + pad;
  const ids = index.query(bx0, by0, bx1, by1);
  if (ids.size > 160) return null;  // too crowded to search here: the caller draws a plain route
  const obs = [...ids].map((id) => {
    const r = index.rects.get(id);
    return { x0: r.x0 - MARGIN, y0: r.y0 - MARGIN, x1: r.x1 + MARGIN, y1: r.y1 + MARGIN };
  });
  const xs = uniq([a.x, b.x, bx0, bx1, ...obs.flatMap((o) => [o.x0, o.x1])]);
  const ys = uniq([a.y, b.y, by0, by1, ...obs.flatMap((o) => [o.y0, o.y1])]);
  const W = xs.length, H = ys.length;
  const node = new Uint8Array(W * H), hEdge = new Uint8Array(W * H), vEdge = new Uint8Array(W * H);
  const lo = (arr, v) => { let l = 0, h = arr.length; while (l < h) { const m = (l + h) >> 1; if (arr[m] <= v) l = m + 1; else h = m; } return l; };
  for (const o of obs) {  // strictly inside an inflated card is blocked; its outline is free
    const i0 = lo(xs, o.x0), i1 = lo(xs, o.x1 - 1), j0 = lo(ys, o.y0), j1 = lo(ys, o.y1 - 1);
    for (let j = j0; j < j1 && j < H; j++) {
      for (let i = i0; i < i1 && i < W; i++) node[j * W + i] = 1;
      for (let i = Math.max(0, i0 - 1); i < i1 && i < W - 1; i++) hEdge[j * W + i] = 1;
    }
    for (let i = i0; i < i1 && i < W; i++) for (let j = Math.max(0, j0 - 1); j < j1 && j < H - 1; j++) vEdge[j * W + i] = 1;
  }
  const si = xs.indexOf(Math.round(a.x)) + W * ys.indexOf(Math.round(a.y));
  const ti = xs.indexOf(Math.round(b.x)) + W * ys.indexOf(Math.round(b.y));
  node[si] = 0; node[ti] = 0;
  const best = new Float64Array(W * H * 2).fill(Infinity), from = new Int32Array(W * H * 2).fill(-1);
  const h = (k) => Math.abs(xs[k % W] - b.x) + Math.abs(ys[(k / W) | 0] - b.y);
  const heap = new Heap();
  best[si * 2 + 1] = 0;  // leaving the port downwards: vertical
  heap.push([h(si), si * 2 + 1]);
  let found = -1, budget = 40000;  // a search this long is dearer than a plain route around the side
  while (heap.size && budget-- > 0) {
    const [f, st] = heap.pop();
    const k = st >> 1, dir = st & 1, g = best[st];
    if (f > g + h(k) + 1e-6) continue;
    if (k === ti) { found = st; break; }
    const i = k % W, j = (k / W) | 0;
    const moves = [
      [i + 1 < W && !hEdge[k], k + 1, 0], [i > 0 && !hEdge[k - 1], k - 1, 0],
      [j + 1 < H && !vEdge[k], k + W, 1], [j > 0 && !vEdge[k - W], k - W, 1],
    ];
    for (const [ok, nk, nd] of moves) {
      if (!ok || node[nk]) continue;
      let ng = g + Math.abs(xs[nk % W] - xs[i]) + Math.abs(ys[(nk / W) | 0] - ys[j]) + (nd !== dir ? BEND : 0);
      if (nk === ti && nd === 0) ng += BEND;  // arriving sideways means one more bend down into the card
      const ns = nk * 2 + nd;
      if (ng < best[ns]) { best[ns] = ng; from[ns] = st; heap.push([ng + h(nk), ns]); }
    }
  }
  if (found < 0) return null;
  const pts = [];
  for (let st = found; st >= 0; st = from[st]) { const k = st >> 1; pts.push({ x: xs[k % W], y: ys[(k / W) | 0] }); }
  return pts.reverse();
}

// The first horizontal line from y (moving down when dir > 0, up otherwise) that no card crosses,
// reached from y by a vertical stub at xa that meets no card either. Null if there is none near.
function freeRow(index, xa, xb, y, dir) {
  const y0 = y;
  for (let i = 0; i < 12; i++) {
    if (index.segmentHits(xa, y0, xa, y)) return null;
    const hit = index.segmentHits(xa, y, xb, y);
    if (!hit) return y;
    const r = index.rects.get(hit);
    y = dir > 0 ? r.y1 + MARGIN : r.y0 - MARGIN;
  }
  return null;
}

// A long wire around every card beside its span, on the right (side > 0) or the left: out along a
// free row, down or up a channel, back along a free row. Null if that still meets a card.
function sideRoute(index, a, b, side) {
  const y0 = Math.min(a.y, b.y), y1 = Math.max(a.y, b.y);
  let edge = side > 0 ? Math.max(a.x, b.x) : Math.min(a.x, b.x);
  for (const id of index.query(index.x0 - 1, y0, index.x1 + 1, y1)) {
    const r = index.rects.get(id);
    edge = side > 0 ? Math.max(edge, r.x1) : Math.min(edge, r.x0);
  }
  const chan = edge + side * 2 * MARGIN;
  const ya = freeRow(index, a.x, chan, a.y, 1), yb = freeRow(index, b.x, chan, b.y, -1);
  if (ya === null || yb === null) return null;
  const pts = [a, { x: a.x, y: ya }, { x: chan, y: ya }, { x: chan, y: yb }, { x: b.x, y: yb }, b];
  return index.pathHits(pts) ? null : pts;
}

// A route from the port point `s` (on a card whose bottom is at sOut) to `t` on top of the target,
// around every card in the index. Straight candidates are tried before the search.
export function route(index, s, sOut, t) {
  const a = { x: s.x, y: sOut + MARGIN }, b = { x: t.x, y: t.y - MARGIN };
  if (b.y >= a.y) {
    for (const ym of [Math.round((a.y + b.y) / 2), a.y, b.y]) {
      const pts = [a, { x: a.x, y: ym }, { x: b.x, y: ym }, b];
      if (!index.pathHits(pts)) return simplify([s, ...pts, t]);
    }
  }
  const far = Math.abs(a.x - b.x) + Math.abs(a.y - b.y) > 2400;
  for (const pad of far ? [] : [160, 480]) {
    const pts = search(index, a, b, pad);
    if (pts) return simplify([s, ...pts, t]);
  }
  // the nearer side first: a wire from the left half of the flow goes round its left
  const mid = (index.x0 + index.x1) / 2, first = a.x + b.x > 2 * mid ? 1 : -1;
  const side = sideRoute(index, a, b, first) || sideRoute(index, a, b, -first);
  return simplify(side ? [s, ...side, t] : roughRoute(s, sOut, t));
}
