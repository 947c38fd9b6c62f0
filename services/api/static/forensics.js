// Desk Pemilu dashboard: forensics panel (advisory). Turnout x winner's-share fingerprint as an
// SVG heat map, last digits of vote counts as SVG bars with the chi-square p-value.
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const nf = new Intl.NumberFormat("id-ID");
  const $ = (id) => document.getElementById(id);

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) el.setAttribute(k, String(v));
    for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  function heatmap(fp) {
    const cell = 12, pad = 34, n = fp.bins, size = n * cell;
    const max = Math.max(1, ...fp.counts.flat());
    const svg = s("svg", { viewBox: `0 0 ${size + pad + 20} ${size + pad + 8}`, width: size + pad + 20,
                           role: "img", "aria-label": "Sidik jari partisipasi x perolehan pemenang",
                           id: "forensics-heatmap" });
    for (let t = 0; t < n; t += 1) {
      for (let w = 0; w < n; w += 1) {
        const c = fp.counts[t][w];
        if (!c) continue;
        const a = 0.15 + 0.85 * Math.sqrt(c / max);
        const rect = s("rect", { x: pad + w * cell, y: (n - 1 - t) * cell + 4, width: cell - 1,
                                 height: cell - 1, fill: `rgba(31,111,235,${a.toFixed(3)})` });
        rect.append(s("title", {}, `partisipasi ${t * 5}-${t * 5 + 5}%, pemenang ${w * 5}-${w * 5 + 5}%: ${c} TPS`));
        svg.append(rect);
      }
    }
    svg.append(s("rect", { x: pad, y: 4, width: size, height: size, fill: "none", stroke: "#8c959f" }));
    for (const v of [0, 50, 100]) {
      svg.append(s("text", { x: pad + (v / 100) * size, y: size + 18, "font-size": 10, "text-anchor": "middle" }, `${v}%`));
      svg.append(s("text", { x: pad - 4, y: 4 + size - (v / 100) * size + 3, "font-size": 10, "text-anchor": "end" }, `${v}%`));
    }
    svg.append(s("text", { x: pad + size / 2, y: size + 32, "font-size": 10, "text-anchor": "middle" },
                 `perolehan nomor ${fp.winner ? fp.winner.slice(1) : "-"} (pemenang wilayah)`));
    svg.append(s("text", { x: 10, y: 4 + size / 2, "font-size": 10, "text-anchor": "middle",
                           transform: `rotate(-90 10 ${4 + size / 2})` }, "partisipasi"));
    return svg;
  }

  function digitBars(d) {
    const w = 22, hgt = 110, pad = 20;
    const max = Math.max(1, ...d.digits);
    const svg = s("svg", { viewBox: `0 0 ${10 * w + pad} ${hgt + 36}`, width: 10 * w + pad,
                           role: "img", "aria-label": "Sebaran angka terakhir", id: "forensics-digits" });
    const expected = d.n / 10;
    d.digits.forEach((c, i) => {
      const bh = (c / max) * hgt;
      const bar = s("rect", { x: pad + i * w, y: 4 + hgt - bh, width: w - 3, height: bh, fill: "#57606a" });
      bar.append(s("title", {}, `angka ${i}: ${c}`));
      svg.append(bar);
      svg.append(s("text", { x: pad + i * w + (w - 3) / 2, y: hgt + 18, "font-size": 10, "text-anchor": "middle" }, i));
    });
    if (d.n) {
      const y = 4 + hgt - (expected / max) * hgt;
      svg.append(s("line", { x1: pad, x2: pad + 10 * w, y1: y, y2: y, stroke: "#d1242f", "stroke-dasharray": "4 3" }));
    }
    return svg;
  }

  const homeAreas = {};

  async function refresh(p, getJSON) {
    const card = $("forensics-card");
    if (!card || !p.election || !p.contest) return;
    const e = encodeURIComponent;
    // Before the first navigation the page shows the election's home area (the kabupaten).
    if (!p.area && !homeAreas[p.election]) {
      const meta = await getJSON(`/v1/elections/${e(p.election)}`);
      if (meta) homeAreas[p.election] = meta.home_area;
    }
    const area = p.area || homeAreas[p.election];
    if (!area) return;
    const data = await getJSON(`/v1/forensics/${e(p.election)}/${e(p.contest)}/${e(area)}`);
    if (!data) return;
    $("forensics-advisory").textContent = data.advisory;
    $("forensics-fingerprint").replaceChildren(heatmap(data.fingerprint),
      Object.assign(document.createElement("p"), { className: "muted small",
        textContent: `${nf.format(data.fingerprint.tps)} TPS; isian curang menumpuk ke kanan atas.` }));
    const d = data.last_digits;
    $("forensics-lastdigit").replaceChildren(digitBars(d),
      Object.assign(document.createElement("p"), { className: "muted small", id: "forensics-pvalue",
        textContent: `${nf.format(d.n)} angka ≥ 10; chi-kuadrat ${d.chi2}, p = ${Number(d.p_value).toPrecision(3)} (garis merah: sebaran rata).` }));
  }

  window.DeskPemiluForensics = { refresh };
})();
