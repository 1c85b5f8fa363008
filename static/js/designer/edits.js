// Edits to the flow, each built as one patch for the command stack (see model.js).

import { clone } from "./model.js";

const GRID = 8;
export const snap = (v) => Math.round(v / GRID) * GRID;

export function addNode(model, type, x, y) {
  const info = model.types.get(type);
  const id = model.uniqueId(type);
  const node = { id, type, name: info ? model.typeLabel(info) : type, props: clone((info && info.starter_props) || {}), outcomes: {} };
  const patch = { nodes: { [id]: node }, pos: { [id]: { x: snap(x), y: snap(y) } } };
  if (!model.start || !model.nodes.has(model.start)) patch.start = id;
  return [patch, id];
}

export function moveNodes(positions, toGrid = true) {
  const pos = {};
  for (const [id, p] of Object.entries(positions)) pos[id] = toGrid ? { x: snap(p.x), y: snap(p.y) } : { x: p.x, y: p.y };
  return { pos };
}

export function connect(model, src, outcome, dst) {
  const node = clone(model.node(src));
  if (!node || (dst && !model.nodes.has(dst))) return null;
  if (dst) node.outcomes[outcome] = dst;
  else delete node.outcomes[outcome];
  return { nodes: { [src]: node } };
}

export function updateNode(model, node) {
  return { nodes: { [node.id]: clone(node) } };
}

export function setStart(id) {
  return { start: id };
}

// Delete nodes (and the wires into them), notes, and one selected wire.
export function deleteSelection(model, nodeIds, noteIds = [], edge = null) {
  const gone = new Set(nodeIds.filter((id) => model.nodes.has(id)));
  const patch = { nodes: {}, pos: {}, notes: {} };
  for (const id of gone) {
    patch.nodes[id] = null;
    if (model.pos.has(id)) patch.pos[id] = null;
  }
  for (const n of model.nodes.values()) {
    if (gone.has(n.id)) continue;
    let changed = null;
    for (const [o, t] of Object.entries(n.outcomes)) {
      if (gone.has(t) || (edge && edge.src === n.id && edge.outcome === o)) {
        changed = changed || clone(n);
        delete changed.outcomes[o];
      }
    }
    if (changed) patch.nodes[n.id] = changed;
  }
  for (const id of noteIds) if (model.notes.has(id)) patch.notes[id] = null;
  if (gone.has(model.start)) patch.start = null;
  const empty = !Object.keys(patch.nodes).length && !Object.keys(patch.notes).length;
  return empty ? null : patch;
}

export function addNote(model, x, y) {
  let n = model.notes.size + 1;
  while (model.notes.has(`note${n}`)) n++;
  const id = `note${n}`;
  return [{ notes: { [id]: { id, x: snap(x), y: snap(y), text: "" } } }, id];
}

export function editNote(model, id, changes) {
  const note = model.notes.get(id);
  return note ? { notes: { [id]: { ...clone(note), ...changes } } } : null;
}

// Copy: the selected nodes with their positions; wires to nodes outside the selection are dropped.
export function copyNodes(model, ids) {
  const chosen = ids.filter((id) => model.nodes.has(id));
  if (!chosen.length) return null;
  const keep = new Set(chosen);
  const nodes = chosen.map((id) => {
    const n = clone(model.node(id));
    for (const [o, t] of Object.entries(n.outcomes)) if (!keep.has(t)) delete n.outcomes[o];
    return n;
  });
  const pos = {};
  for (const id of chosen) pos[id] = clone(model.pos.get(id) || { x: 0, y: 0 });
  return { kind: "phonetree-nodes", nodes, pos };
}

export function pasteNodes(model, clip, offset) {
  const map = {};
  const taken = new Set(model.nodes.keys());
  for (const n of clip.nodes) {
    let id = n.id;
    if (taken.has(id)) {
      const stem = id.replace(/_\d+$/, "");
      for (let k = 2; taken.has(id); k++) id = `${stem.slice(0, 58)}_${k}`;
    }
    taken.add(id);
    map[n.id] = id;
  }
  const patch = { nodes: {}, pos: {} };
  for (const n of clip.nodes) {
    const copy = clone(n);
    copy.id = map[n.id];
    for (const [o, t] of Object.entries(copy.outcomes)) {
      if (map[t]) copy.outcomes[o] = map[t];
      else delete copy.outcomes[o];
    }
    patch.nodes[copy.id] = copy;
    const p = clip.pos[n.id] || { x: 0, y: 0 };
    patch.pos[copy.id] = { x: snap(p.x + offset.x), y: snap(p.y + offset.y) };
  }
  if (!model.start || !model.nodes.has(model.start)) patch.start = map[clip.nodes[0].id];
  return [patch, Object.values(map)];
}

export function layoutPositions(model, positions) {
  const pos = {};
  for (const [id, p] of Object.entries(positions)) if (model.nodes.has(id)) pos[id] = { x: p.x, y: p.y };
  return { pos };
}

// Replace the whole definition (restoring an old revision or a local backup), as one undoable step.
export function replaceAll(model, def) {
  const patch = { nodes: {}, index: {}, pos: {}, notes: {}, start: def.start ?? null, settings: clone(def.settings || {}) };
  for (const id of model.nodes.keys()) patch.nodes[id] = null;
  for (const id of model.pos.keys()) patch.pos[id] = null;
  for (const id of model.notes.keys()) patch.notes[id] = null;
  (def.nodes || []).forEach((n, i) => {
    if (!n || typeof n.id !== "string") return;
    patch.nodes[n.id] = { ...clone(n), props: n.props || {}, outcomes: n.outcomes || {} };
    patch.index[n.id] = i;
  });
  for (const [id, p] of Object.entries((def.ui && def.ui.nodes) || {})) patch.pos[id] = { x: +p.x || 0, y: +p.y || 0 };
  for (const note of (def.ui && def.ui.notes) || []) if (note && note.id) patch.notes[note.id] = clone(note);
  return patch;
}
