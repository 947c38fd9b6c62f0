"""The "Selisih dengan KPU" answers and their CSV/XLSX sheets: pure functions over comparisons."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from services.api import tables
from services.api.roster_cache import ContestMeta, RosterSnapshot
from shared.kpu.reconcile import (
    AreaRollup,
    Difference,
    RecapComparison,
    TpsComparison,
    TpsStatus,
)
from shared.kpu.sirekap import KpuTps

# What each difference code says, for people (dashboard, exports).
KIND_LABELS = {
    "MISSING_AT_KPU": "belum ada di KPU",
    "MISSING_AT_DESK": "belum ada di desk",
    "NOT_IN_ROSTER": "TPS tidak ada di roster desk",
    "VOTES": "suara berbeda",
    "SUARA_SAH": "suara sah berbeda",
    "SUARA_TIDAK_SAH": "suara tidak sah berbeda",
    "PENGGUNA": "pengguna hak pilih berbeda",
    "KPU_ABOVE_DPT": "angka KPU melebihi DPT + cadangan",
    "KPU_LINES_NOT_SAH": "jumlah suara calon KPU tidak sama dengan suara sah KPU",
    "KPU_TOTAL_MISMATCH": "sah + tidak sah KPU tidak sama dengan jumlah KPU",
    "DESK_CORRECTED_AFTER_KPU": "angka desk dikoreksi setelah data KPU",
}


class _Public(BaseModel):
    model_config = ConfigDict(frozen=True)


class LinePublic(_Public):
    """A vote line: key ('c1') and label ('01 Anies - Muhaimin')."""

    key: str
    label: str


class KpuAreaPublic(_Public):
    """Counts of one area's TPS in the comparison, and the net vote difference per line."""

    code: str
    name: str
    tps_total: int
    compared: int
    matching: int
    differing: int
    missing_at_kpu: int
    missing_at_desk: int
    not_in_roster: int
    kpu_inconsistent: int
    desk_votes: dict[str, int]
    kpu_votes: dict[str, int]
    net: dict[str, int]  # KPU minus desk over the TPS both sides have


class AreaRefPublic(_Public):
    """An area of the breadcrumb."""

    code: str
    name: str
    level: str


class KpuSummaryPublic(_Public):
    """An area's comparison with its children (kecamatan of a kabupaten, desa of a kecamatan)."""

    election: str
    contest: str
    area: str
    area_name: str
    breadcrumb: list[AreaRefPublic]
    child_level: str | None  # 'kecamatan', 'desa', or None below a desa
    lines: list[LinePublic]
    total: KpuAreaPublic
    children: list[KpuAreaPublic]


class DifferencePublic(_Public):
    """One difference: code, label, line, both numbers, KPU minus desk."""

    kind: str
    label: str
    line: str | None
    desk: int | None
    kpu: int | None
    delta: int | None


class DeskSidePublic(_Public):
    """The desk's counted figures of a TPS."""

    votes: dict[str, int]
    suara_sah: int
    suara_tidak_sah: int
    pengguna: int | None
    corrected_at: datetime | None


class KpuSidePublic(_Public):
    """KPU's current figures of a TPS as Sirekap shows them."""

    state: str
    votes: dict[str, int]
    suara_sah: int | None
    suara_tidak_sah: int | None
    suara_total: int | None
    pengguna: int | None
    dpt: int | None
    status_suara: bool | None
    psu: str | None
    kpu_ts: datetime | None
    images: list[str]


class KpuTpsPublic(_Public):
    """One TPS of the comparison, both sides side by side."""

    tps: str
    desa: str
    kecamatan: str
    status: str
    dpt: int | None
    desk: DeskSidePublic | None
    kpu: KpuSidePublic | None
    differences: list[DifferencePublic]


class KpuTpsListPublic(_Public):
    """TPS of an area in the comparison (those with a finding, unless all were asked)."""

    election: str
    contest: str
    area: str
    lines: list[LinePublic]
    tps: list[KpuTpsPublic]


class KpuVersionPublic(_Public):
    """One thing KPU showed for a TPS and when the desk first saw it."""

    seen_at: datetime
    origin: str
    kpu: KpuSidePublic


