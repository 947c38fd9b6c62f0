// Desk Pemilu operator app: the TPS work list, the C.Hasil form with the validator's checks as
// the operator types, and an outbox that sends each form exactly once whatever the signal.
// Reads: /app/v1/setup (roster slice + checks), /app/v1/status (states of the scope's TPS),
// GET /v1/submissions/{id} (one form's verdict). Writes: POST /v1/submissions (Idempotency-Key),
// then POST /v1/photos for the C.Hasil photo attached to the form (linked to its submission).
"use strict";

(function () {
  const TOKEN_KEY = "deskpemilu.app.token";
  const ELECTION_KEY = "deskpemilu.app.election";
  const $ = (id) => document.getElementById(id);
  const el = (tag, attrs = {}, ...children) => {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) node.append(c);
    return node;
  };
  const fmt = new Intl.NumberFormat("id-ID");

  const STATE_TEXT = {
    none: "Belum dikirim",
    draft: "Draf, belum dikirim",
    queued: "Antre, menunggu sinyal",
    sent: "Terkirim, menunggu hasil cek",
    accepted: "Diterima",
    rejected: "Ditolak",
    invalid: "Ditolak: isian tidak sah",
    conflict: "Konflik",
    superseded: "Diganti",
  };
  const PHOTO_TEXT = {
    queued: "antre, menunggu sinyal",
    sent: "terkirim",
    invalid: "ditolak",
  };
  const CONTEST_SHORT = {
    PPWP: "Presiden", DPR: "DPR RI", DPD: "DPD", DPRD_PROV: "DPRD Prov", DPRD_KABKO: "DPRD Kab",
    PILGUB: "Gubernur", PILBUP: "Bupati", PILWALKOT: "Wali kota",
  };
  const short = (c) => CONTEST_SHORT[c] || c;
  // submissions.status (what the aggregator recorded) -> the state shown
  const STATE_OF_STATUS = {
    accepted: "accepted", duplicate: "accepted", revision: "accepted",
    rejected: "rejected", conflict: "conflict", superseded: "superseded",
  };

  const S = {
    token: null,
    tokenProblem: null, // {pesan} once the server refused the token: sending pauses
    setup: null,
    election: null,
    status: {}, // election -> /app/v1/status body
    queue: [], // outbox records, newest last
    drafts: {},
    open: null, // {election, contest, tps, state, photo: File chosen for this form or null}
  };

  // --- token ---------------------------------------------------------------------------------

  function takeTokenFromUrl() {
    // The link is /app/#token=...: a fragment never reaches a server log; it leaves the address
    // bar, the history and any screenshot at once.
    const params = new URLSearchParams(location.hash.slice(1));
    const query = new URLSearchParams(location.search);
    const token = params.get("token") || query.get("token");
    if (token) {
      localStorage.setItem(TOKEN_KEY, token);
      history.replaceState(null, "", location.pathname);
    }
  }

  function tokenRefused(body) {
    S.tokenProblem = body || { pesan: "Token tidak berlaku." };
    render();
  }

  // --- network -------------------------------------------------------------------------------

  async function api(path, opts = {}) {
    const headers = { Authorization: `Bearer ${S.token}`, ...(opts.headers || {}) };
    const res = await fetch(path, { cache: "no-store", ...opts, headers });
    let body = null;
    try { body = await res.json(); } catch (_) { body = null; }
    return { status: res.status, body, retryAfter: Number(res.headers.get("Retry-After")) || null };
  }

  function setOnline() {
    const on = navigator.onLine;
    $("net").dataset.online = String(on);
    $("net").textContent = on ? "daring" : "luring";
  }

  // --- setup and states ----------------------------------------------------------------------

  async function loadSetup() {
    S.setup = (await DeskStore.get("kv", "setup")) || null;
    if (!navigator.onLine) return;
    try {
      // no-cache: the browser revalidates with the ETag, so an unchanged roster costs a 304.
      const r = await api("/app/v1/setup", { cache: "no-cache" });
      if (r.status === 200) {
        S.setup = r.body;
        await DeskStore.put("kv", r.body, "setup");
      } else if (r.status === 401) {
        tokenRefused(r.body);
      }
    } catch (_) { /* no signal: the cached setup serves */ }
  }

  async function loadStatus(election) {
    if (!S.status[election]) S.status[election] = (await DeskStore.get("kv", "status:" + election)) || null;
    if (!navigator.onLine || S.tokenProblem) return;
    try {
      const r = await api(`/app/v1/status?election=${encodeURIComponent(election)}`);
      if (r.status === 200) {
        S.status[election] = r.body;
        await DeskStore.put("kv", r.body, "status:" + election);
        await applyStatus(r.body);
      } else if (r.status === 401) {
        tokenRefused(r.body);
      }
    } catch (_) { /* offline */ }
  }

  // A verdict seen in the scope's states settles the outbox record without its own request.
  async function applyStatus(status) {
    const byId = new Map(status.latest.map((s) => [s.submission_id, s]));
    for (const item of S.queue) {
      const seen = item.state === "sent" && byId.get(item.submission_id);
      if (seen && STATE_OF_STATUS[seen.status]) {
        item.state = STATE_OF_STATUS[seen.status];
        item.violations = seen.violations;
        await DeskStore.put("queue", item);
      }
    }
  }

  const election = () => S.setup && S.setup.elections.find((e) => e.id === S.election);
  const contestOf = (e, code) => e.contests.find((c) => c.contest === code);
  const formId = (e, c, t) => `${e}|${c}|${t}`;

  function latestItem(e, c, t) {
    let found = null;
    for (const item of S.queue) {
      if (item.election === e && item.contest === c && item.tps === t) {
        if (!found || item.created_at > found.created_at) found = item;
      }
    }
    return found;
  }

  function serverLatest(e, c, t) {
    const status = S.status[e];
    return status ? status.latest.find((s) => s.contest === c && s.tps === t) : null;
  }

  // What the work list shows for one contest at one TPS.
  function stateOf(e, c, t) {
    const item = latestItem(e, c, t);
    const server = serverLatest(e, c, t);
    if (item && !(server && server.received_at > item.sent_at_server && STATE_OF_STATUS[server.status])) {
      return { state: item.state, item, violations: item.violations || [], error: item.error };
    }
    if (server) {
      return { state: STATE_OF_STATUS[server.status] || "sent", server, violations: server.violations };
    }
    if (S.drafts[formId(e, c, t)]) return { state: "draft" };
    return { state: "none" };
  }

  // --- outbox --------------------------------------------------------------------------------

  let pumping = false;
  let again = false;
  let kick = false; // the connection came back: try every waiting form now
  let wake = null;

  function backoffMs(attempts) {
    const base = Math.min(60_000, 1000 * 2 ** Math.min(attempts, 6));
    return base / 2 + Math.random() * (base / 2);
  }

  function schedule(ms) {
    clearTimeout(wake);
    wake = setTimeout(pump, Math.max(0, ms));
  }

  async function pump() {
    if (pumping) { again = true; return; }
    pumping = true;
    try {
      // One sender per browser, even with the app open in two tabs.
      if (navigator.locks) await navigator.locks.request("deskpemilu-outbox", drain);
      else await drain();
    } finally {
      pumping = false;
      if (again) { again = false; schedule(0); }
    }
  }

  async function drain() {
    S.queue = await DeskStore.all("queue");
    if (!S.token || S.tokenProblem || !navigator.onLine) { render(); return; }
    let next = Infinity;
    let settled = false;
    const due = kick ? Infinity : Date.now();
    kick = false;
    for (const item of S.queue.sort((a, b) => a.created_at - b.created_at)) {
      if (S.tokenProblem) break;
      if (item.operator && S.setup && item.operator !== S.setup.operator.id) continue;
      if (item.state === "queued") {
        if (item.next_at <= due) await sendOne(item);
        if (item.state === "queued") next = Math.min(next, item.next_at);
      }
      if (item.state === "sent") {
        if (item.poll_at <= Date.now()) await pollOne(item);
        if (item.state === "sent") next = Math.min(next, item.poll_at);
        else settled = true;
      }
      // The photo goes once the intake answered for the form (it then names the submission).
      if (item.photo && item.photo.state === "queued" && item.state !== "queued" && !S.tokenProblem) {
        if (item.photo.next_at <= due) await sendPhoto(item);
        if (item.photo.state === "queued") next = Math.min(next, item.photo.next_at);
      }
    }
    // A verdict moved the kecamatan's progress: read it again.
    if (settled && S.election) await loadStatus(S.election);
    render();
    if (next < Infinity) schedule(next - Date.now());
  }

  async function sendOne(item) {
    item.attempts += 1;
    let r;
    try {
      r = await api("/v1/submissions", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": item.key },
        body: JSON.stringify(item.form),
      });
    } catch (_) {
      item.next_at = Date.now() + backoffMs(item.attempts);
      await DeskStore.put("queue", item);
      return;
    }
    if (r.status === 202) {
      item.state = "sent";
      item.submission_id = r.body.submission_id;
      item.sent_at_server = r.body.received_at;
      item.poll_at = Date.now() + 1500;
      item.polls = 0;
    } else if (r.status === 401) {
      await DeskStore.put("queue", item);
      tokenRefused(r.body);
      return;
    } else if (r.status === 429 || r.status >= 500) {
      item.next_at = Date.now() + (r.retryAfter ? r.retryAfter * 1000 : backoffMs(item.attempts));
    } else {
      // 422 (shape), 403 (outside the scope), 413...: resending the same form cannot help.
      item.state = "invalid";
      item.error = r.body || { pesan: `Ditolak (HTTP ${r.status}).`, details: [] };
    }
    await DeskStore.put("queue", item);
  }

  async function pollOne(item) {
    item.polls = (item.polls || 0) + 1;
    let r;
    try {
      r = await api(`/v1/submissions/${item.submission_id}`);
    } catch (_) {
      r = null;
    }
    if (r && r.status === 401) { tokenRefused(r.body); return; }
    if (r && r.status === 200 && STATE_OF_STATUS[r.body.status]) {
      item.state = STATE_OF_STATUS[r.body.status];
      item.violations = r.body.violations || [];
    } else {
      item.poll_at = Date.now() + Math.min(30_000, 1500 * 1.5 ** item.polls);
    }
    await DeskStore.put("queue", item);
  }

  // The photo of a form: with its submission id when the intake took the form, else (a form
  // refused for its shape) with its TPS and contest. The same bytes sent again are the same
  // photo on the server, so a retry after a lost answer stores nothing twice.
  async function sendPhoto(item) {
    const photo = item.photo;
    photo.attempts += 1;
    const stored = await DeskStore.get("photos", item.key);
    if (!stored) {
      photo.state = "invalid";
      photo.error = { pesan: "Foto tidak ada lagi di ponsel ini; lampirkan lagi." };
      await DeskStore.put("queue", item);
      return;
    }
    const body = new FormData();
    body.append("photo", new Blob([stored.bytes], { type: stored.type || "application/octet-stream" }), stored.name || "chasil.jpg");
    if (item.submission_id) {
      body.append("submission_id", item.submission_id);
    } else {
      body.append("election", item.election);
      body.append("contest", item.contest);
      body.append("tps", item.tps);
    }
    let r;
    try {
      r = await api("/v1/photos", { method: "POST", body });
    } catch (_) {
      photo.next_at = Date.now() + backoffMs(photo.attempts);
      await DeskStore.put("queue", item);
      return;
    }
    if (r.status === 202) {
      photo.state = "sent";
      photo.sha256 = r.body.sha256;
      photo.photo_id = r.body.photo_id;
    } else if (r.status === 401) {
      await DeskStore.put("queue", item);
      tokenRefused(r.body);
      return;
    } else if (r.status === 404 || r.status === 429 || r.status >= 500) {
      // 404: the submission is not recorded yet (another intake took the form): wait a little.
      photo.next_at = Date.now() + (r.retryAfter ? r.retryAfter * 1000 : backoffMs(photo.attempts));
    } else {
      // 413 (too large), 415 (not an image), 422 (damaged), 403: the same bytes cannot pass.
      photo.state = "invalid";
      photo.error = r.body || { pesan: `Foto ditolak (HTTP ${r.status}).` };
    }
    await DeskStore.put("queue", item);
    if (photo.state !== "queued") await DeskStore.del("photos", item.key); // the phone's space
  }

  async function enqueue(form, localViolations, photoFile) {
    const key = crypto.randomUUID(); // the Idempotency-Key of every attempt of this form
    let photo = null;
    if (photoFile) {
      // The bytes first, in their own store: a queued form with a photo always has its bytes.
      const bytes = await photoFile.arrayBuffer();
      await DeskStore.put("photos", { key, bytes, name: photoFile.name, type: photoFile.type });
      photo = { name: photoFile.name, size: photoFile.size, state: "queued", attempts: 0, next_at: 0 };
    }
    const item = {
      key,
      // The submission id is uuid5(operator, key): only this operator's token may send it.
      operator: S.setup.operator.id,
      election: form.election,
      contest: form.contest,
      tps: form.tps,
      form,
      local_violations: localViolations,
      state: "queued",
      created_at: Date.now(),
      attempts: 0,
      next_at: 0,
      photo,
    };
    await DeskStore.put("queue", item);
    await DeskStore.del("drafts", formId(form.election, form.contest, form.tps));
    delete S.drafts[formId(form.election, form.contest, form.tps)];
    S.queue.push(item);
    schedule(0);
  }

  // --- rendering: work list ------------------------------------------------------------------

  function render() {
    setOnline();
    const waiting = S.queue.filter((i) => i.state === "queued").length;
    const photos = S.queue.filter((i) => i.photo && i.photo.state === "queued").length;
    $("outbox").hidden = waiting === 0 && photos === 0;
    $("outbox").textContent = [waiting ? `${waiting} antre` : null, photos ? `${photos} foto` : null]
      .filter(Boolean).join(" · ");
    const banner = $("banner");
    if (S.tokenProblem) {
      banner.hidden = false;
      banner.className = "banner";
      banner.textContent =
        `${S.tokenProblem.pesan} Minta tautan token baru ke admin desk. ` +
        `${waiting} formulir tetap tersimpan di ponsel ini dan dikirim setelah Anda masuk lagi.`;
      banner.dataset.code = S.tokenProblem.code || "";
    } else {
      banner.hidden = true;
    }
    if (!S.token || S.tokenProblem) {
      show("signin");
      $("signin-note").textContent = ""; // a refused token is explained in the banner
      return;
    }
    if (!S.setup) {
      show("signin");
      $("signin-note").textContent = "Butuh sinyal sekali untuk memuat daftar TPS Anda.";
      return;
    }
    $("who").textContent = `${S.setup.operator.name}`;
    if (S.open) renderForm(); else renderList();
  }

  function show(view) {
    for (const v of ["signin", "list", "form"]) $("view-" + v).hidden = v !== view;
  }

  function renderList() {
    show("list");
    const select = $("election");
    if (select.options.length !== S.setup.elections.length) {
      select.replaceChildren(...S.setup.elections.map((e) => el("option", { value: e.id, text: e.name })));
    }
    select.value = S.election;
    const e = election();
    if (!e) { $("tps-list").replaceChildren(el("p", { text: "Tidak ada TPS dalam wilayah tugas Anda." })); return; }
    renderProgress(e);
    const filter = $("filter").value.trim().toLowerCase();
    const list = [];
    let desa = null;
    for (const t of e.tps) {
      const desaName = (S.setup.areas[t.desa] || {}).name || t.desa;
      if (filter && !t.code.includes(filter) && !desaName.toLowerCase().includes(filter)
          && String(t.number) !== filter) continue;
      if (t.desa !== desa) {
        desa = t.desa;
        list.push(el("div", { class: "desa", text: `${desaName} (${t.desa})` }));
      }
      const chips = e.contests.map((c) => {
        const st = stateOf(e.id, c.contest, t.code);
        return el("button", {
          type: "button", class: "chip", "data-state": st.state,
          "data-testid": `chip-${c.contest}-${t.code}`,
          onclick: () => openForm(e.id, c.contest, t.code),
        }, el("b", { text: short(c.contest) }), STATE_TEXT[st.state] || st.state);
      });
      const reasons = [];
      for (const c of e.contests) {
        const st = stateOf(e.id, c.contest, t.code);
        if (st.state === "rejected" || st.state === "invalid" || st.state === "conflict") {
          for (const text of reasonsOf(st)) reasons.push(el("li", { text: `${short(c.contest)}: ${text}` }));
        }
      }
      const photos = [];
      for (const c of e.contests) {
        const item = latestItem(e.id, c.contest, t.code);
        if (item && item.photo) photos.push(photoLine(item, `${short(c.contest)}: `));
      }
      list.push(el("div", { class: "tps", "data-testid": `tps-${t.code}` },
        el("div", { class: "tps-head" },
          el("strong", { text: `TPS ${String(t.number).padStart(3, "0")}` }),
          el("span", { class: "muted small", text: `DPT ${fmt.format(t.ctx.dpt)} · ${t.code}` })),
        el("div", { class: "chips" }, ...chips),
        reasons.length ? el("ul", { class: "reasons" }, ...reasons) : null,
        ...photos));
    }
    $("tps-list").replaceChildren(...list);
  }

  function photoLine(item, prefix) {
    const p = item.photo;
    const why = p.state === "invalid" && p.error ? `: ${p.error.pesan}` : "";
    return el("div", {
      class: "photo-state", "data-state": p.state, "data-testid": `photo-${item.contest}-${item.tps}`,
      text: `${prefix}foto C.Hasil ${PHOTO_TEXT[p.state] || p.state}${why}`,
    });
  }

  function reasonsOf(st) {
    if (st.state === "conflict") return ["berbeda dengan kiriman lain untuk TPS ini; menunggu tinjauan camat."];
    if (st.state === "invalid" && st.error) {
      const details = (st.error.details || []).map((d) => (d.field ? `${d.field}: ${d.pesan}` : d.pesan));
      return [st.error.pesan, ...details];
    }
    return (st.violations || []).filter((v) => v.severity === "error").map((v) => v.pesan);
  }

  function renderProgress(e) {
    const status = S.status[e.id];
    const rows = [];
    for (const code of S.setup.operator.scope) {
      const area = S.setup.areas[code];
      rows.push(el("div", { class: "small", text: area ? `${cap(area.level)} ${area.name}` : code }));
      for (const c of e.contests) {
        const p = status && status.progress.find((x) => x.area === code && x.contest === c.contest);
        const reported = p ? p.reported : 0;
        const total = p ? p.total : e.tps.length;
        const pct = total ? (100 * reported) / total : 0;
        rows.push(el("div", { class: "small", "data-testid": `progress-${c.contest}` },
          `${short(c.contest)}: TPS masuk ${fmt.format(reported)} / ${fmt.format(total)}`));
        const bar = el("div", { class: "bar" }, el("span", { style: `width:${pct.toFixed(1)}%` }));
        rows.push(bar);
      }
    }
    if (!status) rows.push(el("div", { class: "muted small", text: "Belum ada data dari server (luring)." }));
    $("progress").replaceChildren(...rows);
  }

  const cap = (s) => s.charAt(0).toUpperCase() + s.slice(1);

  // --- rendering: the form -------------------------------------------------------------------

  function openForm(e, c, t) {
    const st = stateOf(e, c, t);
    S.open = { election: e, contest: c, tps: t, state: st };
    render();
    window.scrollTo(0, 0);
  }

  function closeForm() {
    S.open = null;
    render();
  }

  let formBuilt = null;

  function renderForm() {
    show("form");
    const e = election();
    const contest = contestOf(e, S.open.contest);
    const tps = e.tps.find((t) => t.code === S.open.tps);
    const key = formId(e.id, contest.contest, tps.code);
    if (formBuilt === key) return;
    formBuilt = key;
    const desaName = (S.setup.areas[tps.desa] || {}).name || tps.desa;
    $("form-title").textContent = `${contest.name} · TPS ${String(tps.number).padStart(3, "0")}`;
    $("form-sub").textContent = `${desaName} · ${tps.code} · DPT ${fmt.format(tps.ctx.dpt)} ` +
      `(L ${fmt.format(tps.ctx.dpt_l)}, P ${fmt.format(tps.ctx.dpt_p)})`;
    const st = S.open.state;
    const verdict = $("form-verdict");
    verdict.replaceChildren();
    if (["rejected", "invalid", "conflict", "accepted", "sent", "queued"].includes(st.state)) {
      const reasons = reasonsOf(st);
      verdict.append(el("div", { class: `verdict ${st.state}`, "data-testid": "verdict" },
        el("strong", { text: STATE_TEXT[st.state] }),
        reasons.length ? el("ul", {}, ...reasons.map((r) => el("li", { text: r }))) : null,
        st.state === "rejected" || st.state === "invalid"
          ? el("div", { class: "small", text: "Angka kiriman terakhir sudah terisi: perbaiki lalu kirim lagi." })
          : null));
    }
    if (st.item && st.item.photo) verdict.append(photoLine(st.item, ""));
    choosePhoto(null);
    const labels = Object.fromEntries(contest.boxes.map((b) => [b.field, b.label_id]));
    const root = $("chasil");
    root.replaceChildren(...buildSections(contest, labels));
    // The numbers: the draft, else the last form sent (a rejected form opens with them).
    const values = S.drafts[key] || (st.item && st.item.form) || null;
    if (values) fillForm(values);
    $("send").onclick = () => send(contest, tps);
    check();
  }

  function input(field, label) {
    return el("input", {
      class: "num", type: "text", inputmode: "numeric", pattern: "[0-9]*", maxlength: "6",
      "data-field": field, "aria-label": label, id: "f-" + field,
      placeholder: field === "jumlah_suara" ? "" : "0",
    });
  }

  function box(field, label, text) {
    return el("div", { class: "box" }, el("label", { for: "f-" + field, text: text || label }), input(field, label));
  }

  function lpGrid(rows, labels) {
    const grid = el("div", { class: "lp" }, el("span"), el("span", { class: "head", text: "L" }),
      el("span", { class: "head", text: "P" }), el("span", { class: "head", text: "L+P" }));
    for (const path of rows) {
      const label = (labels[`${path}.l`] || path).replace(/ L$/, "");
      grid.append(el("span", { text: label }));
      for (const col of ["l", "p", "jumlah"]) grid.append(input(`${path}.${col}`, labels[`${path}.${col}`]));
    }
    return grid;
  }

  function buildSections(contest, labels) {
    const out = [];
    const iv = el("fieldset", {}, el("legend", { text: contest.party_list ? "IV. Suara partai dan calon" : "IV. Suara sah paslon / calon" }));
    if (contest.party_list) {
      for (const p of contest.parties) {
        const base = `suara_partai.${p.nomor}`;
        const details = el("details", { class: "party", "data-party": p.nomor },
          el("summary", {}, el("span", { text: `${p.nomor}. ${p.short_name}` }),
            el("span", { class: "muted small", "data-total": base, text: "" })),
          box(`${base}.suara_partai`, labels[`${base}.suara_partai`], "A.1 Suara partai"),
          ...p.candidates.map((c) => box(`${base}.suara_calon.${c.nomor}`, labels[`${base}.suara_calon.${c.nomor}`], `A.2 ${c.nomor}. ${c.name}`)),
          box(`${base}.jumlah`, labels[`${base}.jumlah`], "B. Jumlah suara partai dan calon"));
        iv.append(details);
      }
    } else {
      for (const c of contest.candidates) {
        iv.append(box(`suara_calon.${c.nomor}`, labels[`suara_calon.${c.nomor}`], `${c.nomor}. ${c.name}`));
      }
    }
    out.push(iv);
    out.push(el("fieldset", {}, el("legend", { text: "V. Jumlah suara" }),
      box("suara_sah", labels.suara_sah, "A. Jumlah suara sah"),
      box("suara_tidak_sah", labels.suara_tidak_sah, "B. Jumlah suara tidak sah"),
      box("jumlah_suara", labels.jumlah_suara, "C. Jumlah suara sah dan tidak sah (jika ditulis)")));
    // The sections operators often leave out are folded away; each is sent only when filled.
    out.push(el("details", { class: "section", "data-section": "pemilih" },
      el("summary", { text: "I. Data pemilih dan pengguna hak pilih (opsional)" }),
      lpGrid(["pemilih.dpt", "pemilih.pengguna_dpt", "pemilih.pengguna_dptb", "pemilih.pengguna_dpk", "pemilih.pengguna_total"], labels)));
    out.push(el("details", { class: "section", "data-section": "surat_suara" },
      el("summary", { text: "II. Data surat suara (opsional)" }),
      ...["diterima", "digunakan", "rusak", "sisa"].map((n) => box(`surat_suara.${n}`, labels[`surat_suara.${n}`]))));
    out.push(el("details", { class: "section", "data-section": "disabilitas" },
      el("summary", { text: "III. Pemilih disabilitas (opsional)" }),
      lpGrid(["disabilitas"], labels)));
    return out;
  }

  function inputs() {
    return Array.from($("chasil").querySelectorAll("input[data-field]"));
  }

  function setPath(obj, path, value) {
    const parts = path.split(".");
    let node = obj;
    for (const p of parts.slice(0, -1)) node = node[p] = node[p] || {};
    node[parts[parts.length - 1]] = value;
  }

  // The form as the intake receives it (shared/form.py CHasil).
  function buildForm() {
    const { election: e, contest: c, tps: t } = S.open;
    const contest = contestOf(election(), c);
    const typed = {};
    for (const node of inputs()) {
      const text = node.value.trim();
      if (text !== "") typed[node.dataset.field] = parseInt(text, 10);
    }
    const val = (f) => (f in typed ? typed[f] : null);
    const form = { election: e, contest: c, tps: t };
    for (const section of ["pemilih", "surat_suara", "disabilitas"]) {
      const fields = contest.boxes.map((b) => b.field).filter((f) => f.startsWith(section + "."));
      if (!fields.some((f) => f in typed)) continue;
      const part = {};
      for (const f of fields) setPath(part, f, val(f) ?? 0);
      form[section] = part[section];
    }
    if (contest.party_list) {
      form.suara_partai = contest.parties.map((p) => {
        const base = `suara_partai.${p.nomor}`;
        const lines = {};
        for (const cand of p.candidates) {
          const v = val(`${base}.suara_calon.${cand.nomor}`);
          if (v !== null) lines[cand.nomor] = v;
        }
        return { nomor_partai: p.nomor, suara_partai: val(`${base}.suara_partai`) ?? 0,
                 suara_calon: lines, jumlah: val(`${base}.jumlah`) ?? 0 };
      });
    } else {
      form.suara_calon = Object.fromEntries(contest.candidates.map((x) => [x.nomor, val(`suara_calon.${x.nomor}`) ?? 0]));
    }
    form.suara_sah = val("suara_sah") ?? 0;
    form.suara_tidak_sah = val("suara_tidak_sah") ?? 0;
    if (val("jumlah_suara") !== null) form.jumlah_suara = val("jumlah_suara");
    return { form, typed };
  }

  function fillForm(values) {
    const flat = {};
    const walk = (node, prefix) => {
      if (Array.isArray(node)) {
        for (const p of node) walk({ ...p, nomor_partai: undefined }, `${prefix}.${p.nomor_partai}`);
      } else if (node && typeof node === "object") {
        for (const [k, v] of Object.entries(node)) if (v !== undefined) walk(v, prefix ? `${prefix}.${k}` : k);
      } else if (Number.isInteger(node)) {
        flat[prefix] = node;
      }
    };
    walk(values.form ? values.form : values, "");
    for (const node of inputs()) {
      const v = flat[node.dataset.field];
      node.value = v === undefined ? "" : String(v);
    }
    for (const d of $("chasil").querySelectorAll("details.section")) {
      if (values.form ? values.form[d.dataset.section] : values[d.dataset.section]) d.open = true;
    }
  }

  // The validator's checks, evaluated on the form as typed.
  function check() {
    const e = election();
    const contest = contestOf(e, S.open.contest);
    const tps = e.tps.find((t) => t.code === S.open.tps);
    const { form, typed } = buildForm();
    const rules = Object.fromEntries(S.setup.rules.map((r) => [r.code, r]));
    const found = DeskChecks.evaluate(contest.checks, rules, form, tps.ctx);
    for (const node of inputs()) node.classList.remove("bad", "warn");
    for (const v of found) {
      for (const node of inputs()) {
        const f = node.dataset.field;
        if (f === v.field || f.startsWith(v.field + ".")) node.classList.add(v.severity === "error" ? "bad" : "warn");
      }
    }
    for (const p of contest.parties || []) {
      const total = $("chasil").querySelector(`[data-total="suara_partai.${p.nomor}"]`);
      const value = typed[`suara_partai.${p.nomor}.jumlah`];
      if (total) total.textContent = value === undefined ? "" : `B = ${fmt.format(value)}`;
    }
    const missing = !("suara_sah" in typed) || !("suara_tidak_sah" in typed);
    const errors = found.filter((v) => v.severity === "error");
    const panel = $("checks");
    const items = found.map((v) => el("li", { class: v.severity, "data-code": v.code, "data-field": v.field }, v.pesan));
    if (missing) {
      panel.replaceChildren(el("div", { class: "small muted", text: "Isi V.A (suara sah) dan V.B (suara tidak sah)." }),
        items.length ? el("ul", {}, ...items) : null);
    } else if (found.length === 0) {
      panel.replaceChildren(el("div", { class: "ok", "data-testid": "checks-ok", text: "Semua cek aritmetika cocok." }));
    } else {
      panel.replaceChildren(
        el("div", { class: "small", text: `${errors.length} kesalahan, ${found.length - errors.length} peringatan (cek yang sama dengan server)` }),
        el("ul", {}, ...items));
    }
    const button = $("send");
    button.disabled = missing;
    button.textContent = errors.length ? "Kirim meski ada kesalahan" : "Kirim";
    return { form, found };
  }

  let draftTimer = null;
  function onInput(event) {
    const node = event.target;
    if (!node.matches("input[data-field]")) return;
    const digits = node.value.replace(/[^0-9]/g, "");
    if (digits !== node.value) node.value = digits;
    const { form } = check();
    const key = formId(form.election, form.contest, form.tps);
    S.drafts[key] = form;
    clearTimeout(draftTimer);
    draftTimer = setTimeout(() => DeskStore.put("drafts", { id: key, form }), 300);
  }

  let previewUrl = null;
  function choosePhoto(file) {
    if (S.open) S.open.photo = file;
    for (const id of ["photo-camera", "photo-file"]) $(id).value = "";
    if (previewUrl) URL.revokeObjectURL(previewUrl);
    previewUrl = null;
    const img = $("photo-preview");
    img.hidden = true;
    $("photo-clear").hidden = !file;
    $("photo-chosen").textContent = file
      ? `${file.name || "foto"} · ${fmt.format(Math.ceil(file.size / 1024))} kB, dikirim dengan formulir ini`
      : "Belum ada foto.";
    if (!file) return;
    previewUrl = URL.createObjectURL(file);
    img.onload = () => { img.hidden = false; };
    img.onerror = () => { img.hidden = true; }; // HEIC: the browser may not show it; the desk does
    img.src = previewUrl;
  }

  function onPhotoPicked(event) {
    const file = event.target.files && event.target.files[0];
    if (file) choosePhoto(file);
  }

  async function send() {
    const { form, found } = check();
    clearTimeout(draftTimer);
    await enqueue(form, found, S.open.photo);
    choosePhoto(null);
    formBuilt = null;
    closeForm();
  }

  // --- start ---------------------------------------------------------------------------------

  async function start() {
    takeTokenFromUrl();
    S.token = localStorage.getItem(TOKEN_KEY);
    if ("serviceWorker" in navigator) {
      navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
    }
    if (navigator.storage && navigator.storage.persist) navigator.storage.persist().catch(() => {});
    S.queue = await DeskStore.all("queue");
    for (const d of await DeskStore.all("drafts")) S.drafts[d.id] = d.form;
    if (S.token) await loadSetup();
    if (S.setup) {
      const stored = localStorage.getItem(ELECTION_KEY);
      const ids = S.setup.elections.map((e) => e.id);
      S.election = ids.includes(stored) ? stored : ids[0] || null;
      if (S.election) await loadStatus(S.election);
    }
    render();
    pump();
    setInterval(() => { if (S.election) loadStatus(S.election).then(render); }, 30_000);
  }

  window.addEventListener("online", () => {
    kick = true;
    pump();
    if (S.election) loadStatus(S.election).then(render);
    if (!S.setup && S.token) loadSetup().then(render);
  });
  window.addEventListener("offline", render);
  // Back in front (phones throttle timers of hidden pages): try what is waiting at once.
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") { kick = true; pump(); }
  });
  document.addEventListener("DOMContentLoaded", () => {
    $("chasil").addEventListener("input", onInput);
    $("photo-camera").addEventListener("change", onPhotoPicked);
    $("photo-file").addEventListener("change", onPhotoPicked);
    $("photo-clear").addEventListener("click", () => choosePhoto(null));
    $("back").addEventListener("click", () => { formBuilt = null; closeForm(); });
    $("filter").addEventListener("input", renderList);
    $("election").addEventListener("change", async (ev) => {
      S.election = ev.target.value;
      localStorage.setItem(ELECTION_KEY, S.election);
      await loadStatus(S.election);
      render();
    });
    $("signin-form").addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const token = $("token-input").value.trim();
      if (!token) return;
      localStorage.setItem(TOKEN_KEY, token);
      $("token-input").value = "";
      S.token = token;
      S.tokenProblem = null;
      await loadSetup();
      if (S.setup && !S.election) S.election = S.setup.elections.map((e) => e.id)[0] || null;
      if (S.election) await loadStatus(S.election);
      render();
      pump();
    });
    start();
  });
})();
