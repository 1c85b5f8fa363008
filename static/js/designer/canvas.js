// The canvas: node cards (DOM), wires (one SVG layer), sticky notes, zoom and pan.
//
// Cards are absolutely positioned with a CSS transform inside one "world" element that is itself
// transformed for zoom and pan. While dragging, frames are batched with requestAnimationFrame
// and only the wires touching the moved cards are redrawn.

import { clone, same } from "./model.js";
import { CardIndex, pathD, roughRoute, route, simplify } from "./router.js";

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const SVGNS = "http://www.w3.org/2000/svg";
const edgeKey = (src, outcome) => `${src}\u0000${outcome}`;
const EDGE_TEMPLATE = (() => {
  const g = document.createElementNS(SVGNS, "g");
  g.setAttribute("class", "edge");
  g.innerHTML = '<path class="hit"><title></title></path><path class="line" marker-end="url(#arrow)"/>';
  return g;
})();

// A card is wide enough for its outcome chips in one row along its bottom edge (each chip is the
// port its wire leaves from), so every port sits on that edge in the card's order.
const chipWidth = (label) => Math.min(160, 22 + 7 * String(label).length);
const CARD_MIN = 240, CARD_MAX = 720;
const MIN_ZOOM = 0.02;  // far enough out for Fit to show a flow of a few thousand nodes

// A card's one-line summary from its node type's declared `summary` (flows/registry.py): the first
// alternative whose `when` (props) and `channels` (exactly the flow's channels) hold and whose
// {slots} all have a value (a prop, else its field default; a prompt given as a string is its say).
const SLOT = /\{([a-z_][a-z0-9_]*)(?:\.([A-Za-z_][A-Za-z0-9_]*(?:\+[A-Za-z_][A-Za-z0-9_]*)*))?(\|upper)?\}/g;
const blank = (v) => v === undefined || v === null || v === "";

function propValue(node, info, name) {
  const field = info.fields.find((f) => f.name === name);
  let v = (node.props || {})[name];
  if (blank(v)) v = field ? field.default : undefined;
  return field && field.kind === "prompt" && typeof v === "string" ? { say: v } : v;
}

function slotText(value, key) {
  const keys = key ? key.split("+") : [];
  if (keys.length > 1) {  // several keys of each item: "1 Sales · 2 Support"
    const items = Array.isArray(value) ? value : [];
    return items.map((item) => keys.map((k) => slotText(item && item[k])).filter(Boolean).join(" ")).filter(Boolean).join(" · ");
  }
  if (key) value = Array.isArray(value) ? value.map((item) => item && item[key]) : (value && typeof value === "object" ? value[key] : undefined);
  if (Array.isArray(value)) return value.filter((v) => !blank(v) && typeof v !== "object").join(", ");
  return blank(value) || typeof value === "object" ? "" : String(value);
}

const sameChannels = (a, b) => a.length === b.length && a.every((c) => b.includes(c));

function excerpt(node, info, channels = ["voice"]) {
  for (const alt of (info && info.summary) || []) {
    const { text, when = {}, channels: only } = typeof alt === "string" ? { text: alt } : alt;
    if (only && !sameChannels(only, channels)) continue;
    if (Object.entries(when).some(([name, want]) => propValue(node, info, name) !== want)) continue;
    let complete = true;
    const out = text.replace(SLOT, (_, name, key, upper) => {
      const part = slotText(propValue(node, info, name), key);
      if (!part) complete = false;
      return upper ? part.toUpperCase() : part;
    });
    if (complete) return out;
  }
  return "";
}


// Hang-ups per node as a heat level (the card's class heat-0..heat-4), from the share of visits
// that hung up there; the badge always says the number too, so colour is never the only cue.
const HEAT_LEVELS = [0, 0, 0.15, 0.3, 0.5];  // lower bounds of the hang-up share of heat-1..heat-4 (heat-0: none)

function hangupHeat(s) {
  const hangups = s ? s.hangups || 0 : 0;
  const visits = s ? s.visits || 0 : 0;
  if (!hangups) return { level: 0, hangups: 0, percent: 0 };
  const share = visits ? hangups / visits : 1;
  let level = 1;
  for (let i = 1; i < HEAT_LEVELS.length; i++) if (share >= HEAT_LEVELS[i]) level = i;
  return { level, hangups, percent: Math.round(share * 100) };
}

export class Canvas {
  constructor(opts) {
    Object.assign(this, opts);  // root, world, nodesEl, edgesEl, notesEl, wire, band, model, readonly, icons, on
    this.view = { x: 40, y: 20, k: 1 };
    this.cards = new Map();
    this.edges = new Map();
    this.incoming = new Map();
    this.outgoing = new Map();
    this.selection = new Set();
    this.selectedNotes = new Set();
    this.selectedEdge = null;
    this.issues = new Map();
    this.stats = null;
    this.path = { nodes: new Set(), edges: new Set(), active: null };
    this.frame = null;
  }