class KpuTpsDetailPublic(_Public):
    """A TPS compared, with everything KPU showed for it over time."""

    election: str
    contest: str
    lines: list[LinePublic]
    comparison: KpuTpsPublic
    history: list[KpuVersionPublic]


def breadcrumb_public(snapshot: RosterSnapshot, code: str) -> list[AreaRefPublic]:
    """The area and its ancestors, top first."""
    chain = snapshot.breadcrumb(code)
    return [AreaRefPublic(code=a.code, name=a.name, level=a.level) for a in chain]


class RecapDesaPublic(_Public):
    """KPU's D.Hasil figures of a desa against the sum of the desk's counted TPS there."""

    code: str
    name: str
    tps_total: int
    desk_tps: int
    complete: bool  # the desk has every TPS of the desa
    desk_votes: dict[str, int]
    kpu_votes: dict[str, int]
    differences: list[DifferencePublic]


class RecapListPublic(_Public):
    """The desa under an area that have a D.Hasil row."""

    election: str
    contest: str
    area: str
    lines: list[LinePublic]
    desa: list[RecapDesaPublic]


def recap_public(snapshot: RosterSnapshot, item: RecapComparison) -> RecapDesaPublic:
    """One desa's recap comparison."""
    area = snapshot.areas.get(item.area)
    return RecapDesaPublic(
        code=item.area, name=area.name if area else "", tps_total=item.tps_total,
        desk_tps=item.desk_tps, complete=item.complete, desk_votes=item.desk_votes,
        kpu_votes=item.kpu_votes, differences=[difference_public(d) for d in item.differences],
    )  # fmt: skip


def lines_public(contest: ContestMeta) -> list[LinePublic]:
    """The contest's vote lines in ballot order."""
    return [LinePublic(key=ln.key, label=f"{ln.nomor:02d} {ln.short_name}") for ln in contest.lines]


def area_public(snapshot: RosterSnapshot, rollup: AreaRollup) -> KpuAreaPublic:
    """One area's roll-up."""
    area = snapshot.areas.get(rollup.area)
    return KpuAreaPublic(
        code=rollup.area,
        name=area.name if area else "",
        tps_total=rollup.tps_total,
        compared=rollup.compared,
        matching=rollup.matching,
        differing=rollup.differing,
        missing_at_kpu=rollup.missing_at_kpu,
        missing_at_desk=rollup.missing_at_desk,
        not_in_roster=rollup.not_in_roster,
        kpu_inconsistent=rollup.kpu_inconsistent,
        desk_votes=rollup.desk_votes,
        kpu_votes=rollup.kpu_votes,
        net=rollup.net_difference,
    )


def difference_public(d: Difference) -> DifferencePublic:
    """A difference for people."""
    return DifferencePublic(
        kind=d.kind.value, label=KIND_LABELS[d.kind.value], line=d.line, desk=d.desk,
        kpu=d.kpu, delta=d.delta,
    )  # fmt: skip


def kpu_side(k: KpuTps | None) -> KpuSidePublic | None:
    """KPU's figures of a TPS."""
    if k is None:
        return None
    return KpuSidePublic(
        state=k.state.value, votes=k.votes, suara_sah=k.suara_sah,
        suara_tidak_sah=k.suara_tidak_sah, suara_total=k.suara_total, pengguna=k.pengguna,
        dpt=k.dpt, status_suara=k.status_suara, psu=k.psu, kpu_ts=k.kpu_ts, images=list(k.images),
    )  # fmt: skip


def tps_public(snapshot: RosterSnapshot, item: TpsComparison) -> KpuTpsPublic:
    """One TPS compared, both sides side by side."""
    desa_code = item.tps.rsplit(".", 1)[0]
    kec_code = ".".join(item.tps.split(".")[:3])
    desa, kec = snapshot.areas.get(desa_code), snapshot.areas.get(kec_code)
    desk = item.desk
    return KpuTpsPublic(
        tps=item.tps,
        desa=desa.name if desa else "",
        kecamatan=kec.name if kec else "",
        status=item.status.value,
        dpt=item.dpt,
        desk=None
        if desk is None
        else DeskSidePublic(
            votes=dict(desk.votes),
            suara_sah=desk.suara_sah,
            suara_tidak_sah=desk.suara_tidak_sah,
            pengguna=desk.pengguna,
            corrected_at=desk.corrected_at,
        ),
        kpu=kpu_side(item.kpu),
        differences=[difference_public(d) for d in item.differences],
    )


