// Desk Pemilu dashboard: the quick-count panel (hitung cepat). Plain JavaScript, no build step.
// app.js fires "deskpemilu:results" after every refresh of the results view (also on each live
// 'changed' event); this panel then re-reads GET /v1/quickcount (a 304 when nothing moved).
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#bf8700", "#8250df", "#0a7ea4"];
  const pf = new Intl.NumberFormat("id-ID", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const nf = new Intl.NumberFormat("id-ID");
  const tf = new Intl.DateTimeFormat("id-ID", {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", timeZone: "Asia/Jakarta",
  });
  const $ = (id) => document.getElementById(id);
  const pts = (x) => pf.format((x || 0) * 100);
  let seq = 0;

  const h = window.DeskDom.h; // static/dom.js

  function s(tag, attrs, text) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, v);
    if (text !== undefined) el.textContent = text;
    return el;
  }

  // Each line's point and 95% interval as a bar (99% as a thin whisker) on a 0-100% axis.
  function chart(est) {
    const lines = est.lines;
    const rowH = 34, left = 210, right = 24, width = 700, top = 8;
    const height = top + lines.length * rowH + 26;
    const x = (v) => left + v * (width - left - right);
    const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "qc-chart", role: "img",
                           "aria-label": "Perkiraan suara dengan selang keyakinan" });
    for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
      svg.append(s("line", { x1: x(tick), x2: x(tick), y1: top, y2: height - 22, class: "qc-grid" }));
      svg.append(s("text", { x: x(tick), y: height - 6, "text-anchor": "middle", class: "qc-tick" },
                   `${tick * 100}%`));
    }
    lines.forEach((l, i) => {
      const y = top + i * rowH + rowH / 2;
      const color = COLORS[i % COLORS.length];
      const g = s("g", { "data-key": l.key });
      g.append(s("text", { x: left - 8, y: y + 4, "text-anchor": "end", class: "qc-name" },
                 l.name.length > 28 ? `${l.name.slice(0, 27)}…` : l.name));
      g.append(s("line", { x1: x(l.low99), x2: x(l.high99), y1: y, y2: y, stroke: color,
                           "stroke-width": 1.5 }));
      g.append(s("rect", { x: x(l.low95), y: y - 7, width: Math.max(2, x(l.high95) - x(l.low95)),
                           height: 14, fill: color, "fill-opacity": 0.35, stroke: color }));
      g.append(s("circle", { cx: x(l.share), cy: y, r: 4.5, fill: color }));
      g.append(s("text", { x: Math.min(x(l.high99) + 6, width - right - 70), y: y - 9,
                           class: "qc-value" }, `${pts(l.share)}% ± ${pts(l.margin95)}`));
      svg.append(g);
    });
    return svg;
  }

  function progressTable(p) {
    const rows = p.strata.map((st) => {
      const share = st.sample_drawn ? st.sample_reported / st.sample_drawn : 0;
      return h("tr", { "data-code": st.code },
        h("th", { scope: "row" }, st.name),
        h("td", { class: "num" }, `${nf.format(st.sample_reported)}/${nf.format(st.sample_drawn)}`),
        h("td", {}, h("div", { class: "bar qc-bar" },
          h("span", { style: `width:${Math.round(share * 100)}%` }))),
        h("td", { class: "num" }, `${nf.format(st.tps_reported)}/${nf.format(st.tps_total)}`));
    });
    return h("table", { class: "data compact qc-progress" },
      h("thead", {}, h("tr", {}, h("th", {}, "Kecamatan"), h("th", { class: "num" }, "Sampel masuk"),
        h("th", {}, ""), h("th", { class: "num" }, "Semua TPS"))),
      h("tbody", {}, rows));
  }

  function partialBlock(part) {
    if (!part) return null;
    const missing = part.strata_without_reports.length;
    return h("details", { class: "qc-partial" },
      h("summary", {}, "Hitung nyata sementara, ditimbang per kecamatan"),
      h("table", { class: "data compact" },
        h("thead", {}, h("tr", {}, h("th", {}, "Calon"), h("th", { class: "num" }, "Ditimbang"),
          h("th", { class: "num" }, "Selang 95%"), h("th", { class: "num" }, "Total mentah"))),
        h("tbody", {}, part.lines.map((l) => h("tr", {},
          h("td", {}, l.name), h("td", { class: "num" }, `${pts(l.share)}%`),
          h("td", { class: "num" }, `${pts(l.low95)} - ${pts(l.high95)}%`),
          h("td", { class: "num" }, `${pts((part.raw_shares || {})[l.key])}%`))))),
      h("p", { class: "muted small" }, `${nf.format(part.reports)} TPS masuk. ` + (missing
        ? `${missing} kecamatan belum ada laporan (diperkirakan dari tetangganya): ${part.strata_without_reports.join(", ")}.`
        : "Semua kecamatan sudah ada laporan.")));
  }

  function render(q) {
    const body = $("qc-body");
    const parts = [];
    if (q.banner) parts.push(h("p", { class: "qc-banner", role: "alert" }, q.banner));
    if (q.sample && q.sample.forced) {
      parts.push(h("p", { class: "qc-forced", role: "alert" },
        `Sampel diundi ulang setelah ${nf.format(q.sample.results_at_draw)} hasil TPS masuk ` +
        `(${tf.format(new Date(q.sample.drawn_at))}, --force${q.sample.reason ? `: ${q.sample.reason}` : ""}).`));
    }
    const est = q.quick_count;
    if (!q.released && !q.banner) {
      parts.push(h("p", { class: "qc-sentence muted" },
        `Perkiraan hitung cepat baru boleh ditampilkan mulai ${tf.format(new Date(q.release_at))} WIB.`));
    } else if (!q.sample) {
      parts.push(h("p", { class: "qc-sentence muted" }, "Belum ada sampel hitung cepat (deskpemilu quickcount draw)."));
    } else if (est) {
      parts.push(h("p", { class: "qc-sentence", "data-testid": "qc-sentence" }, est.sentence));
      parts.push(chart(est));
      parts.push(h("p", { class: "muted small" },
        `Partisipasi ${pts(est.turnout.share)}% ± ${pts(est.turnout.margin95)}. ` +
        `Titik: perkiraan; batang: selang 95%; garis: selang 99%. ${nf.format(est.reports)} TPS sampel.`));
    } else {
      parts.push(h("p", { class: "qc-sentence muted" }, "Belum ada cukup laporan TPS sampel."));
    }
    const p = q.progress;
    parts.push(h("p", { class: "small" },
      `Sampel: ${nf.format(p.sample_reported)} dari ${nf.format(p.sample_drawn)} TPS masuk · ` +
      `dihitung ${tf.format(new Date(q.computed_at))}`));
    parts.push(progressTable(p));
    parts.push(partialBlock(q.partial_count));
    parts.push(h("p", { class: "muted small" }, `Metode: ${q.method.estimator}; strata ${q.method.strata}, ` +
      `bobot ${q.method.weights}, koreksi populasi hingga (FPC).`));
    body.replaceChildren(...parts.filter(Boolean));
    $("quickcount").hidden = false;
  }

  document.addEventListener("deskpemilu:results", async (ev) => {
    const { token, election, contest, area } = ev.detail;
    const mine = ++seq;
    try {
      const res = await fetch(`/v1/quickcount/${encodeURIComponent(election)}/${encodeURIComponent(contest)}` +
                              `?area=${encodeURIComponent(area)}`,
                              { cache: "no-cache", headers: { Authorization: `Bearer ${token}` } });
      if (!res.ok || mine !== seq) return;
      render(await res.json());
    } catch (err) {
      if (mine === seq) $("qc-body").replaceChildren(h("p", { class: "error" }, "Hitung cepat tidak dapat dimuat."));
    }
  });
})();
