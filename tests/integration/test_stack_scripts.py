"""deploy/stack.sh on a private Kafka and PostgreSQL: start, idempotence, kill -9 recovery, stop."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK = REPO_ROOT / "deploy" / "stack.sh"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class Stack:
    """A private stack (own RUN_DIR and ports): the shared 9092/5433 one is never touched."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.kafka_port = _free_port()
        self.pg_port = _free_port()
        self.env = {
            key: value
            for key, value in os.environ.items()
            # Inherited addresses of the shared stack would make ours "external".
            if key not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")
        }
        self.env.update(
            RUN_DIR=str(run_dir),
            KAFKA_PORT=str(self.kafka_port),
            KAFKA_CONTROLLER_PORT=str(_free_port()),
            PG_PORT=str(self.pg_port),
        )
        self.bootstrap = f"127.0.0.1:{self.kafka_port}"
        self.database_url = (
            f"postgresql://deskpemilu:deskpemilu@127.0.0.1:{self.pg_port}/deskpemilu"
        )

    def run(
        self, *args: str, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["bash", str(STACK), *args],
            env=env or self.env,
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )

    def kafka_pid(self) -> int:
        return int((self.run_dir / "kafka" / "kafka.pid").read_text())

    def postmaster_pid(self) -> int:
        return int((self.run_dir / "postgres" / "data" / "postmaster.pid").read_text().split()[0])


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    """A private stack in a world-traversable temp dir (the postgres OS user must reach it)."""
    if not (PG_BIN / "postgres").exists() or shutil.which("java") is None:
        pytest.skip("needs PostgreSQL 15 server binaries and java (deploy/stack.sh install)")
    run_dir = Path(tempfile.mkdtemp(prefix="dp-stack-test-"))
    run_dir.chmod(0o755)
    private = Stack(run_dir)
    try:
        yield private
    finally:
        private.run("stop")
        shutil.rmtree(run_dir, ignore_errors=True)


async def _roundtrip(bootstrap: str) -> bytes:
    topic = f"stacktest-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    payload = uuid.uuid4().hex.encode()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, payload)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        message = await consumer.getone()
    finally:
        await consumer.stop()
    value: bytes | None = message.value
    assert value is not None
    return value


def test_env_prints_local_addresses_and_honours_external_ones(stack: Stack) -> None:
    out = stack.run("env").stdout
    assert f"export KAFKA_BOOTSTRAP_SERVERS='{stack.bootstrap}'" in out
    assert f"export DATABASE_URL='{stack.database_url}'" in out
    external = dict(
        stack.env, KAFKA_BOOTSTRAP_SERVERS="10.9.9.9:9092", DATABASE_URL="postgresql://x@10.9.9.9/x"
    )
    started = stack.run("start", env=external)
    assert started.returncode == 0, started.stderr
    assert "not starting a local broker" in started.stdout
    assert "not starting a local server" in started.stdout
    assert not _port_open(stack.kafka_port)


async def test_start_is_idempotent_and_serves_kafka_and_postgres(stack: Stack) -> None:
    first = stack.run("start")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "kafka: started in" in first.stdout and "postgres: started in" in first.stdout
    assert stack.run("status").returncode == 0

    again = stack.run("start")
    assert again.returncode == 0
    assert "kafka: already running" in again.stdout and "postgres: already running" in again.stdout

    assert len(await _roundtrip(stack.bootstrap)) == 32
    conn = await asyncpg.connect(stack.database_url)
    try:
        assert await conn.fetchval("SELECT rolcreatedb FROM pg_roles WHERE rolname = current_user")
        assert await conn.fetchval("SHOW fsync") == "on"
    finally:
        await conn.close()


async def test_start_recovers_after_kill_9(stack: Stack) -> None:
    assert stack.run("start").returncode == 0
    conn = await asyncpg.connect(stack.database_url)
    try:
        await conn.execute("CREATE TABLE IF NOT EXISTS durable (n int)")
        await conn.execute("INSERT INTO durable VALUES (1)")
    finally:
        await conn.close()

    os.kill(stack.kafka_pid(), signal.SIGKILL)
    os.kill(stack.postmaster_pid(), signal.SIGKILL)
    recovered = stack.run("start")
    assert recovered.returncode == 0, recovered.stdout + recovered.stderr
    assert "removing stale pid file" in recovered.stderr
    assert len(await _roundtrip(stack.bootstrap)) == 32
    conn = await asyncpg.connect(stack.database_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM durable") >= 1
    finally:
        await conn.close()


def test_stop_stops_both_and_status_reports_it(stack: Stack) -> None:
    assert stack.run("start").returncode == 0
    stopped = stack.run("stop")
    assert stopped.returncode == 0, stopped.stderr
    deadline = time.monotonic() + 10
    while (
        _port_open(stack.kafka_port) or _port_open(stack.pg_port)
    ) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _port_open(stack.kafka_port) and not _port_open(stack.pg_port)
    status = stack.run("status")
    assert status.returncode == 3
    assert "kafka:    stopped" in status.stdout and "postgres: stopped" in status.stdout