def has_finding(item: TpsComparison) -> bool:
    """A TPS worth listing: a difference, or missing on one side."""
    return item.status not in (TpsStatus.MATCHING, TpsStatus.NEITHER) or bool(item.differences)


# --- exports ---------------------------------------------------------------------------------

Cell = str | int | None
SHEET_NAME = "Selisih KPU"
STATUS_LABELS = {
    "matching": "sama",
    "differing": "berbeda",
    "missing_at_kpu": "belum ada di KPU",
    "missing_at_desk": "belum ada di desk",
    "not_in_roster": "tidak ada di roster",
    "neither": "belum ada di keduanya",
}


def _sheet(
    title: Sequence[str], head: Sequence[str], rows: Sequence[Sequence[Cell]]
) -> tables.Table:
    # The CSV starts with the title too: what was compared, when, and which way the sign goes.
    return tables.Table(
        title=tuple(title),
        header=tuple(head),
        rows=tuple(tuple(row) for row in rows),
        sheet_name=SHEET_NAME,
        csv_title=True,
    )


def area_table(summary: KpuSummaryPublic, title: Sequence[str]) -> tables.Table:
    """The per-area sheet: counts and, per line, desk, KPU and KPU minus desk."""
    head: list[str] = ["Kode", "Wilayah", "TPS", "Dibandingkan", "Sama", "Berbeda",
                        "Belum di KPU", "Belum di desk", "Tidak di roster",
                        "KPU tidak konsisten"]  # fmt: skip
    for line in summary.lines:
        head += [f"{line.label} desk", f"{line.label} KPU", f"{line.label} selisih"]
    rows: list[list[Cell]] = []
    for area in [*summary.children, summary.total]:
        row: list[Cell] = [area.code, area.name if area is not summary.total else "JUMLAH",
                           area.tps_total, area.compared, area.matching, area.differing,
                           area.missing_at_kpu, area.missing_at_desk, area.not_in_roster,
                           area.kpu_inconsistent]  # fmt: skip
        for line in summary.lines:
            row += [area.desk_votes.get(line.key, 0), area.kpu_votes.get(line.key, 0),
                    area.net.get(line.key, 0)]  # fmt: skip
        rows.append(row)
    return _sheet(title, head, rows)


def tps_table(listing: KpuTpsListPublic, title: Sequence[str]) -> tables.Table:
    """The per-TPS sheet: both sides' figures and the differences found."""
    head: list[str] = ["TPS", "Kecamatan", "Desa/Kelurahan", "Status", "DPT"]
    for line in listing.lines:
        head += [f"{line.label} desk", f"{line.label} KPU"]
    head += ["Sah desk", "Sah KPU", "Tidak sah desk", "Tidak sah KPU", "Pengguna desk",
             "Pengguna KPU", "PSU", "Temuan"]  # fmt: skip
    rows: list[list[Cell]] = []
    for t in listing.tps:
        row: list[Cell] = [t.tps, t.kecamatan, t.desa, STATUS_LABELS[t.status], t.dpt]
        for line in listing.lines:
            row += [t.desk.votes.get(line.key) if t.desk else None,
                    t.kpu.votes.get(line.key) if t.kpu else None]  # fmt: skip
        row += [
            t.desk.suara_sah if t.desk else None, t.kpu.suara_sah if t.kpu else None,
            t.desk.suara_tidak_sah if t.desk else None, t.kpu.suara_tidak_sah if t.kpu else None,
            t.desk.pengguna if t.desk else None, t.kpu.pengguna if t.kpu else None,
            t.kpu.psu if t.kpu and t.kpu.psu else "",
            "; ".join(f"{d.kind}{' ' + d.line if d.line else ''}" for d in t.differences),
        ]  # fmt: skip
        rows.append(row)
    return _sheet(title, head, rows)
