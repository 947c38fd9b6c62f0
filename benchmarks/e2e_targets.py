"""`make bench`: the end-to-end targets of the pipeline in one pass, written to RESULTS.md.

On a private Kafka and PostgreSQL (deploy/stack.sh in a temporary RUN_DIR: the broker's and the
server's CPU are this run's alone), with the four services on 12 partitions, it measures:

0. a warm-up, not measured: single forms of the national roster (the stack has just started;
   a desk's runs from the morning);
1. the Banyuasin day through the channel mix (app, sheet, WhatsApp, SMS; the simulator), wall
   time until every submission is recorded;
2. sustained forms/s through the single-form API (POST /v1/submissions, the lean load generator
   deskpemilu/loadgen.py as fast as its connections allow), until every form is recorded in
   PostgreSQL; CPU per form of each process (intake, Kafka, validator, aggregator, PostgreSQL,
   and the generator's own);
3. freshness at half the sustained rate: 202 until the form shows in GET /v1/tps/...;
4. a national slice (single forms spread over 38 provinces of the 823,220-TPS roster) and the
   4.1-million-form national day PROJECTED from its rate;
5. Kafka's ProducerPerformance on that broker, last (once its JIT is warm): the ceiling, and the
   sustained rate as a share of it;

then prints each target with its verdict and rewrites the block between the `e2e-targets`
markers in benchmarks/RESULTS.md (the rest of the file is left as it is).

    .venv/bin/python -m benchmarks.e2e_targets
    .venv/bin/python -m benchmarks.e2e_targets --sustained-forms 8000 --no-write
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import io
import json
import math
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks import e2e_bench  # noqa: E402
from benchmarks.e2e_bench import NATIONAL_FORMS, Bench, CpuMeter, _spread, _sub_roster  # noqa: E402
from benchmarks.e2e_common import (  # noqa: E402
    RESULT_PREFIX,
    BenchPipeline,
    Meter,
    bench_pipeline,
    exited_services,
    load_average,
    process_groups,
    recorded,
    run_loadgen,
    stack_for,
    wait_recorded,
)
from deskpemilu import loadgen, national, runtime  # noqa: E402
from deskpemilu.roster_load import load_roster  # noqa: E402
from shared.roster import ElectionRoster, TpsInfo  # noqa: E402
from shared.roster_db import fetch_election_roster  # noqa: E402
from tests.e2e.pipeline import PrivateStack  # noqa: E402

RESULTS_MD = REPO / "benchmarks" / "RESULTS.md"
START = "<!-- e2e-targets:start (rewritten by make bench) -->"
END = "<!-- e2e-targets:end -->"
SUMMED = ("intake", "kafka broker", "validator", "aggregator", "postgres")


@dataclasses.dataclass
class Figures:
    """What the run measured, for the table."""

    rows: list[tuple[str, str, str, str]] = dataclasses.field(default_factory=list)
    lines: list[str] = dataclasses.field(default_factory=list)

    def target(self, name: str, value: str, target: str, met: bool | None) -> None:
        """One figure with its target and verdict."""
        verdict = "-" if met is None else ("met" if met else "NOT met")
        self.rows.append((name, value, target, verdict))
        print(f"  TARGET {name}: {value} (target {target}: {verdict})", flush=True)

    def note(self, text: str) -> None:
        """A line printed now and kept for RESULTS.md."""
        self.lines.append(text)
        print(f"  {text}", flush=True)


@dataclasses.dataclass
class Run:
    """The pipeline and what the phases need."""

    stack: PrivateStack
    started: BenchPipeline
    meter: Meter
    out: Path

    @property
    def conn(self) -> asyncpg.Connection:
        """The connection to the run's database."""
        return self.started.conn


