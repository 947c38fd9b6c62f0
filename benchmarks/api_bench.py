"""Read API: the cached kabupaten result route beside a bare endpoint, and SSE fan-out to 500.

Runs the real api process (`python -m services.api`) on a scratch database holding the Banyuasin
roster with every TPS of PPWP counted, and a bare FastAPI process with the same uvicorn options,
and drives both with the same load generator (wrk when installed, else a Python one). Then opens
500 Server-Sent Events streams, sends NOTIFYs and times how long each client takes to hear them.

    .venv/bin/python -m benchmarks.api_bench
    .venv/bin/python -m benchmarks.api_bench --duration 15 --connections 64 --sse-clients 500
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import orjson

from deskpemilu.roster_load import load_roster
from shared.auth import issue_token
from shared.db import connect, migrate
from shared.events import OperatorRef, Role
from shared.roster import ancestors_of
from tests.dbs import drop_database

REPO_ROOT = Path(__file__).resolve().parent.parent
BANYUASIN = REPO_ROOT / "data" / "rosters" / "pemilu-2024-banyuasin"
DEFAULT_DATABASE_URL = "postgresql://deskpemilu:deskpemilu@127.0.0.1:5433/deskpemilu"
ELECTION = "pemilu-2024"
CONTEST = "PPWP"
KABUPATEN = "16.07"
ROUTE = f"/v1/results/{ELECTION}/{CONTEST}/{KABUPATEN}"
SHARES = (0.25, 0.58, 0.17)  # roughly the 2024 national result, for plausible numbers


# --- the bare endpoint -------------------------------------------------------------------------


def serve_bare(port: int, body_path: str) -> None:
    """A FastAPI app with nothing but two constant routes, served like the api is."""
    import uvicorn
    from fastapi import FastAPI, Response

    body = Path(body_path).read_bytes()
    app = FastAPI()

    @app.get("/bare")
    async def bare() -> Response:
        return Response(b'{"ok":true}', media_type="application/json")

    @app.get("/bare-same-body")
    async def bare_same_body() -> Response:
        return Response(body, media_type="application/json")

    @app.get("/healthz")
    async def healthz() -> Response:
        return Response(b"{}", media_type="application/json")

    uvicorn.run(
        app,
        host="127.0.0.1",
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        log_level="warning",
        access_log=False,
    )


# --- setup ---------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def with_database(url: str, name: str) -> str:
    """The same server, another database."""
    return url.rpartition("/")[0] + "/" + name


@contextlib.asynccontextmanager
async def scratch_database(server_url: str) -> AsyncIterator[str]:
    """A new database for this run, dropped afterwards."""
    name = f"bench_api_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(server_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(server_url, name)
    finally:
        try:
            await drop_database(admin, name)
        finally:
            await admin.close()


async def seed(url: str, seed_value: int = 14022024) -> int:
    """Roster plus a counted PPWP form at every TPS, written as the aggregator would."""
    conn = await connect(url)
    try:
        await migrate(conn)
        await load_roster(conn, BANYUASIN)
        rng = random.Random(seed_value)
        tps_rows = await conn.fetch("SELECT code, dpt FROM tps WHERE election = $1", ELECTION)
        votes_by_area: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        summary: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
        results = []
        for row in tps_rows:
            cast = int(row["dpt"] * rng.uniform(0.6, 0.85))
            tidak_sah = rng.randint(0, min(8, cast))
            sah = cast - tidak_sah
            weights = [s * rng.uniform(0.7, 1.3) for s in SHARES]
            c1 = int(sah * weights[0] / sum(weights))
            c2 = int(sah * weights[1] / sum(weights))
            votes = {"c1": c1, "c2": c2, "c3": sah - c1 - c2}
            results.append((row["code"], votes, sah, tidak_sah, cast, row["dpt"]))
            for area in ancestors_of(row["code"]):
                for line, n in votes.items():
                    votes_by_area[area][line] += n
                s = summary[area]
                s[0] += sah
                s[1] += tidak_sah
                s[2] += cast
                s[3] += 1
                s[4] += row["dpt"]
        await conn.executemany(
            """INSERT INTO tps_results (election, contest, tps, submission_id, votes, suara_sah,
                                        suara_tidak_sah, pengguna, dpt, operator_id, channel,
                                        received_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'bench', 'api', now())""",
            [
                (ELECTION, CONTEST, code, uuid.uuid4(), v, s, t, c, d)
                for code, v, s, t, c, d in results
            ],
        )
        # Votes are a vector by line number on the area's summary row (migration 0012).
        await conn.executemany(
            """INSERT INTO area_summary (election, contest, area_code, shard, votes)
               VALUES ($1, $2, $3, 0, $4)
               ON CONFLICT (election, contest, area_code, shard) DO UPDATE
               SET votes = EXCLUDED.votes""",
            [
                (ELECTION, CONTEST, area, [lines.get(f"c{n}") for n in range(1, 4)])
                for area, lines in votes_by_area.items()
            ],
        )
        await conn.executemany(
            """INSERT INTO area_summary AS a (election, contest, area_code, shard, suara_sah,
                                              suara_tidak_sah, pengguna, tps_reported,
                                              dpt_reported)
               VALUES ($1, $2, $3, 0, $4, $5, $6, $7, $8)
               ON CONFLICT (election, contest, area_code, shard) DO UPDATE
               SET suara_sah = EXCLUDED.suara_sah, suara_tidak_sah = EXCLUDED.suara_tidak_sah,
                   pengguna = EXCLUDED.pengguna, tps_reported = EXCLUDED.tps_reported,
                   dpt_reported = EXCLUDED.dpt_reported, updated_at = now()""",
            [(ELECTION, CONTEST, area, *s) for area, s in summary.items()],
        )
        return len(results)
    finally:
        await conn.close()


@dataclass
class Process:
    """A child process with the URL it serves."""

    name: str
    popen: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()


def start(name: str, args: list[str], env: dict[str, str], port: int, log: Path) -> Process:
    """Start a process and wait until its /healthz answers."""
    with log.open("ab") as out:
        popen = subprocess.Popen(
            [sys.executable, *args], cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return Process(name, popen, url)
        time.sleep(0.1)
    popen.kill()
    raise RuntimeError(f"{name} not healthy: {log.read_text()[-2000:]}")


# --- HTTP load --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Load:
    """What one load run measured."""

    label: str
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    tool: str
    requests: int
    cpu_us_per_request: float = 0.0  # server process CPU time (user + system) per request


_WRK_RATE = re.compile(r"Requests/sec:\s+([\d.]+)")
_WRK_COUNT = re.compile(r"(\d+) requests in")
_WRK_PCT = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.M)
_WRK_ERRORS = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)|Socket errors:.*?(\d+)")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def run_wrk(
    label: str, url: str, headers: dict[str, str], duration: int, connections: int, threads: int
) -> Load:
    """One wrk run with --latency; parses req/s and the 50/99th percentiles."""
    args = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency"]
    for key, value in headers.items():
        args += ["-H", f"{key}: {value}"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    rate = _WRK_RATE.search(out)
    pcts = {p: _ms(v, u) for p, v, u in _WRK_PCT.findall(out)}
    if rate is None or "99" not in pcts:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    errors = sum(int(a or 0) for a, _ in _WRK_ERRORS.findall(out))
    count = _WRK_COUNT.search(out)
    requests = int(count.group(1)) if count else 0
    return Load(label, float(rate.group(1)), pcts["50"], pcts["99"], errors, "wrk", requests)


async def run_python_load(
    label: str, url: str, headers: dict[str, str], duration: int, connections: int
) -> Load:
    """Fallback load generator: keep-alive httpx clients, one request in flight per connection."""
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + duration
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(headers=headers, limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal errors
            while time.monotonic() < deadline:
                started = time.perf_counter()
                response = await client.get(url)
                latencies.append(time.perf_counter() - started)
                if response.status_code >= 400:
                    errors += 1

        started = time.monotonic()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.monotonic() - started
    latencies.sort()
    return Load(
        label,
        len(latencies) / elapsed,
        1000 * latencies[len(latencies) // 2],
        1000 * latencies[int(len(latencies) * 0.99)],
        errors,
        "httpx",
        len(latencies),
    )


def median_load(loads: list[Load]) -> Load:
    """Median rate and latencies over rounds; errors summed."""
    return Load(
        loads[0].label,
        statistics.median(x.requests_per_s for x in loads),
        statistics.median(x.p50_ms for x in loads),
        statistics.median(x.p99_ms for x in loads),
        sum(x.errors for x in loads),
        loads[0].tool,
        sum(x.requests for x in loads),
        statistics.median(x.cpu_us_per_request for x in loads),
    )


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- SSE fan-out ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FanOut:
    """How long 'changed' took to reach every SSE client after each NOTIFY."""

    clients: int
    rounds: int
    delivered: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    connect_s: float


class SseCrowd:
    """Many minimal SSE clients on raw sockets (so 500 of them cost the measuring side little)."""

    def __init__(self, host: str, port: int, token: str, total: int) -> None:
        self.host, self.port, self.token, self.total = host, port, token, total
        self.connected = 0
        self.all_connected = asyncio.Event()
        self.arrivals: list[float] = []
        self.all_arrived = asyncio.Event()

    def expect_round(self) -> None:
        """Forget the last round's arrivals."""
        self.arrivals.clear()
        self.all_arrived.clear()

    async def client(self) -> None:
        """One stream: count its hello, time every 'changed'."""
        reader, writer = await asyncio.open_connection(self.host, self.port)
        writer.write(
            f"GET /v1/events HTTP/1.1\r\nHost: {self.host}\r\nAccept: text/event-stream\r\n"
            f"Authorization: Bearer {self.token}\r\n\r\n".encode()
        )
        await writer.drain()
        try:
            while line := await reader.readline():
                if line.startswith(b"event: hello"):
                    self.connected += 1
                    if self.connected == self.total:
                        self.all_connected.set()
                elif line.startswith(b"event: changed"):
                    self.arrivals.append(time.perf_counter())
                    if len(self.arrivals) == self.total:
                        self.all_arrived.set()
        finally:
            writer.close()


