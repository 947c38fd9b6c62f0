"""What the end-to-end benchmarks share: their figures, the stack, the pipeline and its CPU.

benchmarks/e2e_bench.py, e2e_profile.py and e2e_targets.py each run the four services on a
scratch database (the Banyuasin roster, operators with minted tokens) on the shared or a private
Kafka and PostgreSQL (`stack_for`), send forms, wait until the aggregator has recorded them and
measure the CPU of each process (`Meter`, `process_groups`). `bench_pipeline` starts all of it
and removes what it created afterwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import json
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from deskpemilu import loadgen, runtime
from deskpemilu.simulator.plan import Operators
from deskpemilu.simulator.run import load_operators, mint_tokens
from shared.db import connect, migrate
from shared.events import OperatorRef
from shared.topics import Topics
from tests.dbs import drop_database
from tests.e2e.pipeline import (
    BANYUASIN_PEMILU,
    Pipeline,
    PrivateStack,
    start_pipeline,
    start_private_stack,
    stop_private_stack,
)
from tests.procs import TEST_TOKEN_SECRET, ServiceProcess

REPO = Path(__file__).resolve().parent.parent
DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_DATABASE_URL = "postgresql://deskpemilu:deskpemilu@127.0.0.1:5433/deskpemilu"
RESULT_PREFIX = "RESULT "

# --- figures ---------------------------------------------------------------------------------


def result(name: str, value: float | str | None, unit: str = "", note: str = "") -> None:
    """Print one figure for people and as a machine-readable line for run_all."""
    shown = f"{value:,.1f}" if isinstance(value, float) else str(value)
    print(f"  {name}: {shown} {unit}".rstrip() + (f"  ({note})" if note else ""), flush=True)
    record = {"name": name, "value": value, "unit": unit, "note": note}
    print(RESULT_PREFIX + json.dumps(record, ensure_ascii=False), flush=True)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


# --- processes and their CPU -----------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")
Pids = Callable[[], list[int]]


def proc_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds a process has used, None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14, 15)


def service_pids(service: ServiceProcess) -> list[int]:
    """The service's process, if it runs."""
    return [service.process.pid] if service.process else []


def children_of(parent: int) -> list[int]:
    """The parent and its direct children (a PostgreSQL server: postmaster and backends)."""
    pids = [parent]
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[1]) == parent:
            pids.append(int(entry.name))
    return pids


def pids_with(text: str) -> list[int]:
    """Processes whose command line holds `text` (PostgreSQL backends name their database)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
    return found


def first_pid(path: Path) -> int | None:
    """The pid on the first line of a pid file."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def process_groups(
    pipeline: Pipeline, database: str, stack: PrivateStack | None
) -> dict[str, Pids]:
    """The processes to meter by name: each service, PostgreSQL and the Kafka broker.

    On a private stack, every process of its PostgreSQL server and its broker; on the shared
    one, the backends of this run's database and the shared broker.
    """
    groups: dict[str, Pids] = {
        name: functools.partial(service_pids, service)
        for name, service in pipeline.services.items()
    }
    if stack is not None:
        postmaster = stack.run_dir / "postgres" / "data" / "postmaster.pid"
        groups["postgres"] = lambda: children_of(first_pid(postmaster) or -1)
        kafka = stack.run_dir / "kafka" / "kafka.pid"
        groups["kafka broker"] = lambda: [p] if (p := first_pid(kafka)) else []
    else:
        # Backend titles name the database: "postgres: deskpemilu bench_x 127.0.0.1(...)".
        groups["postgres (this database)"] = lambda: pids_with(database)
        shared = runtime.RUN_DIR / "kafka" / "kafka.pid"
        groups["kafka broker (shared)"] = lambda: [p] if (p := first_pid(shared)) else []
    return groups


# Every request type the broker counts (kafka.network RequestMetrics, RequestsPerSec's Count).
_REQUEST_METRIC = "kafka.network:type=RequestMetrics,name=RequestsPerSec,request=*,version=*"


