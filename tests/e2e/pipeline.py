"""The whole pipeline as real processes for end-to-end tests: four services, a database, topics."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deskpemilu.roster_load import load_roster
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
    **extra_env: str,
) -> Pipeline:
    """Load the roster, create the topics, start the four services and wait for /healthz."""
    conn = await connect(database_url)
    try:
        await load_roster(conn, roster)
    finally:
        await conn.close()
    env = stack_env(
        kafka_bootstrap,
        database_url,
        TOPIC_PARTITIONS=str(partitions),
        INTAKE_RATE_PER_S="1000",
        INTAKE_RATE_BURST="1000",
        **extra_env,
    )
    await ensure_topics(
        kafka_bootstrap,
        partitions=partitions,
        replication_factor=1,
        topics=Topics(env["TOPIC_PREFIX"]).specs(),
    )
    pipeline = Pipeline(env=env, database_url=database_url)
    for name in SERVICE_ORDER:
        pipeline.services[name] = ServiceProcess(name, env, log_dir / f"{name}.log").start(
            timeout_s=60
        )
    return pipeline


def expected_statuses(plan: DayPlan) -> dict[tuple[str, str], list[str]]:
    """(contest, tps) -> the submissions.status each distinct send should end with, sorted."""
    per_tps: dict[tuple[str, str], dict[str, str]] = {}
    for send in plan.sends:
        key = (str(send.form.contest), send.form.tps)
        statuses = per_tps.setdefault(key, {})
        if send.idempotency_key in statuses:
            continue  # a retry of the same request: one submission
        statuses[send.idempotency_key] = send.expect.split(":")[0]
    result: dict[tuple[str, str], list[str]] = {}
    for key, statuses in per_tps.items():
        revised = "revision" in statuses.values()
        result[key] = sorted(
            "superseded" if (s == "accepted" and revised) else s for s in statuses.values()
        )
    return result


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
