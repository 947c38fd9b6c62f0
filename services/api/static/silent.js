// Desk Pemilu dashboard: silent TPS (TPS belum melapor) and the operators' activity report.
// Plain JavaScript, no build step. app.js fires "deskpemilu:results" after every refresh of the
// results view; this panel re-reads GET /v1/silent (at most every 10 s for the same place): the
// received-over-time chart against the expected count, the sub-areas with the "macet" (stalled)
// mark, the TPS not yet reported with their operators, and the CSV/XLSX downloads. Only a camat
// (their kecamatan) or an admin may read it: for anyone else the card stays hidden.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const nf = new Intl.NumberFormat("id-ID");
  const pf = new Intl.NumberFormat("id-ID", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const tf = new Intl.DateTimeFormat("id-ID", { hour: "2-digit", minute: "2-digit", timeZone: "Asia/Jakarta" });
  const $ = (id) => document.getElementById(id);
  const LIST_MAX = 100;
  const MIN_INTERVAL_MS = 10000;
  let seq = 0;
  let last = { key: "", at: 0 };
  let place = null;

  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v !== undefined && v !== null) el.setAttribute(k, String(v));
    }
    for (const c of children) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c));
    return el;
  }

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  function idle(seconds) {
    const m = Math.floor(seconds / 60);
    return m >= 60 ? `${Math.floor(m / 60)} j ${m % 60} m` : `${m} m`;
  }

  // Cumulative received per bucket as a step line, the expected count as a dashed line.
  function chart(view) {
    const w = 520, ht = 140, pad = 36;
    const series = view.series;
    const expected = view.area.expected;
    const svg = s("svg", { viewBox: `0 0 ${w + pad + 10} ${ht + 34}`, width: w + pad + 10, role: "img",
                           id: "silent-chart", "aria-label": "TPS masuk dari waktu ke waktu" });
    const y = (v) => 6 + ht - (v / Math.max(1, expected)) * ht;
    svg.append(s("line", { x1: pad, x2: pad + w, y1: y(expected), y2: y(expected), stroke: "#8c959f",
                           "stroke-dasharray": "4 3" }));
    svg.append(s("text", { x: pad - 4, y: y(expected) + 3, "font-size": 10, "text-anchor": "end" }, nf.format(expected)));
    svg.append(s("text", { x: pad - 4, y: y(0) + 3, "font-size": 10, "text-anchor": "end" }, "0"));
    if (series.length) {
      const step = w / series.length;
      let d = `M ${pad} ${y(0)}`;
      series.forEach((b, i) => {
        d += ` L ${pad + i * step} ${y(b.cumulative)} L ${pad + (i + 1) * step} ${y(b.cumulative)}`;
      });
      svg.append(s("path", { d, fill: "none", stroke: "#1f6feb", "stroke-width": 2 }));
      for (const i of [0, Math.floor(series.length / 2), series.length - 1]) {
        svg.append(s("text", { x: pad + i * step, y: ht + 22, "font-size": 10 }, tf.format(new Date(series[i].start))));
      }
    }
    return svg;
  }

  function childrenTable(view) {
    const rows = view.children.map((c) => h("tr", { class: c.stalled ? "stalled" : null, "data-code": c.code },
      h("td", {}, c.name || c.code),
      h("td", { class: "num" }, `${nf.format(c.received)} / ${nf.format(c.expected)}`),
      h("td", { class: "num" }, `${pf.format(c.progress * 100)}%`),
      h("td", {}, c.complete ? h("span", { class: "badge good" }, "lengkap")
        : c.stalled ? h("span", { class: "badge bad", title: `tanpa kemajuan ${idle(c.idle_s)}` }, `macet ${idle(c.idle_s)}`)
        : h("span", { class: "badge" }, `${idle(c.idle_s)} lalu`))));
    return h("table", { class: "data compact", id: "silent-children" },
      h("thead", {}, h("tr", {}, h("th", {}, "Wilayah"), h("th", {}, "TPS masuk"), h("th", {}, "%"), h("th", {}, "Status"))),
      h("tbody", {}, ...rows));
  }

  function silentList(view) {
    const items = view.silent.slice(0, LIST_MAX).map((t) => h("li", { "data-tps": t.tps },
      h("strong", {}, t.tps), ` ${t.desa || ""}, ${t.kecamatan || ""}`,
      h("br"),
      h("span", { class: "small muted" }, t.operators.length
        ? t.operators.map((o) => `${o.name} (${o.phone ? "+" + o.phone : "tanpa nomor"})`).join("; ")
        : "operator belum ditetapkan")));
    const more = view.silent.length > LIST_MAX
      ? h("li", { class: "muted small" }, `dan ${nf.format(view.silent.length - LIST_MAX)} TPS lagi (lihat unduhan)`)
      : null;
    return h("ul", { class: "list", id: "silent-list" }, ...items, more);
  }

  function render(view) {
    const a = view.area;
    $("silent-count").textContent = nf.format(a.missing);
    const mark = a.complete ? h("span", { class: "badge good" }, "lengkap")
      : a.stalled ? h("span", { class: "badge bad", id: "silent-stalled" }, `macet: tanpa kemajuan ${idle(a.idle_s)}`)
      : null;
    $("silent-summary").replaceChildren(
      `${nf.format(a.received)} dari ${nf.format(a.expected)} TPS masuk (${pf.format(a.progress * 100)}%) di ${a.name || a.code}. `,
      mark || "",
      h("span", { class: "muted small" }, ` Macet: ${nf.format(view.stall_minutes)} menit tanpa kemajuan pada jam hitung ${view.counting_hours}.`));
    $("silent-chart-wrap").replaceChildren(chart(view));
    $("silent-children-wrap").replaceChildren(view.children.length ? childrenTable(view) : "");
    $("silent-list-wrap").replaceChildren(view.silent.length ? silentList(view)
      : h("p", { class: "muted" }, "Semua TPS sudah melapor."));
    $("silent-card").hidden = false;
  }

  async function download(path) {
    const res = await fetch(path, { headers: { Authorization: `Bearer ${place.token}` } });
    if (!res.ok) return;
    const blob = await res.blob();
    const match = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
    const a = h("a", { href: URL.createObjectURL(blob), download: match ? match[1] : "unduhan" });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  function exportPath(kind) {
    const e = encodeURIComponent;
    const q = `?area=${e(place.area)}`;
    if (kind.startsWith("silent.")) {
      return `/v1/silent/${e(place.election)}/${e(place.contest)}/export.${kind.slice(7)}${q}`;
    }
    return `/v1/activity/${e(place.election)}/export.${kind.slice(9)}${q}`;
  }

  document.addEventListener("deskpemilu:results", async (ev) => {
    const { token, election, contest, area } = ev.detail;
    place = { token, election, contest, area };
    const key = `${election}/${contest}/${area}`;
    if (key === last.key && Date.now() - last.at < MIN_INTERVAL_MS) return;
    last = { key, at: Date.now() };
    const mine = ++seq;
    try {
      const res = await fetch(`/v1/silent/${encodeURIComponent(election)}/${encodeURIComponent(contest)}` +
                              `?area=${encodeURIComponent(area)}`,
                              { cache: "no-cache", headers: { Authorization: `Bearer ${token}` } });
      if (mine !== seq) return;
      if (!res.ok) {
        $("silent-card").hidden = true; // not a camat or admin of this area
        return;
      }
      render(await res.json());
    } catch (err) {
      if (mine === seq) $("silent-summary").textContent = "TPS belum melapor tidak dapat dimuat.";
    }
  });

  function start() {
    for (const b of document.querySelectorAll("[data-silent-export]")) {
      b.addEventListener("click", () => { if (place) download(exportPath(b.dataset.silentExport)); });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
