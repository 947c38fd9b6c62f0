"""Differences between the desk's count and KPU's, per TPS and contest, rolled up by area. Pure.

Per TPS: missing on either side, each vote line / sah / tidak sah / pengguna beyond a tolerance,
KPU's own arithmetic that does not hold (votes above the DPT: the 2024 misreadings; lines not
summing to sah; sah + tidak sah not the total), and desk numbers corrected after KPU's snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

from shared.kpu.recap import RecapRow
from shared.kpu.sirekap import KpuState, KpuTps


class Kind(StrEnum):
    """Machine codes of the differences; docs/KPU_IMPORT.md lists them with their meaning."""

    MISSING_AT_KPU = "MISSING_AT_KPU"  # desk counted, KPU has no published votes
    MISSING_AT_DESK = "MISSING_AT_DESK"  # KPU published, the desk has nothing counted
    NOT_IN_ROSTER = "NOT_IN_ROSTER"  # KPU published a TPS the desk's roster does not have
    VOTES = "VOTES"  # one vote line differs (line says which)
    SUARA_SAH = "SUARA_SAH"
    SUARA_TIDAK_SAH = "SUARA_TIDAK_SAH"
    PENGGUNA = "PENGGUNA"
    KPU_ABOVE_DPT = "KPU_ABOVE_DPT"  # KPU's votes exceed the ballots a TPS can have
    KPU_LINES_NOT_SAH = "KPU_LINES_NOT_SAH"  # KPU's lines do not sum to its suara_sah
    KPU_TOTAL_MISMATCH = "KPU_TOTAL_MISMATCH"  # KPU's sah + tidak sah is not its suara_total
    DESK_CORRECTED_AFTER_KPU = "DESK_CORRECTED_AFTER_KPU"  # desk revised after KPU's snapshot


# Kinds that say KPU's document disagrees with itself, whatever the desk has.
KPU_OWN = frozenset({Kind.KPU_ABOVE_DPT, Kind.KPU_LINES_NOT_SAH, Kind.KPU_TOTAL_MISMATCH})
MISSING = frozenset({Kind.MISSING_AT_KPU, Kind.MISSING_AT_DESK, Kind.NOT_IN_ROSTER})


@dataclass(frozen=True, slots=True)
class Tolerance:
    """Differences up to these sizes are not reported (0: every difference counts)."""

    votes: int = 0
    suara_sah: int = 0
    suara_tidak_sah: int = 0
    pengguna: int = 0


@dataclass(frozen=True, slots=True)
class DeskTps:
    """The desk's counted result of one contest at one TPS."""

    tps: str
    votes: Mapping[str, int]
    suara_sah: int
    suara_tidak_sah: int
    pengguna: int | None = None
    corrected_at: datetime | None = None  # last revision or review that changed the numbers


@dataclass(frozen=True, slots=True)
class KpuSnapshot:
    """KPU's current document of one TPS and when it was taken (KPU's ts, else first seen)."""

    data: KpuTps
    taken_at: datetime


@dataclass(frozen=True, slots=True)
class Difference:
    """One difference at one TPS."""

    tps: str
    kind: Kind
    line: str | None = None  # the vote line, for VOTES
    desk: int | None = None
    kpu: int | None = None

    @property
    def delta(self) -> int | None:
        """KPU minus desk, when both are numbers."""
        return None if self.desk is None or self.kpu is None else self.kpu - self.desk


class TpsStatus(StrEnum):
    """Where a TPS stands in the comparison."""

    MATCHING = "matching"  # both sides have it, no difference beyond tolerance
    DIFFERING = "differing"  # both sides have it, at least one difference
    MISSING_AT_KPU = "missing_at_kpu"
    MISSING_AT_DESK = "missing_at_desk"
    NOT_IN_ROSTER = "not_in_roster"
    NEITHER = "neither"  # in the roster, nothing on either side yet


