"""Sample design of the quick count: a stratified systematic sample of TPS (pure, seedable).

- Strata: kecamatan.
- Allocation: proportional to the stratum's DPT, at least 2 TPS per stratum (never more than it
  has), the total kept exactly at the size asked for: after the minimum, each further TPS goes
  to the stratum furthest below its quota (size * DPT_h / DPT) relative to that quota.
- Selection: within a stratum, TPS in the documented order ``SAMPLE_ORDER`` (DPT ascending, then
  TPS code); a random start u in [0, N_h / n_h) and every (N_h / n_h)-th TPS from there.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

from shared.errors import BilingualError
from shared.roster import ElectionRoster, TpsInfo

DEFAULT_FRACTION = 0.10
MIN_PER_STRATUM = 2
SAMPLE_ORDER = "dpt ascending, then TPS code"
DESIGN = "stratified (kecamatan), proportional to DPT, >= 2 per stratum, systematic"


class SampleSizeError(BilingualError):
    """A sample size the roster cannot give."""


@dataclass(frozen=True)
class Sample:
    """A drawn sample: the TPS and how many were allocated to each stratum."""

    election: str
    seed: int
    size: int
    allocation: Mapping[str, int]  # kecamatan -> n_h
    tps: tuple[str, ...]  # sorted codes


def _order_key(t: TpsInfo) -> tuple[int, str]:
    return (t.dpt, t.code)


def allocate(strata: Mapping[str, tuple[int, int]], size: int) -> dict[str, int]:
    """n_h per stratum from stratum -> (TPS count, DPT): proportional to DPT, >= 2, sums to size."""
    total_tps = sum(n for n, _ in strata.values())
    floor_min = sum(min(MIN_PER_STRATUM, n) for n, _ in strata.values())
    if size > total_tps:
        raise SampleSizeError(
            "SAMPLE_TOO_LARGE",
            f"sampel {size} TPS lebih besar dari roster ({total_tps} TPS)",
            f"a sample of {size} TPS is larger than the roster ({total_tps} TPS)",
        )
    if size < floor_min:
        raise SampleSizeError(
            "SAMPLE_TOO_SMALL",
            f"sampel minimal {floor_min} TPS ({MIN_PER_STRATUM} per kecamatan)",
            f"a sample needs at least {floor_min} TPS ({MIN_PER_STRATUM} per kecamatan)",
        )
    dpt_total = sum(d for _, d in strata.values())
    alloc = {h: min(MIN_PER_STRATUM, n) for h, (n, _) in strata.items()}
    # Hand out the rest one by one to the stratum furthest below its proportional quota,
    # relative to that quota (ties: the higher code).
    quota = {h: size * max(d, 1) / max(dpt_total, 1) for h, (_, d) in strata.items()}
    for _ in range(size - sum(alloc.values())):
        open_ = [h for h, (n, _) in strata.items() if alloc[h] < n]
        best = max(open_, key=lambda h: ((quota[h] - alloc[h]) / quota[h], h))
        alloc[best] += 1
    return alloc


def draw_sample(
    roster: ElectionRoster, *, seed: int, size: int | None = None, fraction: float | None = None
) -> Sample:
    """Draw the stratified systematic sample (see module doc); default 10% of the TPS."""
    by_stratum: dict[str, list[TpsInfo]] = {}
    for t in roster.tps.values():
        by_stratum.setdefault(t.kecamatan_code, []).append(t)
    if size is None:
        size = max(1, round(len(roster.tps) * (DEFAULT_FRACTION if fraction is None else fraction)))
    if size <= 0:
        raise SampleSizeError(
            "SAMPLE_TOO_SMALL", "ukuran sampel harus positif", "the sample size must be positive"
        )
    strata = {h: (len(ts), sum(t.dpt for t in ts)) for h, ts in by_stratum.items()}
    alloc = allocate(strata, size)
    rng = random.Random(seed)
    chosen: list[str] = []
    for h in sorted(by_stratum):
        ordered = sorted(by_stratum[h], key=_order_key)
        n = alloc[h]
        if n == 0:
            continue
        step = len(ordered) / n
        start = rng.uniform(0, step)
        picks = {min(len(ordered) - 1, math.floor(start + j * step)) for j in range(n)}
        chosen.extend(ordered[i].code for i in sorted(picks))
    return Sample(roster.election_id, seed, size, alloc, tuple(sorted(chosen)))
