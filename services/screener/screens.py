"""Screens across TPS: pure functions from the current results of an area to findings.

A screen compares one TPS with a reference (its kecamatan, the other TPS of its desa, its other
contests, the other forms of its operator) and reports a `Finding` with a stable code, a
severity, the numbers that tripped it and the reference, in Indonesian and English. The
screens hold no state: the caller runs them again over the area's current results whenever
those change, and a finding that is no longer returned has closed (see `reconcile`).
Findings are advisory: they say where to look, not that a result is wrong.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from shared.form import CHasil
from shared.screens import Severity  # codes, severities, last-digit test: shared with the api

MAD_SCALE = 1.4826  # MAD x this = the standard deviation of a normal distribution


class Action(StrEnum):
    """What a finding does to the TPS's numbers: flag only, or hold them out of the totals."""

    FLAG = "flag"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class TpsResult:
    """The counted result of one contest at one TPS, as the screens need it.

    `voters` is I.B.4 when section I was sent, else V.A + V.B. `extra_voters` is I.B.2 + I.B.3
    (DPTb and DPK voters, who are not on the DPT) when section I was sent, else 0.
    """

    contest: str
    tps: str
    dpt: int
    voters: int
    suara_sah: int
    suara_tidak_sah: int
    votes: tuple[tuple[str, int], ...]  # ('c1', 120), ... or ('p3', 45), ... by line
    extra_voters: int = 0
    version: int = 1  # 1 = never revised
    operator: str = ""
    channel: str = "api"
    received_at: float = 0.0  # seconds since the epoch

    @property
    def kecamatan(self) -> str:
        """Code of the TPS's kecamatan (16.07.01)."""
        return ".".join(self.tps.split(".")[:3])

    @property
    def desa(self) -> str:
        """Code of the TPS's desa (16.07.01.1016)."""
        return self.tps.rsplit(".", 1)[0]

    @property
    def turnout(self) -> float | None:
        """Voters over those who could vote (DPT + DPTb/DPK voters); None without a DPT."""
        eligible = self.dpt + self.extra_voters
        return self.voters / eligible if eligible > 0 else None

    @property
    def invalid_share(self) -> float | None:
        """Invalid votes over all votes cast; None when nothing was cast."""
        cast = self.suara_sah + self.suara_tidak_sah
        return self.suara_tidak_sah / cast if cast > 0 else None

    def share(self, line: str) -> float | None:
        """One line's share of the valid votes; None when there are none."""
        if self.suara_sah <= 0:
            return None
        return dict(self.votes).get(line, 0) / self.suara_sah

    def leader(self) -> tuple[str, int]:
        """The line with the most votes (lowest line on a tie) and its votes."""
        return max(self.votes, key=lambda kv: (kv[1], -_line_no(kv[0])), default=("", 0))


def _line_no(line: str) -> int:
    return int(line[1:]) if line[1:].isdigit() else 0


@dataclass(frozen=True, slots=True)
class Finding:
    """One screen's verdict on one TPS (or one area, `tps` then holds the area code)."""

    code: str
    severity: Severity
    contest: str
    tps: str
    value: dict[str, Any]  # the numbers that tripped it
    reference: dict[str, Any]  # what they were compared with
    pesan: str  # Indonesian
    message: str  # English
    action: Action = Action.FLAG

    @property
    def key(self) -> tuple[str, str, str]:
        """Identity of a finding across runs: the same key is the same (still open) finding."""
        return (self.contest, self.tps, self.code)


