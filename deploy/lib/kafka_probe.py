#!/usr/bin/env python3
"""Tiny, dependency-free Kafka health probe used by deploy/stack.sh.

Why not `TopicCommand --list`: every call is a fresh JVM (~1 s of CPU on this
2-core box) and the start loop polls several times. A raw Metadata request
costs a few milliseconds and proves more than "the port accepts": the broker
answers the Kafka protocol and has registered itself in the KRaft metadata
(it lists itself as a live broker and knows the active controller).

Usage: kafka_probe.py HOST:PORT [--timeout SECONDS] [--quiet]
Exit 0 = healthy (prints "cluster_id=... controller=... brokers=..."), 1 = not.
"""

from __future__ import annotations

import argparse
import socket
import struct
import sys
from typing import Any

# Metadata v4: the oldest version Kafka 4.x still serves (KIP-896 removed
# v0-v3) and still a non-"flexible" (no tagged fields) encoding, which keeps
# this hand-written codec short.
METADATA_API_KEY = 3
METADATA_VERSION = 4


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("broker closed the connection")
        buf += chunk
    return bytes(buf)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def _take(self, fmt: str) -> int:
        (value,) = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += struct.calcsize(fmt)
        return int(value)

    def int16(self) -> int:
        return self._take(">h")

    def int32(self) -> int:
        return self._take(">i")

    def nullable_string(self) -> str | None:
        length = self.int16()
        if length < 0:
            return None
        value = self.data[self.pos : self.pos + length].decode()
        self.pos += length
        return value


def probe(host: str, port: int, timeout: float) -> dict[str, Any]:
    client_id = b"deskpemilu-stack-probe"
    correlation_id = 1
    # Request header v1: api_key, api_version, correlation_id, client_id.
    header = (
        struct.pack(">hhih", METADATA_API_KEY, METADATA_VERSION, correlation_id, len(client_id))
        + client_id
    )
    # Body v4: topics = null (-1, "all topics"), allow_auto_topic_creation = false.
    body = struct.pack(">ib", -1, 0)
    payload = header + body
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        sock.sendall(struct.pack(">i", len(payload)) + payload)
        (size,) = struct.unpack(">i", _recv_exact(sock, 4))
        r = _Reader(_recv_exact(sock, size))
    if r.int32() != correlation_id:
        raise ValueError("correlation id mismatch")
    r.int32()  # throttle_time_ms
    brokers = []
    for _ in range(r.int32()):
        node_id, bhost, bport = r.int32(), r.nullable_string(), r.int32()
        r.nullable_string()  # rack
        brokers.append((node_id, bhost, bport))
    cluster_id = r.nullable_string()
    controller_id = r.int32()
    return {"brokers": brokers, "cluster_id": cluster_id, "controller_id": controller_id}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("bootstrap", help="HOST:PORT")
    ap.add_argument("--timeout", type=float, default=2.0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    host, _, port = args.bootstrap.rpartition(":")
    try:
        info = probe(host, int(port), args.timeout)
    except (OSError, ValueError, struct.error) as exc:
        if not args.quiet:
            print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    # Broker answers but has not registered / no controller yet: not ready.
    if not info["brokers"] or info["controller_id"] < 0:
        if not args.quiet:
            print(f"unhealthy: not registered yet {info}", file=sys.stderr)
        return 1
    if not args.quiet:
        brokers = ",".join(f"{n}@{h}:{p}" for n, h, p in info["brokers"])
        print(
            f"cluster_id={info['cluster_id']} controller={info['controller_id']} brokers={brokers}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
