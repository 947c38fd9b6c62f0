"""The read API on a real PostgreSQL streaming replica, and the replica's lag.

The test starts its own primary (Debian's server binaries, its own ports and data folders
under /tmp), clones it with pg_basebackup into a hot standby, and runs the api with
DATABASE_URL on the primary (LISTEN) and API_DATABASE_URL on the replica (every read). The
aggregator's own batch transaction writes results on the primary.
"""

from __future__ import annotations

import asyncio
import glob
import random
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import httpx
import pytest

from benchmarks.aggregator_bench import synthetic_tree, write_synthetic_roster
from services.aggregator.aggregation import FormIn, Position
from services.aggregator.aggregation import submission_of as to_submission
from services.aggregator.repository import apply_batch
from shared.auth import issue_token
from shared.db import connect, migrate
from shared.events import Channel, OperatorRef, Role, SubmissionReceived
from shared.form import CHasil, Contest
from tests.procs import TEST_TOKEN_SECRET, ServiceProcess, free_port, stack_env

pytestmark = pytest.mark.integration

ELECTION = "pemilu-2024"
TOPIC = "t.submissions.validated.v1"
T0 = datetime(2024, 2, 14, 13, 0, tzinfo=UTC)
OP = OperatorRef(id="op1", role=Role.OPERATOR, scope=("11",))
TREE = synthetic_tree(1, 1, 2, 6, 120)  # 2 kecamatan, 6 desa, 120 TPS
TPS = sorted(row[0] for row in TREE.tps)
DPT = {row[0]: row[3] + row[4] for row in TREE.tps}
TOP = "11"
LAG_BATCHES = 30


def _pg_bin() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    if not found:
        pytest.skip("PostgreSQL server binaries not installed (deploy/stack.sh install)")
    return Path(found[-1]).parent


