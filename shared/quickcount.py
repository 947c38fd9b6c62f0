"""Quick-count estimators: pure functions over TPS reports (clusters), no I/O.

Used by the read API (the live quick count) and by the accuracy harness of the CLI. Method
(docs/QUICKCOUNT.md):

- Every estimate is a **combined ratio estimator** over strata (kecamatan) with the DPT as the
  auxiliary variable. In stratum h with DPT X_h, N_h TPS and k_h reported TPS, the total of a
  figure y is estimated by Y_h = X_h * sum(y_i) / sum(d_i) (d_i: the TPS's DPT). A vote line's
  share is sum_h A_h / sum_h M_h (A: its votes, M: valid votes), so shares sum to 1.
- Its variance by linearisation: with residuals e_i = a_i - p * m_i,
  Var(p) = sum_h X_h^2 (1 - f_h) / (k_h dbar_h^2) * s_h^2 / M^2, where s_h^2 is the sample
  variance of e_i - r_h d_i (r_h = sum e_i / sum d_i), dbar_h the mean DPT of the reported TPS and
  f_h = k_h / N_h the finite population correction with TPS as units. With one stratum and
  d_i = 1 this is Apollo's ratio-estimator variance.
- Turnout is voters / DPT, estimated the same way (its denominator, the DPT, is known).
- The lead is the difference of the top two shares, estimated with the residual
  (a1_i - a2_i) - lead * m_i, which carries their covariance. It is decided only when its
  interval excludes zero.
- **Stratum merge rule**: strata in code order; while a group has fewer than 2 reports and there
  is more than one group, it is merged into the next group in that order (the last one into the
  one before it). A merged group's DPT and TPS count are the sums of its strata.

The sample estimator applies this to the reported TPS of the drawn sample; the partial-count
estimator applies it to every reported TPS (post-stratification by kecamatan, assuming TPS report
at random within a kecamatan), and lists the strata that have no reports yet.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

Z95 = 1.959963984540054
Z99 = 2.5758293035489004
MIN_REPORTS_PER_GROUP = 2

FloatArray = npt.NDArray[np.float64]

SAMPLE = "stratified_ratio"
PARTIAL = "post_stratified"


@dataclass(frozen=True)
class StratumFrame:
    """One stratum of the population: its code, number of TPS and DPT (from the roster)."""

    code: str
    tps: int
    dpt: int


@dataclass(frozen=True)
class Report:
    """The counted result of one reported TPS."""

    tps: str
    stratum: str
    dpt: int
    voters: int  # everyone who voted (pengguna hak pilih)
    suara_sah: int
    votes: Mapping[str, int]  # vote line ('c2', 'p3') -> votes


@dataclass(frozen=True)
class Figure:
    """An estimated share (or turnout) with its standard error and intervals, all in [0, 1]."""

    key: str
    value: float
    se: float

    @property
    def margin95(self) -> float:
        """Half-width of the 95% interval."""
        return Z95 * self.se

    @property
    def margin99(self) -> float:
        """Half-width of the 99% interval."""
        return Z99 * self.se

    def interval(self, z: float = Z95) -> tuple[float, float]:
        """value -+ z * se."""
        return (self.value - z * self.se, self.value + z * self.se)


@dataclass(frozen=True)
class Lead:
    """The difference between the top two lines and whether it is certain."""

    leader: str
    runner_up: str
    difference: float
    se: float

    def interval(self, z: float = Z95) -> tuple[float, float]:
        """difference -+ z * se."""
        return (self.difference - z * self.se, self.difference + z * self.se)

    @property
    def decided95(self) -> bool:
        """The 95% interval of the lead excludes zero."""
        return self.interval(Z95)[0] > 0

    @property
    def decided99(self) -> bool:
        """The 99% interval of the lead excludes zero."""
        return self.interval(Z99)[0] > 0


@dataclass(frozen=True)
class Group:
    """Strata estimated together after the merge rule, with their number of reports."""

    strata: tuple[str, ...]
    reports: int


@dataclass(frozen=True)
class Estimate:
    """One estimate of a contest from reported TPS."""

    method: str  # SAMPLE or PARTIAL
    reports: int
    shares: tuple[Figure, ...]  # in the order of the lines asked for
    turnout: Figure
    lead: Lead | None  # None with fewer than two lines
    groups: tuple[Group, ...]
    strata_without_reports: tuple[str, ...]

    def share(self, key: str) -> Figure:
        """The figure of one vote line."""
        return next(f for f in self.shares if f.key == key)


def merge_strata(reports_per_stratum: Mapping[str, int]) -> list[tuple[str, ...]]:
    """Groups of strata (code order) such that each has at least 2 reports (see module doc)."""
    groups = [[code] for code in sorted(reports_per_stratum)]
    counts = [reports_per_stratum[g[0]] for g in groups]
    i = 0
    while i < len(groups) and len(groups) > 1:
        if counts[i] >= MIN_REPORTS_PER_GROUP:
            i += 1
            continue
        j = i + 1 if i + 1 < len(groups) else i - 1
        low, high = min(i, j), max(i, j)
        groups[low] = groups[low] + groups[high]
        counts[low] += counts[high]
        del groups[high], counts[high]
        i = low
    return [tuple(g) for g in groups]


@dataclass(frozen=True)
class _Frame:
    """Reports as arrays with the group of each, and the groups' population figures."""

    votes: FloatArray  # (k, L)
    sah: FloatArray
    voters: FloatArray
    dpt: FloatArray
    group: npt.NDArray[np.int64]
    group_dpt: FloatArray  # X_g
    group_tps: FloatArray  # N_g
    groups: tuple[Group, ...]


