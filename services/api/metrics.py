"""Prometheus metrics of the read API (served on its /metrics; request metrics are shared.ops')."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

CACHE_LOOKUPS = Counter(
    "deskpemilu_api_cache_lookups_total", "Response cache lookups of the read API", ["outcome"]
)
SSE_CLIENTS = Gauge("deskpemilu_api_sse_clients", "Server-Sent Events streams open")
NOTIFICATIONS = Counter(
    "deskpemilu_api_notifications_total", "NOTIFY messages received on the results channel"
)
SSE_PUSH_SECONDS = Histogram(
    "deskpemilu_api_sse_push_seconds",
    "Time from a NOTIFY reaching the api to the 'changed' event pushed to a client "
    "(including the coalescing wait); one observation per client and event",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10),
)
REPLICA_WAIT_SECONDS = Histogram(
    "deskpemilu_api_replica_wait_seconds",
    "With a read replica (API_DATABASE_URL): time from a NOTIFY until the replica had replayed "
    "the primary's WAL up to it, before caches are dropped and clients told",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REPLICA_WAIT_TIMEOUTS = Counter(
    "deskpemilu_api_replica_wait_timeouts_total",
    "NOTIFYs passed on before the read replica caught up (API_REPLICA_WAIT_S elapsed)",
)