@dataclass(frozen=True, slots=True)
class TpsComparison:
    """The comparison of one TPS: status, differences, both sides' figures."""

    tps: str
    status: TpsStatus
    differences: tuple[Difference, ...]
    desk: DeskTps | None
    kpu: KpuTps | None
    dpt: int | None  # the roster's

    @property
    def compared(self) -> bool:
        """Both sides have votes for this TPS."""
        return self.status in (TpsStatus.MATCHING, TpsStatus.DIFFERING)


def ballot_ceiling(dpt: int, reserve_pct: float) -> int:
    """Most ballots a TPS can receive: DPT plus the reserve (2% Pemilu, 2.5% Pilkada)."""
    return math.ceil(dpt * (1 + reserve_pct / 100) - 1e-9)


def kpu_own_findings(kpu: KpuTps, roster_dpt: int | None, reserve_pct: float) -> list[Difference]:
    """KPU's document against itself: above the DPT, lines vs sah, sah + tidak sah vs total."""
    found: list[Difference] = []
    dpt = kpu.dpt if kpu.dpt is not None else roster_dpt
    lines_sum = sum(kpu.votes.values())
    if dpt is not None:
        ceiling = ballot_ceiling(dpt, reserve_pct)
        largest = max(lines_sum, kpu.suara_total or 0, kpu.suara_sah or 0, kpu.pengguna or 0)
        if largest > ceiling:
            found.append(Difference(kpu.tps, Kind.KPU_ABOVE_DPT, desk=dpt, kpu=largest))
    if kpu.suara_sah is not None and kpu.votes and lines_sum != kpu.suara_sah:
        found.append(Difference(kpu.tps, Kind.KPU_LINES_NOT_SAH, desk=kpu.suara_sah, kpu=lines_sum))
    if None not in (kpu.suara_sah, kpu.suara_tidak_sah, kpu.suara_total):
        assert kpu.suara_sah is not None and kpu.suara_tidak_sah is not None
        if kpu.suara_sah + kpu.suara_tidak_sah != kpu.suara_total:
            found.append(
                Difference(
                    kpu.tps,
                    Kind.KPU_TOTAL_MISMATCH,
                    desk=kpu.suara_sah + kpu.suara_tidak_sah,
                    kpu=kpu.suara_total,
                )
            )
    return found


def _line_key(line: str) -> tuple[str, int]:
    return line[0], int(line[1:])


def _beyond(desk: int | None, kpu: int | None, tolerance: int) -> bool:
    if desk is None or kpu is None:
        return False  # one side did not give this figure: nothing to hold against
    return abs(kpu - desk) > tolerance


def _both_sides(
    tps: str, desk: DeskTps, published: KpuSnapshot, tolerance: Tolerance
) -> list[Difference]:
    """The differences between the desk's figures and KPU's published ones."""
    found: list[Difference] = []
    theirs = published.data
    for line in sorted(set(desk.votes) | set(theirs.votes), key=_line_key):
        ours, kpu_votes = desk.votes.get(line), theirs.votes.get(line)
        missing_line = ours is None or kpu_votes is None
        if missing_line or _beyond(ours, kpu_votes, tolerance.votes):
            found.append(Difference(tps, Kind.VOTES, line=line, desk=ours, kpu=kpu_votes))
    for kind, ours_n, kpu_n, tol in (
        (Kind.SUARA_SAH, desk.suara_sah, theirs.suara_sah, tolerance.suara_sah),
        (Kind.SUARA_TIDAK_SAH, desk.suara_tidak_sah, theirs.suara_tidak_sah,
         tolerance.suara_tidak_sah),
        (Kind.PENGGUNA, desk.pengguna, theirs.pengguna, tolerance.pengguna),
    ):  # fmt: skip
        if _beyond(ours_n, kpu_n, tol):
            found.append(Difference(tps, kind, desk=ours_n, kpu=kpu_n))
    if desk.corrected_at is not None and desk.corrected_at > published.taken_at:
        found.append(Difference(tps, Kind.DESK_CORRECTED_AFTER_KPU))
    return found


