// Desk Pemilu dashboard: plain JavaScript, no build step, no external files.
// Data comes from the /v1 read API (Bearer token); live updates from /v1/events (SSE).
"use strict";

(() => {
  const TOKEN_KEY = "deskpemilu.token";
  const COLORS = ["#1f6feb", "#d1242f", "#1a7f37", "#bf8700", "#8250df", "#0a7ea4",
                  "#cf222e", "#57606a", "#953800", "#116329", "#6639ba", "#0969da"];
  const nf = new Intl.NumberFormat("id-ID");
  const pf = new Intl.NumberFormat("id-ID", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
  const tf = new Intl.DateTimeFormat("id-ID", {
    day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", second: "2-digit",
    timeZone: "Asia/Jakarta",
  });
  const STATUS = {
    ok: ["Tercatat", "ok"],
    disputed: ["Sengketa", "bad"],
    verified: ["Terverifikasi", "good"],
    accepted: ["Diterima", "ok"],
    revision: ["Revisi", "ok"],
    conflict: ["Konflik", "bad"],
    duplicate: ["Duplikat", "muted"],
    superseded: ["Diganti", "muted"],
    rejected: ["Ditolak", "bad"],
    received: ["Diterima intake", "muted"],
  };
  const DECISIONS = {
    new: "hasil baru", revision: "revisi", conflict: "konflik", duplicate: "duplikat",
    review: "keputusan peninjau",
  };
  const CHANNELS = { api: "aplikasi", batch: "aplikasi (batch)", upload: "unggah berkas",
                     whatsapp: "WhatsApp", sms: "SMS" };
  const ANOMALIES = {
    SUBMISSION_CONFLICT: "Dua versi berbeda untuk TPS yang sama",
    BALLOTS_RESERVE: "Surat suara diterima tidak sesuai DPT + cadangan",
  };

  const S = {
    token: null, me: null, elections: [], opening: null, election: null, contest: null,
    view: "results", area: null, tps: null, es: null,
    refreshing: false, again: false, lastTotals: {},
  };

  const $ = (id) => document.getElementById(id);

  const h = window.DeskDom.h; // static/dom.js

  const fmt = (n) => nf.format(n || 0);
  const pct = (x) => pf.format(x || 0) + "%";
  const when = (iso) => (iso ? tf.format(new Date(iso)) : "-");
  const pad2 = (n) => String(n).padStart(2, "0");

  function levelName(area) {
    if (!area) return "";
    switch (area.level) {
      case "provinsi": return "Provinsi";
      case "kabko": return area.kind === "kota" ? "Kota" : "Kabupaten";
      case "kecamatan": return "Kecamatan";
      case "desa": return area.kind === "kelurahan" ? "Kelurahan" : "Desa";
      default: return "";
    }
  }
  const areaLabel = (a) => `${levelName(a)} ${a.name}`.trim();

  function badge(status) {
    const [text, tone] = STATUS[status] || ["Belum masuk", "muted"];
    return h("span", { class: `badge ${tone}`, text });
  }

  function message(text, tone) {
    const el = $("message");
    el.textContent = text || "";
    el.className = "message" + (tone ? " " + tone : "");
  }

  // --- token ---------------------------------------------------------------------------------

  function takeTokenFromUrl() {
    const url = new URL(window.location.href);
    const token = url.searchParams.get("token");
    if (token) {
      localStorage.setItem(TOKEN_KEY, token);
      url.searchParams.delete("token");
      // The token must not stay in the address bar, the history or a shared screenshot.
      history.replaceState(null, "", url.pathname + url.search + url.hash);
    }
  }

  function askToken(reason) {
    $("token-error").textContent = reason || "";
    const dialog = $("token-dialog");
    if (!dialog.open) dialog.showModal();
  }

  class HttpError extends Error {
    constructor(status, body) {
      super((body && body.pesan) || `HTTP ${status}`);
      this.status = status;
      this.body = body || {};
    }
  }

  async function api(path, options) {
    const opts = options || {};
    const res = await fetch(path, {
      cache: "no-cache", // revalidate with If-None-Match: unchanged data costs a 304
      ...opts,
      headers: { Authorization: `Bearer ${S.token}`, ...(opts.headers || {}) },
    });
    if (res.ok) return res;
    const body = await res.json().catch(() => ({}));
    if (res.status === 401) {
      localStorage.removeItem(TOKEN_KEY);
      S.token = null;
      if (S.es) S.es.close();
      setLive(false);
      askToken(body.pesan || "Token tidak berlaku.");
    }
    throw new HttpError(res.status, body);
  }
  const getJSON = async (path) => (await api(path)).json();

  // --- routing -------------------------------------------------------------------------------

  function electionMeta() {
    return S.elections.find((e) => e.id === S.election) || S.elections[0];
  }
  function contestMeta() {
    const e = electionMeta();
    return e && (e.contests.find((c) => c.contest === S.contest) || e.contests[0]);
  }
  const enc = encodeURIComponent;
  const resultsHash = (area) => `#/hasil/${enc(S.election)}/${enc(S.contest)}/${enc(area)}`;
  const tpsHash = (tps) => `#/tps/${enc(S.election)}/${enc(S.contest)}/${enc(tps)}`;
  const reviewHash = () => `#/tinjauan/${enc(S.election)}/${enc(S.contest)}`;

  function parseHash() {
    const parts = window.location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    const [view, election, contest, where] = parts;
    // Without an election in the link: the one the API says has the latest activity.
    const e = S.elections.find((x) => x.id === election)
      || S.elections.find((x) => x.id === S.opening) || S.elections[0];
    if (!e) return false;
    S.election = e.id;
    const c = e.contests.find((x) => x.contest === contest)
      || e.contests.find((x) => x.contest === "PPWP") || e.contests[0];
    S.contest = c ? c.contest : null;
    if (view === "tps" && where) {
      S.view = "tps"; S.tps = where;
    } else if (view === "tinjauan") {
      S.view = "review";
    } else {
      S.view = "results";
      S.area = where || e.home_area;
    }
    return true;
  }

  function fillPickers() {
    const pe = $("pick-election");
    pe.replaceChildren(...S.elections.map((e) =>
      h("option", { value: e.id, selected: e.id === S.election }, e.name)));
    const pc = $("pick-contest");
    const e = electionMeta();
    pc.replaceChildren(...(e ? e.contests : []).map((c) =>
      h("option", { value: c.contest, selected: c.contest === S.contest }, c.name)));
  }

  function showView() {
    for (const v of ["results", "tps", "review"]) $(`view-${v}`).hidden = S.view !== v;
    $("nav-results").classList.toggle("active", S.view !== "review");
    $("nav-review").classList.toggle("active", S.view === "review");
    $("nav-results").href = resultsHash((electionMeta() || {}).home_area || "");
    $("nav-review").href = reviewHash();
  }

  async function route(ev) {
    if (ev && ev.type === "hashchange") {
      window.scrollTo(0, 0);
      message("");
    }
    if (!parseHash()) {
      message("Belum ada pemilihan yang dimuat.", "warn");
      return;
    }
    fillPickers();
    showView();
    await refresh();
  }

  // --- refresh (also on every live 'changed' event) -------------------------------------------

  async function refresh() {
    if (S.refreshing) { S.again = true; return; }
    S.refreshing = true;
    try {
      do {
        S.again = false;
        if (S.view === "results") await loadResults();
        else if (S.view === "tps") await loadTps();
        else await loadReview();
      } while (S.again);
      if (!$("message").classList.contains("ok")) message("");
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 401)) {
        message(`Gagal memuat data: ${err.message}`, "bad");
      }
    } finally {
      S.refreshing = false;
    }
  }

  // --- results view ----------------------------------------------------------------------------

  function renderBreadcrumb(el, crumbs, lastIsLink) {
    el.replaceChildren(...crumbs.map((a, i) => {
      const last = i === crumbs.length - 1 && !lastIsLink;
      return last
        ? h("span", { "aria-current": "page" }, areaLabel(a))
        : h("a", { href: resultsHash(a.code) }, areaLabel(a));
    }));
  }

  function lineHeader(line, partyList) {
    const label = partyList ? line.short_name : pad2(line.nomor);
    return h("th", { class: "num", title: `${pad2(line.nomor)} ${line.name}`, scope: "col" }, label);
  }

  function renderTotals(result) {
    const key = `${result.election}/${result.contest}/${result.area.code}`;
    const before = S.lastTotals[key] || {};
    const now = {};
    const partyList = contestMeta() && contestMeta().party_list;
    const items = result.totals.map((t, i) => {
      now[t.key] = t.votes;
      const changed = before[t.key] !== undefined && before[t.key] !== t.votes;
      const color = COLORS[i % COLORS.length];
      return h("li", { class: changed ? "flash" : null, "data-testid": `total-${t.key}` },
        h("div", { class: "line-head" },
          h("span", { class: "swatch", style: `background:${color}` }),
          h("span", { class: "line-name" }, `${pad2(t.nomor)} ${partyList ? t.short_name : t.name}`)),
        h("div", { class: "bar" }, h("span", { style: `width:${Math.min(100, t.pct)}%;background:${color}` })),
        h("div", { class: "line-figures" },
          h("span", { class: "votes", "data-votes": t.votes }, fmt(t.votes)),
          h("span", { class: "pct" }, pct(t.pct))));
    });
    S.lastTotals[key] = now;
    $("totals").replaceChildren(...items);
  }

  function renderProgress(result) {
    const p = result.progress;
    $("tps-progress").textContent =
      `TPS masuk ${fmt(p.tps_reported)} / ${fmt(p.tps_total)} (${pct(p.tps_pct)})`;
    $("tps-progress").dataset.reported = p.tps_reported;
    $("tps-bar").style.width = `${Math.min(100, p.tps_pct)}%`;
    $("dpt-progress").textContent =
      `${fmt(p.dpt_reported)} / ${fmt(p.dpt_total)} (${pct(p.dpt_pct)})`;
    $("turnout").textContent = p.tps_reported ? pct(result.turnout_pct) : "-";
    $("sah").textContent = fmt(result.suara_sah);
    $("tidak-sah").textContent = fmt(result.suara_tidak_sah);
    $("updated").textContent = when(result.updated_at);
  }

  function renderChildren(result) {
    const contest = contestMeta();
    const partyList = contest && contest.party_list;
    const tpsLevel = result.child_level === "tps";
    const names = { kabko: "Kabupaten/Kota", kecamatan: "Kecamatan", desa: "Desa/Kelurahan",
                    tps: "TPS" };
    const per = { kabko: "kabupaten/kota", kecamatan: "kecamatan", desa: "desa/kelurahan",
                  tps: "TPS" };
    $("children-title").textContent = `Rincian per ${per[result.child_level] || "wilayah"}`;
    const head = h("tr", {},
      h("th", { scope: "col", class: "sticky" }, names[result.child_level] || "Wilayah"),
      result.lines.map((l) => lineHeader(l, partyList)),
      h("th", { class: "num", scope: "col" }, "Sah"),
      h("th", { class: "num", scope: "col" }, "Tidak sah"),
      h("th", { class: "num", scope: "col" }, tpsLevel ? "DPT" : "TPS masuk"),
      h("th", { class: "num", scope: "col" }, tpsLevel ? "Status" : "%"));
    $("children").tHead.replaceChildren(head);
    const rows = result.children.map((c) => {
      const reported = c.progress.tps_reported > 0;
      const best = Math.max(0, ...result.lines.map((l) => c.votes[l.key] || 0));
      const href = tpsLevel ? tpsHash(c.code) : resultsHash(c.code);
      return h("tr", { class: reported ? null : "quiet", "data-code": c.code },
        h("th", { scope: "row", class: "sticky" }, h("a", { href }, c.name)),
        result.lines.map((l) => {
          const v = c.votes[l.key] || 0;
          return h("td", { class: `num${v && v === best ? " lead" : ""}` }, reported ? fmt(v) : "-");
        }),
        h("td", { class: "num" }, reported ? fmt(c.suara_sah) : "-"),
        h("td", { class: "num" }, reported ? fmt(c.suara_tidak_sah) : "-"),
        tpsLevel
          ? h("td", { class: "num" }, fmt(c.progress.dpt_total))
          : h("td", { class: "num" }, `${fmt(c.progress.tps_reported)}/${fmt(c.progress.tps_total)}`),
        tpsLevel
          ? h("td", { class: "num" }, c.status ? badge(c.status) : badge(null))
          : h("td", { class: "num" }, pct(c.progress.tps_pct)));
    });
    $("children").tBodies[0].replaceChildren(...rows);
    const level = $("export-level");
    for (const opt of level.options) {
      const depth = { kecamatan: 3, desa: 4, tps: 5 }[opt.value];
      const here = { provinsi: 1, kabko: 2, kecamatan: 3, desa: 4 }[result.area.level] || 0;
      opt.disabled = depth <= here;
    }
    if (level.selectedOptions[0] && level.selectedOptions[0].disabled) level.value = "tps";
  }

  function renderQueue(conflicts, anomalies, listConflicts, listAnomalies) {
    if (listConflicts === $("conflicts")) {
      $("conflict-count").textContent = fmt(conflicts.length);
      $("anomaly-count").textContent = fmt(anomalies.length);
    }
    listConflicts.replaceChildren(...(conflicts.length ? conflicts.map((c) =>
      h("li", {}, h("a", { href: tpsHash(c.tps) }, `TPS ${c.tps}`), " ",
        h("span", { class: "muted" }, `${c.desa || ""}, Kec. ${c.kecamatan || ""} · ${c.rivals.length + 1} versi`)))
      : [h("li", { class: "muted" }, "Tidak ada konflik.")]));
    listAnomalies.replaceChildren(...(anomalies.length ? anomalies.map((a) =>
      h("li", {}, h("span", { class: `badge ${a.severity === "error" ? "bad" : "warn"}` }, a.severity === "error" ? "galat" : "peringatan"), " ",
        h("a", { href: tpsHash(a.tps) }, `TPS ${a.tps}`), " ",
        h("span", {}, ANOMALIES[a.code] || a.code), " ",
        h("span", { class: "muted" }, `${a.desa || ""} · ${when(a.created_at)}`)))
      : [h("li", { class: "muted" }, "Tidak ada anomali terbuka.")]));
  }

  async function loadResults() {
    const base = `${enc(S.election)}/${enc(S.contest)}`;
    const [result, conflicts, anomalies] = await Promise.all([
      getJSON(`/v1/results/${base}/${enc(S.area)}`),
      getJSON(`/v1/conflicts/${enc(S.election)}?contest=${enc(S.contest)}&area=${enc(S.area)}&limit=50`),
      getJSON(`/v1/anomalies/${enc(S.election)}?contest=${enc(S.contest)}&area=${enc(S.area)}&limit=50`),
    ]);
    renderBreadcrumb($("breadcrumb"), result.breadcrumb, false);
    $("area-title").textContent = areaLabel(result.area);
    $("contest-title").textContent = `${result.contest_name} · ${electionMeta().name}`;
    document.title = `${areaLabel(result.area)} - Desk Pemilu`;
    renderTotals(result);
    renderProgress(result);
    renderChildren(result);
    renderQueue(conflicts.conflicts, anomalies.anomalies, $("conflicts"), $("anomalies"));
    // The quick-count panel (quickcount.js) follows the same area and contest.
    document.dispatchEvent(new CustomEvent("deskpemilu:results", {
      detail: { token: S.token, election: S.election, contest: S.contest, area: S.area },
    }));
  }

  // --- TPS view ------------------------------------------------------------------------------

  function mayReview(tps) {
    const me = S.me;
    if (!me || !me.can_review) return false;
    if (me.role === "admin") return true;
    return me.scope.some((s) => tps === s || tps.startsWith(s + "."));
  }

  function idempotencyKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
  }

  async function decide(tps, action, submissionId, note) {
    const path = `/v1/review/${enc(S.election)}/${enc(S.contest)}/${enc(tps)}/${action}`;
    const body = action === "accept" ? { submission_id: submissionId, note } : { note };
    try {
      const res = await api(path, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": idempotencyKey() },
        body: JSON.stringify(body),
      });
      const out = await res.json();
      message(out.pesan, "ok");
    } catch (err) {
      if (err instanceof HttpError && err.status === 503) {
        message("Kafka sedang tidak tersedia; keputusan belum tersimpan. Coba lagi sebentar lagi.", "bad");
      } else if (err instanceof HttpError && err.status !== 401) {
        message(err.body.pesan || err.message, "bad");
      }
    }
  }

  function votesCells(lines, votes) {
    return lines.map((l) => h("td", { class: "num" }, votes ? fmt(votes[l.key]) : "-"));
  }

  async function loadTps() {
    const d = await getJSON(`/v1/tps/${enc(S.election)}/${enc(S.contest)}/${enc(S.tps)}`);
    const desa = d.breadcrumb[d.breadcrumb.length - 1];
    const kec = d.breadcrumb.find((a) => a.level === "kecamatan");
    renderBreadcrumb($("tps-breadcrumb"), d.breadcrumb, true);
    $("tps-title").textContent = `TPS ${String(d.number).padStart(3, "0")} · ${areaLabel(desa)}`;
    $("tps-sub").textContent =
      `${d.tps} · ${kec ? areaLabel(kec) : ""} · DPT ${fmt(d.dpt)}${d.special ? " · TPS lokasi khusus" : ""} · ${d.contest_name}` +
      (d.in_sample ? " · TPS sampel hitung cepat" : "");
    const partyList = contestMeta() && contestMeta().party_list;
    const r = d.result;
    $("tps-result").replaceChildren(r
      ? h("div", {},
        h("p", {}, badge(r.status), " ",
          h("span", { class: "muted" }, `versi ${r.version} · ${r.operator_name || r.operator_id} via ${CHANNELS[r.channel] || r.channel} · ${when(r.received_at)}`)),
        h("table", { class: "data compact" },
          h("thead", {}, h("tr", {}, d.lines.map((l) => lineHeader(l, partyList)),
            h("th", { class: "num" }, "Sah"), h("th", { class: "num" }, "Tidak sah"))),
          h("tbody", {}, h("tr", { "data-testid": "tps-counted" }, votesCells(d.lines, r.votes),
            h("td", { class: "num" }, fmt(r.suara_sah)), h("td", { class: "num" }, fmt(r.suara_tidak_sah))))))
      : h("p", {}, badge(null), " Belum ada hasil dari TPS ini."));

    const reviewer = mayReview(d.tps);
    $("tps-actions").hidden = !(reviewer && r);
    $("btn-verify").onclick = () => decide(d.tps, "verify", null, $("tps-note").value);

    $("tps-submissions").tHead.replaceChildren(h("tr", {},
      h("th", {}, "Diterima"), h("th", {}, "Pengirim"), h("th", {}, "Saluran"), h("th", {}, "Status"),
      d.lines.map((l) => lineHeader(l, partyList)), h("th", { class: "num" }, "Sah"),
      reviewer ? h("th", {}, "Aksi") : null));
    $("tps-submissions").tBodies[0].replaceChildren(...(d.submissions.length ? d.submissions.map((s) =>
      h("tr", { class: s.counted ? "counted" : null },
        h("td", {}, when(s.received_at)),
        h("td", {}, s.operator_name || s.operator_id),
        h("td", {}, CHANNELS[s.channel] || s.channel),
        h("td", {}, badge(s.status), s.counted ? h("span", { class: "badge good" }, "dihitung") : null),
        votesCells(d.lines, s.votes),
        h("td", { class: "num" }, s.suara_sah === null ? "-" : fmt(s.suara_sah)),
        reviewer ? h("td", {}, s.counted || s.status === "rejected" ? "" :
          h("button", { type: "button", onclick: () => decide(d.tps, "accept", s.submission_id, $("tps-note").value) },
            "Terima versi ini")) : null))
      : [h("tr", {}, h("td", { colspan: 5 + d.lines.length, class: "muted" }, "Belum ada kiriman."))]));

    const steps = [
      // A review shows once, from its decision (with action, role and note).
      ...d.versions.filter((v) => v.decision !== "review").map((v) => ({ at: v.at, text: `${DECISIONS[v.decision] || v.decision}${v.version ? ` (versi ${v.version})` : ""} · ${v.operator_name || v.operator_id}${v.channel ? ` via ${CHANNELS[v.channel] || v.channel}` : ""}${v.note ? ` · “${v.note}”` : ""}` })),
      ...d.decisions.map((x) => ({ at: x.decided_at, text: `${x.action === "verify" ? "diverifikasi" : "versi diterima"} oleh ${x.reviewer_name || x.reviewer_id} (${x.reviewer_role})${x.note ? ` · “${x.note}”` : ""}` })),
    ].sort((a, b) => (a.at < b.at ? -1 : 1));
    $("tps-history").replaceChildren(...(steps.length
      ? steps.map((s) => h("li", {}, h("time", {}, when(s.at)), " ", s.text))
      : [h("li", { class: "muted" }, "Belum ada riwayat.")]));
    $("tps-anomalies").replaceChildren(...(d.anomalies.length ? d.anomalies.map((a) =>
      h("li", {}, h("span", { class: `badge ${a.severity === "error" ? "bad" : "warn"}` }, a.code), " ",
        ANOMALIES[a.code] || "", " ", h("span", { class: "muted" }, `${when(a.created_at)}${a.resolved_at ? " · selesai" : ""}`)))
      : [h("li", { class: "muted" }, "Tidak ada anomali.")]));
    document.title = `TPS ${d.tps} - Desk Pemilu`;
  }

  // --- review view ---------------------------------------------------------------------------

  async function loadReview() {
    const e = enc(S.election), c = enc(S.contest);
    const [conflicts, anomalies] = await Promise.all([
      getJSON(`/v1/conflicts/${e}?contest=${c}&limit=200`),
      getJSON(`/v1/anomalies/${e}?contest=${c}&limit=200`),
    ]);
    const lines = (contestMeta() || { lines: [] }).lines;
    const partyList = contestMeta() && contestMeta().party_list;
    $("review-conflicts").replaceChildren(...(conflicts.conflicts.length ? conflicts.conflicts.map((x) => {
      const allowed = mayReview(x.tps);
      const note = h("input", { type: "text", maxlength: 1000, placeholder: "Catatan keputusan", "aria-label": "Catatan" });
      const versions = [
        { submission_id: x.submission_id, operator_id: x.operator_id, channel: x.channel, received_at: x.received_at, votes: x.votes, suara_sah: x.suara_sah, counted: true },
        ...x.rivals,
      ];
      return h("li", { class: "card inner" },
        h("p", {}, h("a", { href: tpsHash(x.tps) }, `TPS ${x.tps}`), " ",
          h("span", { class: "muted" }, `${x.desa || ""}, Kec. ${x.kecamatan || ""}`)),
        h("div", { class: "table-wrap" }, h("table", { class: "data compact" },
          h("thead", {}, h("tr", {}, h("th", {}, "Versi"), lines.map((l) => lineHeader(l, partyList)),
            h("th", { class: "num" }, "Sah"), allowed ? h("th", {}, "") : null)),
          h("tbody", {}, versions.map((v) => h("tr", { class: v.counted ? "counted" : null },
            h("td", {}, `${v.operator_id} · ${CHANNELS[v.channel] || v.channel} · ${when(v.received_at)}`, v.counted ? h("span", { class: "badge good" }, "dihitung") : null),
            votesCells(lines, v.votes),
            h("td", { class: "num" }, v.suara_sah === null || v.suara_sah === undefined ? "-" : fmt(v.suara_sah)),
            allowed ? h("td", {}, h("button", { type: "button", class: v.counted ? null : "primary",
              onclick: () => decide(x.tps, "accept", v.submission_id, note.value) },
            v.counted ? "Pertahankan" : "Terima versi ini")) : null))))),
        allowed ? h("label", { class: "note" }, "Catatan ", note)
          : h("p", { class: "muted small" }, "Hanya camat wilayah ini atau admin yang dapat memutuskan."));
    }) : [h("li", { class: "muted" }, "Tidak ada TPS bersengketa.")]));
    renderQueue([], anomalies.anomalies, document.createElement("ul"), $("review-anomalies"));
  }

  // --- exports and print -----------------------------------------------------------------------

  async function download(kind) {
    const level = $("export-level").value;
    const path = `/v1/exports/${enc(S.election)}/${enc(S.contest)}.${kind}?level=${enc(level)}&area=${enc(S.area)}`;
    try {
      const res = await api(path);
      const blob = await res.blob();
      const match = /filename="([^"]+)"/.exec(res.headers.get("Content-Disposition") || "");
      const a = h("a", { href: URL.createObjectURL(blob), download: match ? match[1] : `rekap.${kind}` });
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(a.href), 10000);
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 401)) message(`Gagal mengunduh: ${err.message}`, "bad");
    }
  }

  // --- live updates ------------------------------------------------------------------------------

  function setLive(on) {
    const el = $("live");
    el.textContent = on ? "Langsung" : "Terputus";
    el.classList.toggle("on", on);
    el.classList.toggle("off", !on);
  }

  function relevant(data) {
    const changes = data.changes || [];
    if (!changes.length) return true; // the server did not say where: assume here
    return changes.some((c) => c.election === S.election && (!c.contest || c.contest === S.contest));
  }

  function connectLive() {
    if (S.es) S.es.close();
    // EventSource cannot send headers: the SSE route (only it) takes the token as ?token=.
    const es = new EventSource(`/v1/events?token=${enc(S.token)}`);
    S.es = es;
    let dropped = false;
    es.addEventListener("hello", () => {
      setLive(true);
      if (dropped) refresh(); // changes may have happened while we were away
      dropped = false;
    });
    es.addEventListener("changed", (ev) => {
      if (relevant(JSON.parse(ev.data))) refresh();
    });
    es.addEventListener("expired", (ev) => {
      es.close();
      setLive(false);
      const revoked = JSON.parse(ev.data).code === "TOKEN_REVOKED";
      localStorage.removeItem(TOKEN_KEY);
      askToken(revoked ? "Token sudah dicabut." : "Token sudah kedaluwarsa.");
    });
    es.onerror = () => {
      setLive(false);
      dropped = true;
      if (es.readyState === EventSource.CLOSED) {
        // Refused (e.g. token revoked): let a normal request find out why, then retry later.
        getJSON("/v1/whoami").then(() => setTimeout(connectLive, 5000)).catch(() => {});
      }
    };
  }

  // --- start -----------------------------------------------------------------------------------

  async function start() {
    S.token = localStorage.getItem(TOKEN_KEY);
    if (!S.token) { askToken(""); return; }
    try {
      S.me = await getJSON("/v1/whoami");
      $("who").textContent = `${S.me.name || S.me.id} (${S.me.role})`;
      const listed = await getJSON("/v1/elections");
      S.elections = listed.elections;
      S.opening = listed.opening;
    } catch (err) {
      if (!(err instanceof HttpError && err.status === 401)) message(`Gagal memuat: ${err.message}`, "bad");
      return;
    }
    connectLive();
    await route();
  }

  function bind() {
    window.addEventListener("hashchange", route);
    $("pick-election").addEventListener("change", (ev) => {
      const e = S.elections.find((x) => x.id === ev.target.value);
      S.election = e.id;
      S.contest = (e.contests.find((c) => c.contest === "PPWP") || e.contests[0]).contest;
      window.location.hash = resultsHash(e.home_area);
    });
    $("pick-contest").addEventListener("change", (ev) => {
      S.contest = ev.target.value;
      if (S.view === "tps") window.location.hash = tpsHash(S.tps);
      else if (S.view === "review") window.location.hash = reviewHash();
      else window.location.hash = resultsHash(S.area);
    });
    $("token-form").addEventListener("submit", (ev) => {
      const token = $("token-input").value.trim();
      if (!token) { ev.preventDefault(); return; }
      localStorage.setItem(TOKEN_KEY, token);
      $("token-input").value = "";
      start();
    });
    $("btn-token").addEventListener("click", () => askToken(""));
    for (const b of document.querySelectorAll("[data-export]")) {
      b.addEventListener("click", () => download(b.dataset.export));
    }
    $("btn-print").addEventListener("click", () => window.print());
  }

  takeTokenFromUrl();
  bind();
  start();
})();
