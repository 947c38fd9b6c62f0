"""The OpenAPI of both services is what they serve: schemathesis, and each operation once.

The intake and the api run as real processes on Kafka and PostgreSQL with the Banyuasin roster;
`st run` (every check, tests/e2e/schemathesis.toml says which are off where and why) sends
generated requests with an admin's token, from a fixed seed so that a failure can be replayed.
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import orjson
import pytest
from fastapi.routing import iter_route_contexts

from deskpemilu.roster_load import load_roster
from deskpemilu.simulator.run import load_operators, mint_tokens
from services.api.app import create_app as api_app
from services.intake.app import create_app as intake_app
from shared.db import connect
from shared.events import Role
from shared.hotpath import HotRoute
from shared.kafka import ensure_topics
from shared.topics import Topics
from tests.e2e.pipeline import BANYUASIN_PEMILU
from tests.procs import TEST_TOKEN_SECRET, ServiceProcess, stack_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SEED = 20240214
MAX_EXAMPLES = 25  # per operation and phase
MIN_CASES = 300  # per service
CONFIG = Path(__file__).with_name("schemathesis.toml")
ST = Path(sys.executable).with_name("st")
# A stream that stays open until the client leaves: no request/response check applies.
# tests/integration/test_api.py checks /v1/events itself.
EXCLUDED = {
    "api": ["--exclude-path", "/v1/events", "--exclude-path", "/v1/desk/events"],
    "intake": [],
}


@dataclass
class Services:
    """The two HTTP services under test and an admin's bearer token."""

    processes: dict[str, ServiceProcess]
    token: str
    tps: str  # a TPS of the roster


@pytest.fixture
async def services(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> AsyncIterator[Services]:
    conn = await connect(scratch_database)
    try:
        await load_roster(conn, BANYUASIN_PEMILU)
        operators, _ = await load_operators(conn)
        admin = next(op for op in operators if op.role is Role.ADMIN)
        tokens = await mint_tokens(conn, TEST_TOKEN_SECRET, [admin])
        tps = await conn.fetchval("SELECT min(code) FROM tps WHERE code LIKE '16.07.01.%'")
    finally:
        await conn.close()
    env = stack_env(
        kafka_bootstrap,
        scratch_database,
        INTAKE_RATE_PER_S="1000",
        INTAKE_RATE_BURST="1000",
        INTAKE_NOTIFIER_ENABLED="false",
    )
    await ensure_topics(
        kafka_bootstrap,
        partitions=4,
        replication_factor=1,
        topics=Topics(env["TOPIC_PREFIX"]).specs(),
    )
    processes: dict[str, ServiceProcess] = {}
    try:
        for name in ("intake", "api"):
            processes[name] = ServiceProcess(name, env, tmp_path / f"{name}.log").start(
                timeout_s=60
            )
        yield Services(processes, tokens[admin.id], tps)
    finally:
        for process in processes.values():
            process.stop()


def run_schemathesis(url: str, token: str, extra: list[str], workdir: Path) -> tuple[int, str]:
    """`st run` against a service (its replay data in workdir); its exit code and output."""
    command = [
        str(ST),
        "--no-color",
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--seed",
        str(SEED),
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "1",
        *extra,
    ]
    done = subprocess.run(
        command, cwd=workdir, capture_output=True, text=True, timeout=600, check=False
    )
    return done.returncode, done.stdout + done.stderr


def generated_cases(output: str) -> int:
    """How many test cases the run generated, from its summary ("815 generated, ...")."""
    match = re.search(r"^\s*(\d+) generated", output, re.MULTILINE)
    assert match, output[-3000:]
    return int(match.group(1))


@pytest.mark.parametrize("service", ["intake", "api"])
async def test_openapi_contract_holds(services: Services, service: str, tmp_path: Path) -> None:
    code, output = run_schemathesis(
        services.processes[service].url, services.token, EXCLUDED[service], tmp_path
    )
    tail = output[-8000:]
    assert code == 0, f"schemathesis found failures against the {service}:\n{tail}"
    assert generated_cases(output) >= MIN_CASES, tail


def _path_values(tps: str) -> dict[str, str]:
    return {
        "election": "pemilu-2024",
        "contest": "PPWP",
        "area": "16.07",
        "code": "16.07",
        "tps": tps,
        "submission_id": str(uuid.uuid4()),
        "action": "release",
        "digest": "0" * 64,
        "incident_id": str(uuid.uuid4()),
        "alert_id": "1",
        "kind": "csv",
    }


def _body_schema(spec: dict[str, Any], operation: dict[str, Any], status: str) -> Any:
    """The documented JSON schema of one answer, with the components its $refs point into."""
    content = operation["responses"][status].get("content", {})
    schema = content.get("application/json", {}).get("schema")
    return None if schema is None else {**schema, "components": spec["components"]}


@pytest.mark.parametrize("service", ["intake", "api"])
async def test_every_documented_operation_answers_as_documented(
    services: Services, service: str
) -> None:
    base = services.processes[service].url
    headers = {"Authorization": f"Bearer {services.token}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=20) as client:
        spec = (await client.get("/openapi.json")).json()
        checked = 0
        for template, operations in spec["paths"].items():
            path = template.format(**_path_values(services.tps))
            for method, operation in operations.items():
                body: dict[str, Any] | None = {} if method == "post" else None
                request = client.build_request(method.upper(), path, json=body)
                response = await client.send(request, stream=True)
                try:
                    status = str(response.status_code)
                    where = f"{method.upper()} {path} -> {status}"
                    # Served: the route exists for that method (no router 404/405) ...
                    assert status in operation["responses"], where
                    media = response.headers.get("content-type", "").split(";")[0]
                    documented = operation["responses"][status].get("content", {})
                    assert not documented or any(m.split(";")[0] == media for m in documented), (
                        where,
                        media,
                        list(documented),
                    )
                    # ... and its JSON body has the documented shape.
                    schema = _body_schema(spec, operation, status)
                    if media == "application/json" and schema is not None:
                        answer = orjson.loads(await response.aread())
                        errors = [
                            e.message
                            for e in jsonschema_rs.validator_for(schema).iter_errors(answer)
                        ]
                        assert errors == [], (where, errors)
                finally:
                    await response.aclose()
                checked += 1
    assert checked >= {"intake": 7, "api": 14}[service]


@pytest.mark.parametrize("service", ["intake", "api"])
def test_every_served_route_is_documented(service: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in stack_env("127.0.0.1:9092", "postgresql://unused/unused").items():
        monkeypatch.setenv(name, value)
    app = intake_app() if service == "intake" else api_app()
    documented = {
        (method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops
    }
    served = {
        (method, route.path_format)
        for route in iter_route_contexts(app.routes)
        if getattr(route, "include_in_schema", False)
        for method in route.methods or ()
        if method != "HEAD"
    }
    hot = {
        (method, route.path_format)
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, HotRoute)
        for method in route.methods or ()
    }
    assert served == documented
    assert hot and hot <= documented
