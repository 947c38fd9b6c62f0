// "Selisih dengan KPU": the desk's count against KPU's published one, per kecamatan, desa, TPS.
// Its own hash route #/kpu/<election>/<contest>/<area>; on a TPS page (#/tps/...) it adds KPU's
// numbers beside the desk's. Same token as the dashboard (localStorage), same /v1 read API.
"use strict";

(() => {
  const TOKEN_KEY = "deskpemilu.token";
  const nf = new Intl.NumberFormat("id-ID");
  const fmt = (n) => (n === null || n === undefined ? "-" : nf.format(n));
  const signed = (n) => (n > 0 ? "+" : "") + nf.format(n || 0);
  const enc = encodeURIComponent;
  const $ = (id) => document.getElementById(id);
  const STATUS = {
    matching: ["sama", "good"], differing: ["berbeda", "bad"],
    missing_at_kpu: ["belum di KPU", "warn"], missing_at_desk: ["belum di desk", "warn"],
    not_in_roster: ["tidak di roster", "bad"], neither: ["belum ada", "muted"],
  };

  const h = window.DeskDom.h; // static/dom.js
  const badge = (status) => {
    const [text, tone] = STATUS[status] || [status, "muted"];
    return h("span", { class: `badge ${tone}`, "data-status": status }, text);
  };

  async function getJSON(path) {
    const res = await fetch(path, { headers: { Authorization: `Bearer ${localStorage.getItem(TOKEN_KEY)}` } });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error(body.pesan || `HTTP ${res.status}`);
    }
    return res;
  }

  function parse() {
    const parts = window.location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    return { view: parts[0], election: parts[1], contest: parts[2], where: parts[3] };
  }
  const kpuHash = (e, c, area) => `#/kpu/${enc(e)}/${enc(c)}/${enc(area)}`;
  const tolerance = () => Math.max(0, Number($("kpu-tolerance").value) || 0);
  const query = (area) => `area=${enc(area)}&tolerance_votes=${tolerance()}`;

  function showOnly() {
    for (const v of ["results", "tps", "review"]) $(`view-${v}`).hidden = true;
    $("view-kpu").hidden = false;
    $("nav-results").classList.remove("active");
    $("nav-review").classList.remove("active");
    $("nav-kpu").classList.add("active");
  }

  function linkNav() {
    const r = parse();
    const election = r.election || ($("pick-election") && $("pick-election").value);
    const contest = r.contest || ($("pick-contest") && $("pick-contest").value);
    if (!election || !contest) return;
    const area = r.view === "kpu" && r.where ? r.where : "";
    $("nav-kpu").href = kpuHash(election, contest, area);
    if (r.view !== "kpu") $("nav-kpu").classList.remove("active");
  }

  function areaRow(a, lines, href) {
    return h("tr", { "data-code": a.code, "data-testid": `kpu-area-${a.code}` },
      h("th", { scope: "row", class: "sticky" }, href ? h("a", { href }, a.name || a.code) : (a.name || "JUMLAH")),
      h("td", { class: "num", "data-k": "tps_total" }, fmt(a.tps_total)),
      h("td", { class: "num", "data-k": "compared" }, fmt(a.compared)),
      h("td", { class: "num", "data-k": "matching" }, fmt(a.matching)),
      h("td", { class: `num${a.differing ? " lead" : ""}`, "data-k": "differing" }, fmt(a.differing)),
      h("td", { class: "num", "data-k": "missing_at_kpu" }, fmt(a.missing_at_kpu)),
      h("td", { class: "num", "data-k": "missing_at_desk" }, fmt(a.missing_at_desk)),
      h("td", { class: "num", "data-k": "kpu_inconsistent" }, fmt(a.kpu_inconsistent)),
      lines.map((l) => h("td", { class: "num", "data-line": l.key }, signed(a.net[l.key] || 0))));
  }

  function renderAreas(s) {
    const head = h("tr", {},
      h("th", { scope: "col", class: "sticky" }, { kecamatan: "Kecamatan", desa: "Desa/Kelurahan", kabko: "Kabupaten/Kota" }[s.child_level] || "Wilayah"),
      ["TPS", "Dibandingkan", "Sama", "Berbeda", "Belum di KPU", "Belum di desk", "KPU tidak konsisten"]
        .map((t) => h("th", { class: "num", scope: "col" }, t)),
      s.lines.map((l) => h("th", { class: "num", scope: "col", title: `KPU - desk, ${l.label}` }, `Selisih ${l.label.slice(0, 2)}`)));
    $("kpu-areas").tHead.replaceChildren(head);
    const rows = s.children.map((c) => areaRow(c, s.lines, kpuHash(s.election, s.contest, c.code)));
    rows.push(areaRow({ ...s.total, name: "JUMLAH" }, s.lines, null));
    $("kpu-areas").tBodies[0].replaceChildren(...rows);
    $("kpu-facts").replaceChildren(
      h("dt", {}, "TPS dibandingkan"), h("dd", { id: "kpu-compared" }, `${fmt(s.total.compared)} dari ${fmt(s.total.tps_total)}`),
      h("dt", {}, "Sama / berbeda"), h("dd", {}, `${fmt(s.total.matching)} / ${fmt(s.total.differing)}`),
      h("dt", {}, "Belum di KPU / belum di desk"), h("dd", {}, `${fmt(s.total.missing_at_kpu)} / ${fmt(s.total.missing_at_desk)}`));
  }

  // For KPU's own arithmetic the first number is the reference (DPT, or what KPU's figures sum to).
  const REFERENCE = { KPU_ABOVE_DPT: "DPT", KPU_LINES_NOT_SAH: "sah KPU", KPU_TOTAL_MISMATCH: "sah + tidak sah KPU" };
  function findings(t) {
    return t.differences.map((d) => {
      const ours = REFERENCE[d.kind] || "desk";
      if (d.desk === null && d.kpu === null) return d.label;
      return `${d.label}${d.line ? " " + d.line : ""}: ${ours} ${fmt(d.desk)}, KPU ${fmt(d.kpu)}`;
    }).join("; ");
  }

  function renderTps(list, election, contest) {
    $("kpu-tps").tHead.replaceChildren(h("tr", {},
      h("th", { scope: "col" }, "TPS"), h("th", { scope: "col" }, "Desa/Kelurahan"), h("th", { scope: "col" }, "Status"),
      list.lines.map((l) => h("th", { class: "num", scope: "col", title: l.label }, `${l.label.slice(0, 2)} desk / KPU`)),
      h("th", { scope: "col" }, "Temuan")));
    const rows = list.tps.map((t) => h("tr", { "data-tps": t.tps },
      h("td", {}, h("a", { href: `#/tps/${enc(election)}/${enc(contest)}/${enc(t.tps)}` }, t.tps)),
      h("td", {}, t.desa),
      h("td", {}, badge(t.status)),
      list.lines.map((l) => h("td", { class: "num" },
        `${fmt(t.desk ? t.desk.votes[l.key] : null)} / ${fmt(t.kpu ? t.kpu.votes[l.key] : null)}`)),
      h("td", { class: "small" }, findings(t), t.kpu && t.kpu.psu ? " · PSU" : "")));
    $("kpu-tps").tBodies[0].replaceChildren(...(rows.length ? rows
      : [h("tr", {}, h("td", { colspan: 4 + list.lines.length, class: "muted" }, "Tidak ada temuan."))]));
    $("kpu-tps-title").textContent = `TPS dengan temuan (${fmt(list.tps.length)})`;
  }

  async function loadKpu(r) {
    showOnly();
    const area = r.where || "";
    const summary = await (await getJSON(`/v1/kpu/${enc(r.election)}/${enc(r.contest)}/summary?${area ? query(area) : `tolerance_votes=${tolerance()}`}`)).json();
    $("kpu-title").textContent = `Selisih dengan KPU · ${summary.area_name}`;
    $("kpu-breadcrumb").replaceChildren(...summary.breadcrumb.map((a, i) =>
      i === summary.breadcrumb.length - 1
        ? h("span", { "aria-current": "page" }, a.name)
        : h("a", { href: kpuHash(r.election, r.contest, a.code) }, a.name)));
    renderAreas(summary);
    const list = await (await getJSON(`/v1/kpu/${enc(r.election)}/${enc(r.contest)}/tps?${query(summary.area)}`)).json();
    renderTps(list, r.election, r.contest);
    const recap = await (await getJSON(`/v1/kpu/${enc(r.election)}/${enc(r.contest)}/recap?${query(summary.area)}`)).json();
    $("kpu-recap").hidden = recap.desa.length === 0;
    $("kpu-recap-list").replaceChildren(...recap.desa.map((d) => h("li", { "data-desa": d.code },
      h("strong", {}, d.name), ` · TPS desk ${fmt(d.desk_tps)}/${fmt(d.tps_total)} `,
      d.differences.length ? badge("differing") : badge("matching"), " ",
      h("span", { class: "small" }, d.differences.map((x) =>
        `${x.line || x.label}: desk ${fmt(x.desk)}, KPU ${fmt(x.kpu)}`).join("; ")))));
    $("view-kpu").dataset.loaded = summary.area;
    document.title = `Selisih dengan KPU - ${summary.area_name}`;
  }

  function sideBySide(d) {
    const c = d.comparison;
    const row = (label, desk, kpu, key) => {
      const cls = desk !== kpu ? "num lead" : "num";
      return h("tr", { "data-row": key },
        h("th", { scope: "row" }, label), h("td", { class: cls, "data-side": "desk" }, fmt(desk)),
        h("td", { class: cls, "data-side": "kpu" }, fmt(kpu)),
        h("td", { class: "num" }, desk === null || kpu === null ? "-" : signed(kpu - desk)));
    };
    const desk = c.desk || { votes: {} };
    const kpu = c.kpu || { votes: {} };
    return h("div", {},
      h("p", {}, badge(c.status), " ", h("span", { class: "muted" },
        c.kpu ? `KPU: ${c.kpu.state === "published" ? "terverifikasi" : "belum terverifikasi"}${c.kpu.psu ? " · PSU" : ""}${c.kpu.kpu_ts ? ` · ${new Date(c.kpu.kpu_ts).toLocaleString("id-ID", { timeZone: "Asia/Jakarta" })}` : ""}` : "KPU belum menerbitkan TPS ini")),
      h("table", { class: "data compact", "data-testid": "kpu-side-by-side" },
        h("thead", {}, h("tr", {}, h("th", {}, ""), h("th", { class: "num" }, "Desk"), h("th", { class: "num" }, "KPU"), h("th", { class: "num" }, "Selisih"))),
        h("tbody", {},
          d.lines.map((l) => row(l.label, desk.votes[l.key] ?? null, kpu.votes[l.key] ?? null, l.key)),
          row("Suara sah", desk.suara_sah ?? null, kpu.suara_sah ?? null, "sah"),
          row("Suara tidak sah", desk.suara_tidak_sah ?? null, kpu.suara_tidak_sah ?? null, "tidak_sah"),
          row("Pengguna hak pilih", desk.pengguna ?? null, kpu.pengguna ?? null, "pengguna"))),
      c.differences.length ? h("ul", { class: "list" }, c.differences.map((x) => h("li", {}, h("span", { class: "badge bad" }, x.kind), " ", x.label)))
        : null,
      d.history.length > 1 ? h("p", { class: "muted small" }, `KPU mengubah angka TPS ini ${d.history.length - 1} kali.`) : null);
  }

  async function loadTpsSide(r) {
    const card = $("tps-kpu");
    try {
      const d = await (await getJSON(`/v1/kpu/${enc(r.election)}/${enc(r.contest)}/tps/${enc(r.where)}`)).json();
      $("tps-kpu-body").replaceChildren(sideBySide(d));
      card.hidden = false;
    } catch (err) {
      card.hidden = true;
    }
  }

  async function route() {
    linkNav();
    const r = parse();
    $("view-kpu").hidden = r.view !== "kpu";
    if (r.view !== "tps") $("tps-kpu").hidden = true;
    try {
      if (r.view === "kpu" && r.election && r.contest) await loadKpu(r);
      else if (r.view === "tps" && r.election && r.contest && r.where) await loadTpsSide(r);
    } catch (err) {
      const m = $("message");
      m.textContent = `Gagal memuat selisih KPU: ${err.message}`;
      m.className = "message bad";
    }
  }

  async function download(kind) {
    const r = parse();
    const level = $("kpu-export-level").value;
    const area = $("view-kpu").dataset.loaded || r.where || "";
    const res = await getJSON(`/v1/exports/kpu/${enc(r.election)}/${enc(r.contest)}.${kind}?level=${enc(level)}&${query(area)}`);
    const blob = await res.blob();
    const match = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
    const a = h("a", { href: URL.createObjectURL(blob), download: match ? match[1] : `selisih-kpu.${kind}` });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(a.href), 10000);
  }

  window.addEventListener("hashchange", route);
  document.addEventListener("DOMContentLoaded", () => {
    for (const b of document.querySelectorAll("[data-kpu-export]")) {
      b.addEventListener("click", () => download(b.dataset.kpuExport).catch((e) => {
        $("message").textContent = `Gagal mengunduh: ${e.message}`;
      }));
    }
    $("kpu-tolerance").addEventListener("change", route);
    for (const id of ["pick-election", "pick-contest"]) $(id).addEventListener("change", () => setTimeout(linkNav, 0));
    route();
    // The dashboard shows its own view once it has the token and elections: keep ours on top.
    new MutationObserver(() => {
      if (parse().view === "kpu" && !$("view-results").hidden) showOnly();
    }).observe($("view-results"), { attributes: true, attributeFilter: ["hidden"] });
    // The dashboard fills its pickers after it has the token: link the tab once they are there.
    new MutationObserver(linkNav).observe($("pick-contest"), { childList: true });
  });
})();
