"""Two validators in one group, one SIGKILLed mid-stream: every form is judged exactly once."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import ProducerFenced

from services.validator.consumer import BatchJudge, output_topics
from services.validator.roster_cache import RosterCache
from services.validator.transactions import Output, PartitionTransactions
from shared.consumer import run_batches
from shared.events import SubmissionRejected, SubmissionValidated
from shared.form import Contest
from shared.kafka import make_producer
from shared.roster import ElectionRoster
from shared.topics import Topics
from tests.conftest import TopicFactory
from tests.integration.test_validator import (
    consistent_form,
    key_value,
    make_topics,
    metric_of,
    pemilu,
    produce,
    read_outputs,
    submission,
    topic_cleanup,
    total,
)
from tests.procs import ServiceProcess, stack_env

pytestmark = pytest.mark.integration
__all__ = ["pemilu", "topic_cleanup"]  # fixtures used here by name

PARTITIONS = 6
FORMS = 8000
CHUNK = 200
REJECTED_EVERY = 10  # one form in ten carries an arithmetic error


async def _stream(bootstrap: str, topic: str, records: list[tuple[bytes, bytes]]) -> None:
    """Publish in chunks with short pauses: a stream, not a pre-filled topic."""
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for start in range(0, len(records), CHUNK):
            futures = [
                await producer.send(topic, key=key, value=value)
                for key, value in records[start : start + CHUNK]
            ]
            await asyncio.gather(*futures)
            await asyncio.sleep(0.02)
    finally:
        await producer.stop()


async def _wait_until_judged(
    process: ServiceProcess, at_least: int = 1, timeout_s: float = 30.0
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        judged = metric_of(process, "deskpemilu_consumer_records_total", service="validator")
        if judged >= at_least:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{process.name} judged nothing:\n{process.log_tail()}")


async def _wait_until_owned(
    processes: list[ServiceProcess], partitions: int, timeout_s: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout_s
    owned: list[float] = []
    while time.monotonic() < deadline:
        owned = [metric_of(p, "deskpemilu_validator_partitions_owned") for p in processes]
        if all(n == partitions for n in owned):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"partitions owned {owned}, not {partitions} each")


async def test_sigkill_one_of_two_validators_mid_stream_judges_every_form_once(
    kafka_bootstrap: str,
    scratch_database: str,
    pemilu: ElectionRoster,
    topic_cleanup: list[Topics],
    tmp_path: Path,
) -> None:
    env = stack_env(
        kafka_bootstrap,
        scratch_database,
        VALIDATOR_SESSION_TIMEOUT_MS="6000",  # the broker's minimum: a fast takeover
        VALIDATOR_MAX_BATCH="500",
    )
    topics = await make_topics(kafka_bootstrap, env, topic_cleanup, partitions=PARTITIONS)
    codes = itertools.cycle(sorted(pemilu.tps))
    subs = []
    for i in range(FORMS):
        form = consistent_form(pemilu, next(codes), Contest.PPWP)
        if i % REJECTED_EVERY == 0:
            form = form.model_copy(update={"suara_sah": form.suara_sah + 1})
        subs.append(submission(form))
    records = [key_value(sub) for sub in subs]

    first = ServiceProcess("validator", {**env, "VALIDATOR_INSTANCE_ID": "a"}, tmp_path / "a.log")
    second = ServiceProcess("validator", {**env, "VALIDATOR_INSTANCE_ID": "b"}, tmp_path / "b.log")
    first.start()
    second.start()
    restarted: ServiceProcess | None = None
    try:
        # Both in the group before the stream starts: the first alone can judge all of it
        # before the second has joined.
        await _wait_until_owned([first, second], PARTITIONS // 2)
        stream = asyncio.create_task(_stream(kafka_bootstrap, topics.received, records))
        await _wait_until_judged(second)
        # Well into the stream, with a batch of its likely in flight.
        await _wait_until_judged(first, FORMS // 6)
        judged_by_first = metric_of(first, "deskpemilu_consumer_records_total", service="validator")
        first.kill()  # SIGKILL while the stream is still coming in
        killed_at = time.monotonic()
        await stream
        assert judged_by_first < FORMS, "the kill came after the stream was done"
        # Back again under the same per-partition transactional ids: it fences the survivor
        # for the partitions it is given.
        restarted = ServiceProcess(
            "validator", {**env, "VALIDATOR_INSTANCE_ID": "a"}, tmp_path / "a2.log"
        ).start()
        outputs = await read_outputs(
            kafka_bootstrap,
            topics,
            lambda out: total(out) >= FORMS,
            partitions=PARTITIONS,
            timeout_s=90,
        )
        took = time.monotonic() - killed_at
        await asyncio.sleep(2.0)  # a late duplicate would show up now
        outputs = await read_outputs(
            kafka_bootstrap,
            topics,
            lambda out: total(out) > FORMS,
            partitions=PARTITIONS,
            timeout_s=3,
        )
        everything = await read_outputs(
            kafka_bootstrap,
            topics,
            lambda out: False,
            partitions=PARTITIONS,
            timeout_s=3,
            isolation_level="read_uncommitted",
        )
    finally:
        first.kill()
        second_code = second.stop()
        restarted_code = restarted.stop() if restarted is not None else None
    assert (second_code, restarted_code) == (0, 0), second.log_tail() + restarted.log_tail()

    judged = Counter(
        str(SubmissionValidated.model_validate_json(v).submission.submission_id)
        for _, v in outputs[topics.validated]
    )
    judged.update(
        str(SubmissionRejected.model_validate_json(v).submission.submission_id)
        for _, v in outputs[topics.rejected]
    )
    assert outputs[topics.dlq] == []
    missing = {str(s.submission_id) for s in subs} - judged.keys()
    repeated = {sid: n for sid, n in judged.items() if n > 1}
    assert not missing, f"{len(missing)} forms never judged"
    if repeated:
        where = await _where_judged(kafka_bootstrap, topics, set(repeated))
        logs = "\n".join(
            f"--- {proc.log_path.name}\n{_rebalance_lines(proc.log_path)}"
            for proc in (first, second, restarted)
            if proc is not None
        )
        raise AssertionError(f"{len(repeated)} forms judged more than once:\n{where}\n{logs}")
    assert len(outputs[topics.rejected]) == FORMS // REJECTED_EVERY
    aborted = total(everything) - total(outputs)
    print(
        f"\n{FORMS} forms, first validator judged {judged_by_first:.0f} before SIGKILL, "
        f"all verdicts committed {took:.1f}s after the kill; "
        f"{aborted} verdicts of aborted transactions hidden from read_committed"
    )


async def _where_judged(bootstrap: str, topics: Topics, ids: set[str]) -> str:
    """For a failure message: each committed verdict of the given forms, with its position and
    stamp, and how often the form is on the received topic (two verdicts with different stamps
    came from two batches; a form received twice is the input's duplicate, not the validator's).
    """
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    seen: dict[str, list[str]] = {sid: [] for sid in ids}
    try:
        names = [topics.received, topics.validated, topics.rejected]
        parts = [TopicPartition(n, p) for n in names for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        ends = await consumer.end_offsets(parts)
        unread = set(parts)
        while unread:
            batch = await consumer.getmany(timeout_ms=500)
            if not batch:
                break
            for tp in list(unread):
                if await consumer.position(tp) >= ends[tp]:
                    unread.discard(tp)
            for tp, records in batch.items():
                for r in records:
                    event = json.loads(r.value)
                    sid = str(event.get("submission", event).get("submission_id"))
                    if sid in seen:
                        stamp = event.get("validated_at") or event.get("rejected_at") or "input"
                        topic = tp.topic.rsplit(".", 2)[-2]
                        seen[sid].append(f"{topic}/{tp.partition}@{r.offset} {stamp}")
    finally:
        await consumer.stop()
    return "\n".join(f"{sid}: {', '.join(places)}" for sid, places in sorted(seen.items()))


def _rebalance_lines(path: Path) -> str:
    lines = path.read_text(errors="replace").splitlines() if path.exists() else []
    keep = ("partitions", "transaction", "Fenced", "fenced", "rror", "Revoking", "Setting")
    return "\n".join(line for line in lines if any(k in line for k in keep))[-6000:]


async def _member(
    bootstrap: str, group: str, topic: str
) -> tuple[AIOKafkaConsumer, PartitionTransactions]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    txns = PartitionTransactions(
        consumer, bootstrap_servers=bootstrap, group_id=group, transaction_timeout_ms=60_000
    )
    await consumer.start()
    consumer.subscribe([topic], listener=txns)
    return consumer, txns


async def _assigned(txns: PartitionTransactions, tp: TopicPartition) -> None:
    for _ in range(300):
        if txns.owns(tp):
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"{tp} never assigned")


async def test_a_zombie_is_fenced_when_its_partition_moves(
    kafka_bootstrap: str,
    scratch_database: str,
    pemilu: ElectionRoster,
    topic_cleanup: list[Topics],
    group_id: str,
) -> None:
    # A validator that lost its partition while a transaction was open (a long GC pause, a
    # network split) must not be able to commit it once the new owner has taken over.
    env = stack_env(kafka_bootstrap, scratch_database)
    topics = await make_topics(kafka_bootstrap, env, topic_cleanup, partitions=1)
    tp = TopicPartition(topics.received, 0)
    subs = [
        submission(consistent_form(pemilu, code, Contest.PPWP)) for code in sorted(pemilu.tps)[:10]
    ]
    await produce(kafka_bootstrap, topics.received, [key_value(s) for s in subs], partition=0)

    zombie_consumer, zombie = await _member(kafka_bootstrap, group_id, topics.received)
    await _assigned(zombie, tp)
    zombie_producer = zombie.producer(tp)
    await zombie_producer.begin_transaction()
    for _ in subs:
        await zombie_producer.send(
            topics.validated, key=b"zombie", value=b"zombie verdict", partition=0
        )
    await zombie_producer.send_offsets_to_transaction({tp: len(subs)}, group_id)
    await zombie_producer.flush()  # its verdicts are in the log, uncommitted
    await zombie_consumer.stop()  # out of the group, its transaction still open

    cache = RosterCache(scratch_database, poll_seconds=60)
    await cache.load()
    heir_consumer, heir = await _member(kafka_bootstrap, group_id, topics.received)
    stop = asyncio.Event()
    judge = BatchJudge(cache, heir, output_topics(topics))
    loop = asyncio.create_task(
        run_batches(heir_consumer, judge.handle, stop, service="test", commit=False)
    )
    try:
        outputs = await read_outputs(
            kafka_bootstrap, topics, lambda out: total(out) >= len(subs), partitions=1
        )
        with pytest.raises(ProducerFenced):
            await zombie_producer.commit_transaction()
        await asyncio.sleep(1.0)
        outputs = await read_outputs(
            kafka_bootstrap, topics, lambda out: total(out) > len(subs), partitions=1, timeout_s=3
        )
        everything = await read_outputs(
            kafka_bootstrap,
            topics,
            lambda out: False,
            partitions=1,
            timeout_s=3,
            isolation_level="read_uncommitted",
        )
    finally:
        stop.set()
        await loop
        await heir.drain()
        await heir_consumer.stop()
        await heir.close()
        await zombie_producer.stop()
        await zombie.close()
        await cache.close()
    verdicts = [SubmissionValidated.model_validate_json(v) for _, v in outputs[topics.validated]]
    assert sorted(str(v.submission.submission_id) for v in verdicts) == sorted(
        str(s.submission_id) for s in subs
    )
    assert sum(1 for k, _ in everything[topics.validated] if k == b"zombie") == len(subs)


class _CountingTransactions(PartitionTransactions):
    """Counts completed assignments, so a test knows when a rebalance is over."""

    assignments = 0

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        await super().on_partitions_assigned(assigned)
        self.assignments += 1


class _HeldRebalance(_CountingTransactions):
    """Holds the next assignment until the test lets it go, and commits slowly: the window in
    which a batch fetched before the rebalance is judged after the revocation, and its
    transaction is still open when the new assignment reads the committed offsets."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.revoked = asyncio.Event()
        self.release = asyncio.Event()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await super().on_partitions_revoked(revoked)
        if self.assignments:
            self.revoked.set()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        if self.assignments:
            await self.release.wait()
        await super().on_partitions_assigned(assigned)

    async def _publish(self, tp: TopicPartition, outputs: Iterable[Output], offset: int) -> None:
        await asyncio.sleep(0.5)  # a loaded machine
        await super()._publish(tp, outputs, offset)


