"""Exactly-once shown: SIGKILL the real aggregator many times; totals equal an independent model.

Thousands of validated forms (with Kafka-level repeats, identical resends, revisions, conflicts,
camat overrides, review decisions and rejections) go to a fresh prefixed topic set in waves; the
aggregator process is started and SIGKILLed at random moments between and during the waves. At
the end every area's totals and progress must equal what a plain sequential model of the policy,
written here without importing the aggregator, computes from the same inputs.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from benchmarks.aggregator_bench import synthetic_tree, write_synthetic_roster
from shared.codec import encode, key_for_tps
from shared.db import connect
from shared.events import (
    Channel,
    OperatorRef,
    ReviewDecided,
    Role,
    Severity,
    SubmissionReceived,
    SubmissionRejected,
    SubmissionValidated,
    Violation,
)
from shared.form import CHasil, Contest, SuaraPartai
from shared.kafka import ensure_topics, make_producer
from shared.topics import Topics
from tests.procs import ServiceProcess, stack_env

pytestmark = pytest.mark.integration


async def delete_topics(bootstrap: str, topics: Topics) -> None:
    """Drop the test's prefixed topics from the shared broker."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([spec.name for spec in topics.specs()])
    finally:
        await admin.close()


ELECTION = "pemilu-2024"
CONTESTS = (Contest.PPWP, Contest.DPR)
TREE = synthetic_tree(1, 2, 6, 24, 160, seed=3)
TPS_DPT = {code: dpt_l + dpt_p for code, _, _, dpt_l, dpt_p in TREE.tps}
WAVES = 12
EVENTS_PER_WAVE = 400
T0 = datetime(2024, 2, 14, 13, 0, tzinfo=UTC)
ADMIN = OperatorRef(id="admin", role=Role.ADMIN)


def ancestors(tps: str) -> list[str]:
    parts = tps.split(".")
    return [".".join(parts[:n]) for n in (4, 3, 2, 1)]


def home_operator(tps: str) -> OperatorRef:
    kecamatan = ".".join(tps.split(".")[:3])
    return OperatorRef(id=f"op-{kecamatan}", role=Role.OPERATOR, scope=(kecamatan,))


def other_operator(rng: random.Random) -> OperatorRef:
    return OperatorRef(id=f"relawan-{rng.randint(1, 3)}", role=Role.OPERATOR, scope=("11",))


def camat(tps: str) -> OperatorRef:
    kecamatan = ".".join(tps.split(".")[:3])
    return OperatorRef(id=f"camat-{kecamatan}", role=Role.CAMAT, scope=(kecamatan,))


def make_form(contest: Contest, tps: str, lines: dict[int, int], tidak_sah: int) -> CHasil:
    if contest.is_party_list:
        parties = [SuaraPartai(nomor_partai=n, suara_partai=v, jumlah=v) for n, v in lines.items()]
        votes: dict[str, object] = {"suara_partai": parties}
    else:
        votes = {"suara_calon": lines}
    return CHasil.model_validate(
        {
            "election": ELECTION,
            "contest": contest,
            "tps": tps,
            "suara_sah": sum(lines.values()),
            "suara_tidak_sah": tidak_sah,
            **votes,
        }
    )


# ---- the independent model: one event at a time, the policy as the issue states it ---------


@dataclass
class Counted:
    submission_id: UUID
    operator_id: str
    lines: dict[str, int]
    tidak_sah: int