async def _send(
    run: Run,
    requests: list[bytes],
    *,
    rate: float,
    connections: int,
    sample_every: int = 0,
    on_accept: Callable[[int, float, bytes], None] | None = None,
) -> tuple[dict[str, Any], int, float, dict[str, float]]:
    """Send through the load generator; (its report, forms recorded, wall s, CPU s by process)."""
    path = run.out / f"send-{uuid.uuid4().hex[:6]}.requests"
    loadgen.write_requests(path, requests)
    baseline = await recorded(run.conn)
    run.meter.begin()
    started = time.monotonic()
    report = await run_loadgen(
        path,
        run.started.pipeline.services["intake"].port,
        rate=rate,
        connections=connections,
        sample_every=sample_every,
        on_accept=on_accept,
    )
    _, count = await wait_recorded(run.conn, baseline + report["distinct_202"], started + 600)
    wall = time.monotonic() - started
    cpu = run.meter.end()
    cpu["load generator"] = report["cpu_s"]
    path.unlink()
    return report, count - baseline, wall, cpu


def _requests(run: Run, roster: ElectionRoster, count: int, seed: int) -> list[bytes]:
    port = run.started.pipeline.services["intake"].port
    return loadgen.form_requests(
        roster,
        run.started.operators,
        run.started.tokens,
        host=f"127.0.0.1:{port}",
        count=count,
        seed=seed,
        key_prefix=f"bench-{seed}-{uuid.uuid4().hex[:6]}",
    )


async def sustained(run: Run, figures: Figures, forms: int, connections: int) -> float:
    """Single forms as fast as allowed; returns the recorded forms/s."""
    roster = await fetch_election_roster(run.conn, "pemilu-2024")
    assert roster is not None
    print(f"\n== Sustained: {forms:,} single forms (revisions of the Banyuasin forms), "
          f"{connections} connections (load {load_average()})", flush=True)  # fmt: skip
    requests = _requests(run, roster, forms, seed=7)
    report, done, wall, cpu = await _send(run, requests, rate=0, connections=connections)
    rate = done / wall
    complete = done >= report["distinct_202"] == forms
    per_form = {name: used / max(1, done) * 1e6 for name, used in cpu.items()}
    summed = sum(per_form.get(name, 0.0) for name in SUMMED)
    figures.target(
        "sustained forms/s, single-form API, every form recorded",
        f"{rate:,.0f} forms/s ({done:,} of {forms:,} recorded in {wall:.1f}s; HTTP "
        f"{report['statuses']})",
        ">= 1,000",
        rate >= 1000 and complete,
    )
    figures.target(
        "CPU per form: intake + Kafka + validator + aggregator + PostgreSQL",
        f"{summed / 1000:.2f} ms ("
        + ", ".join(f"{n} {per_form.get(n, 0):,.0f} us" for n in SUMMED)
        + f"; api {per_form.get('api', 0):,.0f} us)",
        "<= 1.5 ms",
        summed <= 1500,
    )
    generator = per_form["load generator"]
    figures.target(
        "load generator CPU per form, share of the pipeline's",
        f"{generator:,.0f} us = {generator / max(1e-9, summed):.1%}",
        "<= 25 %",
        generator <= summed / 4,
    )
    # The recorded rate even when some forms were refused: the later phases run at a share of it.
    return rate


