// Autosave (about a second after the last edit), conflicts, a local backup, and live validation.

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

export async function postJSON(url, body) {
  const resp = await fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf() },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  return { status: resp.status, ok: resp.ok, data };
}

export async function postForm(url, form, extra = {}) {
  const body = form instanceof FormData ? form : new FormData(form || undefined);
  for (const [k, v] of Object.entries(extra)) body.set(k, v);
  const resp = await fetch(url, {
    method: "POST", body, credentials: "same-origin",
    headers: { "X-CSRFToken": csrf(), "HX-Request": "true" },
  });
  return resp;
}

const timeOf = (iso) => {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
};

export class Saver {
  constructor({ url, version, flowId, getDefinition, onState, onSaved, readonly, delay = 1000 }) {
    Object.assign(this, { url, version, flowId, getDefinition, onState, onSaved, readonly, delay });
    this.state = "saved";
    this.timer = null;
    this.inflight = null;
    this.dirtyAgain = false;
    this.backupKey = `phonetree:draft:${flowId}`;
    window.addEventListener("beforeunload", (ev) => {
      if (this.state !== "saved" && !this.readonly) { ev.preventDefault(); ev.returnValue = ""; }
    });
  }

  set(state, detail = {}) {
    this.state = state;
    this.onState(state, detail);
  }

  markDirty() {
    if (this.readonly) return;
    if (this.inflight) this.dirtyAgain = true;
    if (this.state !== "conflict") this.set("dirty");
    this.backup();
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.save(), this.delay);
  }

  backup() {
    clearTimeout(this.backupTimer);
    this.backupTimer = setTimeout(() => {
      try {
        localStorage.setItem(this.backupKey, JSON.stringify({ base: this.version, at: Date.now(), definition: this.getDefinition() }));
      } catch { /* storage full or disabled: the server save still runs */ }
    }, 250);
  }

  readBackup() {
    try { return JSON.parse(localStorage.getItem(this.backupKey) || "null"); } catch { return null; }
  }

  clearBackup() {
    clearTimeout(this.backupTimer);
    try { localStorage.removeItem(this.backupKey); } catch { /* ignore */ }
  }

  // Save now if anything is pending; resolves once the server has the latest edits (or failed).
  async flush() {
    if (this.readonly) return true;
    if (this.inflight) await this.inflight;
    if (this.state === "dirty" || this.state === "error") await this.save();
    return this.state === "saved";
  }

  async save(force = false) {
    if (this.readonly) return;
    clearTimeout(this.timer);
    if (this.state === "conflict" && !force) return;
    if (this.inflight) { this.dirtyAgain = true; return this.inflight; }
    this.dirtyAgain = false;
    this.set("saving");
    const body = { definition: this.getDefinition(), draft_version: this.version, force };
    this.inflight = (async () => {
      let res;
      try {
        res = await postJSON(this.url, body);
      } catch {
        this.set("error", { message: "Offline — your edits are kept in this browser; retrying…" });
        this.timer = setTimeout(() => this.save(), 5000);
        return;
      }
      if (res.ok) {
        this.version = res.data.draft_version;
        this.onSaved(res.data);
        if (this.dirtyAgain) { this.set("dirty"); this.timer = setTimeout(() => this.save(), 300); }
        else { this.clearBackup(); this.set("saved", { at: res.data.saved_at }); }
      } else if (res.status === 409) {
        const c = (res.data && res.data.conflict) || {};
        this.set("conflict", { by: c.by || "Someone", mine: c.mine === true, at: timeOf(c.at), message: res.data?.error?.message });
      } else {
        const msg = res.data?.error?.message || `The server answered ${res.status}.`;
        this.set("error", { message: `Not saved: ${msg}` });
        if (res.status >= 500) this.timer = setTimeout(() => this.save(), 5000);
      }
    })();
    try { await this.inflight; } finally { this.inflight = null; }
  }
}

// Validation after each edit (debounced); only the newest answer is shown.
export class Validator {
  constructor({ url, getDefinition, onIssues, delay = 300 }) {
    Object.assign(this, { url, getDefinition, onIssues, delay });
    this.seq = 0;
  }

  schedule() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), this.delay);
  }

  async run() {
    const seq = ++this.seq;
    try {
      const res = await postJSON(this.url, { definition: this.getDefinition() });
      if (seq !== this.seq) return;
      if (res.ok) this.onIssues(res.data.issues);
      else this.onIssues([{ severity: "error", code: "malformed", message: res.data?.error?.message || "The flow could not be checked.", node_id: null, field: null }]);
    } catch { /* offline: keep the last answer */ }
  }
}
