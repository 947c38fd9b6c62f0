"""Prometheus metrics of the intake: requests, time to Kafka acknowledgement, publish errors."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "deskpemilu_intake_requests_total",
    "HTTP requests by route template and status",
    ["route", "status"],
)
KAFKA_ACK_SECONDS = Histogram(
    "deskpemilu_intake_kafka_ack_seconds",
    "Time from send to Kafka's acknowledgement (acks=all) of one record",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
PUBLISH_ERRORS = Counter(
    "deskpemilu_intake_publish_errors_total", "Records Kafka did not acknowledge", ["reason"]
)
# Present from the start at 0, so the first error is an increase an alert can see.
for _reason in ("not_connected", "timeout", "internal"):
    PUBLISH_ERRORS.labels(_reason)
FORMS = Counter("deskpemilu_intake_forms_total", "Forms published, by channel", ["channel"])
REPLIES = Counter(
    "deskpemilu_intake_replies_total", "Replies to WhatsApp/SMS senders", ["channel", "outcome"]
)
REMINDERS = Counter(
    "deskpemilu_intake_silent_reminders_total",
    "Reminders to operators of silent TPS: sent, failed (retried), rate_limited, demo_skipped",
    ["outcome"],
)
for _outcome in ("sent", "failed", "rate_limited", "demo_skipped"):
    REMINDERS.labels(_outcome)
PHOTOS = Counter(
    "deskpemilu_intake_photos_total", "Photos stored and published, by channel", ["channel"]
)
INCIDENTS = Counter(
    "deskpemilu_intake_incidents_total",
    "Incident reports published, by channel and severity",
    ["channel", "severity"],
)
INCIDENTS_REFUSED = Counter(
    "deskpemilu_intake_incidents_refused_total",
    "Incident reports refused before publishing, by machine code",
    ["code"],
)
