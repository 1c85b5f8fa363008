// Keyboard: undo/redo, copy/cut/paste, delete, nudge, select all, zoom, open a node.

import * as E from "./edits.js";

const CLIP_KEY = "phonetree:clipboard";

function isTyping(target) {
  return !!(target && target.closest && target.closest("input, textarea, select, [contenteditable=true], dialog"));
}

export function bindKeyboard({ canvas, model, act, ro, commands, panel, saver }) {
  let clip = null;
  let pasteCount = 0;

  const readClip = () => {
    if (clip) return clip;
    try { return JSON.parse(localStorage.getItem(CLIP_KEY) || "null"); } catch { return null; }
  };

  const copy = () => {
    const data = E.copyNodes(model, [...canvas.selection]);
    if (!data) return false;
    clip = data;
    pasteCount = 0;
    try { localStorage.setItem(CLIP_KEY, JSON.stringify(data)); } catch { /* private mode */ }
    return true;
  };

  const paste = () => {
    const data = readClip();
    if (!data || !data.nodes || !data.nodes.length) return;
    pasteCount += 1;
    const [patch, ids] = E.pasteNodes(model, data, { x: 40 * pasteCount, y: 40 * pasteCount });
    act.do(patch, `Paste ${ids.length} node${ids.length > 1 ? "s" : ""}`);
    canvas.setSelection(ids);
  };

  const nudge = (dx, dy) => {
    const ids = [...canvas.selection];
    if (!ids.length) return false;
    const to = {};
    for (const id of ids) {
      const p = model.pos.get(id) || { x: 0, y: 0 };
      to[id] = { x: p.x + dx, y: p.y + dy };
    }
    act.do(E.moveNodes(to, false), "Nudge", "nudge");
    return true;
  };

  document.addEventListener("keydown", (ev) => {
    const mod = ev.ctrlKey || ev.metaKey;
    const key = ev.key.toLowerCase();
    if (mod && key === "s") { ev.preventDefault(); saver.flush(); return; }
    if (isTyping(ev.target)) {
      if (ev.key === "Escape" && ev.target.closest(".note")) ev.target.blur();
      return;
    }
    if (mod && key === "z") { ev.preventDefault(); if (!ro) (ev.shiftKey ? act.redo : act.undo)(); return; }
    if (mod && key === "y") { ev.preventDefault(); if (!ro) act.redo(); return; }
    if (mod && key === "c") { if (copy()) ev.preventDefault(); return; }
    if (mod && key === "x" && !ro) { if (copy()) { ev.preventDefault(); act.deleteNodes([...canvas.selection]); } return; }
    if (mod && key === "v" && !ro) { ev.preventDefault(); paste(); return; }
    if (mod && key === "a" && ev.target.closest("#canvas, body")) {
      if (ev.target.closest(".dz-panel")) return;
      ev.preventDefault();
      canvas.setSelection([...model.order]);
      return;
    }
    if (mod) return;
    if ((ev.key === "Delete" || ev.key === "Backspace") && !ro) {
      const edge = canvas.selectedEdge && canvas.edges.get(canvas.selectedEdge);
      if (canvas.selection.size || canvas.selectedNotes.size || edge) {
        ev.preventDefault();
        act.deleteNodes([...canvas.selection], [...canvas.selectedNotes], edge ? { src: edge.src, outcome: edge.outcome } : null);
      }
      return;
    }
    const arrows = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
    if (arrows[ev.key] && !ro && !ev.target.closest(".dz-panel, .dz-toolbar")) {
      const step = ev.shiftKey ? 40 : 8;
      if (nudge(arrows[ev.key][0] * step, arrows[ev.key][1] * step)) ev.preventDefault();
      return;
    }
    if (ev.key === "Escape") { canvas.setSelection([]); canvas.selectEdge(null); return; }
    if (ev.key === "Tab" && ev.target.closest && ev.target.closest(".node-card")) {
      // travel every node in flow order (cards far off screen are not in the DOM's tab order)
      const i = model.order.indexOf(ev.target.closest(".node-card").dataset.id);
      const next = model.order[i + (ev.shiftKey ? -1 : 1)];
      if (next !== undefined) {
        ev.preventDefault();
        canvas.reveal(next);
        canvas.cards.get(next).el.focus({ preventScroll: true });
      }
      return;
    }
    if (ev.key === "Enter") {
      const card = ev.target.closest && ev.target.closest(".node-card");
      if (card) { ev.preventDefault(); canvas.on.open(card.dataset.id); }
      return;
    }
    if (ev.target.closest(".dz-panel")) return;
    if (ev.key === "+" || ev.key === "=") commands["zoom-in"]();
    else if (ev.key === "-") commands["zoom-out"]();
    else if (ev.key === "0") commands["zoom-reset"]();
    else if (key === "f") commands.fit();
  });

  return { copy, paste };
}
