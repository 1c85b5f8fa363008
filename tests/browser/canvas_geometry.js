// Run in the designer page by tests/browser/canvas_geometry.py: what a person would see go wrong.
(visibleOnly) => {
  const d = window.phonetreeDesigner;
  const cards = new Map();
  for (const el of document.querySelectorAll("#nodes .node-card")) {
    if (el.hidden && visibleOnly) continue;
    if (el.hidden) return { error: `card ${el.dataset.id} is not displayed` };
    cards.set(el.dataset.id, { el, r: el.getBoundingClientRect() });
  }
  const inside = (r, x, y, m) => x > r.left + m && x < r.right - m && y > r.top + m && y < r.bottom - m;
  const meets = (a, b, m) => a.left + m < b.right && b.left + m < a.right && a.top + m < b.bottom && b.top + m < a.bottom;
  const out = { cards: cards.size, wires: 0, throughCards: [], overlaps: [], hiddenNames: [], offPort: [], undrawn: [] };
  const list = [...cards.entries()];
  for (let i = 0; i < list.length; i++) for (let j = i + 1; j < list.length; j++) {
    if (meets(list[i][1].r, list[j][1].r, 0.5)) out.overlaps.push([list[i][0], list[j][0]]);
  }
  for (const [id, c] of cards) for (const chip of c.el.querySelectorAll(".port")) {
    const r = chip.getBoundingClientRect();
    for (const [other, o] of cards) if (other !== id && meets(r, o.r, 0.5)) out.hiddenNames.push([id, chip.dataset.outcome, other]);
  }
  const k = d.canvas.view.k;
  for (const g of document.querySelectorAll("#edge-layer .edge")) {
    const e = d.canvas.edges.get(g.dataset.key);
    if (visibleOnly && (!(cards.has(e.src) && cards.has(e.dst)) || g.style.display === "none")) continue;
    const path = g.querySelector(".line");
    out.wires++;
    if (!path.getAttribute("d") || g.style.display === "none") { out.undrawn.push(g.dataset.key); continue; }
    const m = path.getScreenCTM(), len = path.getTotalLength();
    const at = (l) => { const p = path.getPointAtLength(l); return { x: m.a * p.x + m.c * p.y + m.e, y: m.b * p.x + m.d * p.y + m.f }; };
    const first = at(0);
    const chip = cards.get(e.src).el.querySelector(`.port[data-outcome="${CSS.escape(e.outcome)}"]`).getBoundingClientRect();
    if (!(first.x >= chip.left && first.x <= chip.right && Math.abs(first.y - chip.bottom) <= 1.5)) out.offPort.push([g.dataset.key, first, chip.left, chip.right, chip.bottom]);
    const hit = new Set();
    for (let l = 0; l <= len; l += 3) {
      const p = at(l);
      for (const [id, c] of cards) if (id !== e.src && id !== e.dst && !hit.has(id) && inside(c.r, p.x, p.y, 2 * k)) hit.add(id);
    }
    for (const id of hit) out.throughCards.push([g.dataset.key.replace("\u0000", ":"), e.dst, id]);
  }
  return out;
}
