// Desk Pemilu dashboard: findings of the screens across TPS ("Temuan lintas TPS", advisory).
// Plain JavaScript, no build step. Reads the same token and hash as app.js, polls /v1/findings.
"use strict";

(() => {
  const TOKEN_KEY = "deskpemilu.token";
  const REFRESH_MS = 5000;
  const SEVERITY = { critical: ["kritis", "bad"], warning: ["peringatan", "warn"], info: ["info", "muted"] };
  const nf = new Intl.NumberFormat("id-ID");
  const $ = (id) => document.getElementById(id);
  let timer = null;
  let busy = false;

  const h = window.DeskDom.h; // static/dom.js

  // Which election, contest and area the dashboard shows: the hash (#/hasil/e/c/area), else
  // the pickers.
  function place() {
    const parts = window.location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    const [view, election, contest, where] = parts;
    const pe = $("pick-election");
    const pc = $("pick-contest");
    return {
      election: election || (pe && pe.value) || "",
      contest: contest || (pc && pc.value) || "",
      area: view === "hasil" ? where || "" : "",
    };
  }

  async function getJSON(path) {
    const token = localStorage.getItem(TOKEN_KEY);
    if (!token) return null;
    const res = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    if (!res.ok) return null;
    return res.json();
  }

  function renderFinding(f) {
    const [label, cls] = SEVERITY[f.severity] || [f.severity, "muted"];
    const where = f.tps.split(".").length === 5
      ? `TPS ${f.tps.split(".").pop()} ${f.desa || ""}, ${f.kecamatan || ""}`
      : `Kecamatan ${f.kecamatan || f.tps}`;
    const tpsLink = f.tps.split(".").length === 5
      ? h("a", { href: `#/tps/${encodeURIComponent(place().election)}/${encodeURIComponent(f.contest)}/${encodeURIComponent(f.tps)}` }, where)
      : where;
    return h("li", { class: "finding", "data-tps": f.tps, "data-code": f.code },
      h("div", {}, h("span", { class: `badge ${cls}` }, label), " ",
        f.action === "hold" ? h("span", { class: "badge bad" }, "ditahan") : null, " ",
        tpsLink, " ", h("span", { class: "muted small" }, `${f.contest} · ${f.code}`)),
      h("div", { class: "small" }, f.pesan),
      h("div", { class: "muted small" }, f.message));
  }

  function render(data) {
    const list = $("screen-findings");
    const count = $("finding-count");
    const table = $("finding-kecamatan");
    if (!list || !count || !table) return;
    count.textContent = nf.format(data ? data.total : 0);
    if (!data) {
      list.replaceChildren(h("li", { class: "muted" }, "Temuan belum dapat dimuat."));
      return;
    }
    const shown = data.findings.filter((f) => f.severity !== "info");
    list.replaceChildren(...(shown.length ? shown.slice(0, 50).map(renderFinding)
      : [h("li", { class: "muted" }, "Tidak ada temuan terbuka.")]));
    table.replaceChildren(
      h("thead", {}, h("tr", {}, h("th", {}, "Kecamatan"), h("th", { class: "num" }, "Temuan"),
        h("th", { class: "num" }, "Kritis"), h("th", { class: "num" }, "TPS"))),
      h("tbody", {}, data.by_kecamatan.map((k) => h("tr", {},
        h("td", {}, k.kecamatan || k.kecamatan_code),
        h("td", { class: "num" }, nf.format(k.total)),
        h("td", { class: "num" }, nf.format(k.critical)),
        h("td", { class: "num" }, nf.format(k.tps))))));
    const note = $("finding-advisory");
    if (note) note.textContent = data.advisory;
  }

  let canReview = null;
  const homeAreas = {};

  async function postJSON(path, body) {
    const token = localStorage.getItem(TOKEN_KEY);
    const res = await fetch(path, {
      method: "POST",
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json",
                 "Idempotency-Key": `q-${Date.now()}-${Math.random().toString(36).slice(2)}` },
      body: JSON.stringify(body),
    });
    return res.status;
  }

  function lineList(lines) {
    return Object.keys(lines).sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)))
      .map((k) => `${k.slice(1)}: ${nf.format(lines[k])}`).join(", ");
  }

  function renderQuarantine(p, q) {
    const card = $("quarantine-card");
    if (!card) return;
    card.hidden = !q || (q.tps.length === 0);
    if (!q) return;
    $("held-count").textContent = nf.format(q.held_tps);
    const warn = $("quarantine-warning");
    const risky = [q.risk, ...q.kecamatan].filter((r) => r.could_change);
    warn.hidden = risky.length === 0;
    warn.textContent = risky.length
      ? "Peringatan: suara dikarantina dapat mengubah pemenang di " +
        risky.map((r) => r.name || r.area).join(", ") +
        ` (selisih ${nf.format(q.risk.margin)}, dikarantina ${nf.format(q.risk.held_votes)} suara).`
      : "";
    $("quarantine-summary").textContent =
      `Suara dikarantina (tidak dihitung): ${lineList(q.risk.held)}. Pemimpin sekarang nomor ` +
      `${q.risk.leader ? q.risk.leader.slice(1) : "-"}, bila dilepas nomor ` +
      `${q.risk.leader_if_released ? q.risk.leader_if_released.slice(1) : "-"}.`;
    $("quarantine-list").replaceChildren(...q.tps.map((t) => h("li", { class: "held", "data-tps": t.tps, "data-hold": t.hold },
      h("div", {}, h("span", { class: `badge ${t.hold === "held" ? "bad" : "muted"}` }, t.hold === "held" ? "dikarantina" : "ditolak"),
        ` TPS ${t.tps.split(".").pop()} ${t.desa || ""}, ${t.kecamatan || ""} `,
        h("span", { class: "muted small" }, `sah ${nf.format(t.suara_sah)}, tidak sah ${nf.format(t.suara_tidak_sah)}; ${lineList(t.votes)}`)),
      ...t.findings.filter((f) => f.severity !== "info").map((f) =>
        h("div", { class: "small" }, `${f.code}: ${f.pesan}`)),
      canReview && t.hold === "held" ? h("div", { class: "review-actions" },
        button("Lepas ke hitungan", "release", p, t), " ", button("Tolak", "reject", p, t)) : null)));
  }

  function button(label, action, p, t) {
    const b = h("button", { type: "button", class: action === "release" ? "primary" : "", "data-action": action }, label);
    b.addEventListener("click", async () => {
      b.disabled = true;
      const e = encodeURIComponent;
      const status = await postJSON(`/v1/quarantine/${e(p.election)}/${e(p.contest)}/${e(t.tps)}/${action}`,
                                    { note: "dari panel karantina" });
      b.textContent = status === 202 ? "terkirim" : `gagal (${status})`;
    });
    return b;
  }

  async function refreshQuarantine(p) {
    if (!p.contest) return;
    const e = encodeURIComponent;
    if (canReview === null) {
      const me = await getJSON("/v1/whoami");
      canReview = Boolean(me && me.can_review);
    }
    if (!p.area && !homeAreas[p.election]) {
      const meta = await getJSON(`/v1/elections/${e(p.election)}`);
      if (meta) homeAreas[p.election] = meta.home_area;
    }
    const area = p.area || homeAreas[p.election];
    if (!area) return;
    renderQuarantine(p, await getJSON(`/v1/quarantine/${e(p.election)}/${e(p.contest)}/${e(area)}`));
  }

  async function refresh() {
    if (busy) return;
    const p = place();
    if (!p.election) return;
    busy = true;
    try {
      const q = new URLSearchParams({ limit: "200" });
      if (p.contest) q.set("contest", p.contest);
      if (p.area) q.set("area", p.area);
      render(await getJSON(`/v1/findings/${encodeURIComponent(p.election)}?${q}`));
      await refreshQuarantine(p);
      if (window.DeskPemiluForensics) await window.DeskPemiluForensics.refresh(p, getJSON);
    } catch (err) {
      render(null);
    } finally {
      busy = false;
    }
  }

  function start() {
    window.addEventListener("hashchange", refresh);
    for (const id of ["pick-election", "pick-contest"]) {
      const el = $(id);
      if (el) el.addEventListener("change", () => setTimeout(refresh, 50));
    }
    refresh();
    timer = setInterval(refresh, REFRESH_MS);
  }

  window.DeskPemiluFindings = { refresh, stop: () => clearInterval(timer) };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
