"""`deskpemilu soak` end to end, shortened: its own stack, a steady rate, samples, checks."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

from deskpemilu.soak import run_soak


def test_a_short_soak_samples_every_process_and_records_every_form(tmp_path: Path) -> None:
    rows, checks, sending = asyncio.run(
        run_soak(hours=30 / 3600, rate=20, interval_s=10, out=tmp_path, drain_s=60)
    )
    # Freshness and lag depend on how busy the machine is; memory, descriptors, the count do not.
    failed = [
        f"{c.name}: {c.detail}"
        for c in checks
        if not c.ok and c.name not in ("freshness p99", "validator_lag", "aggregator_lag")
    ]
    assert not failed, failed
    assert sending.accepted >= 500  # 30 s at 20 forms/s, less a start-up second or two
    assert rows[-1]["recorded"] >= sending.accepted
    for name in ("intake", "validator", "aggregator", "api", "kafka", "postgres"):
        assert rows[-1][f"{name}_rss_mib"] > 10, name
        assert rows[-1][f"{name}_fds"] > 0, name
        assert rows[-1][f"{name}_cpu_s"] > 0, name
    # Every interval while sending has its freshness sample, and the samples cover the forms.
    assert all(r["fresh_forms"] > 0 and r["fresh_p99_ms"] > 0 for r in rows[1:-1]), rows
    assert sum(r["fresh_forms"] for r in rows) >= 0.9 * sending.accepted
    with (tmp_path / "samples.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == len(rows) >= 3
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {c["name"] for c in summary["checks"]} >= {
        "every accepted form recorded",
        "intake RSS",
        "kafka live heap",
    }
