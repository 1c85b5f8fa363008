// For big flows: a minimap of the whole flow (click or drag in it to move the view) and a search
// for a node by name or id that selects it and brings it to the middle of the view.

const COLORS = { voice: "#3a5bd9", input: "#7c3aed", logic: "#c2410c", connect: "#0f766e", integrations: "#0369a1", payments: "#15803d", ai: "#be185d" };

export class Minimap {
  constructor(cv, el) {
    this.cv = cv;
    this.el = el;
    if (!el) return;
    this.ctx = el.getContext("2d");
    let dragging = false;
    const go = (ev) => {
      const r = el.getBoundingClientRect();
      const w = this.toWorld(ev.clientX - r.left, ev.clientY - r.top);
      const box = cv.root.getBoundingClientRect();
      cv.view.x = box.width / 2 - w.x * cv.view.k;
      cv.view.y = box.height / 2 - w.y * cv.view.k;
      cv.applyView();
    };
    el.addEventListener("pointerdown", (ev) => { dragging = true; el.setPointerCapture(ev.pointerId); go(ev); ev.stopPropagation(); ev.preventDefault(); });
    el.addEventListener("pointermove", (ev) => { if (dragging) go(ev); });
    el.addEventListener("pointerup", () => { dragging = false; });
    el.addEventListener("wheel", (ev) => ev.stopPropagation());
  }

  schedule() {
    if (this.el && !this.pending) this.pending = requestAnimationFrame(() => { this.pending = null; this.draw(); });
  }

  toWorld(mx, my) {
    const s = this.scale;
    return { x: mx / s.k + s.x0, y: my / s.k + s.y0 };
  }

  // Shown only when the flow does not fit in the view.
  draw() {
    const cv = this.cv, b = cv.bounds();
    const r = cv.root.getBoundingClientRect();
    const v = { x0: -cv.view.x / cv.view.k, y0: -cv.view.y / cv.view.k, x1: (r.width - cv.view.x) / cv.view.k, y1: (r.height - cv.view.y) / cv.view.k };
    const fits = !b || (b.x0 >= v.x0 && b.y0 >= v.y0 && b.x1 <= v.x1 && b.y1 <= v.y1);
    this.el.hidden = fits;
    if (fits) return;
    const W = this.el.width, H = this.el.height, pad = 6;
    const x0 = Math.min(b.x0, v.x0), y0 = Math.min(b.y0, v.y0), x1 = Math.max(b.x1, v.x1), y1 = Math.max(b.y1, v.y1);
    const k = Math.min((W - 2 * pad) / (x1 - x0), (H - 2 * pad) / (y1 - y0));
    this.scale = { k, x0: x0 - pad / k, y0: y0 - pad / k };
    const ctx = this.ctx, s = this.scale;
    ctx.clearRect(0, 0, W, H);
    for (const [id, c] of cv.cards) {
      const p = cv.model.pos.get(id);
      if (!p) continue;
      const info = cv.model.type(cv.model.node(id));
      ctx.fillStyle = COLORS[info ? info.category.toLowerCase() : ""] || "#6b7280";
      ctx.fillRect((p.x - s.x0) * k, (p.y - s.y0) * k, Math.max(2, c.w * k), Math.max(2, c.h * k));
    }
    ctx.strokeStyle = "#3a5bd9";
    ctx.lineWidth = 2;
    ctx.strokeRect((v.x0 - s.x0) * k, (v.y0 - s.y0) * k, (v.x1 - v.x0) * k, (v.y1 - v.y0) * k);
  }
}

// The search box: matches by name or id as you type; Enter or a click picks one.
export function bindFinder(cv, input, list, pick) {
  if (!input) return;
  let hits = [];
  const close = () => { list.hidden = true; list.textContent = ""; };
  const choose = (id) => { close(); input.value = ""; input.blur(); pick(id); };
  input.addEventListener("input", () => {
    const q = input.value.trim().toLowerCase();
    if (!q) { close(); return; }
    hits = [];
    for (const id of cv.model.order) {
      const n = cv.model.node(id);
      const name = (n.name || "").toLowerCase();
      if (name.includes(q) || id.toLowerCase().includes(q)) hits.push(id);
      if (hits.length >= 12) break;
    }
    list.textContent = "";
    for (const id of hits) {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      li.dataset.id = id;
      li.textContent = `${cv.model.node(id).name || id}`;
      const small = document.createElement("span");
      small.className = "muted";
      small.textContent = ` ${id}`;
      li.appendChild(small);
      list.appendChild(li);
    }
    if (!hits.length) list.innerHTML = '<li class="muted">No node matches.</li>';
    list.hidden = false;
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && hits.length) { ev.preventDefault(); choose(hits[0]); }
    if (ev.key === "Escape") { close(); input.blur(); }
  });
  list.addEventListener("pointerdown", (ev) => {
    const li = ev.target.closest("li[data-id]");
    if (li) { ev.preventDefault(); choose(li.dataset.id); }
  });
  input.addEventListener("blur", () => setTimeout(close, 150));
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "/" && !ev.target.closest("input, textarea, select, [contenteditable=true]")) { ev.preventDefault(); input.focus(); }
  });
}