@dataclass(frozen=True)
class ScreenConfig:
    """Thresholds of every screen and the action each code takes (one place for the policy)."""

    min_reference: int = 8  # TPS in the kecamatan before a robust z means anything
    min_desa_reference: int = 4  # other TPS of the desa
    turnout_z_kecamatan: float = 4.5
    turnout_z_desa: float = 4.5
    turnout_mad_floor: float = 0.02  # 2 points of turnout: a tighter spread is not believed
    turnout_critical_z: float = 8.0
    share_z: float = 4.5
    stuffing_each_z: float = 1.5  # turnout and one line's votes per DPT both this far above ...
    stuffing_sum_z: float = 5.0  # ... and this far together
    share_mad_floor: float = 0.03
    share_min_valid: int = 50
    one_sided_share: float = 0.95
    one_sided_turnout: float = 0.90
    one_sided_min_valid: int = 50
    full_turnout: float = 1.0
    invalid_z: float = 6.0
    invalid_mad_floor: float = 0.02
    invalid_min_cast: int = 50
    identical_min_valid: int = 50
    identical_min_lines: int = 2  # lines with votes, so 'all to one' is not 'identical'
    round_base: int = 10
    round_min_lines: int = 3  # lines of at least round_base votes, all multiples of it
    round_area_p: float = 1e-4  # binomial p-value of an area's excess of round counts
    round_area_min_lines: int = 100
    revised_versions: int = 4  # the form counted in its 4th version: revised three times
    burst_tps: int = 20  # distinct TPS sent by one operator ...
    burst_window_s: float = 120.0  # ... within this many seconds (app, WhatsApp, SMS)
    burst_channels: frozenset[str] = frozenset({"api", "whatsapp", "sms"})
    same_contests_min_valid: int = 30
    actions: Mapping[str, Action] = field(default_factory=dict)  # code -> action (else FLAG)

    def action_for(self, code: str) -> Action:
        """The configured action of a screen's code."""
        return self.actions.get(code, Action.FLAG)


def center(reference: Sequence[float], floor: float) -> tuple[float, float]:
    """(median, scaled MAD) of a reference; the MAD is floored at `floor`."""
    med = statistics.median(reference)
    mad = statistics.median(abs(x - med) for x in reference) * MAD_SCALE
    return med, max(mad, floor)


def robust_z(value: float, reference: Sequence[float], floor: float) -> tuple[float, float, float]:
    """(z, median, scaled MAD) of value against reference; the MAD is floored at `floor`."""
    med, spread = center(reference, floor)
    return (value - med) / spread, med, spread


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


# --- screens over one kecamatan and contest -------------------------------------------------


@dataclass(frozen=True, slots=True)
class LocalZ:
    """A TPS's value against its nearest reference: the desa's other TPS, else the kecamatan."""

    value: float
    z: float
    median: float
    spread: float
    area: str  # 'desa' or 'kecamatan'
    n: int  # TPS in the reference


def local_z(
    rows: Sequence[tuple[TpsResult, float]], floor: float, min_desa: int, min_kecamatan: int
) -> dict[str, LocalZ]:
    """Robust z of each TPS's value against its desa's other TPS, with a pooled spread.

    The centre is the median of the desa's other TPS when it has at least `min_desa` of them,
    else the kecamatan's median. A spread from three or four neighbours is noise, so the spread
    is pooled: the scaled MAD of every TPS's deviation from its own desa centre across the
    kecamatan (floored at `floor`). Fewer than `min_kecamatan` TPS: no reference at all.
    """
    if len(rows) < min_kecamatan:
        return {}
    values = [v for _, v in rows]
    kec_med, kec_spread = center(values, floor)
    by_desa: dict[str, list[float]] = defaultdict(list)
    for r, v in rows:
        by_desa[r.desa].append(v)
    centres: list[tuple[TpsResult, float, float, str, int]] = []
    for r, v in rows:
        others = list(by_desa[r.desa])
        others.remove(v)
        if len(others) >= min_desa:
            centres.append((r, v, statistics.median(others), "desa", len(others)))
        else:
            centres.append((r, v, kec_med, "kecamatan", len(values)))
    desa_devs = [v - c for _, v, c, area, _ in centres if area == "desa"]
    pooled = (
        max(statistics.median(abs(d) for d in desa_devs) * MAD_SCALE, floor)
        if len(desa_devs) >= min_kecamatan
        else kec_spread
    )
    out: dict[str, LocalZ] = {}
    for r, v, c, area, n in centres:
        spread = pooled if area == "desa" else kec_spread
        out[r.tps] = LocalZ(v, (v - c) / spread, c, spread, area, n)
    return out


def _where(area: str) -> tuple[str, str]:
    return (
        ("TPS lain di desa", "the desa's other TPS")
        if area == "desa"
        else (
            "kecamatan",
            "the kecamatan",
        )
    )


def _turnouts(group: Sequence[TpsResult]) -> list[tuple[TpsResult, float]]:
    return [(r, t) for r in group if (t := r.turnout) is not None and r.dpt >= 50]