def compare_tps(
    tps: str,
    desk: DeskTps | None,
    kpu: KpuSnapshot | None,
    *,
    roster_dpt: int | None,
    in_roster: bool,
    reserve_pct: float,
    tolerance: Tolerance = Tolerance(),
) -> TpsComparison:
    """Compare one TPS; KPU's document counts only when its votes are published."""
    published = kpu if kpu is not None and kpu.data.state is KpuState.PUBLISHED else None
    found: list[Difference] = []
    if published is not None:
        found += kpu_own_findings(published.data, roster_dpt, reserve_pct)
    if not in_roster:
        status = TpsStatus.NOT_IN_ROSTER if published is not None else TpsStatus.NEITHER
        if published is not None:
            found.insert(0, Difference(tps, Kind.NOT_IN_ROSTER))
    elif desk is None and published is None:
        status = TpsStatus.NEITHER
    elif published is None:
        assert desk is not None
        status = TpsStatus.MISSING_AT_KPU
        found.insert(0, Difference(tps, Kind.MISSING_AT_KPU))
    elif desk is None:
        status = TpsStatus.MISSING_AT_DESK
        found.insert(0, Difference(tps, Kind.MISSING_AT_DESK))
    else:
        found += _both_sides(tps, desk, published, tolerance)
        status = TpsStatus.DIFFERING if found else TpsStatus.MATCHING
    return TpsComparison(
        tps=tps,
        status=status,
        differences=tuple(found),
        desk=desk,
        kpu=kpu.data if kpu is not None else None,
        dpt=roster_dpt,
    )


def compare_all(
    frame: Mapping[str, int],
    desk: Mapping[str, DeskTps],
    kpu: Mapping[str, KpuSnapshot],
    *,
    reserve_pct: float,
    tolerance: Tolerance = Tolerance(),
) -> list[TpsComparison]:
    """Every TPS of the frame (roster code -> DPT) and every TPS KPU has, in code order."""
    codes = sorted(set(frame) | set(desk) | set(kpu))
    return [
        compare_tps(
            code,
            desk.get(code),
            kpu.get(code),
            roster_dpt=frame.get(code),
            in_roster=code in frame,
            reserve_pct=reserve_pct,
            tolerance=tolerance,
        )
        for code in codes
    ]


@dataclass
class AreaRollup:
    """Counts of one area (desa, kecamatan, kabupaten) over its TPS."""

    area: str
    tps_total: int = 0  # in the roster
    compared: int = 0
    matching: int = 0
    differing: int = 0
    missing_at_kpu: int = 0
    missing_at_desk: int = 0
    not_in_roster: int = 0
    kpu_inconsistent: int = 0  # TPS whose KPU document fails its own arithmetic
    desk_votes: dict[str, int] = field(default_factory=dict)  # over compared TPS
    kpu_votes: dict[str, int] = field(default_factory=dict)  # over compared TPS

    @property
    def net_difference(self) -> dict[str, int]:
        """KPU minus desk per vote line, over the TPS both sides have."""
        lines = sorted(set(self.desk_votes) | set(self.kpu_votes), key=_line_key)
        return {ln: self.kpu_votes.get(ln, 0) - self.desk_votes.get(ln, 0) for ln in lines}


def _count_into(area: AreaRollup, item: TpsComparison) -> None:
    if item.status is not TpsStatus.NOT_IN_ROSTER:
        area.tps_total += 1
    if item.compared:
        area.compared += 1
        if item.status is TpsStatus.MATCHING:
            area.matching += 1
        else:
            area.differing += 1
        assert item.desk is not None and item.kpu is not None
        for line, votes in item.desk.votes.items():
            area.desk_votes[line] = area.desk_votes.get(line, 0) + votes
        for line, votes in item.kpu.votes.items():
            area.kpu_votes[line] = area.kpu_votes.get(line, 0) + votes
    elif item.status is TpsStatus.MISSING_AT_KPU:
        area.missing_at_kpu += 1
    elif item.status is TpsStatus.MISSING_AT_DESK:
        area.missing_at_desk += 1
    elif item.status is TpsStatus.NOT_IN_ROSTER:
        area.not_in_roster += 1
    if any(d.kind in KPU_OWN for d in item.differences):
        area.kpu_inconsistent += 1