async def measure_fan_out(
    api_url: str, database_url: str, token: str, clients: int, rounds: int
) -> FanOut:
    """Connect the clients, then per round: NOTIFY once and wait for every client's event."""
    host, port = api_url.removeprefix("http://").split(":")
    crowd = SseCrowd(host, int(port), token, clients)
    started = time.perf_counter()
    tasks = [asyncio.create_task(crowd.client()) for _ in range(clients)]
    await asyncio.wait_for(crowd.all_connected.wait(), 60)
    connect_s = time.perf_counter() - started
    latencies: list[float] = []
    conn = await connect(database_url)
    try:
        for round_no in range(rounds):
            crowd.expect_round()
            payload = orjson.dumps(
                {"elections": [{"election": ELECTION, "contests": [CONTEST]}], "round": round_no}
            ).decode()
            sent = time.perf_counter()
            await conn.execute("SELECT pg_notify('deskpemilu_results', $1)", payload)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(crowd.all_arrived.wait(), 10)
            latencies += [1000 * (t - sent) for t in crowd.arrivals]
            await asyncio.sleep(0.7)  # past the per-client coalescing window
    finally:
        await conn.close()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    latencies.sort()
    return FanOut(
        clients=clients,
        rounds=rounds,
        delivered=len(latencies),
        p50_ms=statistics.median(latencies),
        p99_ms=latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        max_ms=latencies[-1],
        connect_s=connect_s,
    )


