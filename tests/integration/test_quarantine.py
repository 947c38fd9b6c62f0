"""Quarantine through the aggregator's batch transaction on the real PostgreSQL: a hold takes a
TPS's numbers out of the stored totals (it stays reported), a release puts back exactly them."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import asyncpg
import pytest

from benchmarks.aggregator_bench import synthetic_tree, write_synthetic_roster
from deskpemilu.quickcount.rosters import roster_from_folder
from deskpemilu.roster_load import load_roster
from deskpemilu.simulator.detection import day_forms
from deskpemilu.simulator.manipulation import stuff
from services.aggregator.aggregation import FormIn, Incoming, Position, ReviewIn
from services.aggregator.aggregation import submission_of as to_submission
from services.aggregator.rebuild import rebuild
from services.aggregator.repository import apply_batch
from services.aggregator.settings import AggregatorSettings
from services.screener.consumer import screen_changed
from services.screener.screens import Action, ScreenConfig
from shared.codec import encode, key_for_tps
from shared.db import connect
from shared.events import Channel, OperatorRef, ReviewDecided, Role, SubmissionReceived
from shared.form import CHasil, Contest
from shared.kafka import ensure_topics, make_producer
from shared.topics import Topics
from tests.integration.test_aggregator_crash import delete_topics
from tests.integration.test_aggregator_rebuild import produce, progress, wait_for
from tests.integration.test_aggregator_repository import assert_projections_consistent
from tests.procs import REPO_ROOT, ServiceProcess, stack_env

pytestmark = pytest.mark.integration

ELECTION = "pemilu-2024"
TOPIC = "t.submissions.validated.v1"
T0 = datetime(2024, 2, 14, 13, 0, tzinfo=UTC)
OP = OperatorRef(id="op1", role=Role.OPERATOR, scope=("11",))
ADMIN = OperatorRef(id="admin", role=Role.ADMIN)
BANYUASIN = REPO_ROOT / "data" / "rosters" / "pemilu-2024-banyuasin"
TREE = synthetic_tree(1, 1, 2, 4, 12)
TPS = [row[0] for row in TREE.tps]
KABUPATEN = TPS[0][:5]

SUMMARY = """
SELECT sum(suara_sah) AS sah, sum(suara_tidak_sah) AS tidak_sah, sum(tps_reported) AS reported,
       (SELECT sum(votes) FROM area_totals
        WHERE election = $1 AND contest = 'PPWP' AND area_code = $2 AND candidate = 'c1') AS c1