async def freshness(
    run: Run, figures: Figures, national_roster: ElectionRoster, tps: list[TpsInfo], rate: float,
    seconds: float, viewer_token: str,
) -> None:  # fmt: skip
    """Single forms at `rate`; each sampled 202 is polled on the read API until it shows."""
    sub = _sub_roster(national_roster, tps)
    forms = max(10, int(rate * seconds))
    pairs = loadgen.form_pairs(sub)
    every = max(1, round(rate / 5))
    print(f"\n== Freshness: {forms:,} single forms at {rate:,.0f}/s, every {every}th polled "
          f"every 25 ms (load {load_average()})", flush=True)  # fmt: skip
    requests = _requests(run, sub, forms, seed=11)
    delays: list[float] = []
    missing = 0
    tasks: list[asyncio.Task[None]] = []
    async with httpx.AsyncClient(
        base_url=run.started.pipeline.api_url, timeout=30,
        headers={"Authorization": f"Bearer {viewer_token}"},
    ) as api:  # fmt: skip

        async def watch(index: int, accepted_at: float, body: bytes) -> None:
            nonlocal missing
            import orjson

            submission_id = orjson.loads(body)["submission_id"]
            info, contest = pairs[index % len(pairs)]
            path = f"/v1/tps/{sub.election_id}/{contest}/{info.code}"
            while time.monotonic() < accepted_at + 60:
                response = await api.get(path)
                if response.status_code == 200 and submission_id in {
                    s["submission_id"] for s in response.json()["submissions"]
                }:
                    delays.append(time.monotonic() - accepted_at)
                    return
                await asyncio.sleep(0.025)
            missing += 1

        def on_accept(index: int, at: float, body: bytes) -> None:
            tasks.append(asyncio.create_task(watch(index, at, body)))

        report, done, _, _ = await _send(
            run, requests, rate=rate, connections=max(16, int(rate / 8)), sample_every=every,
            on_accept=on_accept,
        )  # fmt: skip
        await asyncio.gather(*tasks)
    delays.sort()
    if not delays:
        figures.target("freshness p99 at half the sustained rate", "no sample", "<= 500 ms", False)
        return
    p50 = delays[max(0, math.ceil(0.5 * len(delays)) - 1)] * 1000
    p99 = delays[max(0, math.ceil(0.99 * len(delays)) - 1)] * 1000
    figures.target(
        "freshness p99 (202 to visible in GET /v1/tps) at half the sustained rate",
        f"{p99:,.0f} ms (p50 {p50:,.0f} ms; {len(delays)} samples, {missing} never seen; "
        f"offered {report['answered_per_s']:,.0f} forms/s, {done:,} recorded)",
        "<= 500 ms",
        p99 <= 500 and not missing,
    )


async def banyuasin(run: Run, figures: Figures, concurrency: int) -> None:
    """The whole Banyuasin day through the channel mix (e2e_bench's phase, the simulator)."""
    started = run.started
    cpu = CpuMeter(process_groups(started.pipeline, started.database, run.stack))
    bench = Bench(
        started.pipeline,
        started.conn,
        started.operators,
        started.tokens,
        started.phones,
        concurrency,
        300,
        cpu,
    )
    day = await e2e_bench.banyuasin_day(bench, 14022024, None)
    figures.target(
        "Banyuasin day wall time (12,820 forms, channel mix, simulator)",
        f"{day.wall_s:,.1f} s ({day.forms_per_s:,.0f} forms/s; {day.distinct:,} submissions, "
        f"{'all recorded' if day.complete else 'NOT all recorded'})",
        "<= 20 s",
        day.complete and day.wall_s <= 20,
    )


class _Tee(io.TextIOBase):
    def __init__(self, copy: io.StringIO) -> None:
        self.copy = copy

    def write(self, text: str) -> int:
        if sys.__stdout__ is not None:
            sys.__stdout__.write(text)
            sys.__stdout__.flush()
        return self.copy.write(text)


async def national_slice(
    run: Run, figures: Figures, national_roster: ElectionRoster, tps: list[TpsInfo],
    connections: int,
) -> None:  # fmt: skip
    """Single forms over TPS of every province; the national day projected from the rate."""
    sub = _sub_roster(national_roster, tps)
    forms = len(tps) * len(sub.contests)
    provinces = len({t.code[:2] for t in tps})
    print(f"\n== National slice: {forms:,} single forms, {len(tps):,} TPS in {provinces} "
          f"provinces (load {load_average()})", flush=True)  # fmt: skip
    requests = _requests(run, sub, forms, seed=13)
    _, done, wall, _ = await _send(run, requests, rate=0, connections=connections)
    rate = done / wall
    hours = NATIONAL_FORMS / rate / 3600 if rate else math.inf
    figures.target(
        "national day PROJECTED from a measured national slice",
        f"{hours:,.1f} hours (PROJECTION: {NATIONAL_FORMS:,} forms at the slice's {rate:,.0f} "
        f"forms/s; slice {done:,} of {forms:,} forms recorded in {wall:.1f}s, {len(tps):,} TPS "
        f"in {provinces} provinces)",
        "-",
        None,
    )


