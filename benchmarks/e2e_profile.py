"""Where the CPU per form goes end to end: each process at fixed offered rates, with profiles.

Starts the four services on their own topics and scratch database (by default on a private
Kafka and PostgreSQL started by deploy/stack.sh in a temporary RUN_DIR, so the broker's and the
database's CPU are this run's alone and pg_stat_statements can be switched on), then for each
offered rate sends single forms through POST /v1/submissions with the lean load generator
(deskpemilu/loadgen.py, its own process) and measures, from the first send until every form is
recorded in PostgreSQL:

- CPU seconds per process (/proc/<pid>/stat utime+stime): intake, validator, aggregator, api,
  PostgreSQL (every process of the private server, or this database's backends), the Kafka
  broker, and the load generator's own (getrusage); per form recorded;
- with --py-spy, a sampling profile of each Python service (py-spy record --nonblocking), cut
  down to the functions holding most samples, by self time and by inclusive time;
- PostgreSQL statements (pg_stat_statements, private stack only): calls per form, time;
- the broker's own request counts by type (its RequestMetrics over JMX, private stack only):
  requests per form.

    .venv/bin/python -m benchmarks.e2e_profile --rates 100,500,max --seconds 20 --py-spy
    .venv/bin/python -m benchmarks.e2e_profile --shared-stack --rates 500 --seconds 10

Every figure is printed for people and as a `RESULT {json}` line; profiles go to --out.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.e2e_common import (  # noqa: E402
    BrokerRequests,
    Meter,
    bench_pipeline,
    load_average,
    process_groups,
    recorded,
    request_deltas,
    result,
    run_loadgen,
    stack_for,
    wait_recorded,
)
from deskpemilu import loadgen, runtime  # noqa: E402
from deskpemilu.simulator.plan import Operators  # noqa: E402
from shared.roster import ElectionRoster  # noqa: E402
from shared.roster_db import fetch_election_roster  # noqa: E402
from tests.e2e.pipeline import Pipeline, PrivateStack  # noqa: E402

PY_SPY = REPO / ".venv" / "bin" / "py-spy"
PROFILED = ("intake", "validator", "aggregator")


# --- py-spy ----------------------------------------------------------------------------------

_LINE_NO = re.compile(r":\d+\)")


def pyspy_summary(path: Path, top: int = 10) -> tuple[int, list[tuple[str, float]], list[Any]]:
    """(samples, top functions by self share, top by inclusive share) of a py-spy raw file."""
    self_counts: collections.Counter[str] = collections.Counter()
    incl_counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_LINE_NO.sub(")", f) for f in stack.split(";")[1:]]  # [0] is the process
        if not frames:
            continue
        total += count
        self_counts[frames[-1]] += count
        for frame in set(frames):
            incl_counts[frame] += count
    if not total:
        return 0, [], []
    boring = ("<module>", "run_forever", "_run_once", "_run (", "run_until_complete", "run (")
    by_self = [(f, c / total) for f, c in self_counts.most_common(top)]
    by_incl = [
        (f, c / total)
        for f, c in incl_counts.most_common(top * 4)
        if not any(b in f for b in boring) and c / total < 0.97
    ][:top]
    return total, by_self, by_incl


def start_pyspy(pid: int, out: Path, seconds: float) -> subprocess.Popen[bytes] | None:
    """py-spy record on one process for `seconds` (None when py-spy is not installed)."""
    if not PY_SPY.exists():
        return None
    return subprocess.Popen(
        [str(PY_SPY), "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
         "--rate", "100", "--format", "raw", "--nonblocking", "--output", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


# --- PostgreSQL statements ------------------------------------------------------------------


@dataclass
class PgStatements:
    """pg_stat_statements of the private server, run as the postgres OS user over its socket."""

    socket_dir: Path
    port: str

    def psql(self, database: str, sql: str) -> str:
        """Run one statement; its unaligned output."""
        command = ["psql", "-X", "-q", "-At", "-F", "\t", "-h", str(self.socket_dir), "-p",
                   self.port, "-d", database, "-c", sql]  # fmt: skip
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd="/")
        if done.returncode != 0:
            raise RuntimeError(f"psql: {done.stderr.strip()}")
        return done.stdout

    def reset(self, database: str) -> None:
        """Forget every statement counted so far."""
        self.psql(database, "SELECT pg_stat_statements_reset()")

    def top(self, database: str, limit: int = 12) -> list[tuple[int, float, int, str]]:
        """(calls, total ms, rows, statement) of this database, most time first."""
        rows = self.psql(
            database,
            "SELECT calls, round(total_exec_time::numeric, 1), rows,"
            " left(regexp_replace(query, '\\s+', ' ', 'g'), 110) FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " ORDER BY total_exec_time DESC LIMIT " + str(limit),
        )
        parsed = []
        for line in rows.splitlines():
            calls, total, count, query = line.split("\t", 3)
            parsed.append((int(calls), float(total), int(count), query))
        return parsed

    def totals(self, database: str) -> tuple[int, float]:
        """(calls, total ms) of every statement of this database."""
        line = self.psql(
            database,
            "SELECT coalesce(sum(calls), 0), coalesce(round(sum(total_exec_time)::numeric, 1), 0)"
            " FROM pg_stat_statements"
            " WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
        ).strip()
        calls, total = line.split("\t")
        return int(calls), float(total)


def enable_pg_stat_statements(stack: PrivateStack) -> PgStatements:
    """Preload pg_stat_statements in the private server, restart it, create the extension."""
    stats = PgStatements(stack.run_dir / "postgres" / "sock", stack.env["PG_PORT"])
    stats.psql("postgres", "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    stack.run("restart-postgres")
    return stats


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Setup:
    """One pipeline with what a phase needs to build and count its forms."""

    pipeline: Pipeline
    conn: asyncpg.Connection
    database: str
    roster: ElectionRoster
    operators: Operators
    tokens: dict[str, str]
    meter: Meter
    stats: PgStatements | None
    out: Path
    pyspy: bool
    broker: BrokerRequests | None = None


async def phase(setup: Setup, label: str, rate: float, forms: int, start: int, conns: int) -> None:
    """Send `forms` at `rate` (0: as fast as allowed); CPU per form per process, profiles."""
    intake = setup.pipeline.services["intake"]
    requests = loadgen.form_requests(
        setup.roster, setup.operators, setup.tokens, host=f"127.0.0.1:{intake.port}",
        count=forms, start=start, seed=start + 1, key_prefix=f"{label}-{uuid.uuid4().hex[:6]}",
    )  # fmt: skip
    requests_file = setup.out / f"{label}.requests"
    loadgen.write_requests(requests_file, requests)
    print(f"\n== {label}: {forms:,} single forms, offered {rate or 'max'} forms/s, "
          f"{conns} connections (load {load_average()})", flush=True)  # fmt: skip
    baseline = await recorded(setup.conn)
    if setup.stats:
        setup.stats.reset(setup.database)
    expected_s = forms / rate if rate else forms / 400
    spies: dict[str, subprocess.Popen[bytes]] = {}
    for name in PROFILED if setup.pyspy else ():
        proc = setup.pipeline.services[name].process
        spy = start_pyspy(proc.pid, setup.out / f"{label}-{name}.txt", expected_s) if proc else None
        if spy is not None:
            spies[name] = spy
    requests_before = setup.broker.counts() if setup.broker else {}
    setup.meter.begin()
    started = time.monotonic()
    report = await run_loadgen(requests_file, intake.port, rate=rate, connections=conns)
    target = baseline + report["distinct_202"]
    _, count = await wait_recorded(setup.conn, target, started + 300)
    wall = time.monotonic() - started
    cpu = setup.meter.end()
    broker_requests = request_deltas(requests_before, setup.broker.counts()) if setup.broker else {}
    forms_done = count - baseline
    cpu["load generator (own process)"] = report["cpu_s"]
    for spy in spies.values():
        spy.wait(timeout=60)
    per_form = {name: used / max(1, forms_done) * 1e6 for name, used in cpu.items()}
    pipeline_us = sum(v for k, v in per_form.items() if not k.startswith("load generator"))
    note = (
        f"{forms_done:,} of {report['distinct_202']:,} accepted forms recorded in {wall:.1f}s; "
        f"HTTP {report['statuses']}; intake 202 p50/p99 {report['latency_p50_ms']:.0f}/"
        f"{report['latency_p99_ms']:.0f} ms; {report['late_sends']} sends >50 ms late"
    )
    result(f"{label} forms/s recorded", forms_done / wall, "forms/s", note)
    result(f"{label} offered forms/s", report["answered_per_s"], "forms/s", "answers per second")
    for name, us in per_form.items():
        result(f"{label} CPU per form {name}", us, "us", f"{cpu[name]:.1f} s over {wall:.1f}s")
    result(f"{label} CPU per form pipeline (all but the generator)", pipeline_us, "us")
    if broker_requests:
        total = sum(broker_requests.values())
        shown = "; ".join(
            f"{k} {v / max(1, forms_done):.2f}" for k, v in list(broker_requests.items())[:12]
        )
        result(f"{label} broker requests per form", total / max(1, forms_done), "requests",
               f"{total:,} requests; by type per form: {shown}")  # fmt: skip
    result(f"{label} load average at end", load_average(), "1/5/15 min")
    for name, spy in spies.items():
        del spy
        samples, by_self, by_incl = pyspy_summary(setup.out / f"{label}-{name}.txt")
        print(f"  py-spy {name}: {samples} samples", flush=True)
        print("    self:      " + "; ".join(f"{s:.0%} {f}" for f, s in by_self[:8]))
        print("    inclusive: " + "; ".join(f"{s:.0%} {f}" for f, s in by_incl[:10]))
    if setup.stats:
        calls, total_ms = setup.stats.totals(setup.database)
        exec_us = total_ms / max(1, forms_done) * 1000
        result(
            f"{label} PostgreSQL statements per form",
            calls / max(1, forms_done),
            "calls",
            f"{calls:,} calls, {exec_us:.0f} us of statement time per form",
        )
        for n, (c, ms, rows, query) in enumerate(setup.stats.top(setup.database)):
            if n < 8:
                print(f"    pg {c:>7,} calls {ms:>9,.1f} ms {rows:>8,} rows  {query}")


async def warm_up(setup: Setup, forms: int) -> None:
    """Send `forms` as fast as allowed and wait until they are recorded; nothing measured."""
    if forms <= 0:
        return
    intake = setup.pipeline.services["intake"]
    requests = loadgen.form_requests(
        setup.roster, setup.operators, setup.tokens, host=f"127.0.0.1:{intake.port}",
        count=forms, seed=0, key_prefix=f"warm-{uuid.uuid4().hex[:6]}",
    )  # fmt: skip
    path = setup.out / "warm-up.requests"
    loadgen.write_requests(path, requests)
    baseline = await recorded(setup.conn)
    report = await run_loadgen(path, intake.port, rate=0, connections=16)
    target = baseline + report["distinct_202"]
    await wait_recorded(setup.conn, target, time.monotonic() + 120, interval_s=0.1)
    print(f"\n== warm-up: {forms:,} forms sent and recorded (load {load_average()})", flush=True)


async def idle(setup: Setup, seconds: float) -> None:
    """CPU per second of each process while nothing is sent (the floor under every rate)."""
    if seconds <= 0:
        return
    setup.meter.begin()
    await asyncio.sleep(seconds)
    used = setup.meter.end()
    shown = "; ".join(f"{name} {cpu / seconds * 1000:.0f}" for name, cpu in used.items())
    result("idle CPU ms per second", shown, "ms/s", f"over {seconds:.0f}s, nothing sent")


async def run(
    args: argparse.Namespace, bootstrap: str, admin_url: str, stack: PrivateStack | None
) -> None:
    """Every phase on one pipeline; the scratch database is dropped afterwards."""
    out = Path(args.out)
    stats = enable_pg_stat_statements(stack) if stack is not None else None

    async def statements(conn: asyncpg.Connection, database: str) -> None:
        if stats is not None:
            stats.psql(database, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    async with bench_pipeline(
        bootstrap,
        admin_url,
        out,
        partitions=args.partitions,
        prepare=statements,
        service_env=dict(pair.split("=", 1) for pair in args.service_env),
    ) as started:
        roster = await fetch_election_roster(started.conn, "pemilu-2024")
        assert roster is not None
        meter = Meter(process_groups(started.pipeline, started.database, stack))
        setup = Setup(
            pipeline=started.pipeline,
            conn=started.conn,
            database=started.database,
            roster=roster,
            operators=started.operators,
            tokens=started.tokens,
            meter=meter,
            stats=stats,
            out=out,
            pyspy=args.py_spy,
            broker=BrokerRequests(stack) if stack is not None else None,
        )
        # The JVM of a broker just started compiles its hot paths during its first minute of
        # work: an unmeasured warm-up, then the idle cost (nothing sent) per second.
        await warm_up(setup, args.warmup_forms)
        await idle(setup, args.idle_seconds)
        start = args.warmup_forms
        for rate_text in args.rates.split(","):
            rate = 0.0 if rate_text == "max" else float(rate_text)
            forms = args.max_forms if not rate else int(rate * args.seconds)
            conns = args.connections or (32 if not rate else max(16, min(64, int(rate / 8))))
            await phase(setup, f"rate-{rate_text}", rate, forms, start, conns)
            start += forms


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="100,500,max", help="forms/s, comma-separated; max")
    parser.add_argument("--seconds", type=float, default=20, help="per fixed-rate phase")
    parser.add_argument("--max-forms", type=int, default=8000, help="forms of the max phase")
    parser.add_argument("--connections", type=int, default=0, help="0: from the rate")
    parser.add_argument("--warmup-forms", type=int, default=2000, help="sent before measuring")
    parser.add_argument("--idle-seconds", type=float, default=10, help="idle CPU measured")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument(
        "--service-env",
        action="append",
        default=[],
        help="NAME=VALUE for the services (e.g. VALIDATOR_LINGER_MS=0), repeatable",
    )
    parser.add_argument("--py-spy", action="store_true", help="profile each Python service")
    parser.add_argument(
        "--shared-stack",
        action="store_true",
        help="KAFKA_BOOTSTRAP_SERVERS/DATABASE_URL instead of a private stack",
    )
    parser.add_argument("--out", default=str(runtime.RUN_DIR / "profile"))
    args = parser.parse_args()
    print(f"load average at start: {load_average()}", flush=True)
    result("load average at start", load_average(), "1/5/15 min")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    with stack_for(not args.shared_stack) as (bootstrap, admin_url, stack):
        asyncio.run(run(args, bootstrap, admin_url, stack))
    result("load average at end", load_average(), "1/5/15 min")
    shutil.rmtree(Path(args.out) / "__pycache__", ignore_errors=True)


if __name__ == "__main__":
    main()
