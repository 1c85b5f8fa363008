// The flow being edited, and the command stack that makes every edit undoable.
//
// The model holds the definition in pieces keyed by id (nodes, positions, notes) so that an edit
// is a small *patch*: {nodes: {id: node|null}, index: {id: i}, pos: {id: {x, y}|null},
// notes: {id: note|null}, start: id|null, settings: {...}}. Applying a patch returns its inverse,
// which is what undo applies. Patches hold whole nodes, never deltas, so redo is simply the patch.

export const clone = (v) => (v === undefined ? undefined : JSON.parse(JSON.stringify(v)));
export const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
const TOP_KEYS = ["spec", "start", "settings", "nodes", "ui"];

export class FlowModel {
  constructor(definition, catalog) {
    this.types = new Map(catalog.types.map((t) => [t.type, t]));
    this.load(definition);
  }

  load(def) {
    this.extra = {};
    for (const [k, v] of Object.entries(def || {})) if (!TOP_KEYS.includes(k)) this.extra[k] = clone(v);
    this.spec = def.spec || "phonetree/1";
    this.start = def.start ?? null;
    this.settings = clone(def.settings || {});
    this.order = [];
    this.nodes = new Map();
    this.renamed = [];
    for (const raw of def.nodes || []) {
      if (!raw || typeof raw.id !== "string") continue;
      let node = clone(raw);
      if (this.nodes.has(node.id)) {  // a duplicate id would be lost in the map: keep it under a new id
        const fresh = this.uniqueId(node.id);
        this.renamed.push([node.id, fresh]);
        node = { ...node, id: fresh };
      }
      node.props = node.props || {};
      node.outcomes = node.outcomes || {};
      this.order.push(node.id);
      this.nodes.set(node.id, node);
    }
    const ui = def.ui || {};
    this.uiExtra = {};
    for (const [k, v] of Object.entries(ui)) if (k !== "nodes" && k !== "notes") this.uiExtra[k] = clone(v);
    this.pos = new Map();
    for (const [id, p] of Object.entries(ui.nodes || {})) {
      if (p && Number.isFinite(+p.x) && Number.isFinite(+p.y)) this.pos.set(id, { x: +p.x, y: +p.y });
    }
    this.notes = new Map((ui.notes || []).filter((n) => n && n.id).map((n) => [String(n.id), clone(n)]));
  }

  // The channels the flow serves (settings.channels): calls when unset.
  channels() {
    const channels = this.settings && this.settings.channels;
    return Array.isArray(channels) && channels.length ? [...channels] : ["voice"];
  }

  // True when the flow serves text conversations only (no call to speak of).
  textsOnly() {
    const channels = this.channels();
    return channels.length === 1 && channels[0] === "messaging";
  }

  // A node type's name on this flow: its messaging_label on a flow of texts only (Hang up: End conversation).
  typeLabel(info) {
    return this.textsOnly() ? info.messaging_label || info.label : info.label;
  }

  // A node type's palette group on this flow: its messaging_category on a flow of texts only (Say: Messages).
  typeCategory(info) {
    return this.textsOnly() ? info.messaging_category || info.category : info.category;
  }

  toJSON() {
    const nodes = this.order.map((id) => this.nodes.get(id));
    const positions = {};
    for (const id of this.order) if (this.pos.has(id)) positions[id] = this.pos.get(id);
    return {
      ...clone(this.extra),
      spec: this.spec,
      start: this.start,
      settings: clone(this.settings),
      nodes: clone(nodes),
      ui: { ...clone(this.uiExtra), nodes: clone(positions), notes: clone([...this.notes.values()]) },
    };
  }

  node(id) { return this.nodes.get(id); }
  type(node) { return node ? this.types.get(node.type) : undefined; }

  // Outcome names in port order: derived ones (menu keys, branch conditions), the fixed ones,
  // then any wired outcome the type no longer has (shown so it can be seen and removed).
  outcomes(node) {
    const info = this.type(node);
    const names = [];
    if (info && info.dynamic_outcomes) {
      const items = node.props[info.dynamic_outcomes.field];
      if (Array.isArray(items)) {
        for (const item of items) {
          const v = item && item[info.dynamic_outcomes.key];
          if (typeof v === "string" && v && !names.includes(v)) names.push(v);
        }
      }
    }
    for (const o of info ? info.outcomes : []) if (!names.includes(o)) names.push(o);
    for (const o of Object.keys(node.outcomes || {})) if (!names.includes(o)) names.push(o);
    return names;
  }

  // What a port says: a menu key with its option label, a branch condition's label.
  outcomeLabel(node, outcome) {
    const info = this.type(node);
    const dyn = info && info.dynamic_outcomes;
    const items = dyn ? node.props[dyn.field] : null;
    if (Array.isArray(items)) {
      const item = items.find((i) => i && i[dyn.key] === outcome);
      if (item && item.label) return dyn.key === "digit" ? `${outcome} ${item.label}` : item.label;
    }
    return outcome;
  }