# --- main ---------------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    """Set up, measure, print."""
    tool = args.tool
    if tool == "auto":
        tool = "wrk" if shutil.which("wrk") else "httpx"
    secret = secrets.token_urlsafe(48)
    token, _ = issue_token(
        secret, OperatorRef(id="bench-viewer", role=Role.VIEWER), ttl=timedelta(hours=2)
    )
    headers = {"Authorization": f"Bearer {token}"}
    log_dir = Path(args.log_dir)
    await asyncio.to_thread(log_dir.mkdir, parents=True, exist_ok=True)
    async with scratch_database(args.database_url) as url:
        counted = await seed(url)
        env = dict(os.environ)
        api_port, bare_port = free_port(), free_port()
        env.update(
            DATABASE_URL=url,
            DESKPEMILU_TOKEN_SECRET=secret,
            API_PORT=str(api_port),
            LOG_LEVEL="WARNING",
            API_SSE_MAX_CLIENTS=str(max(1000, args.sse_clients * 2)),
        )
        api = await asyncio.to_thread(
            start, "api", ["-m", "services.api"], env, api_port, log_dir / "api.log"
        )
        try:
            async with httpx.AsyncClient(timeout=10) as client:
                plain = {**headers, "Accept-Encoding": "identity"}
                body = await client.get(f"{api.url}{ROUTE}", headers=plain)
            body.raise_for_status()
            etag = body.headers["etag"]
            body_file = log_dir / "kabupaten.json"
            await asyncio.to_thread(body_file.write_bytes, body.content)
            bare = await asyncio.to_thread(
                start,
                "bare",
                ["-m", "benchmarks.api_bench", "--serve-bare", str(bare_port), str(body_file)],
                env,
                bare_port,
                log_dir / "bare.log",
            )
            try:
                targets = [
                    ("bare endpoint, tiny body", bare, "/bare", {}),
                    (
                        f"bare endpoint, same {len(body.content):,} B body",
                        bare,
                        "/bare-same-body",
                        {},
                    ),
                    ("api kabupaten result (cached, 200)", api, ROUTE, headers),
                    (
                        "api kabupaten result (gzip, 200)",
                        api,
                        ROUTE,
                        {**headers, "Accept-Encoding": "gzip"},
                    ),
                    (
                        "api kabupaten result (If-None-Match, 304)",
                        api,
                        ROUTE,
                        {**headers, "If-None-Match": etag},
                    ),
                ]
                runs: dict[str, list[Load]] = defaultdict(list)
                # Interleaved rounds, medians reported: the machine is shared, so a burst of
                # someone else's work must not land on one target only.
                for round_no in range(args.rounds + 1):
                    for label, process, path, target_headers in targets:
                        seconds = 2 if round_no == 0 else args.duration  # round 0 warms up
                        target = process.url + path
                        cpu_before = cpu_seconds(process.popen.pid)
                        if tool == "wrk":
                            load = await asyncio.to_thread(
                                run_wrk,
                                label,
                                target,
                                target_headers,
                                seconds,
                                args.connections,
                                args.threads,
                            )
                        else:
                            load = await run_python_load(
                                label, target, target_headers, seconds, args.connections
                            )
                        used = cpu_seconds(process.popen.pid) - cpu_before
                        load = replace(load, cpu_us_per_request=1e6 * used / max(1, load.requests))
                        if round_no > 0:
                            runs[label].append(load)
                loads = [median_load(runs[label]) for label, *_ in targets]
            finally:
                bare.stop()
            fan_out = await measure_fan_out(api.url, url, token, args.sse_clients, args.sse_rounds)
        finally:
            api.stop()

    report(tool, args, counted, loads, fan_out)