def ceiling(bootstrap: str, records: int, figures: Figures) -> float | None:
    """ProducerPerformance on the private broker (e2e_bench.kafka_ceiling), records/s."""
    captured = io.StringIO()
    with contextlib.redirect_stdout(_Tee(captured)):
        e2e_bench.kafka_ceiling(bootstrap, records, 700, 12)
    for line in captured.getvalue().splitlines():
        if line.startswith(RESULT_PREFIX):
            record = json.loads(line[len(RESULT_PREFIX) :])
            if record["name"] == "kafka ceiling records/s":
                figures.target(
                    "Kafka ProducerPerformance (ceiling, same broker)",
                    f"{record['value']:,.0f} records/s ({record['note']})",
                    "-",
                    None,
                )
                return float(record["value"])
    figures.target("Kafka ProducerPerformance (ceiling, same broker)", "FAILED", "-", None)
    return None


async def run_all(args: argparse.Namespace, stack: PrivateStack, figures: Figures) -> None:
    """Every phase on one pipeline."""
    out = Path(args.out)
    roster_dir = Path(tempfile.mkdtemp(prefix="national-"))

    async def national_roster(conn: asyncpg.Connection, database: str) -> None:
        started = time.monotonic()
        national.generate(roster_dir)
        await load_roster(conn, roster_dir)
        figures.note(f"national roster generated and loaded in {time.monotonic() - started:.0f}s")

    try:
        async with bench_pipeline(
            stack.kafka_bootstrap, stack.database_url, out, prepare=national_roster
        ) as started:
            meter = Meter(process_groups(started.pipeline, started.database, stack))
            await run_phases(args, Run(stack, started, meter, out), figures)
    finally:
        shutil.rmtree(roster_dir, ignore_errors=True)


async def warm_up(run: Run, figures: Figures, national_roster: ElectionRoster,
                  tps: list[TpsInfo], connections: int) -> None:  # fmt: skip
    """Single forms of the national roster before the day, sent and recorded, not measured.

    A desk's stack runs from the morning, hours before the counting starts; a stack started a
    minute ago spends its first minutes compiling (the broker's JIT) and filling its pools and
    caches. The figures below are those of a running stack, not of its start.
    """
    if not tps:
        return
    sub = _sub_roster(national_roster, tps)
    forms = len(tps) * len(sub.contests)
    print(f"\n== Warm-up: {forms:,} single forms of the national roster, not measured "
          f"(load {load_average()})", flush=True)  # fmt: skip
    report, done, wall, _ = await _send(
        run, _requests(run, sub, forms, seed=5), rate=0, connections=connections
    )
    figures.note(
        f"warm-up before the day, not measured: {done:,} of {forms:,} single forms of the "
        f"national roster recorded in {wall:.1f}s (HTTP {report['statuses']}); the stack had "
        "just started (a desk's runs from the morning, and a broker just started compiles for "
        "its first minutes)"
    )