def _turnout_outliers(group: Sequence[TpsResult], cfg: ScreenConfig) -> Iterator[Finding]:
    rows = _turnouts(group)
    values = [t for _, t in rows]
    if len(values) >= cfg.min_reference:
        med, spread = center(values, cfg.turnout_mad_floor)
        for r, t in rows:
            z = (t - med) / spread
            if abs(z) >= cfg.turnout_z_kecamatan:
                yield _finding(
                    "TURNOUT_OUTLIER_KECAMATAN",
                    Severity.CRITICAL if abs(z) >= cfg.turnout_critical_z else Severity.WARNING,
                    r,
                    {"turnout": round(t, 4), "z": round(z, 2)},
                    {"median": round(med, 4), "mad": round(spread, 4), "n": len(values)},
                    f"partisipasi {_pct(t)} vs median kecamatan {_pct(med)} (z {z:+.1f})",
                    f"turnout {_pct(t)} vs kecamatan median {_pct(med)} (z {z:+.1f})",
                    cfg,
                )
    local = local_z(rows, cfg.turnout_mad_floor, cfg.min_desa_reference, cfg.min_reference)
    for r, _ in rows:
        lz = local.get(r.tps)
        if lz is None or lz.area != "desa" or abs(lz.z) < cfg.turnout_z_desa:
            continue
        yield _finding(
            "TURNOUT_OUTLIER_DESA",
            Severity.CRITICAL if abs(lz.z) >= cfg.turnout_critical_z else Severity.WARNING,
            r,
            {"turnout": round(lz.value, 4), "z": round(lz.z, 2)},
            {"median": round(lz.median, 4), "mad": round(lz.spread, 4), "n": lz.n},
            f"partisipasi {_pct(lz.value)} vs median TPS lain di desa {_pct(lz.median)} "
            f"(z {lz.z:+.1f})",
            f"turnout {_pct(lz.value)} vs median of the desa's other TPS {_pct(lz.median)} "
            f"(z {lz.z:+.1f})",
            cfg,
        )


def _paslon_lines(usable: Sequence[TpsResult]) -> list[str]:
    lines = sorted({line for r in usable for line, _ in r.votes}, key=_line_no)
    # Paslon contests only: party lists and DPD have too many small lines for a share z.
    return lines if 2 <= len(lines) <= 6 else []


def _share_z(group: Sequence[TpsResult], cfg: ScreenConfig) -> dict[str, dict[str, LocalZ]]:
    """line -> TPS -> local z of the line's share of the valid votes."""
    usable = [r for r in group if r.suara_sah >= cfg.share_min_valid]
    return {
        line: local_z(
            [(r, r.share(line) or 0.0) for r in usable],
            cfg.share_mad_floor,
            cfg.min_desa_reference,
            cfg.min_reference,
        )
        for line in _paslon_lines(usable)
    }


def _share_outliers(group: Sequence[TpsResult], cfg: ScreenConfig) -> Iterator[Finding]:
    """A line's share of the valid votes far from its desa's (else its kecamatan's)."""
    for line, per_tps in _share_z(group, cfg).items():
        for r in group:
            lz = per_tps.get(r.tps)
            if lz is None or abs(lz.z) < cfg.share_z:
                continue
            where_id, where_en = _where(lz.area)
            no = line[1:]
            yield _finding(
                "SHARE_OUTLIER",
                Severity.WARNING,
                r,
                {"line": line, "share": round(lz.value, 4), "z": round(lz.z, 2)},
                {"median": round(lz.median, 4), "mad": round(lz.spread, 4), "area": lz.area},
                f"perolehan nomor {no} {_pct(lz.value)} vs median {where_id} {_pct(lz.median)} "
                f"(z {lz.z:+.1f})",
                f"no. {no} share {_pct(lz.value)} vs median of {where_en} {_pct(lz.median)} "
                f"(z {lz.z:+.1f})",
                cfg,
            )


