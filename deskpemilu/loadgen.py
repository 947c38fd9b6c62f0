"""A lean HTTP/1.1 load generator: pre-built requests over keep-alive sockets, at a fixed rate.

The end-to-end benchmarks need a generator whose CPU per form is small beside the pipeline's
(the simulator's httpx client cost about 2.2 ms per form, more than any service). Every request
is rendered before the clock starts (method, path, headers, JSON body, as bytes), so sending one
is a socket write and reading its answer is a scan for the end of the headers and a
Content-Length: no HTTP library, no JSON parsing except for the sampled answers.

It runs as its own process, so its CPU is its own (`resource.getrusage` over the send phase):

    .venv/bin/python -m deskpemilu.loadgen REQUESTS_FILE --host 127.0.0.1 --port 8001 \
        --rate 500 --connections 16 --sample-every 20

REQUESTS_FILE holds the raw requests, each preceded by its length (4 bytes, big-endian), as
`write_requests` writes them. While it runs it prints `ACCEPT <index> <monotonic time> <body>`
for every `--sample-every`-th request answered 202 (CLOCK_MONOTONIC is the same in every process
of the machine, so the caller can time freshness from it), and at the end one `LOADGEN {json}`
line: requests, statuses, wall and CPU seconds, CPU per request, latency quantiles, lateness.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import resource
import struct
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from deskpemilu.simulator.plan import Operators
    from shared.roster import ElectionRoster

_LENGTH = struct.Struct(">I")
REPORT_PREFIX = "LOADGEN "
ACCEPT_PREFIX = "ACCEPT "


def render_request(
    method: str, path: str, host: str, headers: dict[str, str], body: bytes = b""
) -> bytes:
    """One HTTP/1.1 keep-alive request as bytes."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def form_pairs(roster: ElectionRoster) -> list[tuple[Any, Any]]:
    """The (TpsInfo, Contest) pairs form_requests goes through, in its order."""
    return [(info, contest) for info in sorted(roster.tps.values(), key=lambda t: t.code)
            for contest in sorted(roster.contests)]  # fmt: skip


def form_requests(
    roster: ElectionRoster,
    operators: Operators,
    tokens: dict[str, str],
    *,
    host: str,
    count: int,
    start: int = 0,
    seed: int = 0,
    key_prefix: str = "load",
) -> list[bytes]:
    """`count` single-form POST /v1/submissions requests, each a new submission.

    The forms go through the roster's (TPS, contest) pairs in code order from `start`; past the
    end they start again with other numbers (a revision of that TPS's form, again a new
    submission). Each is sent by the operator who usually reports the TPS's kecamatan.
    """
    import random

    from deskpemilu.simulator.plan import true_form

    pairs = form_pairs(roster)
    rng = random.Random(seed)
    requests: list[bytes] = []
    for n in range(start, start + count):
        info, contest = pairs[n % len(pairs)]
        form = true_form(
            roster.election_id,
            roster.contests[contest],
            info,
            rng,
            reserve_pct=roster.ballot_reserve_pct,
        )
        sender, key = _sender_and_key(operators, info, key_prefix, n)
        headers = {
            "Authorization": f"Bearer {tokens[sender]}",
            "Idempotency-Key": key,
            "Content-Type": "application/json",
        }
        body = form.model_dump_json(exclude_none=True).encode()
        requests.append(render_request("POST", "/v1/submissions", host, headers, body))
    return requests


def _sender_and_key(operators: Operators, info: Any, key_prefix: str, n: int) -> tuple[str, str]:
    """The operator who sends the n-th form, and its Idempotency-Key."""
    return operators.sender(info.kecamatan_code).id, f"{key_prefix}-{n}"


def form_submission_ids(
    roster: ElectionRoster, operators: Operators, *, count: int, start: int = 0,
    key_prefix: str = "load",
) -> list[uuid.UUID]:  # fmt: skip
    """The submission ids the intake gives the forms form_requests makes with these arguments."""
    from shared.events import submission_id_for

    pairs = form_pairs(roster)
    return [
        submission_id_for(*_sender_and_key(operators, pairs[n % len(pairs)][0], key_prefix, n))
        for n in range(start, start + count)
    ]


def write_requests(path: Path, requests: Iterable[bytes]) -> int:
    """Write length-prefixed requests; returns how many."""
    count = 0
    with path.open("wb") as out:
        for request in requests:
            out.write(_LENGTH.pack(len(request)))
            out.write(request)
            count += 1
    return count


def read_requests(path: Path) -> list[bytes]:
    """The requests written by write_requests."""
    data = path.read_bytes()
    requests: list[bytes] = []
    at = 0
    while at < len(data):
        (length,) = _LENGTH.unpack_from(data, at)
        at += _LENGTH.size
        requests.append(data[at : at + length])
        at += length
    return requests