class _LaggingConsumer(AIOKafkaConsumer):  # type: ignore[misc]
    """Reports the committed offsets the test sets, as the broker does until the transaction
    coordinator has written the markers of a transaction commit_transaction() returned from."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stale: dict[TopicPartition, int] = {}

    async def committed(self, partition: TopicPartition) -> int | None:
        if partition in self.stale:
            return self.stale[partition]
        offset: int | None = await super().committed(partition)
        return offset


@pytest.mark.parametrize(
    "when",
    [
        # The consumer seeks back to the committed offset on every assignment, so records it
        # had already fetched come again, while the batch judged from them may still commit.
        "after",
        # The batch waits for the revocation and is handed over before the partition comes
        # back: judged then, its transaction could still be open when the new assignment reads
        # the committed offset, which would not count it yet.
        "during",
        # commit_transaction() returns before the coordinator has written the markers that make
        # the offsets visible: an assignment reading the committed offset then would go back
        # to the one before.
        "stale",
    ],
)
async def test_a_batch_around_a_rebalance_is_judged_once(
    kafka_bootstrap: str,
    scratch_database: str,
    pemilu: ElectionRoster,
    topic_cleanup: list[Topics],
    new_topic: TopicFactory,
    group_id: str,
    when: Literal["after", "during", "stale"],
) -> None:
    """15 forms on one partition; the validator judges the first 5 and fetches the next 5, then
    a second member joins the group (on another topic: the range assignor leaves the partition
    where it is). The fetched batch is judged after the rebalance; or during it, between the
    revocation and the next assignment; or (stale) before it, and the broker still reports the
    offset committed before that batch when the partition is assigned again. Every form must be
    judged exactly once."""
    env = stack_env(kafka_bootstrap, scratch_database)
    topics = await make_topics(kafka_bootstrap, env, topic_cleanup, partitions=1)
    tp = TopicPartition(topics.received, 0)
    subs = [
        submission(consistent_form(pemilu, code, Contest.PPWP)) for code in sorted(pemilu.tps)[:15]
    ]
    await produce(kafka_bootstrap, topics.received, [key_value(s) for s in subs], partition=0)

    cache = RosterCache(scratch_database, poll_seconds=60)
    await cache.load()
    consumer = _LaggingConsumer(
        bootstrap_servers=kafka_bootstrap,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    kind = _HeldRebalance if when == "during" else _CountingTransactions
    txns = kind(
        consumer,
        bootstrap_servers=kafka_bootstrap,
        group_id=group_id,
        transaction_timeout_ms=60_000,
    )
    await consumer.start()
    consumer.subscribe([topics.received], listener=txns)
    judge = BatchJudge(cache, txns, output_topics(topics))
    other_topic = await new_topic("other", partitions=1)
    other = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=group_id)
    stop = asyncio.Event()
    loop: asyncio.Task[None] | None = None
    joining: asyncio.Task[None] | None = None

    async def poll_other() -> None:
        while not stop.is_set():
            await other.getmany(timeout_ms=100)

    try:
        await _assigned(txns, tp)
        first = (await consumer.getmany(tp, timeout_ms=10_000, max_records=5))[tp]
        await judge.handle(first)  # its transaction is now in flight
        second = (await consumer.getmany(tp, timeout_ms=10_000, max_records=5))[tp]
        assert [r.offset for r in second] == [5, 6, 7, 8, 9]
        if when == "stale":
            await judge.handle(second)
            await txns.drain()
            consumer.stale = {tp: 5}
        await other.start()
        other.subscribe([other_topic])
        joining = asyncio.create_task(poll_other())
        if isinstance(txns, _HeldRebalance):
            await asyncio.wait_for(txns.revoked.wait(), 30)
            await judge.handle(second)  # revoked, not yet assigned again
            txns.release.set()
        else:
            for _ in range(300):
                if txns.assignments >= 2:
                    break
                await asyncio.sleep(0.1)
            assert txns.assignments >= 2, "no rebalance happened"
            if when == "after":
                await judge.handle(second)  # fetched before the rebalance, judged after it
        loop = asyncio.create_task(
            run_batches(consumer, judge.handle, stop, service="test", commit=False)
        )
        outputs = await read_outputs(
            kafka_bootstrap, topics, lambda out: total(out) >= len(subs), partitions=1
        )
        await asyncio.sleep(1.5)
        outputs = await read_outputs(
            kafka_bootstrap, topics, lambda out: total(out) > len(subs), partitions=1, timeout_s=3
        )
    finally:
        stop.set()
        if isinstance(txns, _HeldRebalance):
            txns.release.set()
        if loop is not None:
            await loop
        if joining is not None:
            await joining
        await txns.drain()
        await other.stop()
        await consumer.stop()
        await txns.close()
        await cache.close()
    assert txns.assignments >= 2, "no rebalance happened"
    judged = Counter(
        str(SubmissionValidated.model_validate_json(v).submission.submission_id)
        for _, v in outputs[topics.validated]
    )
    assert judged == Counter(str(s.submission_id) for s in subs)
