"""`deskpemilu soak`: a long day at a steady rate on a stack of its own, sampled every minute.

Election day lasts twelve hours; a leak that costs nothing in a two-minute benchmark can take
the desk down by the afternoon. The soak starts Kafka and PostgreSQL in a temporary RUN_DIR on
free ports (deploy/stack.sh, never the stack on 9092/5433), the four services on free ports and
their own topic prefix, and sends single forms to POST /v1/submissions at a steady rate with
the lean load generator (deskpemilu/loadgen.py). Every interval it samples, per process
(intake, validator, aggregator, api, Kafka broker, PostgreSQL), resident memory, open file
descriptors and sockets, CPU seconds; the validator's and the aggregator's consumer lag, read
from outside (Kafka's end offsets against the group's committed offsets, and against the
offsets the aggregator keeps in PostgreSQL); and freshness, 202 to recorded in PostgreSQL
(submissions.updated_at - received_at of the forms recorded in the interval, every form of
the last chunks looked up by its id; rows a revision marked superseded in it are left out,
they were recorded before).

At the end it waits until every accepted form is recorded and checks each series against its
bound (printed with the verdict; the exit status is 1 if any fails):

- resident memory: the last sample at most 25 % or 64 MiB (whichever is larger) above the
  sample taken at half time (the broker runs with a fixed heap committed at start,
  deploy/stack.sh, so its resident memory is its steady state from the first minute). The
  bounded caches fill in the first part of a day and then stay at their bound (the intake's
  idempotency caches hold INTAKE_IDEMPOTENCY_CACHE = 100,000 answers, 1,000 s of forms at
  100 forms/s; the roster and result caches), while a leak grows all day: the second half
  must be flat. The growth from the first interval is printed too;
- the broker's live heap (a full GC forced through jcmd, then the heap used) after the first
  interval, at half time and after the drain: the last at most 25 % or 64 MiB above half time;
- file descriptors and sockets: the last sample at most 20 above the half-time one. A
  PostgreSQL backend opens each table's and index's files the first time it touches them and
  keeps them open (up to max_files_per_process): those relation files are counted apart, as
  `postgres_relation_files`, bounded by the relation files on disk times the processes (a
  backend holds each at most once), and left out of its `fds`. Its short-lived autovacuum and
  parallel workers are counted apart too, as `postgres_workers`, and left out of its figures;
- consumer lag: every sample after the first at most 10 seconds of forms (rate x 10) plus 50;
- freshness: every interval's p99 after the first at most 2 s (the first interval holds the
  start-up and the broker's JIT warm-up);
- every form answered 202 recorded in PostgreSQL.

The forms cycle through the Banyuasin roster's 12,820 (TPS, contest) pairs; past the first
pass each is a revision of that TPS's form, a new submission like the first.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import csv
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import asyncpg
import httpx
import typer

from deskpemilu import loadgen, runtime

app = typer.Typer(help="Drive a stack of its own at a steady rate for hours; sample and check.")

SERVICES = ("validator", "aggregator", "intake", "api")
PREFIX = "soak."
BANYUASIN = runtime.DEFAULT_ROSTERS / "pemilu-2024-banyuasin"
RSS_GROWTH = 0.25
RSS_SLACK_MIB = 64.0
FD_SLACK = 20
LAG_SECONDS = 10.0
LAG_SLACK = 50
FRESHNESS_P99_MS = 2000.0


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- per-process figures from /proc ----------------------------------------------------------


def _status_kib(pid: int, field_name: str) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1])
    return 0


# A PostgreSQL relation's file (a table's or index's segment, its free-space or visibility map).
RELATION_FILE = re.compile(r"/(?:base/\d+|global)/\d+(?:_fsm|_vm|_init)?(?:\.\d+)?$")


def _fds(pid: int) -> tuple[int, int, int]:
    """(open descriptors, of which sockets, of which PostgreSQL relation files)."""
    fds = sockets = relation_files = 0
    with contextlib.suppress(OSError):
        for entry in os.scandir(f"/proc/{pid}/fd"):
            fds += 1
            with contextlib.suppress(OSError):
                target = os.readlink(entry.path)
                if target.startswith("socket:"):
                    sockets += 1
                elif RELATION_FILE.search(target):
                    relation_files += 1
    return fds, sockets, relation_files


def relation_files_on_disk(data_dir: Path) -> int:
    """How many relation files the cluster has: a backend holds each open at most once."""
    folders = [data_dir / "global", *(data_dir / "base").glob("*")]
    return sum(1 for folder in folders for f in folder.iterdir() if RELATION_FILE.search(str(f)))


def _cpu_s(pid: int) -> float:
    with contextlib.suppress(OSError, IndexError):
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


def _children(parent: int) -> list[int]:
    pids = [parent]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError):
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == parent:
                    pids.append(int(entry.name))
    return pids


def process_figures(pids: list[int], *, anon_only: bool = False) -> dict[str, float]:
    """rss_mib, fds, sockets, cpu_s summed over pids (anon_only: RssAnon, for PostgreSQL,
    whose backends all map the same shared buffers)."""
    rss = sum(_status_kib(p, "RssAnon" if anon_only else "VmRSS") for p in pids) / 1024
    fds = sockets = relation_files = 0
    for pid in pids:
        f, s, r = _fds(pid)
        fds, sockets, relation_files = fds + f, sockets + s, relation_files + r
    figures = {"rss_mib": rss, "fds": fds, "sockets": sockets, "cpu_s": sum(map(_cpu_s, pids))}
    if anon_only:
        # PostgreSQL: a backend opens a table's or index's files the first time it touches them
        # and keeps them (up to max_files_per_process): those are bounded by the relations on
        # disk, and counted apart from the descriptors a leak would grow (sockets, pipes, logs).
        figures["fds"] = fds - relation_files
        figures["relation_files"] = relation_files
    return figures


PG_TRANSIENT = ("autovacuum worker", "parallel worker")


def _long_lived_postgres(pids: list[int]) -> tuple[list[int], int]:
    """The postmaster, its auxiliary processes and the client backends; and how many
    short-lived workers (autovacuum, parallel query) were running besides."""
    kept, transient = [], 0
    for pid in pids:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        if any(kind in title for kind in PG_TRANSIENT):
            transient += 1
        else:
            kept.append(pid)
    return kept, transient


def _jcmd(pid: int, command: str) -> str:
    jcmd = shutil.which("jcmd") or "jcmd"
    done = subprocess.run(  # noqa: S603 - the JDK's own tool, our own arguments
        [jcmd, str(pid), command], capture_output=True, text=True, timeout=120, check=False
    )
    return done.stdout


def jvm_live_heap_mib(pid: int, histogram_to: Path | None = None) -> float:
    """Heap in use right after a full GC (jcmd GC.run, then GC.heap_info): the live set.

    With `histogram_to`, the live objects per class (GC.class_histogram, itself taken after a
    full GC) are written there first: what grows between two of them is what holds the heap.
    """
    if histogram_to is not None:
        histogram_to.write_text(_jcmd(pid, "GC.class_histogram"))
    _jcmd(pid, "GC.run")
    used = re.search(r"heap\s+total \d+K, used (\d+)K", _jcmd(pid, "GC.heap_info"))
    return int(used.group(1)) / 1024 if used else float("nan")


def histogram_growth(before: str, after: str, top: int = 10) -> list[tuple[str, int, int]]:
    """The classes whose live bytes grew most between two GC.class_histogram outputs:
    (class, bytes before, bytes after), largest growth first."""

    def parse(text: str) -> dict[str, int]:
        sizes: dict[str, int] = {}
        for line in text.splitlines():
            row = re.match(r"\s*\d+:\s+\d+\s+(\d+)\s+(\S+)", line)
            if row:
                sizes[row.group(2)] = sizes.get(row.group(2), 0) + int(row.group(1))
        return sizes

    old, new = parse(before), parse(after)
    grown = sorted(new, key=lambda name: old.get(name, 0) - new[name])[:top]
    return [(name, old.get(name, 0), new[name]) for name in grown if new[name] > old.get(name, 0)]


def _pid_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


# --- the stack -------------------------------------------------------------------------------


@dataclass
class SoakStack:
    """Kafka, PostgreSQL and the four services of one soak, all on free ports."""

    run_dir: Path
    env: dict[str, str]
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def bootstrap(self) -> str:
        """The private broker."""
        return f"127.0.0.1:{self.env['KAFKA_PORT']}"

    @property
    def database_url(self) -> str:
        """The private server's deskpemilu database."""
        return f"postgresql://deskpemilu:deskpemilu@127.0.0.1:{self.env['PG_PORT']}/deskpemilu"

    def stack(self, *args: str, timeout_s: float = 300) -> None:
        """deploy/stack.sh against this RUN_DIR."""
        done = subprocess.run(  # noqa: S603 - our own script, our own arguments
            ["/bin/bash", str(runtime.STACK_SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"stack.sh {' '.join(args)}: {done.stdout}{done.stderr}")

    def pids(self) -> dict[str, list[int]]:
        """The processes sampled, by name."""
        groups = {n: [p.pid] for n, p in self.processes.items() if p.poll() is None}
        kafka = _pid_file(self.run_dir / "kafka" / "kafka.pid")
        groups["kafka"] = [kafka] if kafka else []
        postmaster = _pid_file(self.run_dir / "postgres" / "data" / "postmaster.pid")
        groups["postgres"] = _children(postmaster) if postmaster else []
        return groups

    def exited(self) -> list[str]:
        """Services whose process has ended."""
        return [name for name, p in self.processes.items() if p.poll() is not None]


def _service_env(stack: SoakStack) -> dict[str, str]:
    env = dict(stack.env)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=stack.bootstrap,
        DATABASE_URL=stack.database_url,
        TOPIC_PREFIX=PREFIX,
        TOPIC_PARTITIONS="12",
        DESKPEMILU_TOKEN_SECRET=secrets.token_hex(32),
        WHATSAPP_APP_SECRET=secrets.token_hex(16),
        WHATSAPP_VERIFY_TOKEN=secrets.token_hex(8),
        SMS_AUTH_TOKEN=secrets.token_hex(16),
        INTAKE_RATE_PER_S="1000",
        INTAKE_RATE_BURST="1000",
        PYTHONUNBUFFERED="1",
    )
    return env


@contextlib.contextmanager
def soak_stack(keep_logs_in: Path | None = None) -> Iterator[SoakStack]:
    """Start Kafka and PostgreSQL in a temporary RUN_DIR; stop them and remove it afterwards.

    With keep_logs_in, the broker's and the server's logs are copied there first: a stall seen
    in the samples can then be looked up in them.
    """
    run_dir = Path(tempfile.mkdtemp(prefix="dp-soak-", dir="/tmp"))
    run_dir.chmod(0o755)  # the postgres OS user must reach its data folder
    env = {k: v for k, v in os.environ.items()
           if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}  # fmt: skip
    env.update(
        RUN_DIR=str(run_dir),
        KAFKA_PORT=str(free_port()),
        KAFKA_CONTROLLER_PORT=str(free_port()),
        PG_PORT=str(free_port()),
    )
    stack = SoakStack(run_dir, env)
    try:
        stack.stack("start", "all")
        yield stack
    finally:
        for process in stack.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in stack.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
            stack.stack("stop", "all")
        if keep_logs_in is not None:
            for server, pattern in (("kafka", "kafka/logs/*.log"), ("postgres", "postgres/*.log")):
                for log in run_dir.glob(pattern):
                    with contextlib.suppress(OSError):
                        shutil.copy(log, keep_logs_in / f"{server}-{log.name}")
        shutil.rmtree(run_dir, ignore_errors=True)


async def start_services(stack: SoakStack, secret_env: dict[str, str], out: Path) -> None:
    """Migrate, load the Banyuasin roster, create the topics, start the services (healthy)."""
    from deskpemilu.roster_load import load_roster
    from shared.db import connect, migrate
    from shared.kafka import ensure_topics
    from shared.topics import Topics

    conn = await connect(stack.database_url)
    try:
        await migrate(conn)
        await load_roster(conn, BANYUASIN)
    finally:
        await conn.close()
    await ensure_topics(
        stack.bootstrap, partitions=12, replication_factor=1, topics=Topics(PREFIX).specs()
    )
    for name in SERVICES:
        port = stack.ports[name] = free_port()
        env = dict(secret_env)
        env[runtime.SERVICE_PORT_VARS[name]] = str(port)
        with (out / f"{name}.log").open("ab") as log:
            stack.processes[name] = subprocess.Popen(  # noqa: S603, ASYNC220 - returns at once
                [sys.executable, "-m", f"services.{name}"],
                cwd=runtime.REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        await _wait_healthy(stack, name, 90)


async def _wait_healthy(stack: SoakStack, name: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2) as client:
        while time.monotonic() < deadline:
            if stack.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited during start-up; see its log")
            with contextlib.suppress(httpx.HTTPError):
                url = f"http://127.0.0.1:{stack.ports[name]}/healthz"
                if (await client.get(url)).status_code == 200:
                    return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{name} not healthy within {timeout_s:.0f}s")


# --- sampling --------------------------------------------------------------------------------


async def consumer_lag(stack: SoakStack, conn: asyncpg.Connection) -> tuple[int, int]:
    """(validator lag, aggregator lag) in records, from end offsets and committed offsets."""
    from aiokafka import AIOKafkaConsumer, TopicPartition
    from aiokafka.admin import AIOKafkaAdminClient

    from shared.topics import Topics

    topics = Topics(PREFIX)
    consumer = AIOKafkaConsumer(bootstrap_servers=stack.bootstrap)
    admin = AIOKafkaAdminClient(bootstrap_servers=stack.bootstrap)
    await consumer.start()
    await admin.start()
    try:
        wanted = [topics.received, topics.validated, topics.rejected]
        parts = [
            TopicPartition(t, p)
            for t in wanted
            for p in sorted(consumer.partitions_for_topic(t) or await _partitions(consumer, t))
        ]
        ends = await consumer.end_offsets(parts)
        committed = await admin.list_consumer_group_offsets(PREFIX + "validator")
    finally:
        await admin.close()
        await consumer.stop()
    received_end = sum(o for tp, o in ends.items() if tp.topic == topics.received)
    validator_done = sum(m.offset for tp, m in committed.items() if tp.topic == topics.received)
    stored = await conn.fetchval(
        "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE consumer_group = $1",
        PREFIX + "aggregator",
    )
    aggregated_end = sum(o for tp, o in ends.items() if tp.topic != topics.received)
    return max(0, received_end - validator_done), max(0, aggregated_end - int(stored))


async def _partitions(consumer: Any, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()  # aiokafka has no public call for it
    parts: set[int] = consumer.partitions_for_topic(topic) or set()
    return parts


async def freshness(
    conn: asyncpg.Connection, since_s: float, submission_ids: list[uuid.UUID]
) -> tuple[int, float, float]:
    """(forms, p50 ms, p99 ms) of 202 to recorded, over forms recorded in the last since_s.

    submission_ids: every form the last chunks sent (the soak knows them: they are derived from
    operator and Idempotency-Key), looked up by primary key. Neither a scan of the whole table
    (some 360,000 forms late in a soak: seconds each minute, on the machine whose stalls the
    soak looks for) nor one of its end (a new row may sit anywhere a vacuum left space).
    """
    row = await conn.fetchrow(
        "SELECT count(*) AS n,"
        " percentile_cont(0.5) WITHIN GROUP (ORDER BY updated_at - received_at) AS p50,"
        " percentile_cont(0.99) WITHIN GROUP (ORDER BY updated_at - received_at) AS p99"
        " FROM submissions WHERE submission_id = ANY($2::uuid[])"
        " AND updated_at > now() - make_interval(secs => $1)"
        # A revision marks the version it replaces superseded (updated_at moves on): that row
        # was recorded long before and is not a sample of this interval.
        " AND status <> 'superseded'",
        since_s,
        submission_ids,
    )
    assert row is not None
    if not row["n"]:
        return 0, 0.0, 0.0
    return int(row["n"]), row["p50"].total_seconds() * 1000, row["p99"].total_seconds() * 1000


async def sample(
    stack: SoakStack,
    conn: asyncpg.Connection,
    started: float,
    interval_s: float,
    sending: Sending,
) -> dict[str, Any]:
    """One row: every process's figures, the lags, the interval's freshness, the counts."""
    row: dict[str, Any] = {"elapsed_s": round(time.monotonic() - started, 1)}
    for name, pids in stack.pids().items():
        if name == "postgres":
            pids, row["postgres_workers"] = _long_lived_postgres(pids)
        figures = process_figures(pids, anon_only=name == "postgres")
        for key, value in figures.items():
            row[f"{name}_{key}"] = round(value, 2)
        if name == "postgres":
            row["postgres_processes"] = len(pids)
            data_dir = stack.run_dir / "postgres" / "data"
            row["postgres_relation_files_on_disk"] = relation_files_on_disk(data_dir)
    row["validator_lag"], row["aggregator_lag"] = await consumer_lag(stack, conn)
    fresh = await freshness(conn, interval_s, sending.recent_ids())
    row["fresh_forms"], row["fresh_p50_ms"], row["fresh_p99_ms"] = fresh
    row["accepted"] = sending.accepted
    row["recorded"] = await conn.fetchval("SELECT count(*) FROM submissions")
    row["load1"] = round(os.getloadavg()[0], 2)
    return row


# --- the run ---------------------------------------------------------------------------------


@dataclass
class Sending:
    """What the load generator reported, chunk after chunk."""

    accepted: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    cpu_s: float = 0.0
    answered: int = 0
    # The submission ids of the last chunks' forms: the sample of each interval's freshness.
    chunk_ids: collections.deque[list[uuid.UUID]] = field(
        default_factory=lambda: collections.deque(maxlen=3)
    )

    def recent_ids(self) -> list[uuid.UUID]:
        """Every form the last three chunks sent (a form is recorded well within that)."""
        return [i for chunk in self.chunk_ids for i in chunk]

    def add(self, report: dict[str, Any]) -> None:
        self.accepted += int(report["distinct_202"])
        self.answered += int(report["answered"])
        self.cpu_s += float(report["cpu_s"])
        for status, count in report["statuses"].items():
            self.statuses[status] = self.statuses.get(status, 0) + count


async def _loadgen(path: Path, port: int, rate: float) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "deskpemilu.loadgen", str(path), "--port", str(port),
        "--rate", str(rate), "--connections", str(max(8, min(64, int(rate / 8)))),
        cwd=runtime.REPO_ROOT, stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, _ = await process.communicate()
    for line in stdout.decode().splitlines():
        if line.startswith(loadgen.REPORT_PREFIX):
            report: dict[str, Any] = json.loads(line[len(loadgen.REPORT_PREFIX) :])
            return report
    raise RuntimeError(f"load generator exited {process.returncode} without a report")


async def drive(
    stack: SoakStack, secret: str, *, seconds: float, rate: float, chunk_s: float, out: Path,
    sending: Sending,
) -> None:  # fmt: skip
    """Send forms at `rate` for `seconds`, a load generator process per chunk."""
    from deskpemilu.simulator.plan import Operators
    from deskpemilu.simulator.run import load_operators, mint_tokens
    from shared.db import connect
    from shared.roster_db import fetch_election_roster

    conn = await connect(stack.database_url)
    try:
        refs, _ = await load_operators(conn)
        tokens = await mint_tokens(conn, secret, refs, hours=seconds / 3600 + 2)
        roster = await fetch_election_roster(conn, "pemilu-2024")
    finally:
        await conn.close()
    assert roster is not None
    operators = Operators.from_list(refs)
    port = stack.ports["intake"]
    per_chunk = max(1, round(rate * chunk_s))
    chunks = max(1, round(seconds / chunk_s))

    def build(n: int) -> tuple[Path, list[uuid.UUID]]:
        first, key_prefix = n * per_chunk, f"soak-{n}"
        requests = loadgen.form_requests(
            roster, operators, tokens, host=f"127.0.0.1:{port}", count=per_chunk,
            start=first, seed=n, key_prefix=key_prefix,
        )  # fmt: skip
        path = out / f"chunk-{n % 2}.requests"
        loadgen.write_requests(path, requests)
        ids = loadgen.form_submission_ids(
            roster, operators, count=per_chunk, start=first, key_prefix=key_prefix
        )
        return path, ids

    path, ids = await asyncio.to_thread(build, 0)
    for n in range(chunks):
        started = time.monotonic()
        following = asyncio.create_task(asyncio.to_thread(build, n + 1)) if n + 1 < chunks else None
        sending.chunk_ids.append(ids)
        sending.add(await _loadgen(path, port, rate))
        if following is not None:
            path, ids = await following
        # A chunk that ran short (a start-up pause) is not made up: the rate stays steady.
        await asyncio.sleep(max(0.0, chunk_s - (time.monotonic() - started)))


@dataclass
class Check:
    """One series against its bound."""

    name: str
    ok: bool
    detail: str


def check_series(rows: list[dict[str, Any]], rate: float) -> list[Check]:
    """Each series against the bound stated in the module's doc."""
    checks: list[Check] = []
    if not rows:
        return [Check("samples", False, "no sample was taken")]
    base = rows[1] if len(rows) > 1 else rows[0]  # after the first interval: warm
    half = rows[len(rows) // 2] if len(rows) >= 4 else base  # the caches are full by then
    last = rows[-1]
    names = sorted({k.removesuffix("_rss_mib") for k in last if k.endswith("_rss_mib")})
    for name in names:
        key = f"{name}_rss_mib"
        warm_rss, half_rss, last_rss = base[key], half[key], last[key]
        peak = max(row[key] for row in rows)
        bound = max(half_rss * (1 + RSS_GROWTH), half_rss + RSS_SLACK_MIB)
        checks.append(
            Check(
                f"{name} RSS",
                last_rss <= bound,
                f"{warm_rss:.0f} MiB at {base['elapsed_s']:.0f}s, {half_rss:.0f} at half time "
                f"({half['elapsed_s']:.0f}s) -> {last_rss:.0f} at the end, peak {peak:.0f} "
                f"(bound {bound:.0f})",
            )
        )
        for key in ("fds", "sockets"):
            a, b = half[f"{name}_{key}"], last[f"{name}_{key}"]
            checks.append(
                Check(
                    f"{name} {key}",
                    b <= a + FD_SLACK,
                    f"{a:.0f} -> {b:.0f} (bound {a + FD_SLACK:.0f})",
                )
            )
    if "postgres_relation_files" in last:
        held, on_disk = last["postgres_relation_files"], last["postgres_relation_files_on_disk"]
        processes = last["postgres_processes"]
        bound = on_disk * processes
        detail = f"{held:.0f} open at the end (bound {on_disk} files x {processes} processes)"
        checks.append(Check("postgres relation files", held <= bound, detail))
    heaps = [(r["elapsed_s"], r["kafka_heap_live_mib"]) for r in rows if "kafka_heap_live_mib" in r]
    if len(heaps) >= 2:
        (_, mid), (_, end) = heaps[len(heaps) // 2], heaps[-1]
        bound = max(mid * (1 + RSS_GROWTH), mid + RSS_SLACK_MIB)
        shown = ", ".join(f"{mib:.0f} MiB at {at:.0f}s" for at, mib in heaps)
        checks.append(Check("kafka live heap", end <= bound, f"{shown} (bound {bound:.0f})"))
    warm = rows[1:] or rows  # the first interval holds the start-up and the broker's JIT
    lag_bound = rate * LAG_SECONDS + LAG_SLACK
    for key in ("validator_lag", "aggregator_lag"):
        worst = max(r[key] for r in warm)
        checks.append(Check(key, worst <= lag_bound, f"max {worst:,} (bound {lag_bound:,.0f})"))
    worst_p99 = max(r["fresh_p99_ms"] for r in warm)
    detail = f"worst interval {worst_p99:.0f} ms (bound {FRESHNESS_P99_MS:.0f})"
    checks.append(Check("freshness p99", worst_p99 <= FRESHNESS_P99_MS, detail))
    return checks


async def run_soak(
    *, hours: float, rate: float, interval_s: float, out: Path, drain_s: float = 180
) -> tuple[list[dict[str, Any]], list[Check], Sending]:
    """The whole soak; returns the samples, the checks and what was sent."""
    from shared.db import connect

    seconds = hours * 3600
    # SIGTERM ends the soak like Ctrl-C: the run is cancelled and soak_stack tears its stack down.
    current = asyncio.current_task()
    assert current is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, current.cancel)
    with soak_stack(keep_logs_in=out) as stack:
        secret_env = _service_env(stack)
        await start_services(stack, secret_env, out)
        conn = await connect(stack.database_url)
        rows: list[dict[str, Any]] = []
        sending = Sending()
        started = time.monotonic()
        try:
            driver = asyncio.create_task(
                drive(stack, secret_env["DESKPEMILU_TOKEN_SECRET"], seconds=seconds, rate=rate,
                      chunk_s=min(60.0, interval_s), out=out, sending=sending)
            )  # fmt: skip
            next_at = started + interval_s
            heap_at = [started + interval_s, started + seconds / 2]  # and after the drain
            while not driver.done():
                await asyncio.wait({driver}, timeout=max(0.0, next_at - time.monotonic()))
                if time.monotonic() >= next_at:
                    next_at += interval_s
                    rows.append(await sample(stack, conn, started, interval_s, sending))
                    if heap_at and time.monotonic() >= heap_at[0]:
                        heap_at.pop(0)
                        rows[-1]["kafka_heap_live_mib"] = await _live_heap(
                            stack, out, rows[-1]["elapsed_s"]
                        )
                    _print_row(rows[-1])
            await driver
            recorded = await _drain(conn, sending.accepted, drain_s)
            rows.append(await sample(stack, conn, started, interval_s, sending))
            rows[-1]["kafka_heap_live_mib"] = await _live_heap(stack, out, rows[-1]["elapsed_s"])
            _print_row(rows[-1])
        finally:
            await conn.close()
        exited = stack.exited()
    checks = check_series(rows, rate)
    growth = _heap_growth(out)
    for name, before, after in growth:
        print(f"kafka heap grew: {name} {before / 2**20:.1f} -> {after / 2**20:.1f} MiB")
    detail = f"{recorded:,} of {sending.accepted:,} answered 202; HTTP {sending.statuses}"
    checks.append(Check("every accepted form recorded", recorded >= sending.accepted, detail))
    checks.append(Check("services ran throughout", not exited, f"exited: {exited or 'none'}"))
    _write(out, rows, checks, sending, growth, hours=hours, rate=rate, interval_s=interval_s)
    return rows, checks, sending


def _heap_growth(out: Path) -> list[tuple[str, int, int]]:
    """What grew in the broker's heap from half time to the end (the middle and last histograms)."""
    histograms = sorted(out.glob("kafka-heap-*s.txt"))
    if len(histograms) < 2:
        return []
    mid, last = histograms[len(histograms) // 2], histograms[-1]
    return histogram_growth(mid.read_text(), last.read_text())


async def _live_heap(stack: SoakStack, out: Path, elapsed_s: float) -> float:
    kafka = stack.pids()["kafka"]
    if not kafka:
        return float("nan")
    histogram = out / f"kafka-heap-{elapsed_s:05.0f}s.txt"
    return round(await asyncio.to_thread(jvm_live_heap_mib, kafka[0], histogram), 1)


async def _drain(conn: asyncpg.Connection, target: int, timeout_s: float) -> int:
    deadline = time.monotonic() + timeout_s
    while True:
        count: int = await conn.fetchval("SELECT count(*) FROM submissions")
        if count >= target or time.monotonic() > deadline:
            return count
        await asyncio.sleep(0.5)


def _print_row(row: dict[str, Any]) -> None:
    rss = " ".join(
        f"{k.removesuffix('_rss_mib')} {v:.0f}" for k, v in row.items() if k.endswith("_rss_mib")
    )
    typer.echo(
        f"{row['elapsed_s']:>7.0f}s  recorded {row['recorded']:,}/{row['accepted']:,}  "
        f"lag v/a {row['validator_lag']}/{row['aggregator_lag']}  fresh p50/p99 "
        f"{row['fresh_p50_ms']:.0f}/{row['fresh_p99_ms']:.0f} ms  RSS MiB: {rss}  "
        + (
            f"kafka heap {row['kafka_heap_live_mib']:.0f} MiB  "
            if "kafka_heap_live_mib" in row
            else ""
        )
        + f"load {row['load1']}"
    )


def _write(
    out: Path,
    rows: list[dict[str, Any]],
    checks: list[Check],
    sending: Sending,
    heap_growth: list[tuple[str, int, int]],
    **params: float,
) -> None:
    columns: list[str] = []
    for row in rows:
        columns += [k for k in row if k not in columns]
    with (out / "samples.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    summary = {
        "params": params,
        "bounds": {
            "rss": f"last <= max(half * {1 + RSS_GROWTH}, half + {RSS_SLACK_MIB} MiB)",
            "fds_sockets": f"last <= half + {FD_SLACK}",
            "kafka_heap_live": f"last <= max(half * {1 + RSS_GROWTH}, half + {RSS_SLACK_MIB} MiB)",
            "lag": f"every sample <= rate * {LAG_SECONDS} + {LAG_SLACK}",
            "freshness_p99_ms": FRESHNESS_P99_MS,
        },
        "sent": {"answered": sending.answered, "accepted": sending.accepted,
                 "statuses": sending.statuses, "loadgen_cpu_s": round(sending.cpu_s, 2)},
        "checks": [{"name": c.name, "ok": c.ok, "detail": c.detail} for c in checks],
        "kafka_heap_growth_half_to_end": [
            {"class": name, "bytes_half": before, "bytes_end": after}
            for name, before, after in heap_growth
        ],
        "samples": rows,
    }  # fmt: skip
    (out / "summary.json").write_text(json.dumps(summary, indent=2))


@app.callback(invoke_without_command=True)
def soak(
    hours: Annotated[float, typer.Option(help="how long to send (0.05 = 3 minutes)")] = 1.0,
    rate: Annotated[float, typer.Option(help="forms per second, steady")] = 100.0,
    interval: Annotated[float, typer.Option(help="seconds between samples")] = 60.0,
    out: Annotated[Path, typer.Option(help="where samples.csv and summary.json go")] = (
        runtime.RUN_DIR / "soak"
    ),
    check: Annotated[
        Path | None,
        typer.Option(help="check a finished soak's summary.json again instead of running one"),
    ] = None,
) -> None:
    """Start a private stack, send single forms at RATE for HOURS, sample every INTERVAL."""
    if check is not None:
        if not _echo_checks(recheck(json.loads(check.read_text()))):
            raise typer.Exit(1)
        return
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("kafka-heap-*s.txt"):  # an earlier soak's, in the same folder
        stale.unlink()
    try:
        rows, checks, sending = asyncio.run(
            run_soak(hours=hours, rate=rate, interval_s=interval, out=out)
        )
    except (asyncio.CancelledError, KeyboardInterrupt):
        typer.echo("soak stopped before its end; its stack is stopped and removed", err=True)
        raise typer.Exit(130) from None
    passed = _echo_checks(checks)
    typer.echo(
        f"{len(rows)} samples; load generator {sending.cpu_s / max(1, sending.answered) * 1e6:.0f}"
        f" us CPU per form; written to {out}/samples.csv and summary.json"
    )
    if not passed:
        raise typer.Exit(1)


def recheck(summary: dict[str, Any]) -> list[Check]:
    """A finished soak's samples (its summary.json) checked again with the bounds above."""
    checks = check_series(summary["samples"], float(summary["params"]["rate"]))
    kept = ("every accepted form recorded", "services ran throughout")
    return checks + [Check(**c) for c in summary["checks"] if c["name"] in kept]


def _echo_checks(checks: list[Check]) -> bool:
    """Print each check's verdict; True when all passed."""
    for check in checks:
        typer.echo(f"{'PASS' if check.ok else 'FAIL'}  {check.name}: {check.detail}")
    return all(check.ok for check in checks)
