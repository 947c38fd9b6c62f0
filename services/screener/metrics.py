"""Prometheus metrics of the screener."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

OPEN_FINDINGS = Gauge(
    "deskpemilu_screener_open_findings",
    "Open findings of the screens across TPS, by screen code and severity (every election)",
    ["code", "severity"],
)
KECAMATAN_SCREENED = Counter(
    "deskpemilu_screener_kecamatan_screened_total",
    "Kecamatan runs of the screens (one per kecamatan whose results changed)",
)
FINDINGS_CHANGED = Counter(
    "deskpemilu_screener_findings_total",
    "Findings opened, updated or closed by the screener",
    ["change"],
)
RUN_SECONDS = Histogram(
    "deskpemilu_screener_run_seconds",
    "Time of one screening pass over every changed kecamatan",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ALERTS_RAISED = Counter(
    "deskpemilu_screener_alerts_raised_total",
    "Desk alerts raised (stored for the first time), by rule code",
    ["rule"],
)
ALERT_SENDS = Counter(
    "deskpemilu_screener_alert_sends_total",
    "WhatsApp messages of desk alerts to coordinators, by outcome "
    "(sent, failed: will retry, gave_up: retries exhausted, dropped: queue full)",
    ["outcome"],
)
ALERT_SEND_FAILURES = Counter(
    "deskpemilu_screener_alert_send_failures_total",
    "Failed WhatsApp sends of desk alerts (each failed attempt: refused or unreachable)",
)
ALERT_QUEUE = Gauge(
    "deskpemilu_screener_alert_queue",
    "Desk alert messages waiting to be sent (or retried) to coordinators",
)
ALERT_PASS_SECONDS = Histogram(
    "deskpemilu_screener_alert_pass_seconds",
    "Time of one evaluation of the desk alert rules",
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