def roll_up(comparisons: Iterable[TpsComparison], level_parts: int) -> dict[str, AreaRollup]:
    """Roll TPS comparisons up to areas whose codes have level_parts parts (3 kecamatan, 4 desa)."""
    areas: dict[str, AreaRollup] = {}
    for item in comparisons:
        parts = item.tps.split(".")
        if len(parts) < level_parts:
            continue
        code = ".".join(parts[:level_parts])
        area = areas.get(code)
        if area is None:
            area = areas[code] = AreaRollup(code)
        _count_into(area, item)
    return dict(sorted(areas.items()))


FINDING_CODE = "KPU_DIFFERENCE"  # the review queue's code for a counted TPS KPU disagrees with


def review_findings(comparisons: Iterable[TpsComparison]) -> dict[str, dict[str, object]]:
    """TPS -> anomaly detail, for each TPS both sides have and that differs (the review queue)."""
    return {
        item.tps: {
            "differences": [
                {"kind": d.kind.value, "line": d.line, "desk": d.desk, "kpu": d.kpu}
                for d in item.differences
            ]
        }
        for item in comparisons
        if item.status is TpsStatus.DIFFERING
    }


@dataclass(frozen=True, slots=True)
class RecapComparison:
    """KPU's D.Hasil figures of one desa against the sum of the desk's counted TPS there."""

    area: str
    tps_total: int  # in the roster
    desk_tps: int  # TPS the desk has counted
    desk_votes: dict[str, int]
    kpu_votes: dict[str, int]
    differences: tuple[Difference, ...]

    @property
    def complete(self) -> bool:
        """The desk has every TPS of the desa: its sums can be held against the recap."""
        return self.desk_tps == self.tps_total


def compare_recap(
    frame: Mapping[str, int],
    desk: Mapping[str, DeskTps],
    recap: Mapping[str, RecapRow],
    *,
    tolerance: Tolerance = Tolerance(),
) -> list[RecapComparison]:
    """Per desa with a recap row: each line, sah, tidak sah and pengguna beyond the tolerance.

    The desk's side is the sum over its counted TPS in the desa; while it lacks some TPS the
    comparison still runs, and `complete` says whether a difference can be the desk's gap.
    """
    tps_total: dict[str, int] = {}
    for code in frame:
        desa = code.rsplit(".", 1)[0]
        tps_total[desa] = tps_total.get(desa, 0) + 1
    sums: dict[str, DeskTps] = {}
    counted: dict[str, int] = {}
    for code, result in desk.items():
        desa = code.rsplit(".", 1)[0]
        counted[desa] = counted.get(desa, 0) + 1
        old = sums.get(desa)
        votes = dict(old.votes) if old else {}
        for line, n in result.votes.items():
            votes[line] = votes.get(line, 0) + n
        if old is None:
            pengguna = result.pengguna
        elif old.pengguna is None or result.pengguna is None:
            pengguna = None  # not known for every TPS: not compared
        else:
            pengguna = old.pengguna + result.pengguna
        sums[desa] = DeskTps(
            tps=desa,
            votes=votes,
            suara_sah=result.suara_sah + (old.suara_sah if old else 0),
            suara_tidak_sah=result.suara_tidak_sah + (old.suara_tidak_sah if old else 0),
            pengguna=pengguna,
        )
    out = []
    for area, row in sorted(recap.items()):
        ours = sums.get(area, DeskTps(area, {}, 0, 0, 0))
        theirs = KpuTps(
            tps=area, state=KpuState.PUBLISHED, votes=row.votes, suara_sah=row.suara_sah,
            suara_tidak_sah=row.suara_tidak_sah, pengguna=row.pengguna,
        )  # fmt: skip
        # The summed side carries no correction time, so taken_at plays no part here.
        snapshot = KpuSnapshot(theirs, taken_at=datetime.now(UTC))
        out.append(
            RecapComparison(
                area=area,
                tps_total=tps_total.get(area, 0),
                desk_tps=counted.get(area, 0),
                desk_votes=dict(ours.votes),
                kpu_votes=dict(row.votes),
                differences=tuple(_both_sides(area, ours, snapshot, tolerance)),
            )
        )
    return out