def report(
    tool: str, args: argparse.Namespace, counted: int, loads: list[Load], fan_out: FanOut
) -> None:
    """Print the figures."""
    print(
        f"\nRead API benchmark ({tool}, {args.connections} connections, {args.rounds} x "
        f"{args.duration}s per target, medians; {os.cpu_count()} CPUs shared with the load "
        "generator)"
    )
    print(f"database: Banyuasin roster, {counted:,} TPS counted for {CONTEST}; route {ROUTE}")
    # Other work on the machine skews every figure; say how busy it was.
    print("load average (1/5/15 min) at the end: " + " ".join(f"{x:.1f}" for x in os.getloadavg()))
    print()
    head = f"{'req/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'CPU us/req':>11}"
    print(f"{'target':<48} {head}")
    for x in loads:
        figures = f"{x.requests_per_s:>10,.0f} {x.p50_ms:>8.2f} {x.p99_ms:>8.2f} {x.errors:>7}"
        print(f"{x.label:<48} {figures} {x.cpu_us_per_request:>11.0f}")
    tiny, same, cached, _gzip, revalidated = loads
    print()
    print(
        f"cached route / bare (same body): {cached.requests_per_s / same.requests_per_s:6.1%}"
        "  (target >= 80%)"
    )
    print(f"cached route / bare (tiny body): {cached.requests_per_s / tiny.requests_per_s:6.1%}")
    print(
        f"304 revalidation / bare (tiny):  {revalidated.requests_per_s / tiny.requests_per_s:6.1%}"
    )
    # CPU per request barely depends on what else runs on the machine, unlike req/s.
    print(
        "server CPU per request, bare (same body) / cached route: "
        f"{same.cpu_us_per_request / cached.cpu_us_per_request:6.1%}"
    )
    print()
    events = f"{fan_out.delivered}/{fan_out.clients * fan_out.rounds}"
    print(
        f"SSE: {fan_out.clients} clients connected in {fan_out.connect_s:.2f}s; "
        f"{fan_out.rounds} NOTIFYs, {events} events delivered"
    )
    print(
        f"SSE NOTIFY -> every client: p50 {fan_out.p50_ms:.1f} ms, p99 {fan_out.p99_ms:.1f} ms, "
        f"max {fan_out.max_ms:.1f} ms"
    )


def parse_args() -> argparse.Namespace:
    """Command line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database-url", default=os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per load run")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per target")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="wrk threads")
    parser.add_argument("--tool", choices=("auto", "wrk", "httpx"), default="auto")
    parser.add_argument("--sse-clients", type=int, default=500)
    parser.add_argument("--sse-rounds", type=int, default=5)
    parser.add_argument("--log-dir", default=str(REPO_ROOT / ".run" / "bench-api"))
    parser.add_argument(
        "--serve-bare", nargs=2, metavar=("PORT", "BODY_FILE"), help=argparse.SUPPRESS
    )
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve_bare:
        serve_bare(int(arguments.serve_bare[0]), arguments.serve_bare[1])
    else:
        asyncio.run(main(arguments))
