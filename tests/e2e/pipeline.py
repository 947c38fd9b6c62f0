"""The whole pipeline as real processes for end-to-end tests: four services, a database, topics."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskpemilu.roster_load import load_roster
from deskpemilu.runtime import instance_name
from deskpemilu.simulator.channels import ChannelSecrets
from deskpemilu.simulator.plan import DayPlan
from shared.db import connect
from shared.kafka import ensure_topics
from shared.topics import Topics
from tests.procs import ServiceProcess, stack_env

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
BANYUASIN_PEMILU = REPO_ROOT / "data" / "rosters" / "pemilu-2024-banyuasin"
SERVICE_ORDER = ("validator", "aggregator", "intake", "api")


@dataclass
class Pipeline:
    """Handles on the running services of one test."""

    env: dict[str, str]
    database_url: str
    services: dict[str, ServiceProcess] = field(default_factory=dict)

    @property
    def intake_url(self) -> str:
        """Base URL of the intake."""
        return self.services["intake"].url

    @property
    def intake_urls(self) -> list[str]:
        """Base URLs of every intake instance."""
        return [s.url for s in self.services.values() if s.kind == "intake"]

    @property
    def api_url(self) -> str:
        """Base URL of the read API."""
        return self.services["api"].url

    @property
    def secrets(self) -> ChannelSecrets:
        """Webhook secrets the services were started with."""
        return ChannelSecrets(self.env["WHATSAPP_APP_SECRET"], self.env["SMS_AUTH_TOKEN"])

    def stop(self) -> None:
        """SIGTERM every service."""
        for service in self.services.values():
            service.stop()

    def logs(self) -> str:
        """The tail of every service's log, for a failing assertion."""
        return "\n".join(f"--- {n}\n{s.log_tail(25)}" for n, s in self.services.items())


async def start_pipeline(
    kafka_bootstrap: str,
    database_url: str,
    log_dir: Path,
    *,
    roster: Path = BANYUASIN_PEMILU,
    partitions: int = 4,
    replication_factor: int = 1,
    services: tuple[str, ...] = SERVICE_ORDER,
    replicas: Mapping[str, int] | None = None,
    **extra_env: str,
) -> Pipeline:
    """Load the roster, create the topics, start the services and wait for /healthz.

    replicas: instances per service (default one); the second is named `<service>-2`.
    """
    conn = await connect(database_url)
    try:
        await load_roster(conn, roster)
    finally:
        await conn.close()
    # A simulated day sends far faster than one operator types; callers may still override.
    settings = {"INTAKE_RATE_PER_S": "1000", "INTAKE_RATE_BURST": "1000", **extra_env}
    env = stack_env(kafka_bootstrap, database_url, TOPIC_PARTITIONS=str(partitions), **settings)
    await ensure_topics(
        kafka_bootstrap,
        partitions=partitions,
        replication_factor=replication_factor,
        topics=Topics(env["TOPIC_PREFIX"]).specs(),
    )
    pipeline = Pipeline(env=env, database_url=database_url)
    counts = replicas or {}
    for service in services:
        # A service's instances start together; the next service once they are healthy.
        started = []
        for index in range(1, counts.get(service, 1) + 1):
            name = instance_name(service, index)
            process = ServiceProcess(name, env, log_dir / f"{name}.log", service=service)
            pipeline.services[name] = process.start(wait=False)
            started.append(process)
        for process in started:
            process.wait_healthy(timeout_s=60)
    return pipeline


def rejected_codes(plan: DayPlan) -> dict[tuple[str, str], set[str]]:
    """(contest, tps) -> the rule codes its rejected sends must carry."""
    codes: dict[tuple[str, str], set[str]] = {}
    for send in plan.sends:
        if send.expect.startswith("rejected:"):
            key = (str(send.form.contest), send.form.tps)
            codes.setdefault(key, set()).add(send.expect.removeprefix("rejected:"))
    return codes


