"""Quick-count estimators: CPU time of one estimate on Banyuasin (what GET /v1/quickcount pays on
a cache miss, beside its query) and of one simulated day of the accuracy harness. No services.

    .venv/bin/python -m benchmarks.quickcount_bench [--repeat 50]
"""

from __future__ import annotations

import argparse
import os
import time

from deskpemilu.quickcount.accuracy import population_frame, reports_of, run_accuracy
from deskpemilu.quickcount.design import draw_sample
from deskpemilu.quickcount.rosters import roster_of
from deskpemilu.simulator.model import contest_truth
from shared.form import Contest
from shared.quickcount import partial_count_estimate, sample_estimate


def _cpu_ms(fn: object, repeat: int) -> float:
    assert callable(fn)
    started = time.process_time()
    for _ in range(repeat):
        fn()
    return (time.process_time() - started) * 1000 / repeat


def main() -> None:
    """Print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=50)
    args = parser.parse_args()
    roster = roster_of("pemilu-2024")
    truth = contest_truth(roster, Contest.PPWP, 1)
    frame = population_frame(roster)
    lines = list(truth.line_keys)
    sample = reports_of(truth, draw_sample(roster, seed=1).tps)
    everything = reports_of(truth, list(truth.tps))
    print("Quick-count estimators (CPU ms, mean of --repeat runs; Banyuasin Pemilu 2024 PPWP)")
    print(
        f"load average (1/5/15 min) at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )
    sample_ms = _cpu_ms(lambda: sample_estimate(sample, frame, lines), args.repeat)
    print(f"sample estimate, {len(sample)} sample TPS: {sample_ms:.2f} ms")
    partial_ms = _cpu_ms(lambda: partial_count_estimate(everything, frame, lines), args.repeat)
    print(f"partial count, {len(everything)} reported TPS: {partial_ms:.2f} ms")
    truth_ms = _cpu_ms(lambda: contest_truth(roster, Contest.PPWP, 2), max(1, args.repeat // 5))
    print(f"simulated truth of one day, {len(roster.tps)} TPS: {truth_ms:.1f} ms")
    started = time.process_time()
    run_accuracy(roster, Contest.PPWP, days=10)
    print(f"accuracy harness, 10 days: {(time.process_time() - started):.2f} s CPU")
    print(f"load average (1/5/15 min) at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
