"""Prometheus metrics of the api (the live stream's; the cache's live in cache.py)."""

from __future__ import annotations

from prometheus_client import Histogram

SSE_PUSH_SECONDS = Histogram(
    "deskpemilu_api_sse_push_seconds",
    "Time from a NOTIFY reaching the api to the 'changed' event pushed to a client "
    "(including the coalescing wait); one observation per client and event",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2.5, 5, 10),
)