async def wait_until(check: Callable[[], Any], *, timeout_s: float, interval_s: float = 1.0) -> Any:
    """Call an async check until it returns a truthy value or the time is up; returns the last."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout_s
    while True:
        result = await check()
        if result or time.monotonic() >= deadline:
            return result
        await asyncio.sleep(interval_s)


# ---- fault injection: a private Kafka + PostgreSQL, and a supervisor for the service processes

STACK_SCRIPT = REPO_ROOT / "deploy" / "stack.sh"


@dataclass
class PrivateStack:
    """Kafka and PostgreSQL of one test, started by deploy/stack.sh in their own RUN_DIR."""

    run_dir: Path
    env: dict[str, str]

    @property
    def kafka_bootstrap(self) -> str:
        """Bootstrap address of the private broker (every node of a cluster)."""
        ports = self.env.get("KAFKA_PORTS", self.env["KAFKA_PORT"]).split(",")
        return ",".join(f"127.0.0.1:{port}" for port in ports)

    @property
    def database_url(self) -> str:
        """URL of the private server's deskpemilu database."""
        return f"postgresql://deskpemilu:deskpemilu@127.0.0.1:{self.env['PG_PORT']}/deskpemilu"

    def run(self, *args: str, timeout_s: float = 180.0) -> str:
        """Run `deploy/stack.sh <args>` against this stack; raise with its output on failure."""
        import subprocess

        result = subprocess.run(
            ["bash", str(STACK_SCRIPT), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
        if result.returncode != 0:
            raise AssertionError(f"stack.sh {' '.join(args)}: {result.stdout}{result.stderr}")
        return result.stdout


def start_private_stack(brokers: int = 1) -> PrivateStack:
    """Start Kafka (one broker or a cluster of 3) and PostgreSQL on free ports, own RUN_DIR."""
    import os
    import tempfile

    from tests.procs import free_port

    # Not pytest's tmp_path (0700 under /tmp/pytest-of-root): the postgres user must reach it.
    run_dir = Path(tempfile.mkdtemp(prefix="dp-chaos-", dir="/tmp"))
    run_dir.chmod(0o755)
    env = {k: v for k, v in os.environ.items()
           if k not in ("KAFKA_BOOTSTRAP_SERVERS", "DATABASE_URL")}  # fmt: skip
    env.update(
        RUN_DIR=str(run_dir),
        KAFKA_PORT=str(free_port()),
        KAFKA_CONTROLLER_PORT=str(free_port()),
        PG_PORT=str(free_port()),
    )
    if brokers > 1:
        ports: list[str] = []
        while len(ports) < 2 * brokers:
            port = str(free_port())
            if port not in ports and port not in env.values():
                ports.append(port)
        env.update(
            KAFKA_BROKERS=str(brokers),
            KAFKA_PORTS=",".join(ports[:brokers]),
            KAFKA_CONTROLLER_PORTS=",".join(ports[brokers:]),
            KAFKA_HEAP_OPTS="-Xms256m -Xmx512m",
        )
    stack = PrivateStack(run_dir, env)
    stack.run("start", "all")
    return stack


def stop_private_stack(stack: PrivateStack) -> None:
    """Stop both servers and remove the RUN_DIR."""
    import shutil

    try:
        stack.run("stop", "all")
    finally:
        shutil.rmtree(stack.run_dir, ignore_errors=True)


class ServiceSupervisor:
    """Restarts any service process of a pipeline that exits, like `deskpemilu supervise` does."""

    def __init__(self, pipeline: Pipeline, restart_delay_s: float = 0.5) -> None:
        self.pipeline = pipeline
        self.restart_delay_s = restart_delay_s
        self.starts: dict[str, int] = dict.fromkeys(pipeline.services, 0)
        self.exits: list[tuple[str, int | None]] = []
        self._task: Any = None

    @property
    def names(self) -> tuple[str, ...]:
        """The supervised services."""
        return tuple(self.pipeline.services)

    def start(self) -> ServiceSupervisor:
        """Begin watching the processes in the background of the running loop."""
        import asyncio

        self._task = asyncio.create_task(self._watch())
        return self

    async def _watch(self) -> None:
        import asyncio

        while True:
            for name, service in self.pipeline.services.items():
                process = service.process
                if process is not None and process.poll() is not None:
                    self.exits.append((name, process.returncode))
                    service.process = None
                    await asyncio.sleep(self.restart_delay_s)
                    service.start(wait=False)
                    self.starts[name] += 1
            await asyncio.sleep(0.2)

    async def stop(self) -> None:
        """Stop restarting (the processes keep running)."""
        import asyncio
        import contextlib

        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def kill(self, name: str) -> int | None:
        """SIGKILL one service; the watcher starts it again shortly."""
        service = self.pipeline.services[name]
        process = service.process
        if process is None or process.poll() is not None:
            return None
        service.kill()
        return process.pid

    def restarts(self) -> int:
        """Every start after the first, whatever made the process exit."""
        return sum(self.starts.values())

    async def wait_healthy(self, timeout_s: float) -> list[str]:
        """Wait until every service answers /healthz 200."""
        from deskpemilu.chaos import wait_healthy_urls

        urls = {n: s.url for n, s in self.pipeline.services.items()}
        return await wait_healthy_urls(urls, timeout_s)
