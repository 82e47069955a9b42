// memplane inspector: vanilla JS over the /v1 REST API.
//
// Memory text is hostile input. Every value from the API reaches the page through
// textContent or an attribute set with setAttribute on a fixed name; nothing is
// ever parsed as HTML (the CSP also requires Trusted Types, so a slip that assigns an
// HTML string would throw instead of rendering).
"use strict";

(function () {
  const KEY_STORAGE = "memplane.inspector.key";
  const API = "../v1"; // relative: the page is served at <prefix>/inspector/
  const PAGE_SIZE = 50;

  const $ = (id) => document.getElementById(id);
  const state = { scope: null, cursor: null };

  function el(tag, opts, ...children) {
    const node = document.createElement(tag);
    if (opts) {
      if (opts.cls) node.className = opts.cls;
      if (opts.text !== undefined && opts.text !== null) node.textContent = String(opts.text);
      if (opts.attrs) for (const [k, v] of Object.entries(opts.attrs)) node.setAttribute(k, String(v));
      if (opts.onclick) node.addEventListener("click", opts.onclick);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  // --- API -------------------------------------------------------------------------
  class ApiError extends Error {
    constructor(status, code, message) {
      super(message);
      this.status = status;
      this.code = code;
    }
  }

  function key() {
    return sessionStorage.getItem(KEY_STORAGE);
  }

  async function api(method, path, { query, body, raw } = {}) {
    const url = new URL(API + path, document.baseURI);
    for (const [k, v] of Object.entries(query || {})) if (v !== undefined && v !== null) url.searchParams.set(k, v);
    const headers = { Authorization: "Bearer " + key() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
    if (!response.ok) {
      let code = "http_" + response.status;
      let message = response.statusText || "request failed";
      try {
        const payload = await response.json();
        if (payload && payload.error) {
          code = String(payload.error.code || code);
          message = String(payload.error.message || message);
        }
      } catch (_) { /* not JSON: keep the status */ }
      if (response.status === 401) logout("That key was not accepted (" + message + ").");
      throw new ApiError(response.status, code, message);
    }
    return raw ? response : response.json();
  }

  function showError(err) {
    const box = $("error");
    box.textContent = err instanceof ApiError ? err.code + ": " + err.message : String(err && err.message || err);
    box.hidden = false;
  }

  function clearError() {
    $("error").hidden = true;
    $("error").textContent = "";
  }

  function guarded(fn) {
    return async (event) => {
      if (event && event.preventDefault) event.preventDefault();
      clearError();
      try {
        await fn(event);
      } catch (err) {
        showError(err);
      }
    };
  }

  // --- scopes ----------------------------------------------------------------------
  const SCOPE_FIELDS = ["user_id", "agent_id", "run_id"];

  function scopeLabel(scope) {
    return SCOPE_FIELDS.filter((f) => scope[f]).map((f) => f + "=" + scope[f]).join(" · ");
  }

  function scopeQuery() {
    const q = {};
    for (const f of SCOPE_FIELDS) if (state.scope && state.scope[f]) q[f] = state.scope[f];
    return q;
  }

  async function loadScopes() {
    const data = await api("GET", "/scopes");
    const list = $("scopes");
    list.replaceChildren();
    const scopes = Array.isArray(data.scopes) ? data.scopes : [];
    if (!scopes.length) list.append(el("li", { cls: "empty", text: "No scopes listed; open one below." }));
    for (const scope of scopes) {
      list.append(el("li", null, el("button", {
        cls: "scope", text: scopeLabel(scope), attrs: { type: "button" },
        onclick: guarded(() => openScope(scope)),
      })));
    }
    return scopes;
  }

  async function openScope(scope) {
    const clean = {};
    for (const f of SCOPE_FIELDS) if (scope[f]) clean[f] = String(scope[f]);
    if (!Object.keys(clean).length) throw new Error("name a user_id, agent_id or run_id");
    state.scope = clean;
    state.cursor = null;
    $("scope-title").textContent = scopeLabel(clean);
    $("results-box").hidden = true;
    $("history-panel").hidden = true;
    $("memories").replaceChildren();
    $("scope-panel").hidden = false;
    try {
      await loadMemories(false);
    } catch (err) {
      // A scope the key may not read shows nothing of it, not even a stale list.
      $("scope-panel").hidden = true;
      state.scope = null;
      for (const b of document.querySelectorAll("#scopes button.scope")) b.classList.remove("active");
      throw err;
    }
    for (const b of document.querySelectorAll("#scopes button.scope")) {
      b.classList.toggle("active", b.textContent === scopeLabel(clean));
    }
  }

  // --- memories --------------------------------------------------------------------
  function formatTime(value) {
    if (!value) return "";
    const d = new Date(value);
    return isNaN(d) ? String(value) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }

  function memoryItem(record) {
    const deleted = Boolean(record.deleted_at);
    const actions = el("div", { cls: "actions" },
      el("button", {
        cls: "quiet history", text: "History", attrs: { type: "button" },
        onclick: guarded(() => openHistory(record.id)),
      }),
      deleted
        ? el("button", {
          cls: "restore", text: "Restore", attrs: { type: "button" },
          onclick: guarded(() => restore(record.id)),
        })
        : el("button", {
          cls: "danger delete", text: "Delete", attrs: { type: "button" },
          onclick: guarded(() => remove(record.id)),
        }),
    );
    const meta = el("div", { cls: "meta" },
      el("code", { text: record.id }),
      el("span", { text: "updated " + formatTime(record.updated_at) }),
      deleted ? el("span", { cls: "badge deleted", text: "deleted " + formatTime(record.deleted_at) }) : null,
    );
    return el("li", { cls: deleted ? "memory is-deleted" : "memory", attrs: { "data-id": record.id } },
      el("p", { cls: "text", text: record.text }), meta, actions);
  }

  async function loadMemories(append) {
    const data = await api("GET", "/memories", {
      query: { ...scopeQuery(), limit: PAGE_SIZE, include_deleted: $("show-deleted").checked,
        cursor: append ? state.cursor : null },
    });
    const list = $("memories");
    if (!append) list.replaceChildren();
    for (const record of data.records || []) list.append(memoryItem(record));
    state.cursor = data.next_cursor || null;
    $("more").hidden = !state.cursor;
    const n = list.querySelectorAll("li.memory").length;
    $("count").textContent = "(" + n + (state.cursor ? "+" : "") + ")";
    if (!n) list.append(el("li", { cls: "empty", text: "No memories in this scope." }));
  }

  async function remove(id) {
    await api("DELETE", "/memories/" + encodeURIComponent(id), { query: scopeQuery() });
    await loadMemories(false);
  }

  async function restore(id) {
    await api("POST", "/memories/" + encodeURIComponent(id) + "/restore", {
      query: scopeQuery(), body: scopeQuery(),
    });
    await loadMemories(false);
    if (!$("history-panel").hidden && $("history-id").textContent === id) await openHistory(id);
  }

  // --- search with explain ---------------------------------------------------------
  function signalList(signals) {
    const dl = el("dl", { cls: "signals" });
    const names = Object.keys(signals || {}).sort((a, b) => {
      const pa = a.includes("_") ? 1 : 0, pb = b.includes("_") ? 1 : 0; // contributions first
      return pa - pb || a.localeCompare(b);
    });
    for (const name of names) {
      const v = Number(signals[name]);
      const dd = el("dd", null, el("span", { text: Number.isFinite(v) ? v.toFixed(4) : String(signals[name]) }));
      if (!name.includes("_") && Number.isFinite(v)) {
        dd.prepend(el("meter", { attrs: { min: 0, max: 1, value: Math.max(0, Math.min(1, v)) } }));
      }
      dl.append(el("dt", { text: name }), dd);
    }
    if (!names.length) dl.append(el("dt", { text: "no signals returned" }));
    return dl;
  }

  async function search() {
    const query = $("query").value.trim();
    if (!query) return;
    const data = await api("POST", "/memories/search", { body: { ...scopeQuery(), query, explain: true, limit: 10 } });
    const list = $("results");
    list.replaceChildren();
    for (const hit of data.results || []) {
      const record = hit.record || {};
      list.append(el("li", { cls: "hit", attrs: { "data-id": record.id } },
        el("div", { cls: "hit-head" },
          el("span", { cls: "score", text: Number(hit.score).toFixed(3) }),
          el("p", { cls: "text", text: record.text })),
        el("div", { cls: "meta" },
          el("code", { text: record.id }),
          el("button", {
            cls: "quiet history", text: "History", attrs: { type: "button" },
            onclick: guarded(() => openHistory(record.id)),
          })),
        signalList(hit.signals)));
    }
    if (!list.children.length) list.append(el("li", { cls: "empty", text: "Nothing matched." }));
    $("results-box").hidden = false;
  }

  // --- history as a diff timeline --------------------------------------------------
  // Word-level diff (LCS over whitespace-separated tokens); texts are short.
  function diffWords(oldText, newText) {
    const a = (oldText || "").split(/(\s+)/).filter((t) => t.length);
    const b = (newText || "").split(/(\s+)/).filter((t) => t.length);
    if (a.length * b.length > 250000) return [["del", a.join("")], ["ins", b.join("")]];
    const dp = Array.from({ length: a.length + 1 }, () => new Uint32Array(b.length + 1));
    for (let i = a.length - 1; i >= 0; i--) {
      for (let j = b.length - 1; j >= 0; j--) {
        dp[i][j] = a[i] === b[j] ? dp[i + 1][j + 1] + 1 : Math.max(dp[i + 1][j], dp[i][j + 1]);
      }
    }
    const out = [];
    const push = (op, text) => {
      const last = out[out.length - 1];
      if (last && last[0] === op) last[1] += text; else out.push([op, text]);
    };
    let i = 0, j = 0;
    while (i < a.length && j < b.length) {
      if (a[i] === b[j]) { push("same", a[i]); i++; j++; }
      else if (dp[i + 1][j] >= dp[i][j + 1]) push("del", a[i++]);
      else push("ins", b[j++]);
    }
    while (i < a.length) push("del", a[i++]);
    while (j < b.length) push("ins", b[j++]);
    return out;
  }

  function diffNode(oldText, newText) {
    const p = el("p", { cls: "diff" });
    for (const [op, text] of diffWords(oldText, newText)) {
      p.append(op === "same" ? document.createTextNode(text) : el(op, { text }));
    }
    return p;
  }

  function historyItem(entry) {
    let body;
    if (entry.event === "UPDATE") body = diffNode(entry.old_text, entry.new_text);
    else if (entry.event === "DELETE") body = el("p", { cls: "diff" }, el("del", { text: entry.old_text || "" }));
    else body = el("p", { cls: "diff" }, el("ins", { text: entry.new_text || "" }));
    const event = String(entry.event || "?");
    return el("li", { cls: "entry ev-" + event.toLowerCase().replace(/[^a-z]/g, "") },
      el("div", { cls: "entry-head" },
        el("span", { cls: "badge", text: event }),
        el("time", { text: formatTime(entry.at), attrs: { datetime: entry.at || "" } }),
        entry.actor ? el("span", { cls: "actor", text: "by " + entry.actor }) : null),
      body,
      entry.reason ? el("p", { cls: "reason", text: "reason: " + entry.reason }) : null);
  }

  async function openHistory(id) {
    const data = await api("GET", "/memories/" + encodeURIComponent(id) + "/history", { query: scopeQuery() });
    const list = $("history");
    list.replaceChildren();
    for (const entry of data.history || []) list.append(historyItem(entry));
    if (!list.children.length) list.append(el("li", { cls: "empty", text: "No history recorded." }));
    $("history-id").textContent = id;
    $("history-panel").hidden = false;
    $("history-panel").scrollIntoView({ block: "nearest" });
  }

  // --- export ----------------------------------------------------------------------
  async function exportScope() {
    const response = await api("GET", "/export", { query: scopeQuery(), raw: true });
    const blob = await response.blob();
    const url = URL.createObjectURL(new Blob([blob], { type: "application/x-ndjson" }));
    const name = "memplane-" + scopeLabel(state.scope).replace(/[^A-Za-z0-9_.=-]+/g, "_") + ".ndjson";
    const a = el("a", { attrs: { href: url, download: name } });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  // --- session ---------------------------------------------------------------------
  function logout(message) {
    sessionStorage.removeItem(KEY_STORAGE);
    state.scope = null;
    $("app").hidden = true;
    $("who").hidden = true;
    $("login").hidden = false;
    $("scopes").replaceChildren();
    $("memories").replaceChildren();
    $("results").replaceChildren();
    $("history").replaceChildren();
    if (message) showError(message);
  }

  async function start() {
    const scopes = await loadScopes();
    const id = (key() || "").split("_")[1] || "?";
    $("who-label").textContent = "key " + id;
    $("who").hidden = false;
    $("login").hidden = true;
    $("app").hidden = false;
    if (scopes.length === 1) await openScope(scopes[0]);
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", guarded(async () => {
      const value = $("key").value.trim();
      if (!value) return;
      sessionStorage.setItem(KEY_STORAGE, value);
      $("key").value = "";
      await start();
    }));
    $("logout").addEventListener("click", () => { clearError(); logout(); });
    $("scope-form").addEventListener("submit", guarded(() => openScope({
      user_id: $("scope-user").value.trim(), agent_id: $("scope-agent").value.trim(),
      run_id: $("scope-run").value.trim(),
    })));
    $("search-form").addEventListener("submit", guarded(search));
    $("refresh").addEventListener("click", guarded(() => loadMemories(false)));
    $("show-deleted").addEventListener("change", guarded(() => loadMemories(false)));
    $("more").addEventListener("click", guarded(() => loadMemories(true)));
    $("export").addEventListener("click", guarded(exportScope));
    $("history-close").addEventListener("click", () => { $("history-panel").hidden = true; });
    if (key()) guarded(start)();
  });
})();