def cpu_seconds() -> float:
    """User + system CPU of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class _Connection(asyncio.Protocol):
    """One keep-alive connection with at most one request in flight."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes, bytes]] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        head = bytes(buffer[:end]).lower()
        at = head.find(b"\r\ncontent-length:")
        if at < 0:
            self._fail(ConnectionError("answer without Content-Length"))
            return
        stop = head.find(b"\r\n", at + 2)
        length = int(head[at + 17 : stop if stop > 0 else len(head)])
        total = end + 4 + length
        if len(buffer) < total:
            return
        status = int(head[9:12])
        body = bytes(buffer[end + 4 : total])
        del buffer[:total]
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_result((status, head, body))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(exc or ConnectionError("connection closed"))

    def _fail(self, exc: BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()

    @property
    def open(self) -> bool:
        """Still usable: connected and not closing."""
        return self.transport is not None and not self.transport.is_closing()

    async def request(self, data: bytes) -> tuple[int, bytes, bytes]:
        """Send one request; its status, its lower-cased head (status line and headers), body."""
        assert self.transport is not None and self.waiter is None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


def header(head: bytes, name: str) -> str | None:
    """A header's value from a lower-cased answer head (`_Connection.request`), or None."""
    at = head.find(b"\r\n" + name.encode() + b":")
    if at < 0:
        return None
    start = at + len(name) + 3
    stop = head.find(b"\r\n", start)
    return head[start : stop if stop > 0 else len(head)].strip().decode()


class LeanClient:
    """Up to `size` keep-alive connections to one server, each with one request in flight; a
    connection that breaks is dropped and the next request opens a new one. Requests are
    pre-rendered bytes (render_request); errors surface as ConnectionError or OSError."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self.host, self.port = host, port
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(size)

    async def request(self, data: bytes) -> tuple[int, bytes, bytes]:
        """One request on an idle (or new) connection."""
        async with self._slots:
            conn = self._idle.pop() if self._idle else None
            if conn is None or not conn.open:
                loop = asyncio.get_running_loop()
                _, conn = await loop.create_connection(_Connection, self.host, self.port)
            answer = await conn.request(data)
            if conn.open:
                self._idle.append(conn)
            return answer

    def close(self) -> None:
        """Close the idle connections."""
        for conn in self._idle:
            if conn.transport is not None:
                conn.transport.close()
        self._idle.clear()


class _Tally:
    """What the answers said, gathered while the workers run."""

    def __init__(self, sample_every: int, out: Any) -> None:
        self.statuses: dict[int, int] = {}
        self.latencies: list[float] = []
        self.accepted_times: list[float] = []
        self.accepted_bodies: set[bytes] = set()
        self.late = 0
        self.errors = 0
        self.sample_every = sample_every
        self.out = out

    def answer(self, index: int, status: int, body: bytes, sent: float, done: float) -> None:
        self.latencies.append(done - sent)
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status != 202:
            return
        self.accepted_times.append(done)
        self.accepted_bodies.add(body)
        if self.sample_every and index % self.sample_every == 0:
            self.out.write(f"{ACCEPT_PREFIX}{index} {done:.6f} {body.decode()}\n")
            self.out.flush()


async def run(
    requests: Sequence[bytes],
    host: str,
    port: int,
    *,
    rate: float,
    connections: int,
    sample_every: int = 0,
    out: Any = sys.stdout,
) -> dict[str, Any]:
    """Send every request (rate <= 0: as fast as the connections allow); return the report."""
    loop = asyncio.get_running_loop()
    conns: list[_Connection] = []
    for _ in range(connections):
        _, protocol = await loop.create_connection(_Connection, host, port)
        conns.append(protocol)
    tally = _Tally(sample_every, out)
    cursor = iter(range(len(requests)))
    cpu_start = cpu_seconds()
    started = time.monotonic()

    async def worker(conn: _Connection) -> None:
        for index in cursor:  # one shared iterator: each index goes to one worker
            if rate > 0:
                delay = started + index / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                elif delay < -0.05:
                    tally.late += 1
            sent = time.monotonic()
            try:
                status, _, body = await conn.request(requests[index])
            except (ConnectionError, OSError):
                tally.errors += 1
                return
            tally.answer(index, status, body, sent, time.monotonic())

    await asyncio.gather(*(worker(conn) for conn in conns))
    wall = time.monotonic() - started
    cpu = cpu_seconds() - cpu_start
    for conn in conns:
        if conn.transport is not None:
            conn.transport.close()
    tally.latencies.sort()
    answered = len(tally.latencies)
    return {
        "requests": len(requests),
        "answered": answered,
        "statuses": {str(k): v for k, v in sorted(tally.statuses.items())},
        "distinct_202": len(tally.accepted_bodies),
        "connection_errors": tally.errors,
        "rate": rate,
        "connections": connections,
        "wall_s": wall,
        "cpu_s": cpu,
        "cpu_us_per_request": cpu / max(1, answered) * 1e6,
        "answered_per_s": answered / wall if wall > 0 else 0.0,
        "first_send": started,
        "last_202": max(tally.accepted_times) if tally.accepted_times else None,
        "latency_p50_ms": _quantile(tally.latencies, 0.5) * 1000,
        "latency_p99_ms": _quantile(tally.latencies, 0.99) * 1000,
        "late_sends": tally.late,
    }


def _quantile(sorted_values: Sequence[float], q: float) -> float:
    if not sorted_values:
        return math.nan
    return sorted_values[max(1, math.ceil(q * len(sorted_values))) - 1]


def main() -> None:
    """Command-line entry: send a requests file, print the report as one LOADGEN line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("requests", type=Path)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--rate", type=float, default=0.0, help="requests/s (0: as fast as can)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--sample-every", type=int, default=0)
    args = parser.parse_args()
    requests = read_requests(args.requests)
    report = asyncio.run(
        run(
            requests,
            args.host,
            args.port,
            rate=args.rate,
            connections=args.connections,
            sample_every=args.sample_every,
        )
    )
    print(REPORT_PREFIX + json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