def _stuffing_pattern(group: Sequence[TpsResult], cfg: ScreenConfig) -> Iterator[Finding]:
    """Turnout and one paslon's votes per voter on the DPT both above the local reference."""
    rows = _turnouts(group)
    turnout = local_z(rows, cfg.turnout_mad_floor, cfg.min_desa_reference, cfg.min_reference)
    # Stuffed ballots all go to one line: its votes per eligible voter rise as much as turnout.
    usable = [(r, t) for r, t in rows if r.suara_sah >= cfg.share_min_valid]
    shares = {
        line: local_z(
            [(r, dict(r.votes).get(line, 0) / (r.dpt + r.extra_voters)) for r, _ in usable],
            cfg.turnout_mad_floor,
            cfg.min_desa_reference,
            cfg.min_reference,
        )
        for line in _paslon_lines([r for r, _ in usable])
    }
    for r, _ in rows:
        tz = turnout.get(r.tps)
        if tz is None or tz.z < cfg.stuffing_each_z:
            continue
        best = max(
            ((line, per[r.tps]) for line, per in shares.items() if r.tps in per),
            key=lambda kv: kv[1].z,
            default=None,
        )
        if best is None:
            continue
        line, sz = best
        if sz.z < cfg.stuffing_each_z or tz.z + sz.z < cfg.stuffing_sum_z:
            continue
        no = line[1:]
        yield _finding(
            "STUFFING_PATTERN",
            Severity.CRITICAL,
            r,
            {
                "turnout": round(tz.value, 4),
                "turnout_z": round(tz.z, 2),
                "line": line,
                "votes_per_dpt": round(sz.value, 4),
                "line_z": round(sz.z, 2),
                "z": round(tz.z + sz.z, 2),
            },
            {
                "turnout_median": round(tz.median, 4),
                "votes_per_dpt_median": round(sz.median, 4),
                "area": tz.area,
            },
            f"partisipasi {_pct(tz.value)} (acuan {_pct(tz.median)}) dan suara nomor {no} "
            f"{_pct(sz.value)} dari DPT (acuan {_pct(sz.median)}) sama-sama tinggi",
            f"turnout {_pct(tz.value)} (reference {_pct(tz.median)}) and no. {no}'s votes "
            f"{_pct(sz.value)} of the DPT (reference {_pct(sz.median)}) both high",
            cfg,
        )


def _one_sided(group: Sequence[TpsResult], cfg: ScreenConfig) -> Iterator[Finding]:
    for r in group:
        t = r.turnout
        if r.suara_sah < cfg.one_sided_min_valid or t is None or len(r.votes) < 2:
            continue
        line, top = r.leader()
        share = top / r.suara_sah
        if share >= cfg.one_sided_share and t >= cfg.one_sided_turnout:
            yield _finding(
                "ONE_SIDED_HIGH_TURNOUT",
                Severity.CRITICAL,
                r,
                {"line": line, "share": round(share, 4), "turnout": round(t, 4)},
                {"share_limit": cfg.one_sided_share, "turnout_limit": cfg.one_sided_turnout},
                f"nomor {line[1:]} meraih {_pct(share)} suara sah pada partisipasi {_pct(t)}",
                f"no. {line[1:]} has {_pct(share)} of valid votes at turnout {_pct(t)}",
                cfg,
            )


def _full_turnout(group: Sequence[TpsResult], cfg: ScreenConfig) -> Iterator[Finding]:
    for r in group:
        t = r.turnout
        if t is None or r.dpt < 50 or t < cfg.full_turnout:
            continue
        eligible = r.dpt + r.extra_voters
        yield _finding(
            "TURNOUT_FULL",
            Severity.CRITICAL,
            r,
            {"voters": r.voters, "turnout": round(t, 4)},
            {"dpt": r.dpt, "dptb_dpk": r.extra_voters, "eligible": eligible},
            f"partisipasi {_pct(t)}: {r.voters} pemilih dari DPT {r.dpt} + DPTb/DPK "
            f"{r.extra_voters}",
            f"turnout {_pct(t)}: {r.voters} voters for DPT {r.dpt} + DPTb/DPK {r.extra_voters}",
            cfg,
        )


def _invalid_outliers(group: Sequence[TpsResult], cfg: ScreenConfig) -> Iterator[Finding]:
    usable = [r for r in group if r.suara_sah + r.suara_tidak_sah >= cfg.invalid_min_cast]
    values = [r.invalid_share or 0.0 for r in usable]
    if len(values) < cfg.min_reference:
        return
    med, spread = center(values, cfg.invalid_mad_floor)
    for r, v in zip(usable, values, strict=True):
        z = (v - med) / spread
        if abs(z) >= cfg.invalid_z:
            yield _finding(
                "INVALID_SHARE_OUTLIER",
                Severity.WARNING,
                r,
                {"invalid_share": round(v, 4), "z": round(z, 2), "tidak_sah": r.suara_tidak_sah},
                {"median": round(med, 4), "mad": round(spread, 4), "n": len(values)},
                f"suara tidak sah {_pct(v)} vs median kecamatan {_pct(med)} (z {z:+.1f})",
                f"invalid votes {_pct(v)} vs kecamatan median {_pct(med)} (z {z:+.1f})",
                cfg,
            )


