"""End-to-end benchmark: the four real services on this machine, from HTTP 202 to the read API.

Starts a private pipeline (its own topic prefix, its own scratch database on the local PostgreSQL,
the four services as real processes, as tests/e2e/pipeline.py does) and measures, in one run:

1. Kafka's own ProducerPerformance tool on a throwaway topic: the ceiling on this machine;
2. the Banyuasin day (all five contests, ~13k forms) sent as fast as allowed: sustained forms/s
   from the first send until every submission is recorded in PostgreSQL, and the day's wall time;
3. freshness at a fixed offered rate: time from the 202 to the submission showing in
   GET /v1/tps/{election}/{contest}/{tps}, p50/p99 over a sample of sends;
4. a measured slice of the synthetic national day (deskpemilu/national.py) through the whole
   pipeline, and the 4.1-million-form national day PROJECTED from the slice's rate.

    .venv/bin/python -m benchmarks.e2e_bench
    .venv/bin/python -m benchmarks.e2e_bench --national-provinces 4 --national-forms 20000

Every figure is printed for people, and again as a `RESULT {json}` line for benchmarks/run_all.py.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import os
import platform
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.e2e_common import (  # noqa: E402
    DEFAULT_BOOTSTRAP,
    DEFAULT_DATABASE_URL,
    BenchPipeline,
    Meter,
    Pids,
    bench_pipeline,
    exited_services,
    load_average,
    process_groups,
    recorded,
    result,
    wait_recorded,
)
from deskpemilu import national, runtime  # noqa: E402
from deskpemilu.roster_load import load_roster  # noqa: E402
from deskpemilu.simulator.plan import DayPlan, Operators, plan_day, true_form  # noqa: E402
from deskpemilu.simulator.run import DayRunner  # noqa: E402
from deskpemilu.simulator.truth import expected_statuses  # noqa: E402
from shared.events import Channel  # noqa: E402
from shared.form import CHasil, Contest  # noqa: E402
from shared.roster import ElectionRoster, TpsInfo  # noqa: E402
from shared.roster_db import fetch_election_roster  # noqa: E402
from tests.e2e.pipeline import Pipeline  # noqa: E402

NATIONAL_FORMS = national.NATIONAL.tps * 5  # five ballots per TPS: 4,116,100 forms
# The day's sends in flight (the lean client; one TPS's sends still go one after another).
DAY_CONCURRENCY = 8


def _first_line(command: list[str]) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    text = (done.stdout or done.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def meminfo_gib() -> str:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return "unknown"


def cpu_model() -> str:
    fields: dict[str, str] = {}
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    model = fields.get("model name") or platform.processor() or "unknown"
    details = f"family {fields.get('cpu family', '?')}, model {fields.get('model', '?')}"
    hypervisor = ""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
    for line in lscpu.splitlines():
        if line.startswith("Hypervisor vendor:"):
            hypervisor = f"; {line.split(':', 1)[1].strip()} guest"
    return f"{model} ({details}, {fields.get('cpu MHz', '?')} MHz{hypervisor})"


def _os_name() -> str:
    for line in Path("/etc/os-release").read_text().splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return platform.system()


def _kafka_version() -> str:
    libs = runtime.RUN_DIR / "kafka" / "libs"
    jars = sorted(p.name for p in libs.glob("kafka_2.13-*.jar")) if libs.is_dir() else []
    if not jars:
        return "unknown (no jars under .run/kafka/libs)"
    version = jars[0].removeprefix("kafka_2.13-").removesuffix(".jar")
    return f"Apache Kafka {version} (jar {jars[0]}; one KRaft node, deploy/stack.sh)"


async def _postgres_version(database_url: str) -> str:
    try:
        conn = await asyncpg.connect(database_url)
    except (OSError, asyncpg.PostgresError) as exc:
        return f"unknown ({exc})"
    try:
        version: str = await conn.fetchval("SELECT version()")
        return version
    finally:
        await conn.close()


def machine_description(database_url: str = DEFAULT_DATABASE_URL) -> dict[str, str]:
    """What this machine is, read from the system (never guessed)."""
    try:
        affinity = str(len(os.sched_getaffinity(0)))
    except AttributeError:
        affinity = "unknown"
    return {
        "cpu": cpu_model(),
        "cores": f"{os.cpu_count()} logical CPUs ({affinity} usable by this process)",
        "ram": meminfo_gib(),
        "os": f"{_os_name()}, Linux {platform.release()} ({platform.machine()})",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "java": _first_line([os.environ.get("JAVA", "java"), "-version"]),
        "kafka": _kafka_version(),
        "postgresql": asyncio.run(_postgres_version(database_url)),
    }


# --- 1. the ceiling: Kafka's own producer tool ----------------------------------------------

_PERF_LINE = re.compile(
    r"(?P<records>\d+) records sent, (?P<rps>[\d.]+) records/sec \((?P<mbps>[\d.]+) MB/sec\), "
    r"(?P<avg>[\d.]+) ms avg latency, (?P<max>[\d.]+) ms max latency"
    r"(?:, (?P<p50>\d+) ms 50th, (?P<p95>\d+) ms 95th, (?P<p99>\d+) ms 99th)?"
)


def kafka_tool(*args: str, timeout_s: float = 600) -> subprocess.CompletedProcess[str]:
    """Run a Kafka main class with the broker's own jars (deploy/stack.sh kafka-run-class)."""
    return subprocess.run(
        ["bash", str(REPO / "deploy" / "stack.sh"), "kafka-run-class", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def kafka_ceiling(bootstrap: str, records: int, record_size: int, partitions: int) -> None:
    """ProducerPerformance (acks=all, no throttle) into a throwaway topic, deleted afterwards."""
    topic = f"bench-ceiling-{uuid.uuid4().hex[:8]}"
    print(f"\n== Kafka ceiling: ProducerPerformance on {topic} (load {load_average()})", flush=True)
    created = kafka_tool(
        "org.apache.kafka.tools.TopicCommand",
        "--bootstrap-server",
        bootstrap,
        "--create",
        "--topic",
        topic,
        "--partitions",
        str(partitions),
        "--replication-factor",
        "1",
    )
    if created.returncode != 0:
        result("kafka ceiling", "FAILED", note=f"topic create: {created.stderr.strip()[-300:]}")
        return
    command = (
        f"bash deploy/stack.sh kafka-run-class org.apache.kafka.tools.ProducerPerformance "
        f"--topic TMP_TOPIC --num-records {records} --record-size "
        f"{record_size} --throughput -1 --producer-props bootstrap.servers={bootstrap} acks=all"
    )
    try:
        started = time.monotonic()
        perf = kafka_tool(
            "org.apache.kafka.tools.ProducerPerformance",
            "--topic",
            topic,
            "--num-records",
            str(records),
            "--record-size",
            str(record_size),
            "--throughput",
            "-1",
            "--producer-props",
            f"bootstrap.servers={bootstrap}",
            "acks=all",
        )
        elapsed = time.monotonic() - started
    finally:
        kafka_tool(
            "org.apache.kafka.tools.TopicCommand",
            "--bootstrap-server",
            bootstrap,
            "--delete",
            "--topic",
            topic,
        )
    lines = [m for m in _PERF_LINE.finditer(perf.stdout)]
    if perf.returncode != 0 or not lines:
        tail = (perf.stdout + perf.stderr).strip()[-500:]
        result("kafka ceiling", "FAILED", note=f"exit {perf.returncode}: {tail}")
        return
    final = lines[-1]  # the summary comes last; earlier lines are 5-second windows
    note = (
        f"{records:,} x {record_size} B, acks=all, TMP_TOPIC with {partitions} partitions "
        f"(created, then deleted); {elapsed:.0f}s"
    )
    result("kafka ceiling records/s", float(final["rps"]), "records/s", note)
    result("kafka ceiling MB/s", float(final["mbps"]), "MB/s", note)
    if final["p99"]:
        result("kafka ceiling latency p50/p99", f"{final['p50']} / {final['p99']}", "ms")
    result("kafka ceiling command", command)


# --- the private pipeline --------------------------------------------------------------------


def _machine_busy_s() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


class CpuMeter:
    """CPU seconds and cores used by each process group over a phase, and the machine's."""

    def __init__(self, groups: dict[str, Pids]) -> None:
        self.meter = Meter({**groups, "load generator (this process)": lambda: [os.getpid()]})
        self.machine_start = (0.0, 0.0)
        self.started = 0.0

    def begin(self) -> None:
        """Remember where every counter stands."""
        self.meter.begin()
        self.machine_start = _machine_busy_s()
        self.started = time.monotonic()

    def report(self, label: str) -> None:
        """Print CPU seconds and cores used per process group since begin()."""
        wall = time.monotonic() - self.started
        used = self.meter.end()
        parts = [f"{name} {cpu:.0f}s ({cpu / wall:.2f} cores)" for name, cpu in used.items()]
        busy, total = _machine_busy_s()
        machine = (busy - self.machine_start[0]) / max(1e-9, total - self.machine_start[1])
        cores = os.cpu_count() or 1
        result(
            f"{label} CPU by process",
            "; ".join(parts),
            note=f"over {wall:.0f}s; whole machine {machine:.0%} busy of {cores} cores",
        )


@dataclasses.dataclass
class Bench:
    """Handles of one run: the pipeline, a database connection, operators and their tokens."""

    pipeline: Pipeline
    conn: asyncpg.Connection
    operators: Operators
    tokens: dict[str, str]
    phones: dict[str, str]
    concurrency: int
    timeout_s: float
    cpu: CpuMeter
    client: str = "lean"  # DayRunner's sender: lean (deskpemilu.loadgen's sockets) or httpx

    async def submissions(self) -> int:
        """Submissions recorded by the aggregator so far (validated and rejected)."""
        return await recorded(self.conn)

    async def wait_recorded(self, target: int) -> tuple[bool, int]:
        """Poll until `target` submissions are recorded or the timeout passes."""
        deadline = time.monotonic() + self.timeout_s
        return await wait_recorded(self.conn, target, deadline, interval_s=0.1)


@dataclasses.dataclass(frozen=True)
class DayFigures:
    """What one day (or slice) measured."""

    sends: int
    distinct: int
    recorded: int
    complete: bool
    send_s: float  # first send until the last 202
    wall_s: float  # first send until every submission is recorded
    statuses: dict[int, int]
    failures: int
    retrying: bool  # some send was still being retried when everything was recorded
    accepted: int  # forms that got a 202
    errors: dict[str, int]  # connection errors (HTTP 599 above) by kind

    @property
    def forms_per_s(self) -> float:
        """Distinct submissions recorded per second of wall time."""
        return self.recorded / self.wall_s if self.wall_s else 0.0


async def run_day(bench: Bench, plan: DayPlan, distinct: int) -> DayFigures:
    """Send a plan as fast as allowed; time until every distinct submission is in PostgreSQL."""
    baseline = await bench.submissions()
    target = baseline + distinct
    runner = DayRunner(
        plan,
        intake_url=bench.pipeline.intake_url,
        tokens=bench.tokens,
        phones=bench.phones,
        secrets=bench.pipeline.secrets,
        duration_s=0,
        concurrency=bench.concurrency,
        client=bench.client,
    )
    runner.prepare()  # every request rendered before the clock starts, as a sender has them
    bench.cpu.begin()
    started = time.monotonic()
    sending = asyncio.create_task(runner.run())
    # The day ends when PostgreSQL holds every distinct submission, whether or not some
    # simulated phone is still resending one (see the SMS note in the report), and the deadline
    # keeps a send the intake keeps refusing from hanging the run.
    count = baseline
    next_report = started + 10
    while True:
        count = await bench.submissions()
        now = time.monotonic()
        if count >= target or now - started > bench.timeout_s:
            break
        if now >= next_report:
            next_report += 10
            print(
                f"  ... {now - started:.0f}s: {runner.stats.forms_stored:,} forms got 202, "
                f"HTTP {dict(runner.stats.by_status)}, {count - baseline:,} recorded",
                flush=True,
            )
        await asyncio.sleep(0.1)
    done = time.monotonic()
    retrying = not sending.done()
    if retrying:
        sending.cancel()
        # Sends the runner had started go too, before its HTTP client is gone under them.
        leftovers = [
            t
            for t in asyncio.all_tasks()
            if getattr(t.get_coro(), "__qualname__", "") == "DayRunner._deliver"
        ]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(sending, *leftovers, return_exceptions=True)
        print(f"  stopped sends still retrying: HTTP {dict(runner.stats.by_status)}", flush=True)
    last_202 = runner.stats.last_202_at or done
    return DayFigures(
        sends=len(plan.sends),
        distinct=distinct,
        recorded=count - baseline,
        complete=count >= target,
        send_s=max(1e-9, last_202 - started),
        wall_s=done - started,
        statuses=dict(runner.stats.by_status),
        failures=len(runner.stats.failures),
        retrying=retrying,
        accepted=runner.stats.forms_stored,
        errors=dict(runner.stats.errors),
    )


def _print_day(label: str, day: DayFigures) -> None:
    state = "all recorded" if day.complete else f"TIMED OUT: {day.recorded:,}/{day.distinct:,}"
    note = (
        f"{day.sends:,} sends, {day.distinct:,} distinct submissions, {state}; "
        f"HTTP {day.statuses}; {day.failures} failed sends"
        + (f" ({day.errors})" if day.errors else "")
        + ("; retrying sends stopped at the end" if day.retrying else "")
    )
    result(f"{label} forms/s end to end", day.forms_per_s, "forms/s", note)
    if day.complete:
        result(f"{label} wall time", day.wall_s, "s", "first send until every submission recorded")
    else:
        # Still a backlog at the deadline: the pipeline ran saturated the whole time.
        result(
            f"{label} wall time PROJECTED",
            day.distinct / max(1e-9, day.forms_per_s),
            "s",
            f"PROJECTION: not drained within {day.wall_s:.0f}s; {day.distinct:,} submissions "
            f"at the {day.forms_per_s:,.1f} forms/s recorded while saturated",
        )
    result(
        f"{label} intake 202 rate", day.accepted / day.send_s, "forms/s", "first send to last 202"
    )


def _sub_roster(roster: ElectionRoster, tps: list[TpsInfo]) -> ElectionRoster:
    return dataclasses.replace(roster, tps={t.code: t for t in tps})


async def banyuasin_day(bench: Bench, seed: int, tps_limit: int | None) -> DayFigures:
    """Phase 2: the whole Banyuasin day, all five contests, every channel, as fast as allowed."""
    roster = await fetch_election_roster(bench.conn, "pemilu-2024")
    assert roster is not None
    plan = plan_day(roster, bench.operators, seed=seed, tps_limit=tps_limit)
    distinct = sum(len(v) for v in expected_statuses(plan).values())
    print(
        f"\n== Banyuasin day: {tps_limit or len(roster.tps):,} TPS x 5 contests, "
        f"{len(plan.sends):,} sends, concurrency {bench.concurrency}, {bench.client} client "
        f"(load {load_average()})",
        flush=True,
    )
    day = await run_day(bench, plan, distinct)
    _print_day("banyuasin day", day)
    bench.cpu.report("banyuasin day")
    counted = await bench.conn.fetchval(
        "SELECT count(*) FROM tps_results WHERE election = 'pemilu-2024'"
    )
    expected = sum(1 for (_, tps) in plan.counted if tps in roster.tps)
    result("banyuasin counted TPS results", f"{counted:,} of {expected:,} expected")
    return day


@dataclasses.dataclass(frozen=True)
class Probe:
    """One sampled send: when its 202 came, when the API first showed it."""

    accepted_at: float
    visible_at: float | None


async def freshness(
    bench: Bench,
    roster: ElectionRoster,
    tps: list[TpsInfo],
    *,
    rate: float,
    seconds: float,
    samples_per_s: float,
    poll_s: float,
    viewer_token: str,
) -> None:
    """Phase 3: single forms at a fixed offered rate; sampled ones are polled on the read API."""
    contests = [Contest(c) for c, _ in national.NATIONAL_CONTESTS if c in roster.contests]
    jobs = [(t, c) for t in tps for c in contests][: max(1, int(rate * seconds))]
    every = max(1, round(rate / samples_per_s))
    print(
        f"\n== Freshness: {len(jobs):,} single forms at {rate:.0f}/s offered, every {every}th "
        f"polled every {poll_s * 1000:.0f} ms on GET /v1/tps/... (load {load_average()})",
        flush=True,
    )
    rng = random.Random(4)
    baseline = await bench.submissions()
    probes: list[Probe] = []
    statuses: dict[int, int] = {}
    lateness: list[float] = []
    latencies: list[float] = []  # POST until its answer
    limits = httpx.Limits(max_connections=256)
    async with (
        httpx.AsyncClient(base_url=bench.pipeline.intake_url, timeout=30, limits=limits) as intake,
        httpx.AsyncClient(
            base_url=bench.pipeline.api_url,
            timeout=30,
            limits=limits,
            headers={"Authorization": f"Bearer {viewer_token}"},
        ) as api,
    ):

        async def watch(path: str, submission_id: str, accepted_at: float) -> None:
            deadline = accepted_at + bench.timeout_s
            etag: str | None = None
            while time.monotonic() < deadline:
                headers = {"If-None-Match": etag} if etag else {}
                response = await api.get(path, headers=headers)
                if response.status_code == 200:
                    etag = response.headers.get("ETag")
                    seen = {s["submission_id"] for s in response.json()["submissions"]}
                    if submission_id in seen:
                        probes.append(Probe(accepted_at, time.monotonic()))
                        return
                await asyncio.sleep(poll_s)
            probes.append(Probe(accepted_at, None))

        async def send(index: int, info: TpsInfo, contest: Contest, form: CHasil) -> None:
            operator = bench.operators.sender(info.kecamatan_code)
            posted_at = time.monotonic()
            response = await intake.post(
                "/v1/submissions",
                content=form.model_dump_json(exclude_none=True),
                headers={
                    "Authorization": f"Bearer {bench.tokens[operator.id]}",
                    "Idempotency-Key": f"fresh-{contest}-{info.code}",
                    "Content-Type": "application/json",
                },
            )
            accepted_at = time.monotonic()
            latencies.append(accepted_at - posted_at)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 202 and index % every == 0:
                path = f"/v1/tps/{roster.election_id}/{contest}/{info.code}"
                await watch(path, response.json()["submission_id"], accepted_at)

        tasks: list[asyncio.Task[None]] = []
        bench.cpu.begin()
        started = time.monotonic()
        for index, (info, contest) in enumerate(jobs):
            due = started + index / rate
            delay = due - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            else:
                lateness.append(-delay)
            form = true_form(
                roster.election_id,
                roster.contests[contest],
                info,
                rng,
                reserve_pct=roster.ballot_reserve_pct,
            )
            tasks.append(asyncio.create_task(send(index, info, contest, form)))
        offered_s = time.monotonic() - started
        await asyncio.gather(*tasks)
    complete, count = await bench.wait_recorded(baseline + statuses.get(202, 0))
    bench.cpu.report("freshness")
    delays = sorted(p.visible_at - p.accepted_at for p in probes if p.visible_at is not None)
    missing = sum(1 for p in probes if p.visible_at is None)
    note = (
        f"{len(delays)} sampled sends at {len(jobs) / offered_s:.0f} forms/s offered "
        f"(target {rate:.0f}); poll {poll_s * 1000:.0f} ms; HTTP {statuses}"
        + (f"; {missing} never visible within {bench.timeout_s:.0f}s" if missing else "")
    )
    if delays:
        result("freshness p50", _quantile(delays, 0.50) * 1000, "ms", note)
        result("freshness p99", _quantile(delays, 0.99) * 1000, "ms", note)
        result("freshness max", delays[-1] * 1000, "ms")
        result("freshness mean", statistics.fmean(delays) * 1000, "ms")
    else:
        result("freshness", "FAILED", note=note)
    latencies.sort()
    if latencies:
        result(
            "intake POST latency p50/p99 (at the freshness rate)",
            f"{_quantile(latencies, 0.5) * 1000:.0f} / {_quantile(latencies, 0.99) * 1000:.0f}",
            "ms",
            f"{len(latencies)} single-form POSTs, each until its 202",
        )
    late = sum(1 for x in lateness if x > 0.05)
    result("freshness offered rate", len(jobs) / offered_s, "forms/s", f"{late} sends >50 ms late")
    if not complete:
        result("freshness forms recorded", f"TIMED OUT at {count - baseline:,}")


def _quantile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank quantile of sorted values."""
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


async def national_slice(
    bench: Bench, roster: ElectionRoster, tps: list[TpsInfo], seed: int
) -> None:
    """Phase 4: a national slice as fast as allowed; the 4.1-million-form day projected from it."""
    # Texts (WhatsApp/SMS) do not name the election: with two Pemilu rosters loaded the intake
    # files them under pemilu-2024 (services/intake/directory.py), so the slice uses the app and
    # sheet channels only, in the simulator's usual proportion (50:20).
    mix = {Channel.API: 0.5, Channel.BATCH: 0.2}
    plan = plan_day(_sub_roster(roster, tps), bench.operators, seed=seed, channel_mix=mix)
    distinct = sum(len(v) for v in expected_statuses(plan).values())
    provinces = len({t.code[:2] for t in tps})
    print(
        f"\n== National slice: {len(tps):,} TPS spread over {provinces} provinces of a "
        f"{len(roster.tps):,}-TPS roster, {len(plan.sends):,} sends via app and sheet "
        f"(load {load_average()})",
        flush=True,
    )
    day = await run_day(bench, plan, distinct)
    _print_day("national slice", day)
    bench.cpu.report("national slice")
    counted = await bench.conn.fetchval(
        "SELECT count(*) FROM tps_results WHERE election = $1 AND tps = ANY($2::text[])",
        roster.election_id,
        [t.code for t in tps],
    )
    expected = sum(1 for (_, code) in plan.counted if code in roster.tps)
    result("national slice counted TPS results", f"{counted:,} of {expected:,} expected")
    if day.forms_per_s > 0:
        hours = NATIONAL_FORMS / day.forms_per_s / 3600
        measured = (
            f"{day.distinct:,} submissions from {len(tps):,} TPS in {provinces} provinces, all "
            f"recorded in {day.wall_s:.0f}s"
            if day.complete
            else f"{day.recorded:,} of {day.distinct:,} submissions from {len(tps):,} TPS in "
            f"{provinces} provinces recorded in {day.wall_s:.0f}s (not drained)"
        )
        result(
            "national day PROJECTED",
            hours,
            "hours",
            f"PROJECTION, not measured: {NATIONAL_FORMS:,} forms (823,220 TPS x 5) at the "
            f"slice's {day.forms_per_s:,.1f} forms/s; slice: {measured}; one instance of each "
            "service on this machine",
        )


# --- orchestration ---------------------------------------------------------------------------


async def _timed(label: str, step: Callable[[], Awaitable[Any]]) -> Any:
    started = time.monotonic()
    value = await step()
    result(label, time.monotonic() - started, "s")
    return value


def _spread(tps: list[TpsInfo], count: int, offset: float) -> list[TpsInfo]:
    """`count` TPS evenly spaced over the code order (so every province gets its share)."""
    ordered = sorted(tps, key=lambda t: t.code)
    step = len(ordered) / max(1, count)
    return [ordered[int(i * step + offset * step)] for i in range(min(count, len(ordered)))]


async def run_pipeline(args: argparse.Namespace) -> None:
    """Phases 2-4 on one private pipeline; everything it created is removed afterwards."""
    # SIGTERM (a timeout, a ^C from a supervisor) cancels the run so that `finally` cleans up.
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    log_dir = Path(args.log_dir)
    roster_dir = Path(tempfile.mkdtemp(prefix="national-"))
    os.makedirs(log_dir, exist_ok=True)

    async def national_roster(conn: asyncpg.Connection, database: str) -> None:
        print(f"\n== Setup: scratch database {database} (load {load_average()})")
        if args.banyuasin_only:
            return
        scope = f"first {args.national_provinces} provinces" if args.national_provinces else "full"
        report = national.generate(roster_dir, provinces=args.national_provinces)
        result("national roster generated", report.seconds, "s", f"{scope}: {report}")
        loaded = await _timed(
            "national roster load (deskpemilu roster load)", lambda: load_roster(conn, roster_dir)
        )
        print(f"  loaded: {loaded}")

    try:
        async with bench_pipeline(
            args.bootstrap,
            args.database_url,
            log_dir,
            partitions=args.partitions,
            prepare=national_roster,
            keep=args.keep,
        ) as run:
            result("pipeline start (Banyuasin roster load + 4 services healthy)", run.start_s, "s")
            await run_phases(args, run)
    finally:
        shutil.rmtree(roster_dir, ignore_errors=True)


async def run_phases(args: argparse.Namespace, run: BenchPipeline) -> None:
    """The Banyuasin day, then (unless --banyuasin-only) freshness and the national slice."""
    pipeline, conn, tokens = run.pipeline, run.conn, run.tokens
    print(f"  logs: {args.log_dir}; topic prefix {pipeline.env['TOPIC_PREFIX']}")
    groups = process_groups(pipeline, run.database, None)
    bench = Bench(
        pipeline,
        conn,
        run.operators,
        tokens,
        run.phones,
        args.concurrency,
        args.timeout,
        CpuMeter(groups),
        args.client,
    )
    day = await banyuasin_day(bench, args.seed, args.banyuasin_tps or None)
    if args.banyuasin_only:
        return
    viewer = next(op for op in run.refs if op.id == "viewer-nasional")
    roster = await fetch_election_roster(conn, national.ELECTION_ID)
    assert roster is not None
    sustained = day.forms_per_s if day.complete else 0.0
    rate = args.fresh_rate or max(1.0, sustained * args.fresh_fraction)
    if not args.fresh_rate and not sustained:
        rate = 20.0
        print("  (Banyuasin day incomplete: freshness offered at 20 forms/s)")
    all_tps = list(roster.tps.values())
    # The slice: --national-forms, or fewer when the sustained rate would take longer than
    # --national-seconds to send them (runs stay short on a slow or busy machine).
    slice_forms = args.national_forms
    if sustained:
        slice_forms = min(slice_forms, max(5_000, int(sustained * args.national_seconds)))
    fresh_count = max(1, math.ceil(rate * args.fresh_seconds / 5))
    fresh_tps = _spread(all_tps, fresh_count, offset=0.5)
    taken = {t.code for t in fresh_tps}  # the slice's TPS must not have reported yet
    slice_tps = _spread([t for t in all_tps if t.code not in taken], slice_forms // 5, 0.0)
    await freshness(
        bench,
        roster,
        fresh_tps,
        rate=rate,
        seconds=args.fresh_seconds,
        samples_per_s=args.fresh_samples_per_s,
        poll_s=args.poll_ms / 1000,
        viewer_token=tokens[viewer.id],
    )
    await national_slice(bench, roster, slice_tps, args.seed)
    for name, code in exited_services(pipeline):
        result(f"{name} process", f"EXITED {code}", note="see its log")


def _print_machine(database_url: str) -> None:
    print("== Machine")
    for key, value in machine_description(database_url).items():
        result(f"machine {key}", value)


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bootstrap", default=os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)
    )
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--partitions", type=int, default=12, help="per topic (production: 12)")
    parser.add_argument("--concurrency", type=int, default=DAY_CONCURRENCY, help="in flight")
    parser.add_argument("--client", choices=("lean", "httpx"), default="lean",
                        help="the day's sender (DayRunner client)")  # fmt: skip
    parser.add_argument("--seed", type=int, default=14022024)
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait per phase")
    parser.add_argument("--fresh-fraction", type=float, default=0.5, help="of the sustained rate")
    parser.add_argument("--fresh-rate", type=float, default=0.0, help="forms/s (overrides)")
    parser.add_argument("--fresh-seconds", type=float, default=30)
    parser.add_argument("--fresh-samples-per-s", type=float, default=5)
    parser.add_argument("--poll-ms", type=float, default=25, help="API poll interval per probe")
    parser.add_argument("--banyuasin-tps", type=int, default=0, help="first N TPS (0: all)")
    parser.add_argument("--national-forms", type=int, default=30_000, help="slice size (forms)")
    parser.add_argument("--national-seconds", type=float, default=100, help="cap on slice time")
    parser.add_argument(
        "--national-provinces",
        type=int,
        default=None,
        help="load only the first N provinces (default: all 823,220 TPS)",
    )
    parser.add_argument("--ceiling-records", type=int, default=1_000_000)
    parser.add_argument("--record-size", type=int, default=700)
    parser.add_argument("--skip-ceiling", action="store_true")
    parser.add_argument("--skip-pipeline", action="store_true")
    parser.add_argument("--banyuasin-only", action="store_true", help="no national phases")
    parser.add_argument("--keep", action="store_true", help="keep the database and topics")
    parser.add_argument("--log-dir", default=str(runtime.RUN_DIR / "bench-e2e"))
    args = parser.parse_args()

    print(f"load average at start: {load_average()}", flush=True)
    result("load average at start", load_average(), "1/5/15 min")
    _print_machine(args.database_url)
    if not args.skip_ceiling:
        kafka_ceiling(args.bootstrap, args.ceiling_records, args.record_size, args.partitions)
    if not args.skip_pipeline:
        asyncio.run(run_pipeline(args))
    result("load average at end", load_average(), "1/5/15 min")


if __name__ == "__main__":
    main()
