"""Rebuild: the real validator and aggregator fill the projections; a replay equals them."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import asyncpg
import pytest

from deskpemilu.roster_load import load_roster
from services.aggregator.rebuild import RebuildRefused, rebuild
from services.aggregator.settings import AggregatorSettings
from shared.codec import encode, key_for_tps
from shared.db import connect
from shared.events import Channel, OperatorRef, ReviewDecided, Role, SubmissionReceived
from shared.form import CHasil, Contest
from shared.kafka import ensure_topics, make_producer
from shared.topics import Topics
from tests.integration.test_aggregator_crash import delete_topics
from tests.integration.test_aggregator_repository import assert_projections_consistent
from tests.procs import REPO_ROOT, ServiceProcess, stack_env

pytestmark = pytest.mark.integration


ROSTER = REPO_ROOT / "data" / "rosters" / "pemilu-2024-banyuasin"
ELECTION = "pemilu-2024"
T0 = datetime(2024, 2, 14, 13, 0, tzinfo=UTC)
ADMIN = OperatorRef(id="admin", role=Role.ADMIN)


def kecamatan(tps: str) -> str:
    return tps[:8]


def operator(tps: str, n: int = 1) -> OperatorRef:
    return OperatorRef(id=f"op{n}-{kecamatan(tps)}", role=Role.OPERATOR, scope=(kecamatan(tps),))


def camat(tps: str) -> OperatorRef:
    return OperatorRef(id=f"camat-{kecamatan(tps)}", role=Role.CAMAT, scope=(kecamatan(tps),))


class Feed:
    """Received events for a few hundred Banyuasin TPS: valid, invalid, revised, disputed."""

    def __init__(self, tps: list[str], seed: int) -> None:
        self.rng = random.Random(seed)
        self.tps = tps
        self.n = seed * 100_000
        self.sent: dict[str, list[SubmissionReceived]] = {}
        self.submissions = 0
        self.reviews = 0

    def _form(self, tps: str, broken: bool = False, partial: bool = False) -> CHasil:
        # partial: paslon 3 left out, a CANDIDATE_MISSING warning (an anomaly to resolve).
        votes = {no: self.rng.randint(0, 40) for no in ((1, 2) if partial else (1, 2, 3))}
        return CHasil(
            election=ELECTION,
            contest=Contest.PPWP,
            tps=tps,
            suara_calon=votes,
            suara_sah=sum(votes.values()) + (1 if broken else 0),  # SAH_SUM when broken
            suara_tidak_sah=self.rng.randint(0, 5),
        )

    def _received(self, who: OperatorRef, form: CHasil) -> SubmissionReceived:
        self.n += 1
        self.submissions += 1
        sub = SubmissionReceived(
            submission_id=UUID(int=self.n),
            received_at=T0 + timedelta(seconds=self.n % 100_000),
            channel=Channel.API,
            operator=who,
            idempotency_key=f"rebuild-{self.n}",
            form=form,
        )
        self.sent.setdefault(form.tps, []).append(sub)
        return sub

    def events(self, count: int) -> list[tuple[str, bytes]]:
        out: list[tuple[str, bytes]] = []
        for _ in range(count):
            tps = self.rng.choice(self.tps)
            roll = self.rng.random()
            history = self.sent.get(tps)
            if not history or roll < 0.4:
                partial = self.rng.random() < 0.3
                event: Any = self._received(operator(tps), self._form(tps, partial=partial))
            elif roll < 0.5:
                event = self._received(operator(tps), self._form(tps, broken=True))
            elif roll < 0.65:
                event = self._received(operator(tps), self._form(tps))  # revision
            elif roll < 0.8:
                event = self._received(operator(tps, 2), self._form(tps))  # conflict
            elif roll < 0.85:
                event = self._received(camat(tps), self._form(tps))
            elif roll < 0.9:
                event = history[-1]  # the same submission again
            else:
                self.n += 1
                self.reviews += 1
                verify = self.rng.random() < 0.4
                event = ReviewDecided(
                    decision_id=UUID(int=self.n),
                    decided_at=T0 + timedelta(hours=1, seconds=self.n % 100_000),
                    reviewer=self.rng.choice([camat(tps), ADMIN]),
                    election=ELECTION,
                    contest=Contest.PPWP,
                    tps=tps,
                    action="verify" if verify else "accept_version",
                    submission_id=None if verify else self.rng.choice(history).submission_id,
                )
            out.append((tps, encode(event)))
        return out


async def produce(bootstrap: str, topic: str, events: list[tuple[str, bytes]]) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for tps, value in events:
            await producer.send(topic, value, key=key_for_tps(tps))
        await producer.send(topic, b"not json", key=b"junk")  # the validator's DLQ takes it
        await producer.flush()
    finally:
        await producer.stop()


Snapshot = dict[str, list[tuple[Any, ...]]]
QUERIES = {
    "area_totals": "SELECT election, contest, area_code, candidate, sum(votes) FROM area_totals "
    "GROUP BY 1, 2, 3, 4 HAVING sum(votes) <> 0 ORDER BY 1, 2, 3, 4",
    "area_summary": "SELECT election, contest, area_code, sum(suara_sah), sum(suara_tidak_sah), "
    "sum(pengguna), sum(tps_reported), sum(tps_total), sum(dpt_reported), sum(dpt_total) "
    "FROM area_summary GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    "tps_results": "SELECT election, contest, tps, submission_id, votes::text, suara_sah, "
    "suara_tidak_sah, status, version, operator_id, form_digest FROM tps_results ORDER BY 1, 2, 3",
    "submissions": "SELECT submission_id, status, form::text, violations::text FROM submissions "
    "ORDER BY 1",
    # Row ids interleave TPS differently in a replay; the order within one TPS is what counts.
    "history": "SELECT election, contest, tps, array_agg(ARRAY[coalesce(version::text, '-'), "
    "submission_id::text, decision, operator_id] ORDER BY id) FROM tps_result_versions "
    "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
    "anomalies": "SELECT election, contest, tps, code, submission_id, resolved_at, resolved_by "
    "FROM anomalies ORDER BY 1, 2, 3, 4, 5",
    "reviews": "SELECT decision_id, action, submission_id FROM review_decisions ORDER BY 1",
}


async def snapshot(conn: asyncpg.Connection) -> Snapshot:
    return {name: [tuple(r) for r in await conn.fetch(q)] for name, q in QUERIES.items()}


async def wait_for(
    check: Callable[[], Any], what: Callable[[], Any], timeout_s: float = 90
) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {await what()}")
        await asyncio.sleep(0.2)


async def settled(conn: asyncpg.Connection, submissions: int) -> bool:
    """Every submission is stored and nothing changed over the last half second."""
    if await conn.fetchval("SELECT count(*) FROM submissions") < submissions:
        return False
    before = await snapshot(conn)
    await asyncio.sleep(0.5)
    return before == await snapshot(conn)


async def progress(conn: asyncpg.Connection, wanted: int, *services: ServiceProcess) -> str:
    stored = await conn.fetchval("SELECT count(*) FROM submissions")
    offsets = await conn.fetch("SELECT topic, partition, next_offset FROM consumer_offsets")
    tails = "\n".join(f"--- {s.name}:\n{s.log_tail(15)}" for s in services)
    return (
        f"{stored} of {wanted} submissions stored; offsets {[tuple(o) for o in offsets]}\n{tails}"
    )


@pytest.mark.timeout(240)
async def test_rebuild_reproduces_every_projection(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    conn = await connect(scratch_database)
    await load_roster(conn, ROSTER)
    codes = [r["code"] for r in await conn.fetch("SELECT code FROM tps ORDER BY code LIMIT 300")]
    env = stack_env(kafka_bootstrap, scratch_database, AGGREGATOR_MAX_BATCH="200")
    topics = Topics(env["TOPIC_PREFIX"])
    await ensure_topics(kafka_bootstrap, partitions=4, replication_factor=1, topics=topics.specs())
    feed = Feed(codes, seed=1)
    await produce(kafka_bootstrap, topics.received, feed.events(1500))
    validator = ServiceProcess("validator", env, tmp_path / "validator.log").start()
    aggregator = ServiceProcess("aggregator", env, tmp_path / "aggregator.log").start()
    settings = AggregatorSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        database_url=scratch_database,
        topic_prefix=env["TOPIC_PREFIX"],
    )
    try:
        distinct = len({s.submission_id for subs in feed.sent.values() for s in subs})
        await wait_for(
            lambda: settled(conn, distinct), lambda: progress(conn, distinct, validator, aggregator)
        )
        live = await snapshot(conn)
        await assert_projections_consistent(conn)
        statuses = {row[1] for row in live["submissions"]}
        assert {"accepted", "rejected", "revision", "conflict", "superseded"} <= statuses
        assert live["reviews"], "some review decisions applied"
        resolved_by = [row[6] for row in live["anomalies"]]
        assert None in resolved_by, "some anomalies open"
        assert set(resolved_by) - {None}, "some anomalies resolved by a verify decision"

        with pytest.raises(RebuildRefused):
            await rebuild(settings)
        assert aggregator.stop() == 0, aggregator.log_tail()

        messages: list[str] = []
        report = await rebuild(settings, progress=messages.append)
        assert report.records == 1500 + 1
        assert report.dead_letters == 1
        rebuilt = await snapshot(conn)
        for name in QUERIES:
            assert rebuilt[name] == live[name], name
        assert messages[-1].startswith("rebuild done")

        # The aggregator resumes after the replay: new forms count once, old ones stay put.
        aggregator.start()
        more = Feed(codes, seed=2)
        await produce(kafka_bootstrap, topics.received, more.events(300))
        new = len({s.submission_id for subs in more.sent.values() for s in subs})
        await wait_for(
            lambda: settled(conn, distinct + new),
            lambda: progress(conn, distinct + new, validator, aggregator),
        )
        await assert_projections_consistent(conn)
        after = await snapshot(conn)
        after_ids = [row[0] for row in after["submissions"]]
        assert len(after_ids) == len(set(after_ids)) == distinct + new
        assert {row[0] for row in live["submissions"]} <= set(after_ids)
    finally:
        aggregator.kill()
        validator.kill()
        await conn.close()
        await delete_topics(kafka_bootstrap, topics)