def _as_postgres(*argv: str) -> None:
    """Run a server tool as the postgres OS user (as root) or as ourselves."""
    import os

    command = ["runuser", "-u", "postgres", "--", *argv] if os.geteuid() == 0 else list(argv)
    result = subprocess.run(command, cwd="/", capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {result.stdout}{result.stderr}")


@dataclass
class Cluster:
    """A primary and its streaming replica, each on its own port."""

    base: Path
    bin: Path
    primary_port: int
    replica_port: int

    def url(self, port: int, user: str = "deskpemilu") -> str:
        """A URL of the deskpemilu database on one of the two servers."""
        return f"postgresql://{user}:deskpemilu@127.0.0.1:{port}/deskpemilu"

    @property
    def primary(self) -> str:
        """The primary's deskpemilu database."""
        return self.url(self.primary_port)

    @property
    def replica(self) -> str:
        """The replica's deskpemilu database (read-only)."""
        return self.url(self.replica_port)

    def start(self, name: str, port: int) -> None:
        """pg_ctl start one server and wait until it accepts connections."""
        _as_postgres(
            str(self.bin / "pg_ctl"), "-D", str(self.base / name), "-l",
            str(self.base / f"{name}.log"), "-o", f"-p {port}", "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop both servers (immediate: nothing here needs a clean shutdown)."""
        for name in ("replica", "primary"):
            if (self.base / name / "postmaster.pid").exists():
                _as_postgres(
                    str(self.bin / "pg_ctl"), "-D", str(self.base / name), "-m", "immediate",
                    "-w", "stop",
                )  # fmt: skip


def _start_cluster() -> Cluster:
    import os

    bin_dir = _pg_bin()
    base = Path(tempfile.mkdtemp(prefix="dp-replica-", dir="/tmp"))
    base.chmod(0o755)
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
    cluster = Cluster(base, bin_dir, free_port(), free_port())
    _as_postgres(
        str(bin_dir / "initdb"), "-D", str(base / "primary"), "-U", "postgres", "-E", "UTF8",
        "--locale=C.UTF-8", "--auth-local=trust", "--auth-host=trust",
    )  # fmt: skip
    settings = (
        "listen_addresses = '127.0.0.1'\n"
        f"unix_socket_directories = '{base}'\n"
        "wal_level = replica\nmax_wal_senders = 4\nhot_standby = on\n"
        "shared_buffers = 32MB\nfsync = off\nsynchronous_commit = on\n"
    )
    with (base / "primary" / "postgresql.conf").open("a") as conf:  # root or the owner
        conf.write(settings)
    cluster.start("primary", cluster.primary_port)
    return cluster


async def _prepare_primary(cluster: Cluster) -> None:
    admin = await asyncpg.connect(
        f"postgresql://postgres@127.0.0.1:{cluster.primary_port}/postgres"
    )
    try:
        await admin.execute("CREATE ROLE deskpemilu LOGIN CREATEDB PASSWORD 'deskpemilu'")
        await admin.execute("CREATE DATABASE deskpemilu OWNER deskpemilu")
    finally:
        await admin.close()
    conn = await connect(cluster.primary)
    try:
        await migrate(conn)
        await write_synthetic_roster(conn, TREE, election=ELECTION, contests=[Contest.PPWP])
    finally:
        await conn.close()


def _clone_replica(cluster: Cluster) -> None:
    # -R: standby.signal and primary_conninfo; -X stream: the WAL written meanwhile too.
    _as_postgres(
        str(cluster.bin / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(cluster.primary_port),
        "-U", "postgres", "-D", str(cluster.base / "replica"), "-R", "-X", "stream", "-c", "fast",
    )  # fmt: skip
    cluster.start("replica", cluster.replica_port)


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    started = time.monotonic()
    cluster = _start_cluster()
    try:
        await _prepare_primary(cluster)
        _clone_replica(cluster)
        print(f"primary + pg_basebackup replica up in {time.monotonic() - started:.1f}s")
        yield cluster
    finally:
        cluster.stop()
        shutil.rmtree(cluster.base, ignore_errors=True)


class Forms:
    """PPWP forms for the TPS in order, as the validator would pass them on."""

    def __init__(self) -> None:
        self.rng = random.Random(18)
        self.offset = 0
        self.sah = 0

    def batch(self, tps: list[str]) -> tuple[list[FormIn], dict[tuple[str, int], int]]:
        events = []
        for code in tps:
            voters = round(DPT[code] * self.rng.uniform(0.7, 0.85))
            tidak_sah = self.rng.randint(2, 6)
            sah = voters - tidak_sah
            c1 = round(sah * self.rng.uniform(0.3, 0.4))
            form = CHasil(
                election=ELECTION, contest=Contest.PPWP, tps=code,
                suara_calon={1: c1, 2: sah - c1 - 20, 3: 20}, suara_sah=sah,
                suara_tidak_sah=tidak_sah,
            )  # fmt: skip
            self.offset += 1
            sub = SubmissionReceived(
                submission_id=UUID(int=self.offset),
                received_at=T0 + timedelta(seconds=self.offset),
                channel=Channel.API,
                operator=OP,
                idempotency_key=f"k{self.offset}",
                form=form,
            )
            position = Position(TOPIC, 0, self.offset - 1)
            events.append(FormIn(to_submission(sub), (), position))
            self.sah += sah
        return events, {(TOPIC, 0): self.offset}


async def _write(primary: asyncpg.Connection, forms: Forms, tps: list[str]) -> str:
    """Apply one aggregator batch on the primary; the primary's WAL position after it."""
    events, offsets = forms.batch(tps)
    await apply_batch(primary, group="aggregator", events=events, next_offsets=offsets)
    lsn: str = await primary.fetchval("SELECT pg_current_wal_lsn()::text")
    return lsn


async def _replayed(replica: asyncpg.Connection, lsn: str, timeout_s: float = 10.0) -> float:
    """Seconds until the replica has replayed the primary's WAL up to lsn."""
    started = time.monotonic()
    while not await replica.fetchval("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", lsn):
        if time.monotonic() - started > timeout_s:
            raise AssertionError(f"replica did not replay {lsn} in {timeout_s}s")
        await asyncio.sleep(0.001)
    return time.monotonic() - started


async def _api_sah(client: httpx.AsyncClient) -> int:
    response = await client.get(f"/v1/results/{ELECTION}/{Contest.PPWP}/{TOP}")
    assert response.status_code == 200, response.text
    sah: int = response.json()["suara_sah"]
    return sah


@pytest.fixture
async def api_on_replica(
    cluster: Cluster, kafka_bootstrap: str, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    env = stack_env(
        kafka_bootstrap, cluster.primary, API_DATABASE_URL=cluster.replica,
        # Long enough that only the replica barrier can explain a fresh answer below.
        API_CACHE_TTL_S="120", API_REPLICA_WAIT_S="60", API_REFRESH_S="1",
    )  # fmt: skip
    api = ServiceProcess("api", env, tmp_path / "api.log").start(timeout_s=60)
    viewer = OperatorRef(id="viewer-test", role=Role.VIEWER, scope=(), name="viewer uji")
    token, _ = issue_token(TEST_TOKEN_SECRET, viewer, ttl=timedelta(hours=1))
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with httpx.AsyncClient(base_url=api.url, headers=headers, timeout=10.0) as client:
            yield client
    finally:
        api.stop()


async def test_api_reads_from_the_replica_and_sees_each_change_once_replayed(
    cluster: Cluster, api_on_replica: httpx.AsyncClient
) -> None:
    client = api_on_replica
    primary = await connect(cluster.primary)
    replica = await connect(cluster.replica)
    superuser = await asyncpg.connect(cluster.url(cluster.replica_port, "postgres"))
    try:
        assert await replica.fetchval("SELECT pg_is_in_recovery()") is True
        forms = Forms()
        assert await _api_sah(client) == 0
        await _replayed(replica, await _write(primary, forms, TPS[:40]))
        first = forms.sah
        deadline = time.monotonic() + 5
        while await _api_sah(client) != first and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await _api_sah(client) == first

        # Replay paused: the primary has the next batch, the api (reading the replica) does not.
        await superuser.execute("SELECT pg_wal_replay_pause()")
        await _write(primary, forms, TPS[40:80])
        second = forms.sah
        primary_sah = await primary.fetchval(
            "SELECT sum(suara_sah) FROM area_summary WHERE election = $1 AND contest = $2 "
            "AND area_code = $3",
            ELECTION,
            str(Contest.PPWP),
            TOP,
        )
        assert primary_sah == second > first
        for _ in range(10):
            assert await _api_sah(client) == first
            await asyncio.sleep(0.1)
        # Replay resumed: the NOTIFY held until the replica replayed the batch drops the cache
        # now (its TTL is 120 s), so the next read already has the batch.
        await superuser.execute("SELECT pg_wal_replay_resume()")
        resumed = time.monotonic()
        while await _api_sah(client) != second:
            assert time.monotonic() - resumed < 5, "the api kept the pre-batch answer"
            await asyncio.sleep(0.05)
        metrics = (await client.get("/metrics")).text
        waits = [
            float(line.split()[-1])
            for line in metrics.splitlines()
            if line.startswith("deskpemilu_api_replica_wait_seconds_count")
        ]
        assert waits and waits[0] >= 2, metrics[:2000]
        assert (await client.get("/healthz")).status_code == 200

        # Replication lag under aggregator batches: commit on the primary -> replayed.
        delays, behind = [], []
        for n in range(LAG_BATCHES):
            events, offsets = forms.batch([TPS[80 + n]])
            await apply_batch(primary, group="aggregator", events=events, next_offsets=offsets)
            lsn = await primary.fetchval("SELECT pg_current_wal_lsn()::text")
            behind.append(
                await replica.fetchval(
                    "SELECT pg_wal_lsn_diff($1::text::pg_lsn, pg_last_wal_replay_lsn())", lsn
                )
            )
            delays.append(await _replayed(replica, lsn))
        ages = await replica.fetchval(
            "SELECT extract(epoch FROM now() - pg_last_xact_replay_timestamp())"
        )
        # Its rows show their state to a superuser only.
        watcher = await asyncpg.connect(cluster.url(cluster.primary_port, "postgres"))
        try:
            stat = await watcher.fetchrow("SELECT state, sync_state FROM pg_stat_replication")
        finally:
            await watcher.close()
        delays_ms = sorted(d * 1000 for d in delays)
        print(
            f"replication lag over {LAG_BATCHES} aggregator batches: commit -> replayed "
            f"median {statistics.median(delays_ms):.1f} ms, "
            f"p90 {delays_ms[int(0.9 * len(delays_ms)) - 1]:.1f} ms, max {delays_ms[-1]:.1f} ms; "
            f"WAL behind at commit median {statistics.median(behind):.0f} bytes, "
            f"max {max(behind):.0f}; last replayed transaction {float(ages) * 1000:.0f} ms old; "
            f"replication {dict(stat) if stat else None}"
        )
        assert stat is not None and stat["state"] == "streaming", stat
        assert max(delays_ms) < 5000
        deadline = time.monotonic() + 5
        while await _api_sah(client) != forms.sah:
            assert time.monotonic() < deadline, "the api did not follow the replica"
            await asyncio.sleep(0.05)
    finally:
        await superuser.close()
        await replica.close()
        await primary.close()