def _frame(
    reports: Sequence[Report], frame: Sequence[StratumFrame], lines: Sequence[str]
) -> _Frame:
    strata = {s.code: s for s in frame}
    counts = dict.fromkeys(strata, 0)
    for r in reports:
        if r.stratum not in strata:
            raise ValueError(f"report of {r.tps} names stratum {r.stratum!r} outside the frame")
        counts[r.stratum] += 1
    merged = merge_strata(counts)
    where = {code: g for g, codes in enumerate(merged) for code in codes}
    return _Frame(
        votes=np.array(
            [[r.votes.get(k, 0) for k in lines] for r in reports], dtype=np.float64
        ).reshape(len(reports), len(lines)),
        sah=np.array([r.suara_sah for r in reports], dtype=np.float64),
        voters=np.array([r.voters for r in reports], dtype=np.float64),
        dpt=np.array([r.dpt for r in reports], dtype=np.float64),
        group=np.array([where[r.stratum] for r in reports], dtype=np.int64),
        group_dpt=np.array([sum(strata[c].dpt for c in g) for g in merged], dtype=np.float64),
        group_tps=np.array([sum(strata[c].tps for c in g) for g in merged], dtype=np.float64),
        groups=tuple(Group(g, sum(counts[c] for c in g)) for g in merged),
    )


def _sums(f: _Frame, y: FloatArray) -> FloatArray:
    """Per group sum of y (k,) or (k, L) -> (G,) or (G, L)."""
    out = np.zeros((len(f.groups), *y.shape[1:]), dtype=np.float64)
    np.add.at(out, f.group, y)
    return out


def _total(f: _Frame, y: FloatArray) -> FloatArray:
    """Estimated population total of y: sum_g X_g * sum(y) / sum(d)."""
    ratio = _sums(f, y) / _sums(f, f.dpt).reshape(-1, *([1] * (y.ndim - 1)))
    total: FloatArray = (f.group_dpt.reshape(-1, *([1] * (y.ndim - 1))) * ratio).sum(axis=0)
    return total