async def run_phases(args: argparse.Namespace, run: Run, figures: Figures) -> None:
    """A warm-up, Banyuasin, sustained, freshness at half that rate, the national slice."""
    nat = await fetch_election_roster(run.conn, national.ELECTION_ID)
    assert nat is not None
    all_tps = list(nat.tps.values())
    warm_tps = _spread(all_tps, args.warmup_forms // len(nat.contests), 0.25)
    await warm_up(run, figures, nat, warm_tps, args.connections)
    await banyuasin(run, figures, args.concurrency)
    rate = await sustained(run, figures, args.sustained_forms, args.connections)
    warmed = {t.code for t in warm_tps}
    all_tps = [t for t in all_tps if t.code not in warmed]
    fresh_tps = _spread(all_tps, max(1, int(args.fresh_seconds * max(rate, 40) / 10)), 0.5)
    taken = {t.code for t in fresh_tps}
    slice_tps = _spread([t for t in all_tps if t.code not in taken], args.national_forms // 5, 0)
    viewer = next(op for op in run.started.refs if op.id == "viewer-nasional")
    await freshness(run, figures, nat, fresh_tps, max(20.0, rate / 2), args.fresh_seconds,
                    run.started.tokens[viewer.id])  # fmt: skip
    await national_slice(run, figures, nat, slice_tps, args.connections)
    args.sustained_rate = rate
    for name, code in exited_services(run.started.pipeline):
        figures.note(f"{name} EXITED {code}: see its log in {run.out}")


def write_results(figures: Figures, command: str, load_start: str, load_end: str,
                  seconds: float) -> None:  # fmt: skip
    """Replace the e2e-targets block of RESULTS.md (added after the title if missing)."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    block = [
        START,
        "## End-to-end targets (`make bench`)",
        "",
        f"- command: `{command}` (benchmarks/e2e_targets.py; private Kafka and PostgreSQL, "
        "4 services, 12 partitions)",
        f"- run: ended {now}, {seconds:.0f} s; machine: {e2e_bench.cpu_model()}, "
        f"{os.cpu_count()} logical CPUs, {e2e_bench.meminfo_gib()}",
        f"- load average (1/5/15 min): start {load_start}, end {load_end}",
        "",
        "| figure | value | target | verdict |",
        "|---|---|---|---|",
        *(f"| {n} | {v} | {t} | {m} |" for n, v, t, m in figures.rows),
        "",
        *(f"- {line}" for line in figures.lines),
        END,
    ]
    text = RESULTS_MD.read_text()
    if START in text and END in text:
        head, _, rest = text.partition(START)
        _, _, tail = rest.partition(END)
        text = head + "\n".join(block) + tail
    else:
        first, _, rest = text.partition("\n## ")
        text = first + "\n" + "\n".join(block) + "\n\n## " + rest
    RESULTS_MD.write_text(text)


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sustained-forms", type=int, default=20_000)
    parser.add_argument("--national-forms", type=int, default=20_000)
    parser.add_argument("--fresh-seconds", type=float, default=30)
    parser.add_argument("--connections", type=int, default=128, help="for the max-rate phases")
    parser.add_argument("--concurrency", type=int, default=e2e_bench.DAY_CONCURRENCY,
                        help="the Banyuasin day's sends in flight")  # fmt: skip
    parser.add_argument("--ceiling-records", type=int, default=1_000_000)
    parser.add_argument("--warmup-forms", type=int, default=5_000,
                        help="national forms sent before the day, unmeasured; 0: none")  # fmt: skip
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--out", default=str(runtime.RUN_DIR / "bench-targets"))
    args = parser.parse_args()
    command = (
        "make bench" if len(sys.argv) == 1 else "make bench ARGS='" + " ".join(sys.argv[1:]) + "'"
    )
    load_start = load_average()
    print(f"load average at start: {load_start}", flush=True)
    started = time.monotonic()
    figures = Figures()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    with stack_for(True) as (bootstrap, _, stack):
        assert stack is not None
        args.sustained_rate = 0.0
        asyncio.run(run_all(args, stack, figures))
        # After the pipeline phases: a broker just started runs its first minute on a cold JIT.
        records_per_s = ceiling(bootstrap, args.ceiling_records, figures)
        if records_per_s:
            rate = args.sustained_rate
            figures.target(
                "end-to-end forms/s as a share of Kafka's ProducerPerformance records/s",
                f"{rate / records_per_s:.2%} ({rate:,.0f} forms/s of {records_per_s:,.0f} "
                "records/s, same run, same broker)",
                "-",
                None,
            )
    load_end = load_average()
    print(f"load average at end: {load_end}", flush=True)
    print("\n== Targets")
    for name, value, target, verdict in figures.rows:
        print(f"  {verdict:>7}  {name}: {value} (target {target})")
    if not args.no_write:
        write_results(figures, command, load_start, load_end, time.monotonic() - started)
        print(f"wrote the e2e-targets block of {RESULTS_MD}")


if __name__ == "__main__":
    main()
