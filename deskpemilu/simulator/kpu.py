"""What KPU would publish for a simulated day: Sirekap per-TPS documents in KPU's own shapes.

From the day's counted forms (the truth), a document per TPS as Sirekap writes it: Pemilu's
`chart` / `administrasi` at the top, or Pilkada's `tungsura` wrapper, with the `"null": null` key,
KPU's candidate ids and TPS codes without dots. Tests and the import benchmark write these to a
folder (or serve them over HTTP) and alter some to inject differences.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from deskpemilu.roster_load import RosterFolder, read_roster_folder
from shared.form import CHasil, Contest
from shared.kpu.sirekap import SIREKAP_SLUGS, tps_document_path
from shared.roster import ContestInfo, ElectionRoster, TpsInfo

# KPU's ids of the 2024 paslon (pemilu/ppwp.json); other contests get made-up ids.
PPWP_2024_IDS = {"c1": "100025", "c2": "100026", "c3": "100027"}


def election_roster(folder: Path) -> ElectionRoster:
    """The in-memory roster of a roster folder, without a database."""
    read: RosterFolder = read_roster_folder(folder)
    contests: dict[Contest, ContestInfo] = {}
    for contest in read.contests:
        rows = [c for c in read.candidates if c.contest is contest]
        if contest.is_party_list:
            parties: dict[int, set[int]] = {p[0]: set() for p in read.parties}
            for row in rows:
                assert row.party is not None
                parties[row.party].add(row.nomor)
            contests[contest] = ContestInfo(
                contest, parties={p: frozenset(c) for p, c in parties.items()}
            )
        else:
            contests[contest] = ContestInfo(contest, candidates=frozenset(r.nomor for r in rows))
    return ElectionRoster(
        election_id=read.election.id,
        kind=read.election.kind,
        max_dpt_per_tps=read.election.max_dpt_per_tps,
        ballot_reserve_pct=float(read.election.ballot_reserve_pct),
        tps={t.code: TpsInfo(t.code, t.number, t.dpt_l, t.dpt_p) for t in read.tps},
        contests=contests,
    )


def kpu_ids(contest: ContestInfo) -> dict[str, str]:
    """Roster line -> KPU candidate id: the real ones for PPWP 2024, made up otherwise."""
    if contest.contest is Contest.PPWP:
        return dict(PPWP_2024_IDS)
    if contest.contest.is_party_list:
        return {f"p{n}": str(n) for n in sorted(contest.parties)}
    return {f"c{n}": str(1_011_000 + n) for n in sorted(contest.candidates)}


def candidate_list(ids: Mapping[str, str]) -> dict[str, Any]:
    """KPU's candidate list JSON (pemilu/ppwp.json shape) for these ids."""
    return {
        kpu_id: {"nama": f"Calon {line}", "warna": "#888888", "nomor_urut": int(line[1:])}
        for line, kpu_id in ids.items()
    }


def document(form: CHasil, ids: Mapping[str, str], *, pilkada: bool, ts: str) -> dict[str, Any]:
    """The Sirekap document KPU would publish for this counted form."""
    chart: dict[str, int | None] = {"null": None}
    for line, votes in form.votes_by_candidate().items():
        chart[ids[line]] = votes
    administrasi: dict[str, int] = {
        "suara_sah": form.suara_sah,
        "suara_tidak_sah": form.suara_tidak_sah,
        "suara_total": form.suara_sah + form.suara_tidak_sah,
    }
    if form.pemilih is not None:
        p = form.pemilih
        administrasi |= {
            "pemilih_dpt_j": p.dpt.jumlah, "pemilih_dpt_l": p.dpt.l, "pemilih_dpt_p": p.dpt.p,
            "pengguna_dpt_j": p.pengguna_dpt.jumlah, "pengguna_dptb_j": p.pengguna_dptb.jumlah,
            "pengguna_non_dpt_j": p.pengguna_dpk.jumlah,
            "pengguna_total_j": p.pengguna_total.jumlah, "pengguna_total_l": p.pengguna_total.l,
            "pengguna_total_p": p.pengguna_total.p,
        }  # fmt: skip
    digits = form.tps.replace(".", "")
    images = [f"https://sirekap-obj-formc.kpu.go.id/{digits}-hal{n}.jpg" for n in (1, 2, 3)]
    counts = {"chart": chart, "administrasi": administrasi}
    head: dict[str, Any] = {"mode": "hhcw"}
    body = {"tungsura": counts} if pilkada else counts
    tail = {"images": images, "psu": None, "ts": ts, "status_suara": True, "status_adm": True}
    return head | body | tail


def write_tree(folder: Path, contest: Contest, documents: Mapping[str, dict[str, Any]]) -> Path:
    """Write documents (by dotted TPS code) as Sirekap's tree; returns the contest's folder."""
    base = folder / SIREKAP_SLUGS[contest]
    for tps, doc in documents.items():
        path = base / tps_document_path(tps)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps(doc))
    return base
