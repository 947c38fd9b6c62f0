// C.Hasil photos beside the numbers: the TPS page (per version), the review page (per
// conflict), and the count of counted TPS without a photo per kecamatan on the dashboard.
// Images come from /v1/photos/<sha256> with the reader's Bearer token (no public URL); the
// browser caches them by hash (ETag, immutable).
(() => {
  "use strict";
  const TOKEN_KEY = "deskpemilu.token";
  const enc = encodeURIComponent;
  const $ = (id) => document.getElementById(id);
  const urls = new Map(); // sha path -> object URL

  const el = window.DeskDom.h; // static/dom.js

  async function authed(path) {
    const token = localStorage.getItem(TOKEN_KEY);
    if (!token) return null;
    const res = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    return res.ok ? res : null;
  }

  async function imageUrl(path) {
    if (urls.has(path)) return urls.get(path);
    const res = await authed(path);
    if (!res) return null;
    const url = URL.createObjectURL(await res.blob());
    urls.set(path, url);
    return url;
  }

  function hashParts() {
    return window.location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  }

  // --- zoom and rotate (a phone: pinch zooms the picture, the button turns it) ----------------
  function openViewer(src, label) {
    let turn = 0;
    const img = el("img", { src, alt: label, class: "photo-full", "data-testid": "photo-full" });
    const close = () => dialog.remove();
    const dialog = el("div", { class: "photo-viewer", role: "dialog", "aria-label": label },
      el("div", { class: "photo-tools" },
        el("button", { type: "button", onclick: () => { turn = (turn + 90) % 360; img.style.transform = `rotate(${turn}deg)`; } }, "Putar ⟳"),
        el("button", { type: "button", onclick: () => img.classList.toggle("zoomed") }, "Perbesar"),
        el("button", { type: "button", onclick: close }, "Tutup")),
      el("div", { class: "photo-stage" }, img));
    dialog.addEventListener("keydown", (ev) => { if (ev.key === "Escape") close(); });
    document.body.append(dialog);
  }

  async function thumb(photo) {
    const src = await imageUrl(photo.thumb_url);
    const label = `Foto C.Hasil ${photo.sha256.slice(0, 8)}`;
    const img = el("img", { src: src || "", alt: label, loading: "lazy", "data-testid": "photo-thumb" });
    return el("figure", { class: "photo" },
      el("button", { type: "button", class: "photo-open", title: "Buka foto",
        onclick: async () => openViewer(await imageUrl(photo.image_url), label) }, img),
      el("figcaption", { class: "small muted" },
        `${new Date(photo.received_at).toLocaleString("id-ID", { timeZone: "Asia/Jakarta", dateStyle: "medium", timeStyle: "short" })} · ${photo.channel}`,
        photo.caption ? ` · “${photo.caption}”` : ""));
  }

  async function photosOf(election, contest, tps) {
    const res = await authed(`/v1/tps/${enc(election)}/${enc(contest)}/${enc(tps)}/photos`);
    return res ? (await res.json()).photos : null;
  }

  // --- TPS page: a card of photos grouped by the version (submission) they document ----------
  async function renderTps() {
    const [view, election, contest, tps] = hashParts();
    const card = $("tps-photos");
    if (!card || view !== "tps" || !tps) return;
    const list = $("tps-photo-list");
    const photos = await photosOf(election, contest, tps);
    if (photos === null) { list.replaceChildren(el("p", { class: "muted" }, "Foto tidak bisa dibuka dengan akun ini.")); return; }
    if (!photos.length) { list.replaceChildren(el("p", { class: "muted", "data-testid": "no-photo" }, "Belum ada foto C.Hasil untuk TPS ini.")); return; }
    const groups = new Map();
    for (const p of photos) {
      const key = p.submission_id || "";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(p);
    }
    const blocks = [];
    for (const [sid, group] of groups) {
      blocks.push(el("div", { class: "photo-group", "data-submission": sid || null },
        el("h3", {}, sid ? `Versi kiriman ${sid.slice(0, 8)}` : "Foto untuk TPS ini"),
        el("div", { class: "photo-row" }, await Promise.all(group.map(thumb)))));
    }
    list.replaceChildren(...blocks);
  }

  // --- review page: thumbnails under each conflict ----------------------------------------------
  async function renderReview() {
    const [view, election, contest] = hashParts();
    if (view !== "tinjauan") return;
    for (const item of document.querySelectorAll("#review-conflicts > li")) {
      if (item.dataset.photos) continue;
      const link = item.querySelector("a[href^='#/tps/']");
      if (!link) continue;
      item.dataset.photos = "1";
      const tps = decodeURIComponent(link.getAttribute("href").split("/").pop());
      const photos = await photosOf(election, contest, tps);
      if (photos && photos.length) {
        item.append(el("div", { class: "photo-row" }, await Promise.all(photos.map(thumb))));
      }
    }
  }

  // --- dashboard: counted TPS without a photo, per kecamatan -------------------------------------
  async function renderGaps() {
    const [view, election, contest] = hashParts();
    const table = $("photo-gaps");
    if (!table || (view && view !== "hasil") || !election || !contest) return;
    const res = await authed(`/v1/photos-gaps/${enc(election)}/${enc(contest)}`);
    if (!res) return;
    const rows = (await res.json()).kecamatan;
    table.tBodies[0].replaceChildren(...(rows.length ? rows.map((r) =>
      el("tr", { "data-kecamatan": r.code },
        el("td", {}, r.name || r.code),
        el("td", { class: "num" }, String(r.counted)),
        el("td", { class: "num" }, String(r.without_photo))))
      : [el("tr", {}, el("td", { colspan: 3, class: "muted" }, "Belum ada TPS yang dihitung."))]));
  }

  let pending = null;
  function refresh() {
    clearTimeout(pending);
    pending = setTimeout(() => { renderTps(); renderReview(); renderGaps(); }, 150);
  }

  document.addEventListener("DOMContentLoaded", () => {
    window.addEventListener("hashchange", refresh);
    // app.js re-renders the TPS and review views on live updates: follow it.
    for (const id of ["tps-title", "review-conflicts", "tps-progress"]) {
      const node = $(id);
      if (node) new MutationObserver(refresh).observe(node, { childList: true, characterData: true, subtree: true });
    }
    refresh();
  });
})();