  // The position a card is drawn at: its live drag position while it is being dragged.
  posOf(id) {
    return (this.dragPos && this.dragPos.get(id)) || this.model.pos.get(id) || { x: 0, y: 0 };
  }

  // ---- coordinates -------------------------------------------------------------------------
  toWorld(clientX, clientY) {
    const r = this.root.getBoundingClientRect();
    return { x: (clientX - r.left - this.view.x) / this.view.k, y: (clientY - r.top - this.view.y) / this.view.k };
  }

  applyView() {
    const { x, y, k } = this.view;
    this.world.style.transform = `translate(${x}px, ${y}px) scale(${k})`;
    let grid = 24 * k;
    while (grid < 12) grid *= 4;  // no moiré when zoomed far out
    this.root.style.backgroundSize = `${grid}px ${grid}px`;
    this.root.style.backgroundPosition = `${x}px ${y}px`;
    this.root.style.setProperty("--zoom", k);
    this.root.classList.toggle("zoomed-out", k < 0.5);  // text too small to read: coloured blocks with names
    if (this.on.zoom) this.on.zoom(k);
    if (this.on.viewChanged) this.on.viewChanged();
    this.scheduleCull();
  }

  // Only cards and wires near the viewport are displayed: big flows cost what is on screen.
  // Geometry measured while a card was displayed stays cached, so wires to hidden cards still draw.
  scheduleCull() {
    if (!this.cullFrame) this.cullFrame = requestAnimationFrame(() => { this.cullFrame = null; this.cull(); });
  }

  cull() {
    this.cullCards();
    this.cullEdges();
  }

  visibleRect() {
    const r = this.root.getBoundingClientRect();
    const { x, y, k } = this.view;
    const m = 240 / k;
    return { x0: -x / k - m, y0: -y / k - m, x1: (r.width - x) / k + m, y1: (r.height - y) / k + m };
  }

  cullCards() {
    const { x0, y0, x1, y1 } = this.visibleRect();
    const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest(".node-card");
    const stale = [];
    for (const [id, c] of this.cards) {
      const p = this.posOf(id);
      const show = (p.x < x1 && p.x + c.w > x0 && p.y < y1 && p.y + c.h > y0) || this.selection.has(id) || c.el === focused;
      if (c.el.hidden === show) c.el.hidden = !show;
      if (show && c.stale) stale.push(id);
    }
    for (const id of stale) this.measure(id, this.cards.get(id).el);
    if (stale.length) { this.redrawEdgesTouching(stale); this.rerouteAround(stale); }
  }

  cullEdges() {
    const { x0, y0, x1, y1 } = this.viewRect = this.visibleRect();
    for (const e of this.edges.values()) {
      const b = e.box;
      const show = !b || (b.x0 < x1 && b.x1 > x0 && b.y0 < y1 && b.y1 > y0);
      const shown = e.g.style.display !== "none";
      if (show && e.pending) this.drawEdge(e);
      if (show !== shown) e.g.style.display = show ? "" : "none";
    }
    this.viewRect = null;
  }

  // Bring a card on screen (for keyboard travel and issue links).
  reveal(id) {
    const c = this.cards.get(id);
    if (!c) return;
    const r = this.root.getBoundingClientRect();
    const p = this.posOf(id), k = this.view.k;
    const sx = p.x * k + this.view.x, sy = p.y * k + this.view.y;
    if (sx < 0 || sy < 0 || sx + c.w * k > r.width || sy + c.h * k > r.height) this.centerOn(id);
    c.el.hidden = false;
  }

  zoomAt(k, cx, cy) {
    const r = this.root.getBoundingClientRect();
    const px = cx ?? r.width / 2, py = cy ?? r.height / 2;
    const nk = Math.min(2, Math.max(MIN_ZOOM, k));
    this.view.x = px - ((px - this.view.x) * nk) / this.view.k;
    this.view.y = py - ((py - this.view.y) * nk) / this.view.k;
    this.view.k = nk;
    this.applyView();
  }

