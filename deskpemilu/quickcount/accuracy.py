"""Accuracy harness: the quick-count estimators over many simulated days (pure, no services).

Each day d (seed = first_seed + d) draws the heterogeneous truth of the contest
(deskpemilu.simulator.model), draws a sample with the same seed (deskpemilu.quickcount.design)
and measures:

- the sample estimator with every sample TPS reported: per vote line (and turnout) the coverage
  of its 95% and 99% intervals, the mean 95% margin and the bias (mean error), in share points
  (0.01 = 1 point); the share of days whose lead was called and the share called wrongly;
- the partial real count at 10%, 20% and 50% of TPS reported, in the arrival order of a day
  without a sample (the nearest kecamatan first): the RMSE of the post-stratified estimate and of
  the raw running total, per line and over all lines, plus the coverage of the post-stratified
  95% interval.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from deskpemilu.quickcount.design import draw_sample
from deskpemilu.simulator.model import ContestTruth, TruthParams, contest_truth, report_times
from shared.form import Contest
from shared.quickcount import (
    Z95,
    Z99,
    Report,
    StratumFrame,
    frame_of,
    partial_count_estimate,
    raw_shares,
    sample_estimate,
)
from shared.roster import ElectionRoster

REPORTED_LEVELS = (0.10, 0.20, 0.50)


@dataclass(frozen=True)
class AccuracyTargets:
    """The issue's targets: coverage of every line within bounds, partial RMSE at most half raw."""

    coverage_low: float = 0.93
    coverage_high: float = 0.97
    rmse_ratio_at_20: float = 0.5


def reports_of(truth: ContestTruth, codes: Sequence[str]) -> list[Report]:
    """The true results of the given TPS as estimator input."""
    keys = truth.line_keys
    t = truth.turnout
    out = []
    for code in codes:
        i = truth.index[code]
        out.append(
            Report(
                tps=code, stratum=truth.kecamatan[i], dpt=int(t.dpt[i]), voters=int(t.voters[i]),
                suara_sah=int(truth.suara_sah[i]),
                votes={k: int(v) for k, v in zip(keys, truth.votes[i], strict=True)},
            )
        )  # fmt: skip
    return out


def population_frame(roster: ElectionRoster) -> list[StratumFrame]:
    """Kecamatan of the roster with their TPS count and DPT."""
    return frame_of({c: (t.kecamatan_code, t.dpt) for c, t in roster.tps.items()})


def run_accuracy(
    roster: ElectionRoster,
    contest: Contest,
    *,
    days: int = 200,
    sample_fraction: float = 0.10,
    first_seed: int = 1,
    params: TruthParams | None = None,
    targets: AccuracyTargets | None = None,
) -> dict[str, Any]:
    """Run the harness; returns the JSON-ready report (see module doc)."""
    params = params or TruthParams()
    targets = targets or AccuracyTargets()
    frame = population_frame(roster)
    truth0 = contest_truth(roster, contest, first_seed, params)
    keys = [*truth0.line_keys, "turnout"]
    err: dict[str, list[float]] = {k: [] for k in keys}
    se: dict[str, list[float]] = {k: [] for k in keys}
    lead_called = lead_wrong = 0
    partial_err: dict[float, list[list[float]]] = {lvl: [] for lvl in REPORTED_LEVELS}
    raw_err: dict[float, list[list[float]]] = {lvl: [] for lvl in REPORTED_LEVELS}
    partial_cover: dict[float, list[bool]] = {lvl: [] for lvl in REPORTED_LEVELS}
    sample_size = 0
    for day in range(days):
        seed = first_seed + day
        truth = contest_truth(roster, contest, seed, params)
        lines = list(truth.line_keys)
        final = {k: s for k, s in zip(lines, truth.final_shares().values(), strict=True)}
        t = truth.turnout
        final["turnout"] = float(t.voters.sum() / t.dpt.sum())
        sample = draw_sample(roster, seed=seed, fraction=sample_fraction)
        sample_size = sample.size
        est = sample_estimate(reports_of(truth, sample.tps), frame, lines)
        assert est is not None
        for fig in (*est.shares, est.turnout):
            err[fig.key].append(fig.value - final[fig.key])
            se[fig.key].append(fig.se)
        if est.lead is not None and est.lead.decided95:
            lead_called += 1
            true_leader = max(lines, key=lambda k: final[k])
            lead_wrong += est.lead.leader != true_leader
        times = report_times(roster, [contest], seed, params=params)[contest]
        order = sorted(times, key=times.__getitem__)
        for lvl in REPORTED_LEVELS:
            reports = reports_of(truth, order[: max(2, round(lvl * len(order)))])
            part = partial_count_estimate(reports, frame, lines)
            assert part is not None
            raw = raw_shares(reports, lines)
            partial_err[lvl].append([part.share(k).value - final[k] for k in lines])
            raw_err[lvl].append([raw[k] - final[k] for k in lines])
            partial_cover[lvl].append(
                all(abs(part.share(k).value - final[k]) <= Z95 * part.share(k).se for k in lines)
            )
    lines_report: dict[str, dict[str, float]] = {}
    for k in keys:
        e = np.array(err[k])
        s = np.array(se[k])
        lines_report[k] = {
            "coverage95": float(np.mean(np.abs(e) <= Z95 * s)),
            "coverage99": float(np.mean(np.abs(e) <= Z99 * s)),
            "mean_margin95": float(np.mean(Z95 * s)),
            "bias": float(np.mean(e)),
            "rmse": float(math.sqrt(np.mean(e**2))),
        }
    partial_report: dict[str, dict[str, Any]] = {}
    for lvl in REPORTED_LEVELS:
        pe = np.array(partial_err[lvl])
        re = np.array(raw_err[lvl])
        partial_report[f"{round(lvl * 100)}%"] = {
            "rmse_post_stratified": float(math.sqrt(np.mean(pe**2))),
            "rmse_raw": float(math.sqrt(np.mean(re**2))),
            "by_line": {
                k: {
                    "rmse_post_stratified": float(math.sqrt(np.mean(pe[:, j] ** 2))),
                    "rmse_raw": float(math.sqrt(np.mean(re[:, j] ** 2))),
                }
                for j, k in enumerate(truth0.line_keys)
            },
            "coverage95_all_lines": float(np.mean(partial_cover[lvl])),
        }
    at20 = partial_report["20%"]
    coverage_ok = all(
        targets.coverage_low <= v["coverage95"] <= targets.coverage_high
        for v in lines_report.values()
    )
    rmse_ok = at20["rmse_post_stratified"] <= targets.rmse_ratio_at_20 * at20["rmse_raw"]
    return {
        "election": roster.election_id,
        "contest": str(contest),
        "days": days,
        "first_seed": first_seed,
        "tps": len(roster.tps),
        "sample_fraction": sample_fraction,
        "sample_size": sample_size,
        "method": "stratified combined ratio estimator (kecamatan strata, DPT auxiliary, FPC)",
        "lines": lines_report,
        "lead": {"called_share": lead_called / days, "called_wrong": lead_wrong},
        "partial_count": partial_report,
        "targets": {
            "coverage95": [targets.coverage_low, targets.coverage_high],
            "rmse_ratio_at_20": targets.rmse_ratio_at_20,
            "coverage_ok": coverage_ok,
            "rmse_ok": rmse_ok,
            "met": coverage_ok and rmse_ok,
        },
    }