def _vector(r: TpsResult) -> tuple[int, ...]:
    return (*(v for _, v in sorted(r.votes, key=lambda kv: _line_no(kv[0]))), r.suara_tidak_sah)


def _identical(group: Sequence[TpsResult], cfg: ScreenConfig) -> Iterator[Finding]:
    """The same vote lines and invalid votes at two or more TPS; the later senders are flagged."""
    by_vector: dict[tuple[tuple[str, ...], tuple[int, ...]], list[TpsResult]] = defaultdict(list)
    for r in group:
        if r.suara_sah < cfg.identical_min_valid:
            continue
        if sum(1 for _, v in r.votes if v > 0) < cfg.identical_min_lines:
            continue
        lines = tuple(sorted((line for line, _ in r.votes), key=_line_no))
        by_vector[(lines, _vector(r))].append(r)
    for members in by_vector.values():
        if len(members) < 2:
            continue
        members.sort(key=lambda r: (r.received_at, r.tps))
        first = members[0]
        for r in members[1:]:
            yield _finding(
                "IDENTICAL_VOTES",
                Severity.CRITICAL,
                r,
                {"votes": dict(r.votes), "tidak_sah": r.suara_tidak_sah},
                {"tps": first.tps, "same_at": [m.tps for m in members if m is not r]},
                f"angka suara sama persis dengan TPS {first.tps} (dikirim lebih dulu)",
                f"vote counts identical to TPS {first.tps} (sent earlier)",
                cfg,
            )


def _round_counts(group: Sequence[TpsResult], cfg: ScreenConfig) -> Iterator[Finding]:
    base = cfg.round_base
    for r in group:
        big = [v for _, v in r.votes if v >= base]
        if len(big) < cfg.round_min_lines or any(v % base for v in big):
            continue
        chance = (1 / base) ** len(big)
        yield _finding(
            "ROUND_NUMBERS",
            Severity.WARNING,
            r,
            {"votes": dict(r.votes)},
            {"base": base, "chance": chance},
            f"{len(big)} perolehan suara semuanya kelipatan {base} (peluang {chance:.0e})",
            f"{len(big)} vote counts all multiples of {base} (chance {chance:.0e})",
            cfg,
        )


def _round_excess_area(
    contest: str, area: str, group: Sequence[TpsResult], cfg: ScreenConfig
) -> Iterator[Finding]:
    """More counts ending in 0 across an area than chance gives (one-sided binomial test)."""
    counts = [v for r in group for _, v in r.votes if v >= cfg.round_base]
    n = len(counts)
    if n < cfg.round_area_min_lines:
        return
    k = sum(1 for v in counts if v % cfg.round_base == 0)
    p0 = 1 / cfg.round_base
    p_value = binomial_sf(k, n, p0)
    if p_value <= cfg.round_area_p:
        yield Finding(
            code="ROUND_EXCESS_AREA",
            severity=Severity.INFO,
            contest=contest,
            tps=area,
            value={"round": k, "counts": n, "share": round(k / n, 4)},
            reference={"expected_share": p0, "p_value": p_value},
            pesan=f"{_pct(k / n)} perolehan suara berakhiran 0 vs {_pct(p0)} yang wajar "
            f"(p {p_value:.1e})",
            message=f"{_pct(k / n)} of vote counts end in 0 vs {_pct(p0)} by chance "
            f"(p {p_value:.1e})",
            action=Action.FLAG,
        )


def _revised_often(group: Sequence[TpsResult], cfg: ScreenConfig) -> Iterator[Finding]:
    for r in group:
        if r.version >= cfg.revised_versions:
            yield _finding(
                "REVISED_OFTEN",
                Severity.WARNING,
                r,
                {"version": r.version},
                {"limit": cfg.revised_versions},
                f"formulir direvisi {r.version - 1} kali",
                f"form revised {r.version - 1} times",
                cfg,
            )