  bounds(ids = null) {
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    const list = ids || [...this.cards.keys()];
    for (const id of list) {
      const c = this.cards.get(id), p = this.model.pos.get(id);
      if (!c || !p) continue;
      x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y);
      x1 = Math.max(x1, p.x + c.w); y1 = Math.max(y1, p.y + c.h);
    }
    if (!ids) {
      for (const n of this.model.notes.values()) {
        x0 = Math.min(x0, n.x); y0 = Math.min(y0, n.y); x1 = Math.max(x1, n.x + 200); y1 = Math.max(y1, n.y + 120);
      }
    }
    return x0 === Infinity ? null : { x0, y0, x1, y1 };
  }

  fit(ids = null, maxZoom = 1) {
    const b = this.bounds(ids);
    const r = this.root.getBoundingClientRect();
    if (!b || !r.width) return;
    const pad = 48;
    b.x1 += 56;  // room for wires that loop back up the right-hand side
    const k = Math.max(MIN_ZOOM, Math.min(maxZoom, (r.width - pad * 2) / (b.x1 - b.x0), (r.height - pad * 2) / (b.y1 - b.y0)));
    this.view = { k, x: (r.width - (b.x1 - b.x0) * k) / 2 - b.x0 * k, y: Math.max(pad / 2, (r.height - (b.y1 - b.y0) * k) / 2) - b.y0 * k };
    this.applyView();
  }

  // The opening view: the whole flow, or for a big one its start at a readable size (F fits all).
  home() {
    this.fit(null, 1);
    const start = this.model.start;
    if (this.view.k < 0.35 && start && this.cards.has(start)) {
      const r = this.root.getBoundingClientRect();
      const p = this.posOf(start), c = this.cards.get(start);
      this.view = { k: 0.8, x: r.width / 2 - (p.x + c.w / 2) * 0.8, y: 40 - p.y * 0.8 };
      this.applyView();
    }
  }

  centerOn(id) {
    const c = this.cards.get(id), p = this.model.pos.get(id);
    if (!c || !p) return;
    const r = this.root.getBoundingClientRect();
    const k = Math.max(this.view.k, 0.7);
    this.view = { k, x: r.width / 2 - (p.x + c.w / 2) * k, y: r.height / 3 - (p.y + c.h / 2) * k };
    this.applyView();
  }

  // Bring a card into view (centred) when any of it is outside the canvas: a node added from the
  // palette beside the selection may land below the visible area.
  reveal(id) {
    const c = this.cards.get(id), p = this.posOf(id);
    if (!c || !p) return;
    const r = this.root.getBoundingClientRect(), { x, y, k } = this.view;
    const left = x + p.x * k, top = y + p.y * k;
    if (left < 0 || top < 0 || left + c.w * k > r.width || top + c.h * k > r.height) this.centerOn(id);
  }

  // Where a new card goes: `at` if free, else beside the one selected card, else the middle of
  // the view; moved to the nearest spot where it overlaps no card.
  freeSpotForNew(at = null, w = 240, h = 132) {
    let x, y;
    const one = this.selection.size === 1 ? [...this.selection][0] : null;
    if (at) ({ x, y } = at);
    else if (one && this.cards.has(one)) {
      const p = this.posOf(one), c = this.cards.get(one);
      x = p.x; y = p.y + c.h + 64;
    } else {
      const c = this.visibleCenter();
      x = c.x - w / 2; y = c.y - h / 2;
    }
    return this.index().freeSpot(Math.round(x / 8) * 8, Math.round(y / 8) * 8, w, h);
  }

  // A free spot for a drawn card that overlaps another one, or null when it overlaps none.
  freeSpotFor(id) {
    const c = this.cards.get(id), p = this.model.pos.get(id);
    if (!c || !p) return null;
    const index = this.index();
    const others = [...index.query(p.x, p.y, p.x + c.w, p.y + c.h)].filter((o) => o !== id);
    return others.length ? index.freeSpot(p.x, p.y, c.w, c.h, 32, id) : null;
  }

  visibleCenter() {
    const r = this.root.getBoundingClientRect();
    return this.toWorld(r.left + r.width / 2, r.top + r.height / 2);
  }

  // ---- cards ---------------------------------------------------------------------------------
  cardHTML(node, hidden = false) {
    const info = this.model.type(node);
    const cat = info ? info.category.toLowerCase() : "unknown";
    const label = info ? this.model.typeLabel(info) : `Unknown type ${node.type}`;
    this.channelsDrawn = this.model.channels();
    const text = excerpt(node, info, this.channelsDrawn);
    const outcomes = this.model.outcomes(node);
    const width = Math.round(Math.min(CARD_MAX, Math.max(CARD_MIN, 26 + outcomes.reduce((w, o) => w + chipWidth(this.model.outcomeLabel(node, o)) + 5, 0))));
    const ports = outcomes.map((o) => {
      const wired = node.outcomes[o] ? " wired" : "";
      const stale = this.model.staleOutcome(node, o) ? " stale" : "";
      return `<span class="port${wired}${stale}" data-outcome="${esc(o)}" title="${esc(this.model.outcomeLabel(node, o))}: ${node.outcomes[o] ? `to ${esc(node.outcomes[o])}; drag to reconnect` : "not connected; drag onto a node to connect"}"><span class="port-label">${esc(this.model.outcomeLabel(node, o))}</span><span class="port-count"></span></span>`;
    }).join("");
    const starts = this.startsOf(node.id);
    const start = starts ? `<span class="nc-start">${starts}</span>` : "";
    const name = node.name || node.id;
    return `<div class="node-card cat-${esc(cat)}" data-id="${esc(node.id)}" data-name="${esc(name)}" data-w="${width}"${hidden ? " hidden" : ""} tabindex="0" role="button" aria-roledescription="node"
      aria-label="${esc(label)}: ${esc(name)}${starts ? ` (${starts.toLowerCase()})` : ""}">
      <div class="nc-head"><span class="nc-icon"><svg class="icon" aria-hidden="true"><use href="${this.icons}#i-${esc(info ? info.icon : "square")}"></use></svg></span>
        <span class="nc-type">${esc(label)}</span>${start}<span class="nc-issue" hidden></span></div>
      <div class="nc-name">${esc(name)}</div>
      ${text ? `<div class="nc-text">${esc(text)}</div>` : '<div class="nc-text blank">—</div>'}
      <div class="nc-stats" hidden></div>
      <div class="nc-ports">${ports}</div></div>`;
  }

  // The start badge of a card: "Start", or on a flow whose texts begin elsewhere (settings.messaging_start)
  // "Calls start" and "Texts start"; "" for any other card.
  startsOf(id) {
    const texts = this.model.channels().includes("messaging") ? this.model.settings.messaging_start : null;
    if (!texts || texts === this.model.start) return this.model.start === id ? "Start" : "";
    return this.model.start === id ? "Calls start" : texts === id ? "Texts start" : "";
  }

  measure(id, el) {
    const ports = new Map();
    for (const p of el.querySelectorAll(".port")) {
      ports.set(p.dataset.outcome, { x: el.clientLeft + p.offsetLeft + p.offsetWidth / 2, y: el.clientTop + p.offsetTop + p.offsetHeight, el: p });
    }
    this.cards.set(id, { el, w: el.offsetWidth, h: el.offsetHeight, ports, stale: false });
    this.cardIndex = null;
  }

  // Every card measured (hidden ones shown for one layout pass), for ELK: {w, h, ports: [[outcome, x]]}.
  measureAll() {
    const stale = [...this.cards].filter(([, c]) => c.stale);
    for (const [, c] of stale) c.el.hidden = false;
    for (const [id, c] of stale) this.measure(id, c.el);
    this.cullCards();
    return (id) => {
      const c = this.cards.get(id);
      return { w: c.w, h: c.h, ports: [...c.ports].map(([o, p]) => [o, p.x]) };
    };
  }

  place(id) {
    const c = this.cards.get(id);
    const p = this.posOf(id);
    if (c) c.el.style.transform = `translate(${p.x}px, ${p.y}px)`;
    if (!this.dragPos) this.cardIndex = null;
  }

  decorate(id) {
    const c = this.cards.get(id);
    if (!c) return;
    const el = c.el;
    el.classList.toggle("selected", this.selection.has(id));
    el.classList.toggle("on-path", this.path.nodes.has(id));
    el.classList.toggle("active", this.path.active === id);
    const iss = this.issues.get(id);
    el.classList.toggle("has-error", !!(iss && iss.errors));
    el.classList.toggle("has-warning", !!(iss && !iss.errors && iss.warnings));
    const badge = el.querySelector(".nc-issue");
    if (iss && (iss.errors || iss.warnings)) {
      badge.hidden = false;
      badge.textContent = iss.errors ? `${iss.errors}` : `${iss.warnings}`;
      badge.title = iss.messages.join("\n");
    } else badge.hidden = true;
    this.decorateStats(id);
  }

  decorateStats(id) {
    const c = this.cards.get(id);
    if (!c) return;
    const box = c.el.querySelector(".nc-stats");
    const s = this.stats && this.stats.nodes[id];
    box.hidden = !this.stats;
    const heat = this.stats ? hangupHeat(s) : null;
    for (let level = 0; level < HEAT_LEVELS.length; level++) c.el.classList.toggle(`heat-${level}`, heat !== null && heat.level === level);
    const visits = s ? s.visits : 0;
    box.textContent = this.stats ? `${visits} visit${visits === 1 ? "" : "s"}${heat && heat.hangups ? ` · ${heat.hangups} hung up (${heat.percent}%)` : ""}` : "";
    box.title = heat && heat.hangups ? `${heat.hangups} of ${s.visits} callers hung up here (${heat.percent}%)` : "";
    for (const [o, port] of c.ports) {
      const n = s && s.outcomes ? s.outcomes[o] || 0 : 0;
      port.el.querySelector(".port-count").textContent = this.stats ? ` ${n}` : "";
    }
  }

  // Cards start hidden with estimated geometry; the cull shows (and then measures) those near the
  // viewport, so opening a 2,000-node flow lays out only what is on screen.
  // Cards are measured before any wire exists, so that layout pass stays small.
  renderAll(fit = false) {
    this.edgesEl.textContent = "";
    this.edges.clear();
    this.incoming.clear();
    this.outgoing.clear();
    this.nodesEl.innerHTML = this.model.order.map((id) => this.cardHTML(this.model.node(id), true)).join("");
    this.cards.clear();
    for (const el of this.nodesEl.children) this.cards.set(el.dataset.id, this.estimate(el));
    for (const id of this.cards.keys()) this.place(id);
    for (const id of this.cards.keys()) this.decorate(id);
    this.renderNotes();
    if (fit) this.home();
    this.cullCards();
    this.redrawAllEdges();
    this.cullEdges();
  }

  estimate(el) {
    const ports = new Map();
    const w = parseFloat(el.dataset.w) || CARD_MIN, h = 120;
    el.style.width = `${w}px`;  // set through the CSSOM: the CSP refuses style attributes in markup
    let x = 13;
    for (const p of el.querySelectorAll(".port")) {
      const cw = chipWidth(p.textContent);
      ports.set(p.dataset.outcome, { x: x + cw / 2, y: h - 11, el: p });
      x += cw + 5;
    }
    return { el, w, h, ports, stale: true };
  }

  renderNode(id) {
    const node = this.model.node(id);
    const old = this.cards.get(id);
    if (!node) {
      if (old) old.el.remove();
      this.cards.delete(id);
      this.selection.delete(id);
      this.dropEdgesFrom(id);
      return;
    }
    const tpl = document.createElement("template");
    tpl.innerHTML = this.cardHTML(node).trim();
    const el = tpl.content.firstElementChild;
    el.style.width = `${el.dataset.w}px`;
    const hadFocus = old && document.activeElement === old.el;
    if (old) old.el.replaceWith(el);
    else this.nodesEl.appendChild(el);
    this.cards.set(id, { el });
    this.place(id);
    this.measure(id, el);
    this.decorate(id);
    if (hadFocus) el.focus({ preventScroll: true });
  }

  // ---- wires ---------------------------------------------------------------------------------
  dropEdgesFrom(src) {
    for (const key of this.outgoing.get(src) || []) {
      const e = this.edges.get(key);
      if (!e) continue;
      e.g.remove();
      this.edges.delete(key);
      this.incoming.get(e.dst)?.delete(key);
    }
    this.outgoing.delete(src);
  }

  redrawAllEdges() {
    this.edgesEl.textContent = "";
    this.edges.clear();
    this.incoming.clear();
    this.outgoing.clear();
    const frag = document.createDocumentFragment();
    for (const id of this.model.order) this.buildEdgesFrom(id, frag, false);
    this.edgesEl.appendChild(frag);
    this.viewRect = this.visibleRect();  // once: asked per wire, it would force a layout each time
    for (const e of this.edges.values()) this.drawEdge(e);
    this.viewRect = null;
  }

  buildEdgesFrom(src, parent = this.edgesEl, draw = true) {
    const node = this.model.node(src);
    if (!node) return;
    for (const [outcome, dst] of Object.entries(node.outcomes)) {
      if (!this.model.nodes.has(dst)) continue;
      const key = edgeKey(src, outcome);
      const g = EDGE_TEMPLATE.cloneNode(true);
      g.dataset.key = key;
      parent.appendChild(g);
      const e = { key, src, outcome, dst, g, hit: g.children[0], line: g.children[1] };
      this.edges.set(key, e);
      if (!this.incoming.has(dst)) this.incoming.set(dst, new Set());
      this.incoming.get(dst).add(key);
      if (!this.outgoing.has(src)) this.outgoing.set(src, new Set());
      this.outgoing.get(src).add(key);
      if (draw) this.drawEdge(e);
    }
  }

  rebuildEdgesFrom(src) {
    const dsts = new Set([...(this.outgoing.get(src) || [])].map((k) => this.edges.get(k)?.dst));
    this.dropEdgesFrom(src);
    this.buildEdgesFrom(src, this.edgesEl, false);
    for (const k of this.outgoing.get(src) || []) dsts.add(this.edges.get(k).dst);
    for (const d of dsts) for (const k of this.incoming.get(d) || []) this.drawEdge(this.edges.get(k));
  }

  // The cards as rectangles for the router, rebuilt after anything moved or was measured.
  index() {
    if (!this.cardIndex) {
      const rects = new Map();
      for (const [id, c] of this.cards) {
        const p = this.model.pos.get(id) || { x: 0, y: 0 };
        rects.set(id, { x0: p.x, y0: p.y, x1: p.x + c.w, y1: p.y + c.h });
      }
      this.cardIndex = new CardIndex(rects);
    }
    return this.cardIndex;
  }

  // ELK's route for a wire, while both its cards are where and as big as ELK left them.
  elkRoute(e, s, sc, sp, dc, dp) {
    const r = this.routes && this.routes.get(e.key);
    if (!r) return null;
    const a = r[0], z = r[r.length - 1];
    if (a.x !== s.x || a.y !== Math.round(sp.y + sc.h) || z.x !== Math.round(dp.x + dc.w / 2) || z.y !== Math.round(dp.y)) return null;
    if (this.movedSinceLayout && this.index().pathHits(r)) return null;
    return simplify([s, ...r]);
  }

  // A wire's points: ELK's route after auto-layout, a quick shape while its cards are dragged,
  // else the router's way around the cards (computed when the wire comes into view).
  drawEdge(e) {
    const sc = this.cards.get(e.src), dc = this.cards.get(e.dst);
    if (!sc || !dc) return;
    const sp = this.posOf(e.src), dp = this.posOf(e.dst);
    const port = sc.ports.get(e.outcome) || { x: sc.w / 2, y: sc.h };
    const s = { x: Math.round(sp.x + port.x), y: Math.round(sp.y + port.y) };
    const slots = this.slotOf(e);
    const t = { x: Math.round(dp.x + dc.w * (slots.index + 1) / (slots.count + 1)), y: Math.round(dp.y) };
    const sOut = Math.round(sp.y + sc.h);
    let pts = null;
    if (this.lifted) pts = roughRoute(s, sOut, t);
    else pts = this.elkRoute(e, s, sc, sp, dc, dp);
    if (!pts) {
      const v = this.viewRect || this.visibleRect();
      const box = { x0: Math.min(s.x, t.x) - 160, y0: Math.min(s.y, t.y) - 160, x1: Math.max(s.x, t.x) + 160, y1: Math.max(s.y, t.y) + 160 };
      if (!(box.x0 < v.x1 && box.x1 > v.x0 && box.y0 < v.y1 && box.y1 > v.y0)) {  // off screen: route it when it shows
        e.box = box;
        e.pending = true;
        return;
      }
      pts = route(this.index(), s, sOut, t);
    }
    e.pending = false;
    e.pts = pts;
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity, total = 0;
    for (let i = 0; i < pts.length; i++) {
      const p = pts[i];
      x0 = Math.min(x0, p.x); y0 = Math.min(y0, p.y); x1 = Math.max(x1, p.x); y1 = Math.max(y1, p.y);
      if (i) total += Math.abs(p.x - pts[i - 1].x) + Math.abs(p.y - pts[i - 1].y);
    }
    e.mid = pts[0];
    for (let i = 1, run = 0; i < pts.length; i++) {  // the point halfway along, for the delete button
      const a = pts[i - 1], b = pts[i], len = Math.abs(b.x - a.x) + Math.abs(b.y - a.y);
      if (run + len >= total / 2) { const f = len ? (total / 2 - run) / len : 0; e.mid = { x: a.x + (b.x - a.x) * f, y: a.y + (b.y - a.y) * f }; break; }
      run += len;
    }
    e.box = { x0: x0 - 40, y0: y0 - 40, x1: x1 + 40, y1: y1 + 40 };
    const d = pathD(pts);
    e.hit.setAttribute("d", d);
    e.line.setAttribute("d", d);
    if (!this.lifted) {  // the name on hover; not rewritten in the frames of a drag
      const n = this.stats ? ((this.stats.nodes[e.src] || {}).outcomes || {})[e.outcome] || 0 : null;
      const text = this.model.outcomeLabel(this.model.node(e.src), e.outcome);
      const dst = this.model.node(e.dst);
      e.hit.firstChild.textContent = `${text} → ${dst ? dst.name || dst.id : e.dst}${this.stats ? ` · ${n} calls` : ""}`;
    }
    const sel = this.selectedEdge === e.key, onPath = this.path.edges.has(e.key);
    e.g.classList.toggle("selected", sel);
    e.g.classList.toggle("on-path", onPath);
    if (port.el) port.el.classList.toggle("edge-selected", sel);
    e.line.setAttribute("marker-end", `url(#${sel ? "arrow-sel" : onPath ? "arrow-path" : "arrow"})`);
    if (sel) this.placeEdgeButton(e);
  }

  // Hovering a wire lights up its chip, and hovering a chip lights up its wire.
  hoverEdge(key, on) {
    const e = this.edges.get(key);
    if (!e) return;
    e.g.classList.toggle("hot", on);
    this.cards.get(e.src)?.ports.get(e.outcome)?.el?.classList.toggle("hot", on);
  }

  // Wires into one card end side by side along its top, ordered by where they come from.
  slotOf(e) {
    const keys = [...(this.incoming.get(e.dst) || [])];
    if (keys.length < 2) return { index: 0, count: 1 };
    const x = (k) => {
      const o = this.edges.get(k);
      const c = o && this.cards.get(o.src);
      const port = c && c.ports.get(o.outcome);
      return o ? this.posOf(o.src).x + (port ? port.x : 0) : 0;
    };
    keys.sort((a, b) => x(a) - x(b));
    return { index: keys.indexOf(e.key), count: keys.length };
  }

  edgesTouching(ids) {
    const keys = new Set();
    for (const id of ids) {
      for (const key of this.outgoing.get(id) || []) {
        keys.add(key);
        for (const sibling of this.incoming.get(this.edges.get(key).dst) || []) keys.add(sibling);
      }
      for (const key of this.incoming.get(id) || []) keys.add(key);
    }
    return keys;
  }

  // Redraw the wires that now run under one of these cards (it moved, grew or was added).
  rerouteAround(ids) {
    const idx = this.index();
    const rects = ids.map((id) => idx.rects.get(id)).filter(Boolean);
    if (!rects.length) return;
    for (const e of this.edges.values()) {
      if (!e.pts || e.pending || !e.box) continue;
      const b = e.box;
      if (!rects.some((r) => b.x0 < r.x1 && b.x1 > r.x0 && b.y0 < r.y1 && b.y1 > r.y0)) continue;
      if (idx.pathHits(e.pts.slice(1))) this.drawEdge(e);
    }
  }

  redrawEdgesTouching(ids) {
    for (const key of this.edgesTouching(ids)) {
      const e = this.edges.get(key);
      if (e) this.drawEdge(e);
    }
  }

  placeEdgeButton(e) {
    let btn = this.world.querySelector(".edge-del");
    if (!btn) {
      btn = document.createElement("button");
      btn.type = "button";
      btn.className = "edge-del";
      btn.textContent = "×";
      btn.addEventListener("click", (ev) => { ev.stopPropagation(); if (this.selectedEdge) this.on.deleteEdge(this.edges.get(this.selectedEdge)); });
      this.world.appendChild(btn);
    }
    btn.hidden = this.readonly;
    btn.setAttribute("aria-label", `Delete the connection ${e.outcome} from ${e.src} to ${e.dst}`);
    btn.style.transform = `translate(${e.mid.x + 14}px, ${e.mid.y - 12}px)`;
  }

  selectEdge(key) {
    const before = this.selectedEdge;
    this.selectedEdge = key;
    if (key) this.setSelection([]);
    for (const k of [before, key]) if (k && this.edges.get(k)) this.drawEdge(this.edges.get(k));
    if (!key) this.world.querySelector(".edge-del")?.remove();
  }

  // While dragging, the moving cards get their own compositor layers and their wires move to a
  // small SVG of their own, so each frame repaints only what moves, not the whole big wire layer.
  lift(ids) {
    this.lifted = { ids, keys: [...this.edgesTouching(ids)] };
    for (const id of ids) this.cards.get(id)?.el.classList.add("lifted");
    for (const key of this.lifted.keys) this.liftLayer.appendChild(this.edges.get(key).g);
  }

  drop() {
    if (!this.lifted) return;
    for (const id of this.lifted.ids) this.cards.get(id)?.el.classList.remove("lifted");
    for (const key of this.lifted.keys) { const e = this.edges.get(key); if (e) this.edgesEl.appendChild(e.g); }
    this.lifted = null;
  }

  // ---- notes ---------------------------------------------------------------------------------
  renderNotes() {
    this.notesEl.innerHTML = [...this.model.notes.values()].map((n) => `
      <div class="note${this.selectedNotes.has(n.id) ? " selected" : ""}" data-note="${esc(n.id)}">
        <div class="note-bar"><span>Note</span>${this.readonly ? "" : `<button type="button" class="note-del" aria-label="Delete note">×</button>`}</div>
        <textarea aria-label="Sticky note" ${this.readonly ? "readonly" : ""} placeholder="Write a note…">${esc(n.text || "")}</textarea></div>`).join("");
    // Positions through the CSSOM: the Content-Security-Policy refuses style attributes in markup.
    for (const el of this.notesEl.querySelectorAll("[data-note]")) {
      const n = this.model.notes.get(el.dataset.note);
      if (n) el.style.transform = `translate(${+n.x || 0}px, ${+n.y || 0}px)`;
    }
  }

  renderNote(id) {
    const n = this.model.notes.get(id);
    const el = this.notesEl.querySelector(`[data-note="${CSS.escape(id)}"]`);
    if (!n) { el?.remove(); this.selectedNotes.delete(id); return; }
    if (!el) { this.renderNotes(); return; }
    el.style.transform = `translate(${n.x}px, ${n.y}px)`;
    const ta = el.querySelector("textarea");
    if (ta.value !== (n.text || "")) ta.value = n.text || "";
  }

  // ---- selection, issues, overlays -----------------------------------------------------------
  setSelection(ids, notes = []) {
    const before = new Set(this.selection);
    this.selection = new Set(ids);
    this.selectedNotes = new Set(notes);
    for (const id of new Set([...before, ...this.selection])) this.decorate(id);
    for (const el of this.notesEl.children) el.classList.toggle("selected", this.selectedNotes.has(el.dataset.note));
    if (ids.length && this.selectedEdge) this.selectEdge(null);
    this.on.select([...this.selection]);
  }

  setIssues(issues) {
    const next = new Map();
    for (const i of issues) {
      if (!i.node_id) continue;
      const e = next.get(i.node_id) || { errors: 0, warnings: 0, messages: [] };
      if (i.severity === "error") e.errors++; else e.warnings++;
      e.messages.push(i.message);
      next.set(i.node_id, e);
    }
    const touched = new Set([...this.issues.keys(), ...next.keys()]);
    this.issues = next;
    for (const id of touched) this.decorate(id);
  }

  setStats(stats) {
    this.stats = stats;
    this.root.classList.toggle("with-stats", !!stats);
    for (const id of this.cards.keys()) this.decorateStats(id);
    for (const [id, c] of this.cards) {  // counts widen the ports
      if (c.el.hidden) c.stale = true;
      else this.measure(id, c.el);
    }
    for (const e of this.edges.values()) this.drawEdge(e);
  }

  setPath(path, active) {
    const nodes = new Set(), edges = new Set();
    for (const step of path || []) {
      nodes.add(step.node);
      if (step.outcome) edges.add(edgeKey(step.node, step.outcome));
    }
    const touched = new Set([...this.path.nodes, ...nodes, this.path.active, active].filter(Boolean));
    const edgeTouched = new Set([...this.path.edges, ...edges]);
    this.path = { nodes, edges, active: active || null };
    for (const id of touched) this.decorate(id);
    for (const key of edgeTouched) if (this.edges.get(key)) this.drawEdge(this.edges.get(key));
    this.root.classList.toggle("with-path", nodes.size > 0);
  }

  // Update the view after a patch was applied to the model (an edit, an undo or a redo).
  patched(patch) {
    const touched = new Set(Object.keys(patch.nodes || {}));
    if (!same(this.model.channels(), this.channelsDrawn)) {  // summaries may name the channel
      for (const id of this.cards.keys()) touched.add(id);
    }
    if ("settings" in patch || "start" in patch) {  // the start badges follow start and messaging_start
      for (const id of this.cards.keys()) if (this.cards.get(id).el.querySelector(".nc-start")) touched.add(id);
      for (const id of [this.model.start, this.model.settings.messaging_start]) if (id && this.model.nodes.has(id)) touched.add(id);
    }
    for (const id of touched) this.renderNode(id);
    for (const id of Object.keys(patch.pos || {})) this.place(id);
    for (const id of touched) if (this.model.nodes.has(id)) this.rebuildEdgesFrom(id);
    const moved = new Set([...touched, ...Object.keys(patch.pos || {})]);
    if (patch.pos && !patch.layout) this.movedSinceLayout = true;
    this.redrawEdgesTouching(moved);
    this.rerouteAround([...moved]);
    for (const id of Object.keys(patch.notes || {})) this.renderNote(id);
    if (this.selectedEdge && !this.edges.has(this.selectedEdge)) this.selectEdge(null);
    this.scheduleCull();
    if (this.on.viewChanged) this.on.viewChanged();
  }

  snapshotPositions(ids) {
    const out = {};
    for (const id of ids) out[id] = clone(this.model.pos.get(id) || { x: 0, y: 0 });
    return out;
  }
}
