"""Prometheus metrics of the read API (served on its /metrics; request metrics are shared.ops')."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

CACHE_LOOKUPS = Counter(
    "deskpemilu_api_cache_lookups_total", "Response cache lookups of the read API", ["outcome"]
)
SSE_CLIENTS = Gauge("deskpemilu_api_sse_clients", "Server-Sent Events streams open")
NOTIFICATIONS = Counter(
    "deskpemilu_api_notifications_total", "NOTIFY messages received on the results channel"
)