def _variance_of_total(f: _Frame, y: FloatArray) -> FloatArray:
    """Variance of _total(y), y of shape (k,) or (k, L), with the finite population correction."""
    shape = (-1, *([1] * (y.ndim - 1)))
    k = np.bincount(f.group, minlength=len(f.groups)).astype(np.float64)
    sum_d = _sums(f, f.dpt)
    r = _sums(f, y) / sum_d.reshape(shape)
    resid = y - r[f.group] * f.dpt.reshape(shape)
    ss = _sums(f, resid**2)
    dbar = sum_d / k
    fpc = np.clip(1 - k / f.group_tps, 0.0, 1.0)
    per_group = (f.group_dpt**2 * fpc / (k * dbar**2 * (k - 1))).reshape(shape) * ss
    variance: FloatArray = per_group.sum(axis=0)
    return variance


def ratio_estimate(
    reports: Sequence[Report],
    frame: Sequence[StratumFrame],
    lines: Sequence[str],
    *,
    method: str,
) -> Estimate | None:
    """The stratified combined ratio estimate of every line's share, turnout and the lead.

    reports: the reported TPS to use; frame: every stratum of the population (all kecamatan of
    the roster, with their TPS count and DPT); lines: the contest's vote lines. None when fewer
    than 2 TPS have reported or no valid vote has been counted.
    """
    if len(reports) < MIN_REPORTS_PER_GROUP:
        return None
    f = _frame(reports, frame, lines)
    votes_total = _total(f, f.votes)
    valid_total = float(_total(f, f.sah))
    if valid_total <= 0:
        return None
    p = votes_total / valid_total
    resid = f.votes - f.sah[:, None] * p[None, :]
    var_p = _variance_of_total(f, resid) / valid_total**2
    shares = tuple(
        Figure(key, float(p[j]), math.sqrt(max(float(var_p[j]), 0.0)))
        for j, key in enumerate(lines)
    )
    dpt_total = float(f.group_dpt.sum())
    t = float(_total(f, f.voters)) / dpt_total
    var_t = float(_variance_of_total(f, f.voters)) / dpt_total**2
    turnout = Figure("turnout", t, math.sqrt(max(var_t, 0.0)))
    lead = None
    if len(lines) >= 2:
        order = sorted(range(len(lines)), key=lambda j: (-p[j], lines[j]))
        a, b = order[0], order[1]
        diff = float(p[a] - p[b])
        y = (f.votes[:, a] - f.votes[:, b]) - diff * f.sah
        var_d = float(_variance_of_total(f, y)) / valid_total**2
        lead = Lead(lines[a], lines[b], diff, math.sqrt(max(var_d, 0.0)))
    reported = {r.stratum for r in reports}
    return Estimate(
        method=method,
        reports=len(reports),
        shares=shares,
        turnout=turnout,
        lead=lead,
        groups=f.groups,
        strata_without_reports=tuple(sorted(s.code for s in frame if s.code not in reported)),
    )


def sample_estimate(
    sample_reports: Sequence[Report], frame: Sequence[StratumFrame], lines: Sequence[str]
) -> Estimate | None:
    """The quick count proper: the ratio estimate from the reported TPS of the drawn sample."""
    return ratio_estimate(sample_reports, frame, lines, method=SAMPLE)


def partial_count_estimate(
    reports: Sequence[Report], frame: Sequence[StratumFrame], lines: Sequence[str]
) -> Estimate | None:
    """Every reported TPS so far, post-stratified by kecamatan with DPT weights."""
    return ratio_estimate(reports, frame, lines, method=PARTIAL)


def raw_shares(reports: Sequence[Report], lines: Sequence[str]) -> dict[str, float]:
    """The raw running total: each line's share of the valid votes counted so far."""
    sah = sum(r.suara_sah for r in reports)
    return {k: (sum(r.votes.get(k, 0) for r in reports) / sah if sah else 0.0) for k in lines}


def frame_of(tps: Mapping[str, tuple[str, int]]) -> list[StratumFrame]:
    """Strata from TPS code -> (stratum, DPT): each stratum's TPS count and DPT."""
    count: dict[str, int] = {}
    dpt: dict[str, int] = {}
    for stratum, d in tps.values():
        count[stratum] = count.get(stratum, 0) + 1
        dpt[stratum] = dpt.get(stratum, 0) + d
    return [StratumFrame(code, count[code], dpt[code]) for code in sorted(count)]
