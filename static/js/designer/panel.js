// The side panel: tabs, the node form (rendered by the server from the node type's fields),
// the problems list, the flow settings form, and the lazily loaded History and Test tabs.

import { postForm } from "./save.js";
import { same } from "./model.js";

const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const topField = (path) => String(path || "").split(/[.[]/)[0];

export class Panel {
  constructor({ data, model, history, canvas, actions }) {
    Object.assign(this, { data, model, history, canvas, actions });
    this.urls = data.urls;
    this.formNode = null;
    this.formSeq = 0;
    this.issues = [];
    this.loaded = new Set();
    this.lastTemplateField = null;
    this.tabs = [...document.querySelectorAll(".dz-tabs [role=tab]")];
    for (const tab of this.tabs) tab.addEventListener("click", () => this.show(tab.dataset.tab));
    document.querySelector(".dz-tabs").addEventListener("keydown", (ev) => this.tabKeys(ev));
    this.formBox = document.getElementById("node-form");
    this.bindForm();
    this.settingsBox = document.getElementById("settings-form");
  }

  show(name, focus = false, load = true) {
    for (const tab of this.tabs) {
      const on = tab.dataset.tab === name;
      tab.setAttribute("aria-selected", on);
      tab.tabIndex = on ? 0 : -1;
      document.getElementById(`pane-${tab.dataset.tab}`).hidden = !on;
      if (on && focus) tab.focus();
    }
    this.current = name;
    if (name === "history" && load) this.loadHistory();
    if (name === "test" && !this.loaded.has("test")) { this.loaded.add("test"); this.loadInto("#console", this.urls.console, {}); }
    if (name === "flow") this.loadSettings();
  }

  tabKeys(ev) {
    const i = this.tabs.findIndex((t) => t.dataset.tab === this.current);
    if (ev.key === "ArrowRight" || ev.key === "ArrowLeft") {
      const next = this.tabs[(i + (ev.key === "ArrowRight" ? 1 : this.tabs.length - 1)) % this.tabs.length];
      this.show(next.dataset.tab, true);
      ev.preventDefault();
    }
  }

  async loadInto(selector, url, values, method = "POST") {
    const target = document.querySelector(selector);
    const opts = { method, credentials: "same-origin", headers: { "HX-Request": "true", "X-CSRFToken": document.querySelector('meta[name="csrf-token"]').content } };
    if (method === "POST") { const fd = new FormData(); for (const [k, v] of Object.entries(values)) fd.set(k, v); opts.body = fd; }
    const resp = await fetch(url, opts);
    const html = await resp.text();
    target.outerHTML = html;
    const fresh = document.querySelector(selector);
    if (fresh && window.htmx) window.htmx.process(fresh);
    return fresh;
  }

  loadHistory() {
    return this.loadInto("#history", this.urls.history, {}, "GET");
  }

  // ---- node form -------------------------------------------------------------------------
  async openNode(id, { focusField = null } = {}) {
    const node = this.model.node(id);
    if (!node) return this.clearForm();
    this.formNode = id;
    const seq = ++this.formSeq;
    const fd = new FormData();
    fd.set("node", JSON.stringify(node));
    fd.set("definition", JSON.stringify(this.actions.definition()));
    if (this.data.readonly) fd.set("readonly", "1");
    const resp = await postForm(this.urls.nodeForm, fd);
    if (seq !== this.formSeq) return;
    this.formBox.innerHTML = await resp.text();
    this.formShown = JSON.stringify(this.model.node(id));
    this.markErrors();
    if (focusField) this.focusField(focusField);
  }

  clearForm() {
    this.formNode = null;
    this.formSeq++;
    this.formBox.innerHTML = '<p class="muted empty-pane">Select a node to edit its properties.</p>';
  }

  // An edit made from the form itself needs no re-render of the form.
  quietly(fn) {
    this.quiet = true;
    try { fn(); } finally { this.quiet = false; }
  }

  refreshIfChanged() {
    if (!this.formNode) return;
    const node = this.model.node(this.formNode);
    if (!node) return this.clearForm();
    if (this.quiet) { this.formShown = JSON.stringify(node); return; }
    if (JSON.stringify(node) !== this.formShown) this.openNode(this.formNode);
  }

  focusField(path) {
    const field = this.formBox.querySelector(`[data-field="${CSS.escape(topField(path))}"]`)
      || (String(path).startsWith("outcomes.") && this.formBox.querySelector(`[data-field="${CSS.escape(path)}"]`));
    const input = field && ["textarea", "input[type=text]", "input[type=number]", "select", "input:not([type=hidden])"]
      .map((sel) => field.querySelector(sel)).find(Boolean);
    if (input) { input.focus(); field.scrollIntoView({ block: "center" }); }
  }

  bindForm() {
    const box = this.formBox;
    let timer = null;
    const changed = (ev) => {
      if (!ev.target.closest(".node-form fieldset")) return;
      clearTimeout(timer);
      timer = setTimeout(() => this.parseForm(), ev.type === "change" ? 0 : 250);
    };
    box.addEventListener("input", changed);
    box.addEventListener("change", (ev) => {
      const sel = ev.target.closest("select[data-outcome]");
      if (sel) { this.quietly(() => this.actions.connect(this.formNode, sel.dataset.outcome, sel.value || null)); return; }
      changed(ev);
    });
    box.addEventListener("focusin", (ev) => {
      if (ev.target.matches("textarea, input[type=text]")) this.lastTemplateField = ev.target;
    });
    box.addEventListener("click", (ev) => {
      const b = ev.target.closest("button");
      if (!b) return;
      if (b.dataset.rowAction !== undefined) { this.rowAction(b.value); return; }
      if (b.dataset.action === "set-start") this.actions.setStart(this.formNode);
      if (b.dataset.action === "delete-node") this.actions.deleteNodes([this.formNode]);
      if (b.dataset.disconnect) this.actions.connect(this.formNode, b.dataset.disconnect, null);
      if (b.dataset.insert) this.insertVariable(b.dataset.insert);
    });
  }

  insertVariable(name) {
    const field = this.lastTemplateField && this.formBox.contains(this.lastTemplateField) ? this.lastTemplateField
      : this.formBox.querySelector("textarea.template, input.template");
    if (!field || field.disabled || field.readOnly) return;
    const text = `{{ ${name} }}`;
    const at = field.selectionStart ?? field.value.length;
    field.value = field.value.slice(0, at) + text + field.value.slice(field.selectionEnd ?? at);
    field.focus();
    field.setSelectionRange(at + text.length, at + text.length);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  async parseForm() {
    const form = this.formBox.querySelector("form.node-form");
    const id = this.formNode;
    // a form still on screen for the node selected before must never write into the new one
    if (!form || !id || this.data.readonly || form.dataset.nodeId !== id) return;
    const before = this.model.node(id);
    const fd = new FormData(form);
    fd.set("node", JSON.stringify(before));
    const resp = await postForm(this.urls.nodeParse, fd);
    if (!resp.ok || this.formNode !== id) return;
    const { node } = await resp.json();
    if (!same(node, this.model.node(id))) {
      this.formShown = JSON.stringify(node);
      this.actions.updateNode(node, `Edit ${node.name || node.id}`, `form:${id}`);
    }
  }

  async rowAction(action) {
    const form = this.formBox.querySelector("form.node-form");
    const id = this.formNode;
    if (!form || !id || form.dataset.nodeId !== id) return;
    const fd = new FormData(form);
    fd.set("node", JSON.stringify(this.model.node(id)));
    fd.set("definition", JSON.stringify(this.actions.definition()));
    fd.set("_action", action);
    const seq = ++this.formSeq;
    const resp = await postForm(this.urls.nodeForm, fd);
    if (seq !== this.formSeq) return;
    this.formBox.innerHTML = await resp.text();
    const result = this.formBox.querySelector(".nf-changed");
    if (result) {
      const node = JSON.parse(result.textContent);
      this.formShown = JSON.stringify(node);
      if (!same(node, this.model.node(id))) this.actions.updateNode(node, action.startsWith("add") ? "Add a row" : "Remove a row");
    }
    this.markErrors();
    const rows = this.formBox.querySelectorAll(`[data-field="${CSS.escape(action.split(":")[1])}"] .nf-row`);
    if (action.startsWith("add") && rows.length) rows[rows.length - 1].querySelector("input:not([type=hidden])")?.focus();
  }

  // Inline errors from the latest validation, without re-rendering the form being typed in.
  markErrors() {
    const form = this.formBox.querySelector("form.node-form");
    if (!form) return;
    const mine = this.issues.filter((i) => i.node_id === this.formNode);
    for (const box of form.querySelectorAll("[data-field]")) {
      const key = box.dataset.field;
      const list = mine.filter((i) => (key.startsWith("outcomes.") ? i.field === key : topField(i.field) === key));
      for (const p of box.querySelectorAll(".nf-error")) p.remove();
      box.classList.toggle("has-error", list.some((i) => i.severity === "error"));
      box.classList.toggle("has-warning", list.length > 0 && !list.some((i) => i.severity === "error"));
      for (const input of box.querySelectorAll("input:not([type=hidden]), textarea, select")) {
        if (list.some((i) => i.severity === "error")) input.setAttribute("aria-invalid", "true");
        else input.removeAttribute("aria-invalid");
      }
      for (const i of list) box.insertAdjacentHTML("beforeend", `<p class="nf-error sev-${i.severity}" role="alert">${esc(i.message)}</p>`);
    }
  }

  // ---- problems ------------------------------------------------------------------------------
  setIssues(issues) {
    this.issues = issues;
    const errors = issues.filter((i) => i.severity === "error").length;
    const warnings = issues.length - errors;
    const count = document.getElementById("problem-count");
    count.hidden = issues.length === 0;
    count.textContent = errors || warnings;
    count.className = `count ${errors ? "err" : "warn"}`;
    document.getElementById("problems-summary").textContent = issues.length
      ? `${errors} error${errors === 1 ? "" : "s"} (block publishing) · ${warnings} warning${warnings === 1 ? "" : "s"}`
      : "No problems found. The flow is ready to publish.";
    const names = (id) => esc(this.model.node(id)?.name || id || "Flow");
    document.getElementById("problems").innerHTML = issues.map((i, n) => `
      <li class="problem sev-${i.severity}"><button type="button" data-issue="${n}">
        <span class="sev" aria-label="${i.severity}">${i.severity === "error" ? "●" : "▲"}</span>
        <span class="where">${names(i.node_id)}${i.field ? ` · <code>${esc(i.field)}</code>` : ""}</span>
        <span class="what">${esc(i.message)}</span></button></li>`).join("");
    this.markErrors();
    return { errors, warnings };
  }

  bindProblems(goto) {
    document.getElementById("problems").addEventListener("click", (ev) => {
      const b = ev.target.closest("[data-issue]");
      if (b) goto(this.issues[+b.dataset.issue]);
    });
  }

  // ---- flow settings -------------------------------------------------------------------------
  async loadSettings() {
    const fd = new FormData();
    fd.set("settings", JSON.stringify(this.model.settings));
    if (this.data.readonly) fd.set("readonly", "1");
    const resp = await postForm(this.urls.settingsForm, fd);
    this.settingsBox.innerHTML = await resp.text();
    this.settingsShown = JSON.stringify(this.model.settings);
    if (this.settingsBound) return;
    this.settingsBound = true;
    let timer = null;
    const parse = async () => {
      const form = this.settingsBox.querySelector("form");
      if (!form || this.data.readonly) return;
      const fd2 = new FormData(form);
      fd2.set("settings", JSON.stringify(this.model.settings));
      const r = await postForm(this.urls.settingsParse, fd2);
      const body = await r.json();
      const err = this.settingsBox.querySelector("[data-settings-error]");
      err.hidden = !body.error;
      err.textContent = body.error || "";
      if (!body.error && !same(body.settings, this.model.settings)) {
        const channelsChanged = !same(body.settings.channels, this.model.settings.channels);
        this.settingsShown = JSON.stringify(body.settings);
        this.actions.updateSettings(body.settings);
        if (channelsChanged) {  // the form shows the settings of the flow's channels only
          await this.loadSettings();
          this.settingsBox.querySelector("select[name='f.channels']")?.focus();
        }
      }
    };
    for (const type of ["input", "change"]) {
      this.settingsBox.addEventListener(type, () => { clearTimeout(timer); timer = setTimeout(parse, 300); });
    }
  }

  settingsChanged() {
    if (this.current === "flow" && JSON.stringify(this.model.settings) !== this.settingsShown) this.loadSettings();
  }
}
