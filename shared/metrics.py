"""Prometheus metrics shared by every process, and the /metrics response."""

from __future__ import annotations

from fastapi.telemetry import TelemetryConfig
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

# Prometheus is the desk's telemetry. FastAPI's native OpenTelemetry hooks stay off: unused, they
# still look up the tracer, meter and logger providers on every request.
APP_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False}

CONSUMER_RECORDS = Counter(
    "deskpemilu_consumer_records_total", "Kafka records handled by a consumer loop", ["service"]
)
CONSUMER_BATCH_SECONDS = Histogram(
    "deskpemilu_consumer_batch_seconds",
    "Time to handle one batch (including its commit)",
    ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_LAG = Gauge(
    "deskpemilu_consumer_lag_records",
    "Records behind the high watermark over the assigned partitions",
    ["service"],
)
HEALTH_CHECK = Gauge(
    "deskpemilu_health_check",
    "Each /healthz check at the last scrape of /metrics: 1 passing, 0 failing",
    ["check"],
)


def render_latest() -> tuple[bytes, str]:
    """Body and content type of the Prometheus exposition of this process."""
    return generate_latest(), CONTENT_TYPE_LATEST
