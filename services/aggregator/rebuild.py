"""Rebuild: drop the aggregator's projections and replay the received topic through both stages.

Every aggregator instance must be stopped first: running ones hold an advisory lock shared, the
rebuild takes it exclusively and refuses to start otherwise (an aggregator started meanwhile
waits). The validator may keep running. Each received record is judged in-process by the
validator's own pure judge (services.validator.judge, the current roster from PostgreSQL) and
the verdict applied by the aggregator's own batch transaction, up to the end offsets seen at the
start. At the end the aggregator's stored offsets on the validated and rejected topics are set
to the ends those topics had before the replay began, so it resumes after what was replayed;
verdicts published later for records already replayed are dropped as repeats by their ids.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from services.aggregator.aggregation import Incoming, Position
from services.aggregator.consumer import event_from_json
from services.aggregator.incidents import replay_incidents
from services.aggregator.photos import replay_photos
from services.aggregator.repository import (
    apply_batch,
    release_rebuild_lock,
    reset_projections,
    set_offsets,
    try_rebuild_lock,
)
from services.aggregator.settings import AggregatorSettings
from services.validator.judge import Outcome, Source, Stamp, decode, judge
from shared.db import connect
from shared.kafka import kafka_client_options
from shared.roster import ElectionRoster
from shared.roster_db import fetch_all_rosters

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
FETCH_TIMEOUT_MS = 500
PROGRESS_EVERY_S = 5.0


class RebuildRefused(RuntimeError):
    """An aggregator is running (or another rebuild): stop it first."""


@dataclass(slots=True)
class RebuildReport:
    """What a rebuild replayed."""

    records: int = 0
    dead_letters: int = 0  # records the validator would send to the DLQ: not applied
    decisions: Counter[str] = field(default_factory=Counter)
    photos: int = 0  # photo records relinked from the photos topic
    incidents: int = 0  # incident reports and updates recorded again from incidents.v1
    seconds: float = 0.0


async def _end_offsets(
    consumer: AIOKafkaConsumer, admin: AIOKafkaAdminClient, topics: list[str]
) -> dict[TopicPartition, int]:
    partitions: list[TopicPartition] = []
    for described in await admin.describe_topics(topics):
        if described["error_code"] != 0:
            raise RuntimeError(
                f"topic {described['topic']}: Kafka error {described['error_code']} "
                "(run `deskpemilu migrate` to create the topics)"
            )
        partitions.extend(
            TopicPartition(described["topic"], p["partition"]) for p in described["partitions"]
        )
    ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    return ends


def _judged(
    batches: Mapping[TopicPartition, Sequence[ConsumerRecord[bytes, bytes]]],
    ends: Mapping[TopicPartition, int],
    rosters: Mapping[str, ElectionRoster],
    report: RebuildReport,
) -> tuple[list[Incoming], dict[tuple[str, int], int]]:
    """The verdicts the validator would publish for these records, as aggregator events."""
    events: list[Incoming] = []
    next_offsets: dict[tuple[str, int], int] = {}
    stamp = Stamp.now()
    for tp, records in batches.items():
        for record in records:
            if record.offset >= ends[tp]:
                break
            next_offsets[(tp.topic, tp.partition)] = record.offset + 1
            report.records += 1
            source = Source(tp.topic, tp.partition, record.offset, record.key)
            verdict = judge(decode(record.value), record.value, source, rosters, stamp)
            if verdict.outcome in (Outcome.DEAD_LETTER, Outcome.REVIEW_REJECTED):
                report.dead_letters += 1
                continue
            rejected = verdict.outcome is Outcome.REJECTED
            position = Position(tp.topic, tp.partition, record.offset)
            events.append(event_from_json(verdict.value, position, rejected=rejected))
    return events, next_offsets


async def rebuild(settings: AggregatorSettings, progress: Progress | None = None) -> RebuildReport:
    """Drop the projections and replay the received topic; refuses while an aggregator runs."""
    say = progress or (lambda message: log.info(message))
    topics = settings.topics
    rebuild_group = settings.group_id + ".rebuild"
    report = RebuildReport()
    started = time.monotonic()
    conn = await connect(settings.database_url)
    locked = False
    try:
        locked = await try_rebuild_lock(conn)
        if not locked:
            raise RebuildRefused(
                "aggregator masih berjalan; hentikan dulu / "
                "an aggregator (or another rebuild) is running; stop it first"
            )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            isolation_level="read_committed",
            max_partition_fetch_bytes=settings.max_partition_fetch_bytes,
            **kafka_client_options(),
        )
        admin = AIOKafkaAdminClient(
            bootstrap_servers=settings.kafka_bootstrap_servers, **kafka_client_options()
        )
        await consumer.start()
        await admin.start()
        try:
            # Output ends first: every verdict before them comes from a received record before
            # the received ends read next, so the replay covers all of them.
            output_ends = await _end_offsets(consumer, admin, [topics.validated, topics.rejected])
            received_ends = await _end_offsets(consumer, admin, [topics.received])
            rosters = await fetch_all_rosters(conn)
            say(
                f"{sum(received_ends.values())} received records to replay, "
                f"rosters: {', '.join(sorted(rosters)) or '-'}"
            )
            await reset_projections(conn, [settings.group_id, rebuild_group])
            pending = {tp for tp, end in received_ends.items() if end > 0}
            if pending:
                consumer.assign(sorted(pending))
                await consumer.seek_to_beginning(*pending)
            last_said = time.monotonic()
            while pending:
                batches = await consumer.getmany(
                    timeout_ms=FETCH_TIMEOUT_MS, max_records=settings.max_batch
                )
                events, next_offsets = _judged(batches, received_ends, rosters, report)
                for tp in list(pending):
                    if await consumer.position(tp) >= received_ends[tp]:
                        pending.discard(tp)
                if next_offsets:
                    applied = await apply_batch(
                        conn, group=rebuild_group, events=events, next_offsets=next_offsets
                    )
                    report.decisions.update(applied.outcome.decisions)
                if time.monotonic() - last_said > PROGRESS_EVERY_S:
                    say(f"{report.records} records replayed")
                    last_said = time.monotonic()
            await set_offsets(
                conn,
                settings.group_id,
                {(tp.topic, tp.partition): end for tp, end in output_ends.items()},
            )
            await conn.execute(
                "DELETE FROM consumer_offsets WHERE consumer_group = $1", rebuild_group
            )
            report.photos = await replay_photos(
                settings.kafka_bootstrap_servers, topics.photos, settings.group_id + "-photos", conn
            )
            report.incidents = await replay_incidents(
                settings.kafka_bootstrap_servers,
                topics.incidents,
                settings.group_id + "-incidents",
                conn,
            )
        finally:
            await admin.close()
            await consumer.stop()
        report.seconds = time.monotonic() - started
        say(
            f"rebuild done: {report.records} records, {report.dead_letters} to the DLQ, "
            f"{dict(report.decisions)}, {report.photos} photos, "
            f"{report.incidents} incident changes, {report.seconds:.1f} s"
        )
        return report
    finally:
        if locked:
            await release_rebuild_lock(conn)
        await conn.close()
