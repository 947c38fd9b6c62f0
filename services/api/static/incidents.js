// Incident reports (laporan kejadian) and desk alerts on the dashboard: the live incident feed
// and per-kecamatan counts (results view), a TPS's incidents (TPS view), the alert banner on
// every view, and the camat/admin actions (acknowledge, follow up, close; acknowledge an alert).
// Data from /v1/incidents* and /v1/alerts; live updates from /v1/desk/events (SSE fed by
// LISTEN deskpemilu_desk), so a new incident or alert shows without a reload.
(() => {
  "use strict";
  const TOKEN_KEY = "deskpemilu.token";
  const enc = encodeURIComponent;
  const $ = (id) => document.getElementById(id);
  const SEVERITY = { critical: "KRITIS", high: "tinggi", medium: "sedang", low: "rendah" };
  const SEVERITY_CLASS = { critical: "bad", high: "warn", medium: "ok", low: "" };
  const STATUS = { open: "baru", acknowledged: "diterima", followed_up: "ditindaklanjuti", closed: "ditutup" };
  const CHANNELS = { api: "aplikasi", whatsapp: "WhatsApp", sms: "SMS", batch: "aplikasi", upload: "unggahan" };
  const state = { me: null, order: "newest", status: "unresolved", source: null };

  const el = window.DeskDom.h; // static/dom.js

  const token = () => localStorage.getItem(TOKEN_KEY);

  async function api(path, options) {
    const t = token();
    if (!t) return null;
    const opts = options || {};
    const res = await fetch(path, {
      ...opts,
      headers: { Authorization: `Bearer ${t}`, "Content-Type": "application/json", ...(opts.headers || {}) },
    });
    if (!res.ok) {
      let body = {};
      try { body = await res.json(); } catch (_) { /* not JSON */ }
      const err = new Error(body.pesan || `HTTP ${res.status}`);
      err.status = res.status;
      throw err;
    }
    return res.json();
  }

  function when(iso) {
    if (!iso) return "-";
    return new Date(iso).toLocaleString("id-ID", { dateStyle: "short", timeStyle: "medium" });
  }

  function hashParts() {
    return window.location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  }

  function covers(area) {
    const me = state.me;
    if (!me || !me.can_review) return false;
    if (me.role === "admin" && !me.scope.length) return true;
    return me.scope.some((s) => area === s || area.startsWith(s + "."));
  }

  function say(text, bad) {
    const box = $("incident-message");
    if (!box) return;
    box.textContent = text;
    box.className = `message ${bad ? "bad" : "ok"}`;
  }

  function key() {
    return window.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
  }

  async function act(incident, action, note) {
    try {
      const r = await api(`/v1/incidents/${enc(incident.incident_id)}/${action}`, {
        method: "POST", body: JSON.stringify({ note }), headers: { "Idempotency-Key": key() },
      });
      say(r.pesan, false);
    } catch (e) {
      say(e.message, true);
    }
  }

  function actions(incident) {
    if (incident.status === "closed" || !covers(incident.area)) return null;
    const note = el("input", { type: "text", maxlength: "1000", placeholder: "catatan", "aria-label": "Catatan", class: "incident-note" });
    const button = (label, action, testid) => el("button", {
      type: "button", "data-testid": testid,
      onclick: () => act(incident, action, note.value),
    }, label);
    return el("div", { class: "incident-actions" }, note,
      incident.status === "open" ? button("Terima", "acknowledge", "incident-ack") : null,
      button("Tindak lanjut", "follow-up", "incident-follow-up"),
      button("Tutup", "close", "incident-close"));
  }

  function incidentItem(i, withActions) {
    const where = i.tps ? `TPS ${i.tps.split(".").pop()} · ${i.desa_name || i.desa}` : `Desa ${i.desa_name || i.desa}`;
    return el("li", { class: `incident sev-${i.severity}`, "data-testid": "incident", "data-incident": i.incident_id, "data-severity": i.severity },
      el("div", {},
        el("span", { class: `badge ${SEVERITY_CLASS[i.severity]}` }, SEVERITY[i.severity] || i.severity), " ",
        el("strong", {}, i.category_name), " ",
        el("span", { class: "badge", "data-testid": "incident-status" }, STATUS[i.status] || i.status), " ",
        i.tps ? el("a", { href: `#/tps/${enc(hashParts()[1] || "")}/${enc(hashParts()[2] || "")}/${enc(i.tps)}` }, where) : where,
        el("span", { class: "muted" }, ` · Kec. ${i.kecamatan_name || i.kecamatan}`)),
      el("div", { class: "incident-text" }, i.text),
      el("div", { class: "muted small" }, `${i.operator_name || i.operator_id} via ${CHANNELS[i.channel] || i.channel} · ${when(i.reported_at)}`),
      withActions ? actions(i) : null);
  }

  async function loadFeed() {
    const list = $("incident-feed");
    if (!list) return;
    const params = new URLSearchParams({ order: state.order, limit: "50" });
    if (state.status) params.set("status", state.status);
    const [feed, counts] = await Promise.all([
      api(`/v1/incidents?${params}`), api("/v1/incidents/counts"),
    ]);
    if (!feed) return;
    list.replaceChildren(...(feed.incidents.length
      ? feed.incidents.map((i) => incidentItem(i, true))
      : [el("li", { class: "muted" }, "Belum ada laporan kejadian.")]));
    $("incident-count").textContent = String(feed.incidents.length);
    const body = $("incident-counts").querySelector("tbody");
    body.replaceChildren(...counts.kecamatan.map((k) => el("tr", { "data-kecamatan": k.kecamatan },
      el("td", {}, k.name || k.kecamatan),
      el("td", { class: "num", "data-testid": "incident-unresolved" }, String(k.unresolved)),
      el("td", { class: "num" }, String(k.critical)),
      el("td", { class: "num" }, String(k.high)),
      el("td", { class: "num" }, String(k.total)))));
  }

  async function loadTps() {
    const [view, , , tps] = hashParts();
    const list = $("tps-incident-list");
    if (!list || view !== "tps" || !tps) return;
    const d = await api(`/v1/incidents/tps/${enc(tps)}`);
    if (!d) return;
    list.replaceChildren(...(d.incidents.length
      ? d.incidents.map((i) => incidentItem(i, true))
      : [el("li", { class: "muted" }, "Tidak ada laporan kejadian untuk TPS ini.")]));
  }

  async function acknowledgeAlert(alert) {
    try {
      await api(`/v1/alerts/${alert.alert_id}/acknowledge`, { method: "POST", body: JSON.stringify({ note: "" }) });
    } catch (e) {
      say(e.message, true);
    }
    loadAlerts();
  }

  async function loadAlerts() {
    const banner = $("alert-banner");
    if (!banner) return;
    const d = await api("/v1/alerts?open=true&limit=20");
    if (!d) return;
    banner.hidden = !d.alerts.length;
    banner.replaceChildren(...d.alerts.map((a) => el("div", { class: `alert sev-${a.severity}`, role: "alert", "data-testid": "alert", "data-rule": a.rule },
      el("strong", {}, `Peringatan ${SEVERITY[a.severity] || a.severity}: `),
      el("span", {}, a.pesan),
      el("span", { class: "muted small" }, ` · ${when(a.raised_at)}`),
      covers(a.area || "") || (state.me && state.me.role === "admin" && !state.me.scope.length)
        ? el("button", { type: "button", "data-testid": "alert-ack", onclick: () => acknowledgeAlert(a) }, "Tandai diketahui")
        : null)));
  }

  async function refresh() {
    try {
      await Promise.all([loadFeed(), loadTps(), loadAlerts()]);
    } catch (e) {
      say(e.message, true);
    }
  }

  function listen() {
    if (state.source) state.source.close();
    const t = token();
    if (!t) return;
    // EventSource cannot send headers: the SSE route takes the token as ?token=.
    const es = new EventSource(`/v1/desk/events?token=${enc(t)}`);
    state.source = es;
    es.addEventListener("hello", refresh);
    es.addEventListener("changed", refresh);
    es.addEventListener("expired", () => es.close());
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) setTimeout(listen, 5000);
    };
  }

  async function start() {
    if (!token()) { setTimeout(start, 1000); return; }
    try { state.me = await api("/v1/whoami"); } catch (_) { setTimeout(start, 2000); return; }
    const order = $("incident-order");
    if (order) order.addEventListener("change", () => { state.order = order.value; loadFeed(); });
    const status = $("incident-status-filter");
    if (status) status.addEventListener("change", () => { state.status = status.value; loadFeed(); });
    for (const b of document.querySelectorAll("[data-incident-export]")) {
      b.addEventListener("click", async () => {
        const res = await fetch(`/v1/incidents/export.${b.dataset.incidentExport}`, { headers: { Authorization: `Bearer ${token()}` } });
        if (!res.ok) { say(`Unduhan gagal (HTTP ${res.status})`, true); return; }
        const url = URL.createObjectURL(await res.blob());
        const a = el("a", { href: url, download: `kejadian.${b.dataset.incidentExport}` });
        document.body.append(a); a.click(); a.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      });
    }
    window.addEventListener("hashchange", refresh);
    listen();
    refresh();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