FROM area_summary WHERE election = $1 AND contest = 'PPWP' AND area_code = $2
"""


@pytest.fixture
async def db(scratch_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(scratch_database)
    await write_synthetic_roster(conn, TREE, election=ELECTION, contests=[Contest.PPWP])
    yield conn
    await conn.close()


class Log:
    def __init__(self) -> None:
        self.offset = 0

    def _at(self) -> Position:
        self.offset += 1
        return Position(TOPIC, 0, self.offset - 1)

    def form(self, n: int, tps: str, c1: int) -> FormIn:
        chasil = CHasil(
            election=ELECTION,
            contest=Contest.PPWP,
            tps=tps,
            suara_calon={1: c1, 2: 100 - c1},
            suara_sah=100,
            suara_tidak_sah=4,
        )
        sub = SubmissionReceived(
            submission_id=UUID(int=n),
            received_at=T0 + timedelta(seconds=n),
            channel=Channel.API,
            operator=OP,
            idempotency_key=f"k{n}",
            form=chasil,
        )
        return FormIn(to_submission(sub), (), self._at())

    def decide(self, n: int, tps: str, action: str) -> ReviewIn:
        decided = ReviewDecided(
            decision_id=UUID(int=90_000 + n),
            decided_at=T0 + timedelta(hours=1, seconds=n),
            reviewer=ADMIN,
            election=ELECTION,
            contest=Contest.PPWP,
            tps=tps,
            action=action,
        )
        return ReviewIn(decided, self._at())


async def _summary(db: asyncpg.Connection) -> asyncpg.Record:
    row = await db.fetchrow(SUMMARY, ELECTION, KABUPATEN)
    assert row is not None
    return row


async def _apply(db: asyncpg.Connection, log: Log, events: list[Incoming]) -> None:
    await apply_batch(db, group="aggregator", events=events, next_offsets={(TOPIC, 0): log.offset})


async def test_hold_and_release_move_the_stored_totals_by_exactly_the_tps(
    db: asyncpg.Connection,
) -> None:
    log = Log()
    await _apply(db, log, [log.form(n + 1, tps, 30 + n) for n, tps in enumerate(TPS)])
    before = await _summary(db)
    assert before["reported"] == len(TPS) and before["sah"] == 100 * len(TPS)

    held = TPS[5]
    await _apply(db, log, [log.decide(1, held, "hold")])
    during = await _summary(db)
    assert during["reported"] == len(TPS)  # reported, not counted
    assert (during["sah"], during["tidak_sah"]) == (before["sah"] - 100, before["tidak_sah"] - 4)
    assert during["c1"] == before["c1"] - 35
    assert await db.fetchval("SELECT hold FROM tps_results WHERE tps = $1", held) == "held"

    # A revision of the held TPS stays out; the release counts the revised numbers.
    await _apply(db, log, [log.form(100, held, 40)])
    assert (await _summary(db))["c1"] == during["c1"]
    await _apply(db, log, [log.decide(2, held, "release")])
    after = await _summary(db)
    assert after["c1"] == before["c1"] - 35 + 40 and after["sah"] == before["sah"]
    assert await db.fetchval("SELECT hold FROM tps_results WHERE tps = $1", held) == ""
    actions = await db.fetch("SELECT action FROM review_decisions ORDER BY decided_at")
    assert [r["action"] for r in actions] == ["hold", "release"]
    await assert_projections_consistent(db)


async def test_totals_stay_a_recomputation_while_held_and_rejected(db: asyncpg.Connection) -> None:
    log = Log()
    await _apply(db, log, [log.form(n + 1, tps, 20 + n) for n, tps in enumerate(TPS)])
    await _apply(db, log, [log.decide(1, TPS[1], "hold"), log.decide(2, TPS[2], "hold")])
    await assert_projections_consistent(db)
    await _apply(db, log, [log.decide(3, TPS[2], "reject"), log.form(200, TPS[1], 33)])
    await assert_projections_consistent(db)
    holds = await db.fetch("SELECT tps, hold FROM tps_results WHERE hold <> '' ORDER BY tps")
    assert [(r["tps"], r["hold"]) for r in holds] == [(TPS[1], "held"), (TPS[2], "rejected")]
    assert (await _summary(db))["reported"] == len(TPS)


@pytest.mark.timeout(240)
async def test_rebuild_reproduces_the_holds_and_the_findings(
    kafka_bootstrap: str, scratch_database: str, tmp_path: Path
) -> None:
    conn = await connect(scratch_database)
    await load_roster(conn, BANYUASIN)
    roster = roster_from_folder(BANYUASIN)
    forms, _ = day_forms(roster, Contest.PPWP, seed=3)
    here = sorted(c for c in forms if c.startswith("16.07.01."))
    stuffed_tps = here[len(here) // 2]
    forms[stuffed_tps], _ = stuff(forms[stuffed_tps], roster.tps[stuffed_tps].dpt, random.Random(4))
    env = stack_env(kafka_bootstrap, scratch_database)
    topics = Topics(env["TOPIC_PREFIX"])
    await ensure_topics(kafka_bootstrap, partitions=4, replication_factor=1, topics=topics.specs())
    op = OperatorRef(id="op-16.07.01", role=Role.OPERATOR, scope=("16.07.01",))
    events = [
        (
            code,
            encode(
                SubmissionReceived(
                    submission_id=UUID(int=n + 1),
                    received_at=T0 + timedelta(seconds=n),
                    channel=Channel.API,
                    operator=op,
                    idempotency_key=f"r{n}",
                    form=forms[code],
                )
            ),
        )
        for n, code in enumerate(here)
    ]
    await produce(kafka_bootstrap, topics.received, events)
    validator = ServiceProcess("validator", env, tmp_path / "validator.log").start()
    aggregator = ServiceProcess("aggregator", env, tmp_path / "aggregator.log").start()
    cfg = ScreenConfig(actions={"STUFFING_PATTERN": Action.HOLD})
    sent: list[ReviewDecided] = []
    producer = make_producer(kafka_bootstrap)
    await producer.start()

    async def publish(decision: ReviewDecided) -> None:
        sent.append(decision)
        await producer.send_and_wait(
            topics.received, encode(decision), key=key_for_tps(decision.tps)
        )

    async def held() -> list[tuple[str, str]]:
        rows = await conn.fetch("SELECT tps, hold FROM tps_results WHERE hold <> '' ORDER BY 1")
        return [(r["tps"], r["hold"]) for r in rows]

    async def findings() -> list[tuple[str, str, str]]:
        rows = await conn.fetch(
            "SELECT tps, code, severity FROM screen_findings WHERE closed_at IS NULL ORDER BY 1, 2"
        )
        return [(r["tps"], r["code"], r["severity"]) for r in rows]

    try:
        await wait_for(
            lambda: _count(conn, len(here)), lambda: progress(conn, len(here), aggregator)
        )
        await screen_changed(conn, cfg, publish)
        assert [d.tps for d in sent] == [stuffed_tps]
        await wait_for(lambda: _is_held(conn, stuffed_tps), lambda: progress(conn, 0, aggregator))
        live_holds, live_findings = await held(), await findings()
        live_summary = await _summary_of(conn)
        await assert_projections_consistent(conn)
        assert live_holds == [(stuffed_tps, "held")]
        assert (stuffed_tps, "STUFFING_PATTERN", "critical") in live_findings

        assert aggregator.stop() == 0, aggregator.log_tail()
        settings = AggregatorSettings(
            kafka_bootstrap_servers=kafka_bootstrap,
            database_url=scratch_database,
            topic_prefix=env["TOPIC_PREFIX"],
        )
        await rebuild(settings)
        assert await held() == live_holds
        assert await _summary_of(conn) == live_summary
        await screen_changed(conn, cfg, publish)
        assert await findings() == live_findings
        assert len(sent) == 1  # the replayed hold is the same decision: nothing new to send
    finally:
        await producer.stop()
        aggregator.kill()
        validator.kill()
        await conn.close()
        await delete_topics(kafka_bootstrap, topics)


async def _count(conn: asyncpg.Connection, n: int) -> bool:
    return bool(await conn.fetchval("SELECT count(*) FROM tps_results") >= n)


async def _is_held(conn: asyncpg.Connection, tps: str) -> bool:
    return bool(await conn.fetchval("SELECT hold FROM tps_results WHERE tps = $1", tps) == "held")


async def _summary_of(conn: asyncpg.Connection) -> list[tuple[object, ...]]:
    rows = await conn.fetch(
        "SELECT area_code, sum(suara_sah), sum(tps_reported) FROM area_summary "
        "WHERE contest = 'PPWP' GROUP BY 1 ORDER BY 1"
    )
    return [tuple(r) for r in rows]