@dataclass
class Model:
    current: dict[tuple[str, str], Counted] = field(default_factory=dict)
    forms: dict[UUID, tuple[tuple[str, str], Counted]] = field(default_factory=dict)
    reviews: set[UUID] = field(default_factory=set)

    def form(self, sub: SubmissionReceived) -> None:
        if sub.submission_id in self.forms:
            return  # the same submission again
        key = (sub.form.contest.value, sub.form.tps)
        new = Counted(
            sub.submission_id,
            sub.operator.id,
            sub.form.votes_by_candidate(),
            sub.form.suara_tidak_sah,
        )
        self.forms[sub.submission_id] = (key, new)
        old = self.current.get(key)
        same_numbers = old is not None and (old.lines, old.tidak_sah) == (
            new.lines,
            new.tidak_sah,
        )
        if old is None:
            self.current[key] = new
        elif same_numbers:
            pass  # duplicate: these test forms hold nothing but the counted numbers
        elif sub.operator.id == old.operator_id or sub.operator.role in (Role.CAMAT, Role.ADMIN):
            self.current[key] = new  # revision
        # else: conflict, the earlier numbers stay counted

    def review(self, decision: ReviewDecided) -> None:
        key = (decision.contest.value, decision.tps)
        if decision.decision_id in self.reviews or key not in self.current:
            return
        if decision.reviewer.role not in (Role.CAMAT, Role.ADMIN):
            return
        if decision.action == "accept_version":
            target = self.forms.get(decision.submission_id) if decision.submission_id else None
            if target is None or target[0] != key:
                return
            self.current[key] = target[1]
        self.reviews.add(decision.decision_id)

    def totals(self) -> dict[tuple[str, str, str], int]:
        out: Counter[tuple[str, str, str]] = Counter()
        for (contest, tps), counted in self.current.items():
            for area in ancestors(tps):
                for line, votes in counted.lines.items():
                    out[(contest, area, line)] += votes
        return {k: v for k, v in out.items() if v}

    def summaries(self) -> dict[tuple[str, str], tuple[int, int, int, int, int]]:
        out: dict[tuple[str, str], list[int]] = {}
        for (contest, tps), counted in self.current.items():
            sah = sum(counted.lines.values())
            for area in ancestors(tps):
                row = out.setdefault((contest, area), [0, 0, 0, 0, 0])
                row[0] += sah
                row[1] += counted.tidak_sah
                row[2] += sah + counted.tidak_sah
                row[3] += 1
                row[4] += TPS_DPT[tps]
        return {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in out.items()}


# ---- the stream ------------------------------------------------------------------------------


@dataclass
class Stream:
    """Generates waves of events and feeds the model in the order they are produced."""

    rng: random.Random
    model: Model = field(default_factory=Model)
    n: int = 0
    sent: dict[tuple[str, str], list[SubmissionReceived]] = field(default_factory=dict)
    kinds: Counter[str] = field(default_factory=Counter)

    def _received(self, operator: OperatorRef, form: CHasil) -> SubmissionReceived:
        self.n += 1
        return SubmissionReceived(
            submission_id=UUID(int=self.n),
            received_at=T0 + timedelta(seconds=self.n),
            channel=Channel.WHATSAPP,
            operator=operator,
            idempotency_key=f"crash-{self.n}",
            form=form,
        )

    def _lines(self, contest: Contest) -> dict[int, int]:
        count = 3 if contest is Contest.PPWP else 6
        return {no: self.rng.randint(0, 60) for no in range(1, count + 1)}

    def wave(self, size: int) -> list[tuple[str, str, bytes]]:
        """(topic kind, tps, value) in production order."""
        out: list[tuple[str, str, bytes]] = []
        while len(out) < size:
            contest = self.rng.choice(CONTESTS)
            tps = self.rng.choice(TREE.tps)[0]
            key = (contest.value, tps)
            history = self.sent.get(key, [])
            roll = self.rng.random()
            if not history or roll < 0.25:
                kind, operator = "first_or_more", home_operator(tps)
                form = make_form(contest, tps, self._lines(contest), self.rng.randint(0, 9))
            elif roll < 0.35:
                kind = "kafka_repeat"
                sub = self.rng.choice(history)
                out.append(("validated", tps, self._validated(sub)))
                self.model.form(sub)
                self.kinds[kind] += 1
                continue
            elif roll < 0.45:
                kind, operator = "identical_resend", other_operator(self.rng)
                form = self.rng.choice(history).form
            elif roll < 0.6:
                kind, operator = "revision", home_operator(tps)
                form = make_form(contest, tps, self._lines(contest), self.rng.randint(0, 9))
            elif roll < 0.75:
                kind, operator = "conflict", other_operator(self.rng)
                form = make_form(contest, tps, self._lines(contest), self.rng.randint(0, 9))
            elif roll < 0.8:
                kind, operator = "camat_override", self.rng.choice([camat(tps), ADMIN])
                form = make_form(contest, tps, self._lines(contest), self.rng.randint(0, 9))
            elif roll < 0.9:
                kind = "review"
                decision = self._review(contest, tps, history)
                value = encode(decision)
                out.append(("validated", tps, value))
                self.model.review(decision)
                if self.rng.random() < 0.2:
                    out.append(("validated", tps, value))  # the same decision twice
                self.kinds[kind] += 1
                continue
            else:
                kind = "rejected"
                sub = self._received(home_operator(tps), history[0].form)
                violation = Violation(
                    code="SAH_SUM", severity=Severity.ERROR, pesan="p", message="m"
                )
                rejected = SubmissionRejected(
                    submission=sub, violations=(violation,), rejected_at=sub.received_at
                )
                out.append(("rejected", tps, encode(rejected)))
                self.kinds[kind] += 1
                continue
            sub = self._received(operator, form)
            self.sent.setdefault(key, []).append(sub)
            out.append(("validated", tps, self._validated(sub)))
            self.model.form(sub)
            self.kinds[kind] += 1
        return out

    def _validated(self, sub: SubmissionReceived) -> bytes:
        return encode(SubmissionValidated(submission=sub, validated_at=sub.received_at))

    def _review(
        self, contest: Contest, tps: str, history: list[SubmissionReceived]
    ) -> ReviewDecided:
        self.n += 1
        action = "accept_version" if self.rng.random() < 0.7 else "verify"
        target = self.rng.choice(history).submission_id if action == "accept_version" else None
        if action == "accept_version" and self.rng.random() < 0.1:
            target = UUID(int=self.rng.randint(1, self.n))  # maybe another TPS's form
        reviewer = self.rng.choice([camat(tps), ADMIN, home_operator(tps)])
        return ReviewDecided(
            decision_id=UUID(int=10**9 + self.n),
            decided_at=T0 + timedelta(seconds=self.n),
            reviewer=reviewer,
            election=ELECTION,
            contest=contest,
            tps=tps,
            action=action,
            submission_id=target,
        )