# --- screens across contests and operators --------------------------------------------------


def _same_across_contests(results: Sequence[TpsResult], cfg: ScreenConfig) -> Iterator[Finding]:
    by_tps: dict[str, list[TpsResult]] = defaultdict(list)
    for r in results:
        if r.suara_sah >= cfg.same_contests_min_valid and len(r.votes) >= 2:
            by_tps[r.tps].append(r)
    for forms in by_tps.values():
        forms.sort(key=lambda r: (r.received_at, r.contest))
        for i, r in enumerate(forms):
            same = [o for o in forms[:i] if _vector(o)[:-1] == _vector(r)[:-1]]
            if same:
                yield _finding(
                    "SAME_ACROSS_CONTESTS",
                    Severity.CRITICAL,
                    r,
                    {"votes": [v for _, v in sorted(r.votes, key=lambda kv: _line_no(kv[0]))]},
                    {"contest": same[0].contest},
                    f"angka suara {r.contest} sama dengan {same[0].contest} di TPS yang sama",
                    f"{r.contest} vote counts equal {same[0].contest}'s at the same TPS",
                    cfg,
                )


def _operator_bursts(results: Sequence[TpsResult], cfg: ScreenConfig) -> Iterator[Finding]:
    by_op: dict[str, list[TpsResult]] = defaultdict(list)
    for r in results:
        if r.operator and r.channel in cfg.burst_channels:
            by_op[r.operator].append(r)
    for op, forms in by_op.items():
        forms.sort(key=lambda r: r.received_at)
        start = 0
        flagged: set[tuple[str, str]] = set()
        for end, r in enumerate(forms):
            while r.received_at - forms[start].received_at > cfg.burst_window_s:
                start += 1
            window = forms[start : end + 1]
            tps = {w.tps for w in window}
            if len(tps) >= cfg.burst_tps:
                for w in window:
                    if (w.contest, w.tps) in flagged:
                        continue
                    flagged.add((w.contest, w.tps))
                    yield _finding(
                        "OPERATOR_BURST",
                        Severity.WARNING,
                        w,
                        {"operator": op, "tps_in_window": len(tps)},
                        {"limit": cfg.burst_tps, "window_s": cfg.burst_window_s},
                        f"operator {op} mengirim {len(tps)} TPS dalam "
                        f"{cfg.burst_window_s / 60:.0f} menit",
                        f"operator {op} sent {len(tps)} TPS within "
                        f"{cfg.burst_window_s / 60:.0f} minutes",
                        cfg,
                    )


def _finding(
    code: str,
    severity: Severity,
    r: TpsResult,
    value: dict[str, Any],
    reference: dict[str, Any],
    pesan: str,
    message: str,
    cfg: ScreenConfig,
) -> Finding:
    return Finding(
        code=code,
        severity=severity,
        contest=r.contest,
        tps=r.tps,
        value=value,
        reference=reference,
        pesan=pesan,
        message=message,
        action=cfg.action_for(code),
    )


GroupScreen = Callable[[Sequence[TpsResult], ScreenConfig], Iterable[Finding]]

# Screens whose reference is the kecamatan (and its desa) within one contest.
GROUP_SCREENS: tuple[GroupScreen, ...] = (
    _turnout_outliers,
    _share_outliers,
    _stuffing_pattern,
    _one_sided,
    _full_turnout,
    _invalid_outliers,
    _identical,
    _round_counts,
    _revised_often,
)


def screen_kecamatan(
    results: Iterable[TpsResult], cfg: ScreenConfig | None = None
) -> list[Finding]:
    """Every finding for the results of one kecamatan (any contests): the unit of recompute.

    Every reference a screen uses lies inside the kecamatan (its TPS, desa, contests and, as
    operators are scoped to a kecamatan, its operators), so a change anywhere else cannot
    open or close a finding here.
    """
    cfg = cfg or ScreenConfig()
    rows = list(results)
    by_contest: dict[tuple[str, str], list[TpsResult]] = defaultdict(list)
    for r in rows:
        by_contest[(r.contest, r.kecamatan)].append(r)
    findings: list[Finding] = []
    for (contest, kecamatan), group in sorted(by_contest.items()):
        group.sort(key=lambda r: r.tps)
        for screen in GROUP_SCREENS:
            findings.extend(screen(group, cfg))
        findings.extend(_round_excess_area(contest, kecamatan, group, cfg))
    findings.extend(_same_across_contests(rows, cfg))
    findings.extend(_operator_bursts(rows, cfg))
    return _strongest_per_key(findings)


