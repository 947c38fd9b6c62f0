"""Intake throughput: single-form route vs a bare FastAPI endpoint, and forms/s via the batch route.

Runs on the local stack (Kafka 127.0.0.1:9092, PostgreSQL 127.0.0.1:5433) with a throwaway topic
prefix and a throwaway database (both removed afterwards). Both servers are started the same way
(uvicorn, one worker, uvloop + httptools) and driven by the same load generator (wrk when
installed, else an httpx client) at the same concurrency, one after the other, in the same run.

    .venv/bin/python benchmarks/intake_bench.py --duration 10 --connections 64
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.e2e_common import delete_topics, drop_scratch_database, scratch_database  # noqa: E402
from deskpemilu.roster_load import load_roster  # noqa: E402
from deskpemilu.tokens import issue  # noqa: E402
from services.intake.schemas import EXAMPLE_FORM  # noqa: E402
from shared.db import connect  # noqa: E402
from shared.events import OperatorRef, Role  # noqa: E402
from shared.kafka import ensure_topics  # noqa: E402
from shared.topics import Topics  # noqa: E402
from tests.procs import ServiceProcess, free_port, stack_env  # noqa: E402

TOKEN_SECRET = "bench-secret-" + "x" * 40
OPERATOR = OperatorRef(id="op-16.07.01", role=Role.OPERATOR, scope=("16.07.01",), name="bench")
FORM = EXAMPLE_FORM  # the form the OpenAPI documents: a valid PPWP form of op-16.07.01's TPS

BARE_APP = """
from typing import Any
from fastapi import FastAPI, Request
import uvicorn, sys

app = FastAPI()

@app.post("/v1/submissions", status_code=202)
async def bare(payload: dict[str, Any], request: Request) -> dict[str, Any]:
    # Same work a minimal endpoint does: parse the same JSON body, answer a small JSON.
    return {"status": "received", "fields": len(payload)}

@app.get("/healthz")
async def healthz() -> dict[str, bool]:
    return {"ok": True}

uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), loop="uvloop", http="httptools",
            log_level="warning", access_log=False)
"""

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer %(token)s"
wrk.body = [==[%(body)s]==]
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  io.write(string.format(
    "RESULT {\\"requests\\": %%d, \\"seconds\\": %%f, \\"p50_ms\\": %%f, \\"p99_ms\\": %%f, " ..
    "\\"non2xx\\": %%d, \\"socket_errors\\": %%d}\\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1e3,
    latency:percentile(99) / 1e3, non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def run_wrk(
    url: str, token: str, body: str, *, connections: int, duration: int, threads: int
) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % {"token": token, "body": body})
    try:
        out = subprocess.run(
            [
                "wrk",
                f"-t{threads}",
                f"-c{connections}",
                f"-d{duration}s",
                "--timeout",
                "10s",
                "-s",
                script.name,
                url,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    finally:
        os.unlink(script.name)
    match = re.search(r"RESULT (\{.*\})", out)
    assert match, out
    result: dict[str, Any] = json.loads(match.group(1))
    result["rps"] = result["requests"] / result["seconds"]
    return result


async def run_httpx(
    url: str, token: str, body: str, *, connections: int, duration: int
) -> dict[str, Any]:
    latencies: list[float] = []
    non2xx = 0
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:
        deadline = time.perf_counter() + duration

        async def worker() -> None:
            nonlocal non2xx
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                response = await client.post(url, content=body, headers=headers)
                latencies.append(time.perf_counter() - started)
                non2xx += not response.is_success

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        seconds = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": cuts[49] * 1000,
        "p99_ms": cuts[98] * 1000,
        "non2xx": non2xx,
        "socket_errors": 0,
    }


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def load(
    url: str, token: str, body: str, args: argparse.Namespace, pid: int | None = None
) -> dict[str, Any]:
    cpu_before = cpu_seconds(pid) if pid else 0.0
    result = _load(url, token, body, args)
    if pid:
        # Server CPU per request: robust to other load on a shared machine, unlike req/s.
        result["cpu_us"] = (cpu_seconds(pid) - cpu_before) / max(result["requests"], 1) * 1e6
    return result


def _load(url: str, token: str, body: str, args: argparse.Namespace) -> dict[str, Any]:
    if shutil.which("wrk") and not args.httpx:
        return run_wrk(
            url,
            token,
            body,
            connections=args.connections,
            duration=args.duration,
            threads=args.threads,
        )
    return asyncio.run(
        run_httpx(url, token, body, connections=args.connections, duration=args.duration)
    )


async def prepare(database_url: str, bootstrap: str, prefix: str) -> tuple[str, str]:
    """A throwaway database with the Banyuasin roster, the prefixed topics, an operator token."""
    url = await scratch_database(database_url)
    conn = await connect(url)
    try:
        await load_roster(conn, REPO / "data" / "rosters" / "pemilu-2024-banyuasin")
        token = await issue(conn, TOKEN_SECRET, OPERATOR, ttl=timedelta(hours=2))
    finally:
        await conn.close()
    await ensure_topics(
        bootstrap, partitions=4, replication_factor=1, topics=Topics(prefix).specs()
    )
    return url, token


async def cleanup(database_url: str, scratch_url: str, bootstrap: str, prefix: str) -> int:
    """Drop the throwaway database and topics; returns how many records the received topic held."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    topics = Topics(prefix)
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        parts = [TopicPartition(topics.received, p) for p in range(4)]
        ends = await consumer.end_offsets(parts)
        records: int = sum(ends.values())
    finally:
        await consumer.stop()
    await delete_topics(bootstrap, prefix)
    await drop_scratch_database(database_url, scratch_url)
    return records