class EndOffsets:
    """High watermarks of the aggregator's topics, from one group-less consumer."""

    def __init__(self, bootstrap: str, topics: list[str], partitions: int) -> None:
        self.consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self.partitions = [TopicPartition(t, p) for t in topics for p in range(partitions)]

    async def start(self) -> None:
        await self.consumer.start()
        self.consumer.assign(self.partitions)

    async def read(self) -> dict[tuple[str, int], int]:
        ends = await self.consumer.end_offsets(self.partitions)
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    async def stop(self) -> None:
        await self.consumer.stop()


async def stored(conn: asyncpg.Connection, group: str) -> dict[tuple[str, int], int]:
    rows = await conn.fetch(
        "SELECT topic, partition, next_offset FROM consumer_offsets WHERE consumer_group = $1",
        group,
    )
    return {(r["topic"], r["partition"]): r["next_offset"] for r in rows}


def behind(ends: dict[tuple[str, int], int], done: dict[tuple[str, int], int]) -> int:
    return sum(max(0, end - done.get(tp, 0)) for tp, end in ends.items())


@pytest.mark.timeout(240)
async def test_totals_are_exact_after_many_sigkills(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    rng = random.Random(20240214)
    env = stack_env(
        kafka_bootstrap,
        scratch_database,
        AGGREGATOR_INSTANCE_ID="crash-test-1",
        AGGREGATOR_SESSION_TIMEOUT_MS="6000",
        AGGREGATOR_MAX_BATCH="50",  # many small transactions: most kills land mid-wave
        AGGREGATOR_LANES="2",  # two concurrent transactions per batch: a kill may land between
    )
    topics = Topics(env["TOPIC_PREFIX"])
    group = env["TOPIC_PREFIX"] + "aggregator"
    await ensure_topics(kafka_bootstrap, partitions=4, replication_factor=1, topics=topics.specs())
    end_offsets = EndOffsets(kafka_bootstrap, [topics.validated, topics.rejected], 4)
    await end_offsets.start()
    conn = await connect(scratch_database)
    await write_synthetic_roster(conn, TREE, election=ELECTION, contests=CONTESTS)
    stream = Stream(rng)
    producer = make_producer(kafka_bootstrap)
    await producer.start()
    aggregator = ServiceProcess("aggregator", env, tmp_path / "aggregator.log")
    kills = kills_with_work_pending = produced = 0
    started = time.monotonic()
    try:
        for _ in range(WAVES):
            for kind, tps, value in stream.wave(EVENTS_PER_WAVE):
                topic = topics.validated if kind == "validated" else topics.rejected
                await producer.send(topic, value, key=key_for_tps(tps))
                produced += 1
            await producer.flush()
            ends = await end_offsets.read()
            await asyncio.to_thread(aggregator.start)
            if rng.random() < 0.25:
                await asyncio.sleep(rng.uniform(0, 1.0))  # maybe while joining the group
            else:
                # Somewhere inside the wave: once a random share of it is stored, give or take
                # a few milliseconds so that some kills land inside a batch transaction.
                target = behind(ends, await stored(conn, group)) * rng.uniform(0.1, 0.9)
                deadline = time.monotonic() + 30
                while behind(ends, await stored(conn, group)) > target:
                    assert time.monotonic() < deadline, aggregator.log_tail()
                    await asyncio.sleep(0.005)
                await asyncio.sleep(rng.uniform(0, 0.01))
            aggregator.kill()
            kills += 1
            kills_with_work_pending += behind(ends, await stored(conn, group)) > 0
        ends = await end_offsets.read()
        await asyncio.to_thread(aggregator.start)
        deadline = time.monotonic() + 90
        while behind(ends, await stored(conn, group)) > 0:
            assert time.monotonic() < deadline, aggregator.log_tail()
            await asyncio.sleep(0.2)
        assert aggregator.stop() == 0, aggregator.log_tail()

        kept_totals = {
            (r["contest"], r["area_code"], r["candidate"]): r["votes"]
            for r in await conn.fetch(
                "SELECT contest, area_code, candidate, sum(votes) AS votes FROM area_totals "
                "GROUP BY 1, 2, 3 HAVING sum(votes) <> 0"
            )
        }
        kept_summaries = {
            (r["contest"], r["area_code"]): tuple(r)[2:]
            for r in await conn.fetch(
                "SELECT contest, area_code, sum(suara_sah), sum(suara_tidak_sah), sum(pengguna), "
                "sum(tps_reported), sum(dpt_reported) FROM area_summary GROUP BY 1, 2 "
                "HAVING sum(tps_reported) > 0"
            )
        }
        counted = {
            (r["contest"], r["tps"]): r["submission_id"]
            for r in await conn.fetch("SELECT contest, tps, submission_id FROM tps_results")
        }
        expected_totals = stream.model.totals()
        expected_summaries = stream.model.summaries()
        differences = [
            (k, expected_totals.get(k), kept_totals.get(k))
            for k in expected_totals.keys() | kept_totals.keys()
            if expected_totals.get(k) != kept_totals.get(k)
        ] + [
            (k, expected_summaries.get(k), kept_summaries.get(k))
            for k in expected_summaries.keys() | kept_summaries.keys()
            if expected_summaries.get(k) != kept_summaries.get(k)
        ]
        expected_counted = {k: c.submission_id for k, c in stream.model.current.items()}
        print(
            f"\ncrash test: {produced} events ({dict(stream.kinds)}), {kills} SIGKILLs "
            f"({kills_with_work_pending} with work pending), "
            f"{len(expected_totals)} area lines and {len(expected_summaries)} area rows compared, "
            f"{len(differences)} differences, {time.monotonic() - started:.0f} s"
        )
        assert differences == []
        assert counted == expected_counted
        assert kills >= 10 and kills_with_work_pending >= 3
        # Every record was applied exactly once: each submission is stored once, with its offset.
        assert (
            await conn.fetchval("SELECT count(*) FROM submissions")
            == len(stream.model.forms) + stream.kinds["rejected"]
        )
    finally:
        aggregator.kill()
        await producer.stop()
        await end_offsets.stop()
        await conn.close()
        await delete_topics(kafka_bootstrap, topics)
