// The designer page: wires the model, command stack, canvas, panel, autosave and shortcuts.

import { FlowModel, History, same } from "./model.js";
import * as E from "./edits.js";
import { Canvas } from "./canvas.js";
import { bindInteractions, bindPalette } from "./interact.js";
import { Saver, Validator } from "./save.js";
import { Panel } from "./panel.js";
import { bindKeyboard } from "./keys.js";
import { BIG, elkLayout, warmUpLayout } from "./layout.js";
import { bindFinder, Minimap } from "./overview.js";

const $ = (s) => document.querySelector(s);
const data = JSON.parse($("#designer-data").textContent);
const model = new FlowModel(data.definition, data.catalog);
const toast = (m) => window.phonetreeToast && window.phonetreeToast(m);
const ro = data.readonly;
const root = document.getElementById("designer");

let panel, saver, validator;
const history = new History(model, (patch) => {
  canvas.patched(patch);
  if (!ro) { saver.markDirty(); }
  validator.schedule();
  updateUndo();
  if ("settings" in patch) { panel.settingsChanged(); showChannels(); }
  panel.refreshIfChanged();
});

// The flow's channels (settings.channels, calls when unset): named in the toolbar; palette node
// types that work on none of them are greyed (still draggable: a flow may gain a channel later),
// and each item is named and grouped as the node type says for these channels (typeLabel, typeCategory).
const CHANNEL_NAMES = { voice: "Calls", messaging: "Texts" };
function showChannels() {
  const channels = model.channels();
  const badge = $("#flow-channels");
  if (badge) badge.textContent = channels.length > 1 ? "Calls and texts" : CHANNEL_NAMES[channels[0]] || channels[0];
  const groups = new Map([...document.querySelectorAll(".palette-group[data-category]")].map((g) => [g.dataset.category, g]));
  for (const info of data.catalog.types) {  // catalog order: by category, then type name
    const item = document.querySelector(`.palette-item[data-type="${CSS.escape(info.type)}"]`);
    const group = groups.get(model.typeCategory(info));
    if (item && group) group.append(item);  // every item, so each group keeps catalog order
  }
  for (const group of groups.values()) group.hidden = !group.querySelector(".palette-item");
  for (const item of document.querySelectorAll(".palette-item[data-channels]")) {
    const fits = item.dataset.channels.split(" ").some((c) => channels.includes(c));
    const info = model.types.get(item.dataset.type);
    if (info) item.querySelector("span").textContent = model.typeLabel(info);
    item.classList.toggle("off-channel", !fits);
    item.title = fits ? item.title.replace(/ \(not for this flow's channels\)$/, "")
      : item.title.replace(/ \(not for this flow's channels\)$/, "") + " (not for this flow's channels)";
  }
}

const act = {
  definition: () => model.toJSON(),
  do(patch, label, mergeKey = null) { if (patch && !ro) history.do(patch, label, mergeKey); },
  updateNode(node, label, mergeKey = null) { act.do(E.updateNode(model, node), label, mergeKey); },
  connect(src, outcome, dst) {
    if (!src || model.node(src)?.outcomes[outcome] === (dst || undefined)) return;
    act.do(E.connect(model, src, outcome, dst), dst ? `Connect ${outcome}` : `Disconnect ${outcome}`);
  },
  setStart(id) { act.do(E.setStart(id), "Set the start node"); },
  deleteNodes(ids, notes = [], edge = null) {
    const patch = E.deleteSelection(model, ids, notes, edge);
    if (!patch) return;
    act.do(patch, ids.length ? `Delete ${ids.length} node${ids.length > 1 ? "s" : ""}` : "Delete");
    canvas.setSelection([]);
    if (edge) canvas.selectEdge(null);
  },
  updateSettings(settings) { act.do({ settings }, "Edit flow settings", "settings"); },
  // A node from the palette: where it was dropped, else in free space beside the selection or
  // near the middle of the view, never on another card.
  addNode(type, x, y) {
    const placed = x === undefined;  // by click or Enter on the palette, not dropped where the user wants it
    if (placed) ({ x, y } = canvas.freeSpotForNew());
    const [patch, id] = E.addNode(model, type, x, y);
    const info = model.types.get(type);
    const label = `Add ${info ? model.typeLabel(info) : type}`;
    act.do(patch, label, `add:${id}`);
    const spot = canvas.freeSpotFor(id);  // its real size is known once drawn: one undo step still
    if (spot) act.do(E.moveNodes({ [id]: spot }), label, `add:${id}`);
    if (placed) canvas.reveal(id);
    canvas.setSelection([id]);
    canvas.cards.get(id)?.el.focus({ preventScroll: true });
    panel.show("edit");
    return id;
  },
  // ELK's layout and wire routes; `asEdit` false for positions a flow arrived without.
  async layout(asEdit = true) {
    if (!model.order.length) return;
    const started = performance.now();
    let laid;
    try {
      laid = await elkLayout(model, canvas.measureAll());
    } catch (err) {
      toast(`Auto-layout failed: ${err.message || err}`);
      return;
    }
    canvas.routes = laid.routes;
    const patch = E.layoutPositions(model, laid.positions);
    if (ro || !asEdit) { model.apply(patch); canvas.patched(patch); if (!ro) saver.markDirty(); } else act.do(patch, "Auto-layout");
    canvas.movedSinceLayout = false;
    canvas.fit();
    root.dataset.layoutMs = Math.round(performance.now() - started);
  },
  addNote() {
    const c = canvas.visibleCenter();
    const [patch, id] = E.addNote(model, c.x - 100, c.y - 60);
    act.do(patch, "Add a note");
    canvas.notesEl.querySelector(`[data-note="${CSS.escape(id)}"] textarea`)?.focus();
  },
  undo() { const l = history.undo(); if (l) announce(`Undid: ${l}`); },
  redo() { const l = history.redo(); if (l) announce(`Redid: ${l}`); },
};

const canvas = new Canvas({
  root: $("#canvas"), world: $("#world"), nodesEl: $("#nodes"), edgesEl: $("#edge-layer"), notesEl: $("#notes"),
  wire: $("#wire"), band: $("#band"), liftLayer: $("#lift-layer"), model, readonly: ro, icons: data.urls.icons,
  on: {
    select(ids) {
      if (ids.length === 1) {
        if (panel.current !== "test") panel.show("edit");
        if (panel.formNode !== ids[0]) panel.openNode(ids[0]);
      } else if (!ids.length && panel.formNode) panel.clearForm();
    },
    open(id) { panel.show("edit"); panel.openNode(id, { focusField: "name" }); },
    move(positions) { act.do(E.moveNodes(positions, false), "Move"); },
    connect: act.connect,
    deleteEdge(e) { if (e) act.deleteNodes([], [], { src: e.src, outcome: e.outcome }); },
    dropType(type, x, y) { if (!ro) act.addNode(type, x, y); },
    moveNote(id, to) { act.do(E.editNote(model, id, to), "Move a note"); },
    noteText(id, text) { act.do(E.editNote(model, id, { text }), "Edit a note", `note:${id}`); },
    deleteNote(id) { act.deleteNodes([], [id]); },
    zoom(k) { $("#zoom-level").textContent = `${Math.round(k * 100)}%`; },
  },
});

function announce(text) {
  const box = $("#save-state");
  if (box) box.title = text;
}

function updateUndo() {
  const u = $('[data-cmd="undo"]'), r = $('[data-cmd="redo"]');
  if (u) { u.disabled = !history.canUndo; u.title = history.canUndo ? `Undo ${history.undoStack.at(-1).label} (Ctrl+Z)` : "Nothing to undo"; }
  if (r) { r.disabled = !history.canRedo; r.title = history.canRedo ? `Redo ${history.redoStack.at(-1).label} (Ctrl+Shift+Z)` : "Nothing to redo"; }
}

function setFlowState(state) {
  const pub = $("[data-published]"), unp = $("[data-unpublished]");
  if (!pub || !state) return;
  pub.textContent = state.published ? `Published · r${state.published}` : "Not published";
  pub.classList.toggle("badge-ok", !!state.published);
  unp.hidden = !(state.unpublished && state.published);
}

saver = new Saver({
  url: data.urls.save, version: data.draftVersion, flowId: data.flow.id, readonly: ro,
  getDefinition: () => model.toJSON(),
  onState(state, d) {
    const box = $("#save-state");
    if (!box) return;
    box.dataset.state = state;
    box.textContent = { saved: "Saved", dirty: "Unsaved changes", saving: "Saving…", error: d.message || "Not saved", conflict: "Conflict" }[state];
    const banner = $("#conflict");
    banner.hidden = state !== "conflict";
    if (state === "conflict") {
      banner.querySelector("[data-conflict-text]").textContent = d.mine
        ? `You saved this flow in another tab at ${d.at} — reload to get that version, or overwrite it with this tab's.`
        : `Conflict: ${d.by} saved at ${d.at} — reload their version or overwrite it with yours.`;
      banner.querySelector("[data-cmd=conflict-reload]").textContent = d.mine ? "Reload that version" : "Reload their version";
      banner.querySelector("[data-cmd=conflict-overwrite]").textContent = d.mine ? "Overwrite with this tab's" : "Overwrite with mine";
    }
  },
  onSaved(res) {
    setFlowState(res.state);
    if (panel.current === "history") { clearTimeout(act.historyTimer); act.historyTimer = setTimeout(() => panel.loadHistory(), 400); }
  },
});

validator = new Validator({
  url: data.urls.validate, getDefinition: () => model.toJSON(),
  onIssues(issues) {
    canvas.setIssues(issues);
    const { errors } = panel.setIssues(issues);
    const btn = $("#publish-btn");
    if (btn) { btn.disabled = errors > 0; btn.title = errors ? `Fix ${errors} error${errors > 1 ? "s" : ""} to publish (see Problems)` : "Publish the draft"; }
  },
});

panel = new Panel({ data, model, history, canvas, actions: act });

function gotoIssue(issue) {
  if (!issue) return;
  if (!issue.node_id || !model.nodes.has(issue.node_id)) { panel.show("flow"); return; }
  canvas.setSelection([issue.node_id]);
  canvas.centerOn(issue.node_id);
  panel.show("edit");
  panel.openNode(issue.node_id, { focusField: issue.field || "name" });
}
panel.bindProblems(gotoIssue);

async function restoreRevision(number) {
  const resp = await fetch(`${data.urls.revision}/${number}/definition`, { headers: { Accept: "application/json" } });
  if (!resp.ok) { toast("That revision could not be loaded."); return; }
  const body = await resp.json();
  act.do(E.replaceAll(model, body.definition), `Load revision ${number}`);
  canvas.renderAll();
  toast(`Revision ${number} is now in the draft. Ctrl+Z undoes it.`);
}

async function toggleAnalytics(period) {
  const legend = $("#analytics-legend");
  if (!period) { canvas.setStats(null); legend.hidden = true; return; }
  const resp = await fetch(`${data.urls.analytics}?period=${period}`, { headers: { Accept: "application/json" } });
  const stats = await resp.json();
  if (!resp.ok) { toast(stats.error?.message || "No analytics."); return; }
  canvas.setStats(stats);
  legend.hidden = false;
  const texts = sessionWords();
  legend.textContent = `${stats.label}: ${stats.calls} ${stats.calls === 1 ? texts.one : texts.many} · visits per node, ${texts.many} per outcome`;
  if (texts.one === "conversation") return;  // no one hangs up a text conversation: no heat to explain
  legend.append(" · hang-ups:");
  for (const [level, text] of [[1, "under 15%"], [2, "15%+"], [3, "30%+"], [4, "50%+"]]) {
    const key = document.createElement("span");
    key.className = `heat-key heat-${level}`;
    key.setAttribute("aria-hidden", "true");
    legend.append(key, text);
  }
}

// What the flow's sessions are called, from its channels: calls, conversations, or both.
function sessionWords() {
  const channels = model.channels();
  if (channels.length > 1) return { one: "call or conversation", many: "calls and conversations" };
  return channels[0] === "messaging" ? { one: "conversation", many: "conversations" } : { one: "call", many: "calls" };
}

async function openPublish() {
  await saver.flush();
  const dlg = $("#publish-dialog");
  const words = sessionWords();
  $("#publish-what").textContent = words.one === "call" ? "Calls to the flow's numbers will run this version. Calls already in progress keep theirs."
    : `New ${words.many} with the flow's numbers will run this version; those already going keep theirs.`;
  const warnings = panel.issues.filter((i) => i.severity === "warning").length;
  $("#publish-summary").textContent = warnings ? `${warnings} warning${warnings > 1 ? "s" : ""} (see Problems) — publishing is allowed.` : "No warnings.";
  dlg.showModal();
}

const commands = {
  undo: act.undo, redo: act.redo,
  "zoom-in": () => canvas.zoomAt(canvas.view.k * 1.2), "zoom-out": () => canvas.zoomAt(canvas.view.k / 1.2),
  "zoom-reset": () => canvas.zoomAt(1), fit: () => canvas.fit(), layout: () => act.layout(), note: () => act.addNote(),
  publish: openPublish,
  "conflict-reload": () => { saver.clearBackup(); saver.readonly = true; location.reload(); },
  "conflict-overwrite": () => saver.save(true),
  "restore-local": () => {
    const b = saver.readBackup();
    if (b) { act.do(E.replaceAll(model, b.definition), "Restore unsaved edits"); canvas.renderAll(); }
    $("#restore-banner").hidden = true;
  },
  "discard-local": () => { saver.clearBackup(); $("#restore-banner").hidden = true; },
};

document.addEventListener("click", (ev) => {
  const cmd = ev.target.closest("[data-cmd]");
  if (cmd && commands[cmd.dataset.cmd]) { commands[cmd.dataset.cmd](); return; }
  const path = ev.target.closest("[data-show-path]");
  if (path) { canvas.setPath(JSON.parse(path.dataset.showPath), null); return; }
  const restore = ev.target.closest("[data-restore]");
  if (restore) {
    if (data.revision !== null) location.href = `${data.urls.designer}?restore=${restore.dataset.restore}`;
    else restoreRevision(restore.dataset.restore);
    return;
  }
  const go = ev.target.closest("[data-goto-node]");
  if (go) { ev.preventDefault(); gotoIssue({ node_id: go.dataset.gotoNode, field: go.dataset.gotoField }); }
  if (ev.target.closest("[data-console-reset]")) canvas.setPath([], null);
});
$("#analytics-period").addEventListener("change", (ev) => toggleAnalytics(ev.target.value));

// htmx: actions that run on the saved draft wait for the autosave first.
document.body.addEventListener("htmx:confirm", (evt) => {
  if (!evt.target.closest("[data-needs-save]") || saver.state === "saved" || ro) return;
  evt.preventDefault();
  saver.flush().then((ok) => (ok ? evt.detail.issueRequest(true) : toast("The draft could not be saved, so this did not run.")));
});
document.body.addEventListener("console-run", (evt) => canvas.setPath(evt.detail.path, evt.detail.active));
document.body.addEventListener("htmx:afterSettle", () => {
  const transcript = document.querySelector("#console .transcript");
  if (transcript) transcript.scrollTop = transcript.scrollHeight;  // the newest lines in view
});
document.body.addEventListener("flow-state", (evt) => setFlowState(evt.detail));
document.body.addEventListener("htmx:afterSwap", (evt) => {
  const form = evt.detail.requestConfig && evt.detail.requestConfig.elt;
  if (form && form.closest && form.closest("#publish-dialog")) {
    $("#publish-dialog").close();
    form.reset();
    panel.show("history", false, false);
    const notice = document.querySelector("#history .flash");
    if (notice) toast(notice.textContent.trim());
  }
});

bindInteractions(canvas);
bindPalette(canvas, $("#pane-add"));
showChannels();
bindKeyboard({ canvas, model, act, ro, commands, panel, saver });
const minimap = new Minimap(canvas, $("#minimap"));
canvas.on.viewChanged = () => minimap.schedule();
bindFinder(canvas, $("#find-node"), $("#find-results"), (id) => { canvas.setSelection([id]); canvas.centerOn(id); });

async function start() {
  const missing = model.order.some((id) => !model.pos.has(id));
  canvas.renderAll(true);
  if (missing) await act.layout(false);  // not an edit of the author's: positions for an imported flow
  if (missing) canvas.home();
  panel.show(ro ? "problems" : "add");
  validator.run();
  updateUndo();
  if (model.renamed.length) toast(`Duplicate node ids were renamed: ${model.renamed.map((r) => r.join(" → ")).join(", ")}.`);
  const backup = !ro && saver.readBackup();
  if (backup && backup.definition && !same(backup.definition, data.definition)) $("#restore-banner").hidden = false;
  else if (backup) saver.clearBackup();
  const params = new URLSearchParams(location.search);
  if (params.get("restore") && !ro) {
    await restoreRevision(params.get("restore"));
    window.history.replaceState(null, "", location.pathname);
  }
  root.dataset.readyMs = Math.round(performance.now());
  root.dataset.ready = "true";
  warmUp();
}

// A big flow's first layout pays for compiling ELK in its worker: do that once in idle time, on the
// flow as it is (the result is thrown away), so the Auto-layout click finds the worker warm.
// `data-layout-warm` says when it is done (the benchmark and tests wait for it).
function warmUp() {
  if (model.order.length <= BIG) { root.dataset.layoutWarm = "skipped"; return; }
  const idle = window.requestIdleCallback || ((f) => setTimeout(f, 200));
  idle(async () => {
    const started = performance.now();
    await warmUpLayout(model, canvas.measureAll());
    root.dataset.layoutWarmMs = Math.round(performance.now() - started);
    root.dataset.layoutWarm = "done";
  }, { timeout: 2000 });
}
start();

window.phonetreeDesigner = { model, canvas, history, saver, act, panel };