def wait_healthy(url: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"{url} not healthy")


def line(name: str, r: dict[str, Any], unit: str = "req/s") -> str:
    return (
        f"{name:<28} {r['rps']:>9.0f} {unit:<7} p50 {r['p50_ms']:>7.2f} ms  "
        f"p99 {r['p99_ms']:>7.2f} ms  server CPU {r.get('cpu_us', 0):>6.0f} us/req  "
        f"({r['requests']} requests, non-2xx {r['non2xx']}, socket errors {r['socket_errors']})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--connections", type=int, default=64, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--batch-size", type=int, default=100, help="forms per batch request")
    parser.add_argument("--httpx", action="store_true", help="use the httpx load generator")
    parser.add_argument("--linger-ms", default="2", help="INTAKE_PRODUCER_LINGER_MS")
    args = parser.parse_args()

    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    database_url = os.environ.get(
        "DATABASE_URL", "postgresql://deskpemilu:deskpemilu@127.0.0.1:5433/deskpemilu"
    )
    prefix = f"bench{uuid.uuid4().hex[:6]}."
    scratch_url, token = asyncio.run(prepare(database_url, bootstrap, prefix))
    logs = Path(tempfile.mkdtemp(prefix="intake-bench-"))
    env = stack_env(
        bootstrap,
        scratch_url,
        TOPIC_PREFIX=prefix,
        DESKPEMILU_TOKEN_SECRET=TOKEN_SECRET,
        INTAKE_RATE_PER_S="1000000",
        INTAKE_RATE_BURST="1000000",
        INTAKE_NOTIFIER_ENABLED="false",
        INTAKE_PRODUCER_LINGER_MS=args.linger_ms,
        LOG_LEVEL="WARNING",
    )
    intake = ServiceProcess("intake", env, logs / "intake.log")
    bare_port = free_port()
    bare = subprocess.Popen([sys.executable, "-c", BARE_APP, str(bare_port)], cwd=REPO, env=env)
    try:
        intake.start(timeout_s=90)  # a loaded machine starts it slowly
        bare_url = f"http://127.0.0.1:{bare_port}"
        wait_healthy(bare_url)
        body = json.dumps(FORM)
        batch_body = json.dumps({"items": [{"form": FORM}] * args.batch_size})
        # Short warm-up of both, so that neither pays for first-request imports in the figures.
        warm = argparse.Namespace(**{**vars(args), "duration": 2})
        load(f"{bare_url}/v1/submissions", token, body, warm)
        load(f"{intake.url}/v1/submissions", token, body, warm)

        assert intake.process is not None
        bare_result = load(f"{bare_url}/v1/submissions", token, body, args, bare.pid)
        single = load(f"{intake.url}/v1/submissions", token, body, args, intake.process.pid)
        batch = load(
            f"{intake.url}/v1/submissions/batch", token, batch_body, args, intake.process.pid
        )
    finally:
        intake.stop()
        bare.terminate()
        bare.wait()
        records = asyncio.run(cleanup(database_url, scratch_url, bootstrap, prefix))

    generator = "wrk" if shutil.which("wrk") and not args.httpx else "httpx"
    forms = dict(batch)
    forms["rps"] = batch["rps"] * args.batch_size
    print(
        f"\nintake benchmark: {generator}, {args.connections} connections, {args.duration} s per "
        f"run, {os.cpu_count()} CPUs, uvicorn 1 worker (uvloop, httptools), "
        f"producer acks=all linger {args.linger_ms} ms"
    )
    print(line("bare FastAPI endpoint", bare_result))
    print(line("POST /v1/submissions", single))
    print(f"ratio single / bare: {single['rps'] / bare_result['rps']:.0%} (target >= 50%)")
    # req/s depends on what else the machine runs; CPU per request depends on the code only.
    print(
        "ratio by server CPU per request (bare / single): "
        f"{bare_result['cpu_us'] / single['cpu_us']:.0%}"
    )
    print(line(f"POST /batch ({args.batch_size}/req)", batch, unit="req/s"))
    print(f"batch route: {forms['rps']:.0f} forms/s")
    print(f"records in the throwaway received topic: {records}")


if __name__ == "__main__":
    main()
