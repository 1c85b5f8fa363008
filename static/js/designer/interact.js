// Pointer interactions on the canvas: pan, zoom, drag cards and notes, draw wires, rubber-band
// selection, and dragging node types in from the palette. Moves are batched per animation frame.

import { snap } from "./edits.js";

export function bindInteractions(cv) {
  const root = cv.root;
  let mode = null;
  let pending = null;

  const frame = (fn) => {
    pending = fn;
    if (cv.frame) return;
    cv.frame = requestAnimationFrame(() => {
      cv.frame = null;
      const run = pending;
      pending = null;
      if (run) run();
    });
  };

  root.addEventListener("pointerdown", (ev) => {
    if (ev.button !== 0 && ev.button !== 1) return;
    const t = ev.target;
    if (t.closest(".edge-del, .note-del, textarea, input, select, button")) return;
    cv.pointerAt = Date.now();
    const card = t.closest(".node-card");
    const port = t.closest(".port");
    const noteBar = t.closest(".note-bar");
    const edge = t.closest(".edge");
    const start = { x0: ev.clientX, y0: ev.clientY, moved: false, id: ev.pointerId };
    if (port && card && !cv.readonly && ev.button === 0) {
      const src = card.dataset.id;
      const c = cv.cards.get(src), p = cv.posOf(src), portInfo = c.ports.get(port.dataset.outcome);
      mode = { ...start, kind: "wire", src, outcome: port.dataset.outcome, sx: p.x + portInfo.x, sy: p.y + portInfo.y };
      cv.root.classList.add("wiring");
    } else if (card && ev.button === 0) {
      const id = card.dataset.id;
      if (ev.shiftKey || ev.ctrlKey || ev.metaKey) {
        const next = new Set(cv.selection);
        if (next.has(id)) next.delete(id); else next.add(id);
        cv.setSelection([...next], [...cv.selectedNotes]);
        return;
      }
      if (!cv.selection.has(id)) cv.setSelection([id]);
      const ids = [...cv.selection];
      mode = { ...start, kind: "drag", ids, primary: id, from: cv.snapshotPositions(ids) };
    } else if (noteBar) {
      const noteId = noteBar.closest(".note").dataset.note;
      cv.setSelection([], [noteId]);
      if (cv.readonly) return;
      const n = cv.model.notes.get(noteId);
      mode = { ...start, kind: "note", noteId, from: { x: n.x, y: n.y } };
    } else if (t.closest(".note")) {
      return;
    } else if (edge) {
      cv.selectEdge(edge.dataset.key);
      root.focus({ preventScroll: true });
      return;
    } else if (ev.shiftKey && ev.button === 0) {
      const w = cv.toWorld(ev.clientX, ev.clientY);
      mode = { ...start, kind: "band", wx: w.x, wy: w.y };
    } else {
      mode = { ...start, kind: "pan", vx: cv.view.x, vy: cv.view.y };
      root.classList.add("panning");
    }
    root.setPointerCapture(ev.pointerId);
    ev.preventDefault();  // no text selection while dragging; so move the focus by hand
    if (!card) root.focus({ preventScroll: true });
    else card.focus({ preventScroll: true });
  });

  root.addEventListener("pointermove", (ev) => {
    if (!mode || ev.pointerId !== mode.id) return;
    const dx = ev.clientX - mode.x0, dy = ev.clientY - mode.y0;
    if (!mode.moved && Math.hypot(dx, dy) < 3) return;
    mode.moved = true;
    const k = cv.view.k;
    const m = mode;
    if (m.kind === "pan") {
      frame(() => { cv.view.x = m.vx + dx; cv.view.y = m.vy + dy; cv.applyView(); });
    } else if (m.kind === "drag") {
      if (cv.readonly) return;
      if (!m.lifted) { m.lifted = true; cv.lift(m.ids); }
      frame(() => {
        // the grabbed card lands on the grid; the others keep their places relative to it
        const p = m.from[m.primary];
        const ox = snap(p.x + dx / k) - p.x, oy = snap(p.y + dy / k) - p.y;
        cv.dragPos = new Map(m.ids.map((id) => [id, { x: m.from[id].x + ox, y: m.from[id].y + oy }]));
        for (const id of m.ids) cv.place(id);
        cv.redrawEdgesTouching(m.ids);
      });
      root.classList.add("dragging");
    } else if (m.kind === "note") {
      frame(() => {
        const el = cv.notesEl.querySelector(`[data-note="${CSS.escape(m.noteId)}"]`);
        m.to = { x: snap(m.from.x + dx / k), y: snap(m.from.y + dy / k) };
        if (el) el.style.transform = `translate(${m.to.x}px, ${m.to.y}px)`;
      });
    } else if (m.kind === "wire") {
      const cx = ev.clientX, cy = ev.clientY;
      frame(() => {
        const w = cv.toWorld(cx, cy);
        const c = Math.max(40, Math.abs(w.y - m.sy) / 2);
        cv.wire.setAttribute("d", `M${m.sx},${m.sy} C${m.sx},${m.sy + c} ${w.x},${w.y - c} ${w.x},${w.y}`);
        const over = document.elementFromPoint(cx, cy)?.closest(".node-card");
        const target = over && over.dataset.id !== m.src ? over : null;
        if (m.target !== target) {
          m.target?.classList.remove("drop-target");
          target?.classList.add("drop-target");
          m.target = target;
        }
      });
    } else if (m.kind === "band") {
      const cx = ev.clientX, cy = ev.clientY;
      frame(() => {
        const w = cv.toWorld(cx, cy);
        m.rect = { x: Math.min(w.x, m.wx), y: Math.min(w.y, m.wy), w: Math.abs(w.x - m.wx), h: Math.abs(w.y - m.wy) };
        Object.assign(cv.band.style, { transform: `translate(${m.rect.x}px, ${m.rect.y}px)`, width: `${m.rect.w}px`, height: `${m.rect.h}px` });
        cv.band.hidden = false;
      });
    }
  });

  const finish = (ev) => {
    if (!mode || ev.pointerId !== mode.id) return;
    const m = mode;
    mode = null;
    if (cv.frame) { cancelAnimationFrame(cv.frame); cv.frame = null; }
    if (pending && m.kind !== "wire") pending();
    pending = null;
    root.classList.remove("panning", "dragging", "wiring");
    if (m.kind === "pan" && !m.moved) cv.setSelection([]);
    if (m.kind === "pan" && !m.moved && cv.selectedEdge) cv.selectEdge(null);
    if (m.kind === "drag" && m.lifted) cv.drop();
    if (m.kind === "drag" && m.moved && cv.dragPos) {
      const to = Object.fromEntries(cv.dragPos);
      cv.dragPos = null;
      const changed = m.ids.some((id) => to[id].x !== m.from[id].x || to[id].y !== m.from[id].y);
      if (changed) cv.on.move(to);
    }
    if (m.kind === "note" && m.to) cv.on.moveNote(m.noteId, m.to);
    if (m.kind === "wire") {
      cv.wire.setAttribute("d", "");
      m.target?.classList.remove("drop-target");
      const over = document.elementFromPoint(ev.clientX, ev.clientY)?.closest(".node-card");
      if (m.moved && over && over.dataset.id !== m.src) cv.on.connect(m.src, m.outcome, over.dataset.id);
    }
    if (m.kind === "band") {
      cv.band.hidden = true;
      if (m.rect) {
        const r = m.rect;
        const ids = [...cv.cards.keys()].filter((id) => {
          const c = cv.cards.get(id), p = cv.posOf(id);
          return p.x < r.x + r.w && p.x + c.w > r.x && p.y < r.y + r.h && p.y + c.h > r.y;
        });
        cv.setSelection(ids);
      }
    }
  };
  root.addEventListener("pointerup", finish);
  root.addEventListener("pointercancel", finish);

  root.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    if (ev.ctrlKey || ev.metaKey) {
      const r = root.getBoundingClientRect();
      cv.zoomAt(cv.view.k * Math.exp(-ev.deltaY * 0.0018), ev.clientX - r.left, ev.clientY - r.top);
    } else {
      cv.view.x -= ev.deltaX;
      cv.view.y -= ev.deltaY;
      cv.applyView();
    }
  }, { passive: false });

  // A wire and its chip light up together.
  const hover = (ev, on) => {
    const edge = ev.target.closest && ev.target.closest(".edge");
    if (edge) { cv.hoverEdge(edge.dataset.key, on); return; }
    const port = ev.target.closest && ev.target.closest(".port");
    const card = port && port.closest(".node-card");
    if (card) cv.hoverEdge(`${card.dataset.id}\u0000${port.dataset.outcome}`, on);
  };
  root.addEventListener("pointerover", (ev) => hover(ev, true));
  root.addEventListener("pointerout", (ev) => hover(ev, false));

  root.addEventListener("dblclick", (ev) => {
    const card = ev.target.closest(".node-card");
    if (card) cv.on.open(card.dataset.id);
  });

  cv.nodesEl.addEventListener("focusin", (ev) => {
    const card = ev.target.closest(".node-card");
    if (!card || Date.now() - (cv.pointerAt || 0) < 400) return;
    if (!cv.selection.has(card.dataset.id) || cv.selection.size > 1) cv.setSelection([card.dataset.id]);
  });

  cv.notesEl.addEventListener("click", (ev) => {
    const del = ev.target.closest(".note-del");
    if (del) cv.on.deleteNote(del.closest(".note").dataset.note);
  });
  cv.notesEl.addEventListener("input", (ev) => {
    if (ev.target.matches("textarea")) cv.on.noteText(ev.target.closest(".note").dataset.note, ev.target.value);
  });
}

