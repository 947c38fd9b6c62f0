"""Quick-count ratio estimator: candidate shares from reported TPS treated as a cluster sample."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class TpsSample:
    """One reported TPS: its vote lines and its valid-vote total (the cluster size)."""

    votes: Mapping[str, int]
    suara_sah: int


@dataclass(frozen=True, slots=True)
class ShareEstimate:
    """Estimated share of one vote line with its standard error and 95% interval (fractions)."""

    candidate: str
    share: float
    std_error: float | None  # None with fewer than two sample TPS
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class QuickCount:
    """Estimates for every vote line over one area."""

    sample_size: int  # reported TPS used
    population_size: int  # TPS in the roster of the area
    sampling_fraction: float
    estimates: tuple[ShareEstimate, ...]


def ratio_estimate(
    samples: Sequence[TpsSample],
    candidates: Iterable[str],
    population_size: int,
    *,
    z: float = Z_95,
) -> QuickCount | None:
    """Ratio estimator sum(y)/sum(x) per line, variance with finite population correction.

    Var(r) = (1 - n/N) * sum((y_i - r x_i)^2) / ((n - 1) * n * mean(x)^2). None when no sample TPS
    has valid votes.
    """
    n = len(samples)
    total_valid = sum(s.suara_sah for s in samples)
    if n == 0 or total_valid <= 0:
        return None
    big_n = max(population_size, n)
    fpc = 1.0 - n / big_n
    mean_x = total_valid / n
    estimates = []
    for line in candidates:
        total_y = sum(s.votes.get(line, 0) for s in samples)
        ratio = total_y / total_valid
        if n < 2:
            estimates.append(ShareEstimate(line, ratio, None, 0.0, 1.0))
            continue
        residual_ss = math.fsum((s.votes.get(line, 0) - ratio * s.suara_sah) ** 2 for s in samples)
        variance = fpc * residual_ss / ((n - 1) * n * mean_x * mean_x)
        std_error = math.sqrt(max(variance, 0.0))
        estimates.append(
            ShareEstimate(
                line,
                ratio,
                std_error,
                max(0.0, ratio - z * std_error),
                min(1.0, ratio + z * std_error),
            )
        )
    return QuickCount(n, big_n, n / big_n, tuple(estimates))