class BrokerRequests:
    """The private broker's own request counts by type, read over JMX with Kafka's JmxTool.

    The broker runs without a JMX port; `jcmd ManagementAgent.start` opens one on loopback for
    this run (no authentication: a private stack's broker on a private port).
    """

    def __init__(self, stack: PrivateStack) -> None:
        import subprocess

        from tests.procs import free_port

        self.stack = stack
        pid = first_pid(stack.run_dir / "kafka" / "kafka.pid")
        if pid is None:
            raise RuntimeError("the private broker is not running")
        port = free_port()
        subprocess.run(
            ["jcmd", str(pid), "ManagementAgent.start", f"jmxremote.port={port}",
             f"jmxremote.rmi.port={port}", "jmxremote.host=127.0.0.1",
             "jmxremote.authenticate=false", "jmxremote.ssl=false"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        self.url = f"service:jmx:rmi:///jndi/rmi://127.0.0.1:{port}/jmxrmi"

    def counts(self) -> dict[str, int]:
        """Requests handled since the broker started, by request type (all versions summed)."""
        output = self.stack.run(
            "kafka-run-class", "org.apache.kafka.tools.JmxTool", "--jmx-url", self.url,
            "--object-name", _REQUEST_METRIC, "--attributes", "Count", "--one-time", "true",
            "--report-format", "properties",
        )  # fmt: skip
        counts: dict[str, int] = {}
        for line in output.splitlines():
            if ",request=" not in line or ":Count=" not in line:
                continue
            name = line.split(",request=", 1)[1].split(",", 1)[0]
            counts[name] = counts.get(name, 0) + int(float(line.rsplit(":Count=", 1)[1]))
        return counts


def request_deltas(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Requests by type between two counts, most first; types that did not move left out."""
    moved = {k: v - before.get(k, 0) for k, v in after.items() if v > before.get(k, 0)}
    return dict(sorted(moved.items(), key=lambda kv: -kv[1]))


class Meter:
    """CPU seconds per named group of processes between begin() and end()."""

    def __init__(self, groups: dict[str, Pids]) -> None:
        self.groups = groups
        self._start: dict[str, dict[int, float]] = {}

    def _sample(self) -> dict[str, dict[int, float]]:
        sample: dict[str, dict[int, float]] = {}
        for name, pids in self.groups.items():
            sample[name] = {}
            for pid in pids():
                cpu = proc_cpu_s(pid)
                if cpu is not None:
                    sample[name][pid] = cpu
        return sample

    def begin(self) -> None:
        """Remember every counter."""
        self._start = self._sample()

    def end(self) -> dict[str, float]:
        """CPU seconds per group since begin() (processes started since count from zero)."""
        used: dict[str, float] = {}
        for name, pids in self._sample().items():
            before = self._start.get(name, {})
            used[name] = sum(cpu - before.get(pid, 0.0) for pid, cpu in pids.items())
        return used


# --- the stack, the scratch database, the pipeline -------------------------------------------


@contextlib.contextmanager
def stack_for(private: bool) -> Iterator[tuple[str, str, PrivateStack | None]]:
    """(bootstrap, admin database URL, private stack or None)."""
    if not private:
        yield (
            os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
            os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL),
            None,
        )
        return
    stack = start_private_stack()
    try:
        yield stack.kafka_bootstrap, stack.database_url, stack
    finally:
        stop_private_stack(stack)


async def scratch_database(admin_url: str) -> str:
    """A new migrated database beside the admin URL's; its URL."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = f"{admin_url.rpartition('/')[0]}/{name}"
    conn = await connect(url)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return url


async def drop_scratch_database(admin_url: str, url: str) -> None:
    """Drop the database of `url` through the admin URL's server."""
    admin = await asyncpg.connect(admin_url)
    try:
        await drop_database(admin, url.rpartition("/")[2])
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Delete the desk's topics under a prefix."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([spec.name for spec in Topics(prefix).specs()])
    finally:
        await admin.close()


@dataclasses.dataclass
class BenchPipeline:
    """The running pipeline of one run, a connection to its database, operators and tokens."""

    pipeline: Pipeline
    conn: asyncpg.Connection
    database_url: str
    refs: list[OperatorRef]
    phones: dict[str, str]
    tokens: dict[str, str]
    start_s: float  # roster load, topics and the four services healthy

    @property
    def database(self) -> str:
        """The scratch database's name."""
        return self.database_url.rpartition("/")[2]

    @functools.cached_property
    def operators(self) -> Operators:
        """The roster's operators, by area."""
        return Operators.from_list(self.refs)


Prepare = Callable[[asyncpg.Connection, str], Awaitable[None]]


@contextlib.asynccontextmanager
async def bench_pipeline(
    bootstrap: str,
    admin_url: str,
    log_dir: Path,
    *,
    partitions: int = 12,
    prepare: Prepare | None = None,
    keep: bool = False,
    service_env: dict[str, str] | None = None,
) -> AsyncIterator[BenchPipeline]:
    """A scratch database, the four services on the Banyuasin roster, tokens for every operator.

    prepare(conn, database name) runs on the migrated database before the services start (a
    larger roster, an extension). Afterwards the services stop and, unless keep, the topics and
    the database are removed.
    """
    database_url = await scratch_database(admin_url)
    pipeline: Pipeline | None = None
    conn: asyncpg.Connection | None = None
    try:
        conn = await connect(database_url)
        if prepare is not None:
            await prepare(conn, database_url.rpartition("/")[2])
        # The services' settings beside start_pipeline's own options (all strings).
        # A benchmark's few operators (one per kecamatan) send thousands of forms a second:
        # it measures the pipeline, so the per-operator limit is lifted unless the caller sets it.
        options: dict[str, Any] = {
            "INTAKE_RATE_PER_S": "1000000",
            "INTAKE_RATE_BURST": "1000000",
            **(service_env or {}),
            "roster": BANYUASIN_PEMILU,
            "partitions": partitions,
        }
        started = time.monotonic()
        pipeline = await start_pipeline(bootstrap, database_url, log_dir, **options)
        start_s = time.monotonic() - started
        refs, phones = await load_operators(conn)
        tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, refs)
        yield BenchPipeline(pipeline, conn, database_url, refs, phones, tokens, start_s)
    finally:
        if conn is not None:
            await conn.close()
        if pipeline is not None:
            pipeline.stop()
            if not keep:
                await delete_topics(bootstrap, pipeline.env["TOPIC_PREFIX"])
        if not keep:
            await drop_scratch_database(admin_url, database_url)


def exited_services(pipeline: Pipeline) -> list[tuple[str, int]]:
    """(name, exit code) of each service process that is no longer running."""
    return [
        (name, code)
        for name, service in pipeline.services.items()
        if service.process is not None and (code := service.process.poll()) is not None
    ]


# --- sending and waiting ----------------------------------------------------------------------


async def recorded(conn: asyncpg.Connection) -> int:
    """Submissions recorded by the aggregator so far (validated and rejected)."""
    count: int = await conn.fetchval("SELECT count(*) FROM submissions")
    return count


async def wait_recorded(
    conn: asyncpg.Connection, target: int, deadline: float, interval_s: float = 0.05
) -> tuple[bool, int]:
    """Poll until `target` submissions are recorded or time.monotonic() passes the deadline."""
    while True:
        count = await recorded(conn)
        if count >= target:
            return True, count
        if time.monotonic() > deadline:
            return False, count
        await asyncio.sleep(interval_s)


async def run_loadgen(
    requests_file: Path,
    port: int,
    *,
    rate: float,
    connections: int,
    sample_every: int = 0,
    on_accept: Callable[[int, float, bytes], None] | None = None,
) -> dict[str, Any]:
    """The load generator (deskpemilu/loadgen.py) as its own process; its LOADGEN report."""
    command = [
        *("-m", "deskpemilu.loadgen", str(requests_file), "--port", str(port)),
        *("--rate", str(rate), "--connections", str(connections)),
        *("--sample-every", str(sample_every)),
    ]
    process = await asyncio.create_subprocess_exec(
        sys.executable, *command, cwd=REPO, stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    report: dict[str, Any] | None = None
    async for raw in process.stdout:
        line = raw.decode()
        if line.startswith(loadgen.ACCEPT_PREFIX) and on_accept is not None:
            index, at, body = line[len(loadgen.ACCEPT_PREFIX) :].split(" ", 2)
            on_accept(int(index), float(at), body.strip().encode())
        elif line.startswith(loadgen.REPORT_PREFIX):
            report = json.loads(line[len(loadgen.REPORT_PREFIX) :])
    await process.wait()
    if report is None:
        raise RuntimeError(f"load generator exited {process.returncode} without a report")
    return report