// Node types dragged (or clicked, or Enter) from the palette onto the canvas.
export function bindPalette(cv, palette) {
  if (!palette) return;
  let drag = null;
  palette.addEventListener("pointerdown", (ev) => {
    const item = ev.target.closest(".palette-item");
    if (!item || ev.button !== 0) return;
    drag = { type: item.dataset.type, x0: ev.clientX, y0: ev.clientY, moved: false, item };
    item.setPointerCapture(ev.pointerId);
  });
  palette.addEventListener("pointermove", (ev) => {
    if (!drag) return;
    if (!drag.moved && Math.hypot(ev.clientX - drag.x0, ev.clientY - drag.y0) < 4) return;
    if (!drag.ghost) {
      drag.ghost = drag.item.cloneNode(true);
      drag.ghost.classList.add("palette-ghost");
      document.body.appendChild(drag.ghost);
    }
    drag.moved = true;
    drag.ghost.style.transform = `translate(${ev.clientX - 20}px, ${ev.clientY - 14}px)`;
    const r = cv.root.getBoundingClientRect();
    cv.root.classList.toggle("drop-ok", ev.clientX > r.left && ev.clientX < r.right && ev.clientY > r.top && ev.clientY < r.bottom);
  });
  const end = (ev) => {
    if (!drag) return;
    const d = drag;
    drag = null;
    d.ghost?.remove();
    cv.root.classList.remove("drop-ok");
    const r = cv.root.getBoundingClientRect();
    const inside = ev.clientX > r.left && ev.clientX < r.right && ev.clientY > r.top && ev.clientY < r.bottom;
    if (d.moved && inside) {
      const w = cv.toWorld(ev.clientX, ev.clientY);
      const at = cv.freeSpotForNew({ x: w.x - 110, y: w.y - 30 });
      cv.on.dropType(d.type, at.x, at.y);
    } else if (!d.moved) {
      cv.on.dropType(d.type);
    }
  };
  palette.addEventListener("pointerup", end);
  palette.addEventListener("pointercancel", () => { drag?.ghost?.remove(); drag = null; });
  palette.addEventListener("keydown", (ev) => {
    const item = ev.target.closest(".palette-item");
    if (item && (ev.key === "Enter" || ev.key === " ")) {
      ev.preventDefault();
      cv.on.dropType(item.dataset.type);
    }
  });
}
