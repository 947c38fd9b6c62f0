"""Quarantine through the aggregator's batch transaction on the real PostgreSQL: a hold takes a
TPS's numbers out of the stored totals (it stays reported), a release puts back exactly them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from benchmarks.aggregator_bench import synthetic_tree, write_synthetic_roster
from services.aggregator.aggregation import FormIn, Incoming, Position, ReviewIn
from services.aggregator.aggregation import submission_of as to_submission
from services.aggregator.repository import apply_batch
from shared.db import connect
from shared.events import Channel, OperatorRef, ReviewDecided, Role, SubmissionReceived
from shared.form import CHasil, Contest

pytestmark = pytest.mark.integration

ELECTION = "pemilu-2024"
TOPIC = "t.submissions.validated.v1"
T0 = datetime(2024, 2, 14, 13, 0, tzinfo=UTC)
OP = OperatorRef(id="op1", role=Role.OPERATOR, scope=("11",))
ADMIN = OperatorRef(id="admin", role=Role.ADMIN)
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
            election=ELECTION, contest=Contest.PPWP, tps=tps,
            suara_calon={1: c1, 2: 100 - c1}, suara_sah=100, suara_tidak_sah=4,
        )  # fmt: skip
        sub = SubmissionReceived(
            submission_id=UUID(int=n), received_at=T0 + timedelta(seconds=n),
            channel=Channel.API, operator=OP, idempotency_key=f"k{n}", form=chasil,
        )  # fmt: skip
        return FormIn(to_submission(sub), (), self._at())

    def decide(self, n: int, tps: str, action: str) -> ReviewIn:
        decided = ReviewDecided(
            decision_id=UUID(int=90_000 + n), decided_at=T0 + timedelta(hours=1, seconds=n),
            reviewer=ADMIN, election=ELECTION, contest=Contest.PPWP, tps=tps,
            action=action,
        )  # fmt: skip
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
