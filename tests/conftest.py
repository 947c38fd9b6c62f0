"""Fixtures for the real backing services: Kafka, PostgreSQL and S3, never mocks; and the
stand-in for the outside services the intake talks to (WhatsApp Cloud API, SMS gateway).

Where a Docker engine answers a ping, testcontainers starts throwaway ones; otherwise the tests use
the local processes started by deploy/stack.sh, or those KAFKA_BOOTSTRAP_SERVERS/DATABASE_URL name.
"""

from __future__ import annotations

import contextlib
import functools
import os
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.db import connect, migrate
from tests.dbs import drop_database
from tests.s3server import S3Server, missing_jar_message, s3proxy_jar, s3proxy_s3
from tests.webhooks import FakeGraph, graph_stand_in

DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_DATABASE_URL = "postgresql://deskpemilu:deskpemilu@127.0.0.1:5433/deskpemilu"


@functools.cache
def _docker_engine_answers() -> bool:
    """Ping the engine (not just look for a client): GET /_ping on its unix socket."""
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            sock.connect(host.removeprefix("unix://"))
            sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            status_line = sock.recv(64).split(b"\r\n", 1)[0]
    except OSError:
        return False
    return status_line.startswith(b"HTTP/1.") and b" 200" in status_line


# The broker version deploy/kafka/pom.xml pins (kafka.version); the apache/kafka image of each
# release is published with the release's number as its tag.
KAFKA_IMAGE = "apache/kafka:4.4.0"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def _kafka_container() -> Iterator[str]:
    """A one-node KRaft broker from the apache/kafka image, advertised on a fixed host port.

    testcontainers' KafkaContainer drives Confluent's image scripts, which apache/kafka lacks, so
    the broker is configured here with the image's own KAFKA_* variables (as docker-compose.yml).
    """
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.wait_strategies import LogMessageWaitStrategy

    port = _free_port()
    container = (
        DockerContainer(KAFKA_IMAGE)
        .with_bind_ports(9092, port)
        .with_envs(
            KAFKA_NODE_ID="1",
            KAFKA_PROCESS_ROLES="broker,controller",
            KAFKA_LISTENERS="PLAINTEXT://:9092,CONTROLLER://:9093",
            KAFKA_ADVERTISED_LISTENERS=f"PLAINTEXT://127.0.0.1:{port}",
            KAFKA_CONTROLLER_LISTENER_NAMES="CONTROLLER",
            KAFKA_CONTROLLER_QUORUM_VOTERS="1@localhost:9093",
            KAFKA_AUTO_CREATE_TOPICS_ENABLE="false",
            KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR="1",
            KAFKA_TRANSACTION_STATE_LOG_MIN_ISR="1",
            KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS="0",
        )
        .waiting_for(LogMessageWaitStrategy("Kafka Server started"))
    )
    with container:
        yield f"127.0.0.1:{port}"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap address of a real Kafka broker."""
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ and _docker_engine_answers():
        with _kafka_container() as bootstrap:
            yield bootstrap
        return
    yield os.environ.get("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """URL of a real PostgreSQL server's database whose role may create databases."""
    if "DATABASE_URL" not in os.environ and _docker_engine_answers():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver=None) as container:
            yield container.get_connection_url()
        return
    yield os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """A real S3-compatible server (s3proxy, filesystem backend) on a free port, for the session."""
    jar = s3proxy_jar()
    if not jar.is_file():
        pytest.fail(missing_jar_message(jar))
    with s3proxy_s3(jar) as server:
        yield server


@pytest.fixture
def fake_graph() -> Iterator[FakeGraph]:
    """The local stand-in for the WhatsApp Cloud API and the SMS gateway (tests/webhooks.py)."""
    with graph_stand_in() as graph:
        yield graph


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture
async def scratch_database(database_url: str) -> AsyncIterator[str]:
    """A fresh, migrated database for one test; dropped afterwards."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(database_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = _with_database(database_url, name)
        conn = await connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
        yield url
    finally:
        try:
            await drop_database(admin, name)
        finally:
            await admin.close()


TopicFactory = Callable[..., Awaitable[str]]


@pytest.fixture
async def new_topic(kafka_bootstrap: str) -> AsyncIterator[TopicFactory]:
    """Create fresh topics with unique names for one test; deleted afterwards."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    created: list[str] = []

    async def make(prefix: str = "test", partitions: int = 3) -> str:
        name = f"{prefix}.{uuid.uuid4().hex[:10]}"
        await admin.create_topics(
            [NewTopic(name=name, num_partitions=partitions, replication_factor=1)]
        )
        created.append(name)
        return name

    try:
        yield make
    finally:
        if created:
            await admin.delete_topics(created)
        await admin.close()


@pytest.fixture
def group_id() -> str:
    """A consumer group name no other test uses."""
    return f"test-group-{uuid.uuid4().hex[:10]}"