  staleOutcome(node, outcome) {
    const info = this.type(node);
    if (!info) return true;
    if (info.outcomes.includes(outcome)) return false;
    const dyn = info.dynamic_outcomes;
    const items = dyn ? node.props[dyn.field] : null;
    return !(Array.isArray(items) && items.some((i) => i && i[dyn.key] === outcome));
  }

  uniqueId(base) {
    const stem = String(base).replace(/[^A-Za-z0-9_-]/g, "_").replace(/^[^A-Za-z]+/, "") || "node";
    if (!this.nodes.has(stem)) return stem.slice(0, 64);
    for (let n = 2; ; n++) {
      const id = `${stem.slice(0, 58)}_${n}`;
      if (!this.nodes.has(id)) return id;
    }
  }

  // Nodes whose outcomes point at `id`.
  sourcesOf(id) {
    const found = [];
    for (const n of this.nodes.values()) {
      for (const [o, t] of Object.entries(n.outcomes)) if (t === id) found.push([n.id, o]);
    }
    return found;
  }

  apply(patch) {
    const inv = {};
    if (patch.nodes) {
      inv.nodes = {};
      inv.index = {};
      const entries = Object.entries(patch.nodes);
      for (const [id] of entries) {
        const old = this.nodes.get(id);
        inv.nodes[id] = old ? clone(old) : null;
        if (old) inv.index[id] = this.order.indexOf(id);
      }
      for (const [id, node] of entries) {
        if (node === null && this.nodes.has(id)) {
          this.nodes.delete(id);
          this.order.splice(this.order.indexOf(id), 1);
        }
      }
      const inserts = entries.filter(([id, n]) => n !== null && !this.nodes.has(id));
      inserts.sort((a, b) => (patch.index?.[a[0]] ?? 1e9) - (patch.index?.[b[0]] ?? 1e9));
      for (const [id, node] of inserts) {
        const at = patch.index?.[id];
        if (at != null && at <= this.order.length) this.order.splice(at, 0, id);
        else this.order.push(id);
        this.nodes.set(id, clone(node));
      }
      for (const [id, node] of entries) if (node !== null) this.nodes.set(id, clone(node));
    }
    for (const key of ["pos", "notes"]) {
      if (!patch[key]) continue;
      inv[key] = {};
      const map = this[key];
      for (const [id, value] of Object.entries(patch[key])) {
        inv[key][id] = map.has(id) ? clone(map.get(id)) : null;
        if (value === null) map.delete(id);
        else map.set(id, clone(value));
      }
    }
    if ("start" in patch) { inv.start = this.start; this.start = patch.start; }
    if ("settings" in patch) { inv.settings = clone(this.settings); this.settings = clone(patch.settings); }
    return inv;
  }
}

function mergeInto(target, extra, keepExisting) {
  for (const key of ["nodes", "index", "pos", "notes"]) {
    if (!extra[key]) continue;
    target[key] = target[key] || {};
    for (const [id, v] of Object.entries(extra[key])) {
      if (!(keepExisting && id in target[key])) target[key][id] = clone(v);
    }
  }
  for (const key of ["start", "settings"]) {
    if (key in extra && !(keepExisting && key in target)) target[key] = clone(extra[key]);
  }
}

// Undo/redo of patches. Edits with the same mergeKey within a short time become one step
// (typing in a field, holding an arrow key), as people expect from an editor.
export class History {
  constructor(model, onApply, limit = 500) {
    this.model = model;
    this.onApply = onApply;
    this.limit = limit;
    this.undoStack = [];
    this.redoStack = [];
  }

  do(patch, label, mergeKey = null) {
    const inverse = this.model.apply(patch);
    const top = this.undoStack[this.undoStack.length - 1];
    const now = Date.now();
    if (mergeKey && top && top.mergeKey === mergeKey && now - top.at < 2000) {
      mergeInto(top.patch, patch, false);
      mergeInto(top.inverse, inverse, true);
      top.at = now;
    } else {
      this.undoStack.push({ patch: clone(patch), inverse, label, mergeKey, at: now });
      if (this.undoStack.length > this.limit) this.undoStack.shift();
    }
    this.redoStack = [];
    this.onApply(patch, { label, kind: "do" });
  }

  undo() {
    const cmd = this.undoStack.pop();
    if (!cmd) return null;
    this.model.apply(cmd.inverse);
    this.redoStack.push(cmd);
    this.onApply(cmd.inverse, { label: cmd.label, kind: "undo" });
    return cmd.label;
  }

  redo() {
    const cmd = this.redoStack.pop();
    if (!cmd) return null;
    cmd.at = 0;  // never merge into a redone step
    this.model.apply(cmd.patch);
    this.undoStack.push(cmd);
    this.onApply(cmd.patch, { label: cmd.label, kind: "redo" });
    return cmd.label;
  }

  get canUndo() { return this.undoStack.length > 0; }
  get canRedo() { return this.redoStack.length > 0; }
}