def screen_all(results: Iterable[TpsResult], cfg: ScreenConfig | None = None) -> list[Finding]:
    """screen_kecamatan over every kecamatan of the results."""
    by_kec: dict[str, list[TpsResult]] = defaultdict(list)
    for r in results:
        by_kec[r.kecamatan].append(r)
    out: list[Finding] = []
    for kec in sorted(by_kec):
        out.extend(screen_kecamatan(by_kec[kec], cfg))
    return out


def _strongest_per_key(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (contest, tps, code): the most severe, then the largest |z|."""
    best: dict[tuple[str, str, str], Finding] = {}
    for f in findings:
        old = best.get(f.key)
        if old is None or _strength(f) > _strength(old):
            best[f.key] = f
    return sorted(best.values(), key=lambda f: (f.tps, f.contest, f.code))


def _strength(f: Finding) -> tuple[int, float]:
    z = f.value.get("z", 0.0)
    return (f.severity.rank, abs(z) if isinstance(z, int | float) else 0.0)


@dataclass(frozen=True, slots=True)
class Reconciled:
    """What changes when a fresh run replaces the open findings of an area."""

    opened: list[Finding]
    updated: list[Finding]  # still open, with new numbers or severity
    closed: list[tuple[str, str, str]]  # keys of findings that no longer hold


def reconcile(open_now: Iterable[Finding], fresh: Iterable[Finding]) -> Reconciled:
    """Compare the stored open findings of an area with a fresh run over the same area."""
    old = {f.key: f for f in open_now}
    new = {f.key: f for f in fresh}
    opened = [f for k, f in new.items() if k not in old]
    updated = [f for k, f in new.items() if k in old and old[k] != f]
    closed = sorted(k for k in old if k not in new)
    return Reconciled(opened=opened, updated=updated, closed=closed)


def flagged_tps(findings: Iterable[Finding], min_severity: Severity = Severity.WARNING) -> set[str]:
    """TPS codes with at least one finding of the given severity or above."""
    return {
        f.tps for f in findings if f.severity.rank >= min_severity.rank and f.tps.count(".") == 4
    }


def held(findings: Iterable[Finding]) -> list[Finding]:
    """Findings whose configured action holds the TPS's numbers out of the totals."""
    return [f for f in findings if f.action is Action.HOLD]


# --- statistics helpers (pure, no numpy) -----------------------------------------------------


def binomial_sf(k: int, n: int, p: float) -> float:
    """P(X >= k) for X ~ Binomial(n, p), summed in log space."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    log_p, log_q = math.log(p), math.log1p(-p)
    terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * log_p
        + (n - i) * log_q
        for i in range(k, n + 1)
    ]  # fmt: skip
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def with_action(findings: Iterable[Finding], cfg: ScreenConfig) -> list[Finding]:
    """The findings with the action the configuration gives their code."""
    return [replace(f, action=cfg.action_for(f.code)) for f in findings]


def result_of_form(
    form: CHasil,
    dpt: int,
    *,
    version: int = 1,
    operator: str = "",
    channel: str = "api",
    received_at: float = 0.0,
) -> TpsResult:
    """The screens' view of a counted C.Hasil; `dpt` is the roster's DPT of the TPS."""
    if form.pemilih is not None:
        voters = form.pemilih.pengguna_total.jumlah
        extra = form.pemilih.pengguna_dptb.jumlah + form.pemilih.pengguna_dpk.jumlah
    else:
        voters, extra = form.suara_sah + form.suara_tidak_sah, 0
    return TpsResult(
        contest=str(form.contest),
        tps=form.tps,
        dpt=dpt,
        voters=voters,
        suara_sah=form.suara_sah,
        suara_tidak_sah=form.suara_tidak_sah,
        votes=tuple(sorted(form.votes_by_candidate().items(), key=lambda kv: _line_no(kv[0]))),
        extra_voters=extra,
        version=version,
        operator=operator,
        channel=channel,
        received_at=received_at,
    )
