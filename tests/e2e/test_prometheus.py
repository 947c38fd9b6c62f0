"""A real Prometheus against the four real services: targets up, freshness, dashboard, alerts.

The server is the one `deskpemilu up` runs (Debian's prometheus, deskpemilu/prometheus.py), on a
free port with its own data folder, scraping and evaluating every second; the rules are the
desk's own (deploy/prometheus/rules/), unchanged.
"""

from __future__ import annotations

import math
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from deskpemilu.prometheus import PrometheusProcess, scrape_config
from deskpemilu.simulator.plan import Operators, plan_day
from deskpemilu.simulator.run import DayRunner, load_operators, mint_tokens
from deskpemilu.simulator.truth import expected_statuses
from shared.db import connect
from shared.roster_db import fetch_election_roster
from tests.e2e.pipeline import Pipeline, start_pipeline, wait_until
from tests.procs import TEST_TOKEN_SECRET, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "deskpemilu-oncall.json"
# Grafana's own variables, as Grafana would fill them in at a 1 s scrape interval.
GRAFANA_VARIABLES = {"$__rate_interval": "15s", "$__interval": "1s", "$__range": "5m"}


class Prom:
    """The HTTP API of one Prometheus server."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def get(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params)
        body = orjson.loads(response.content)
        assert response.status_code == 200 and body["status"] == "success", (path, params, body)
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        data = await self.get("/api/v1/query", query=expr)
        result: list[dict[str, Any]] = data["result"]
        return result

    async def targets(self) -> dict[str, str]:
        data = await self.get("/api/v1/targets", state="active")
        return {t["labels"]["app"]: t["health"] for t in data["activeTargets"]}

    async def alerts(self, name: str) -> list[dict[str, Any]]:
        data = await self.get("/api/v1/alerts")
        return [a for a in data["alerts"] if a["labels"]["alertname"] == name]


@pytest.fixture
async def stack(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> AsyncIterator[tuple[Pipeline, Prom, PrometheusProcess]]:
    pipeline = await start_pipeline(kafka_bootstrap, scratch_database, tmp_path)
    home = Path(tempfile.mkdtemp(prefix="dp-prometheus-"))
    server = PrometheusProcess(home, free_port())
    try:
        targets = {name: f"127.0.0.1:{svc.port}" for name, svc in pipeline.services.items()}
        server.start(scrape_config(targets, scrape_interval="1s", evaluation_interval="1s"))
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            yield pipeline, Prom(client), server
    finally:
        server.stop()
        pipeline.stop()
        shutil.rmtree(home, ignore_errors=True)


async def send_a_small_day(pipeline: Pipeline, database_url: str, tps: int) -> int:
    """Simulate the day of the first `tps` TPS; returns the distinct submissions it makes."""
    conn = await connect(database_url)
    try:
        roster = await fetch_election_roster(conn, "pemilu-2024")
        assert roster is not None
        operators, phones = await load_operators(conn)
        tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, operators)
    finally:
        await conn.close()
    plan = plan_day(roster, Operators.from_list(operators), seed=18, tps_limit=tps)
    runner = DayRunner(
        plan, intake_url=pipeline.intake_url, tokens=tokens, phones=phones,
        secrets=pipeline.secrets, duration_s=0, concurrency=8,
    )  # fmt: skip
    stats = await runner.run()
    assert stats.failures == [], stats.failures[:5]
    return sum(len(v) for v in expected_statuses(plan).values())


def panel_queries() -> list[tuple[str, str]]:
    dashboard = orjson.loads(DASHBOARD.read_bytes())
    found: list[tuple[str, str]] = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in GRAFANA_VARIABLES.items():
                expr = expr.replace(name, value)
            assert "$" not in expr, (panel["title"], expr)
            found.append((panel["title"], expr))
    return found


async def test_prometheus_scrapes_every_service_runs_the_dashboard_and_sees_one_die(
    stack: tuple[Pipeline, Prom, PrometheusProcess], scratch_database: str
) -> None:
    pipeline, prom, server = stack

    async def every_target_up() -> bool:
        return await prom.targets() == dict.fromkeys(pipeline.services, "up")

    assert await wait_until(every_target_up, timeout_s=30, interval_s=0.5), (
        await prom.targets(),
        server.log_tail(),
    )
    # The services' own health, as every scrape records it: the database answers.
    healthy = await prom.query('deskpemilu_health_check{check="postgres"} == 1')
    assert {r["metric"]["app"] for r in healthy} == {"api", "aggregator", "intake"}

    distinct = await send_a_small_day(pipeline, scratch_database, tps=25)
    assert distinct > 0
    conn = await connect(scratch_database)
    try:

        async def stored() -> bool:
            return bool(await conn.fetchval("SELECT count(*) FROM submissions") >= distinct)

        assert await wait_until(stored, timeout_s=120), pipeline.logs()
    finally:
        await conn.close()

    async def observed() -> float:
        result = await prom.query("sum(deskpemilu_aggregator_freshness_seconds_count)")
        return float(result[0]["value"][1]) if result else 0.0

    # Every stored submission was committed with its publish time, so observed at least once
    # (a form the intake published twice, after a lost answer, counts twice).
    committed = await wait_until(lambda: _at_least(observed, distinct), timeout_s=30, interval_s=1)
    assert committed, (await observed(), distinct, pipeline.logs())

    async def p99_seconds() -> float:
        result = await prom.query("deskpemilu:freshness_seconds:p99_5m")
        return float(result[0]["value"][1]) if result else math.nan

    # The rule is evaluated on its own interval: until it has seen two scrapes with the
    # observations its rate is empty (NaN). Then the quantile must be a plausible delay.
    async def p99_known() -> bool:
        return not math.isnan(await p99_seconds())

    assert await wait_until(p99_known, timeout_s=60, interval_s=1), await p99_seconds()
    assert 0 < await p99_seconds() < 60

    # Every panel of the on-call dashboard, over the last five minutes.
    answered: dict[str, int] = {}
    must_have_data = ("Services up", "Forms accepted", "Intake to totals", "Consumer lag")

    async def panels_answer() -> bool:
        end = time.time()
        for title, expr in panel_queries():
            data = await prom.get(
                "/api/v1/query_range", query=expr, start=end - 300, end=end, step="5s"
            )
            answered[f"{title}: {expr}"] = len(data["result"])
        return all(
            any(k.startswith(title) and n for k, n in answered.items()) for title in must_have_data
        )

    # A rate needs two scrapes of its counter, and each target is scraped at its own moment
    # in the interval: the intake's counters may have had one scrape when the freshness rule,
    # fed by the aggregator's, first answered. Wait for the next scrapes, not for luck.
    assert await wait_until(panels_answer, timeout_s=60, interval_s=1), answered
    assert len(answered) >= 20

    # Kill one service: its target goes down and DeskpemiluServiceDown goes pending for it.
    pipeline.services["validator"].kill()

    async def pending_for_validator() -> list[dict[str, Any]]:
        return [
            a
            for a in await prom.alerts("DeskpemiluServiceDown")
            if a["labels"]["app"] == "validator" and a["state"] == "pending"
        ]

    pending = await wait_until(pending_for_validator, timeout_s=30, interval_s=0.5)
    assert pending, (await prom.targets(), await prom.alerts("DeskpemiluServiceDown"))
    assert (await prom.targets())["validator"] == "down"
    # The others are still up and not alerting.
    others = [a for a in await prom.alerts("DeskpemiluServiceDown") if a not in pending]
    assert others == [], others


async def _at_least(value: Any, minimum: float) -> bool:
    return bool(await value() >= minimum)
