"""The aggregator's batch transaction on the real PostgreSQL: exactly once, consistent, notified."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from benchmarks.aggregator_bench import synthetic_tree, write_synthetic_roster
from services.aggregator.aggregation import (
    FormIn,
    Incoming,
    LostCommits,
    Position,
    RejectedIn,
    ReviewIn,
)
from services.aggregator.aggregation import submission_of as to_submission
from services.aggregator.repository import (
    NOTIFY_CHANNEL,
    apply_batch,
    disputed_count,
    reset_projections,
    stored_offsets,
)
from services.api.live import scopes_of
from shared.db import connect
from shared.events import (
    Channel,
    OperatorRef,
    ReviewDecided,
    Role,
    Severity,
    SubmissionReceived,
    Violation,
)
from shared.form import CHasil, Contest
from shared.notify import ElectionChange, ResultsChanged
from tests.dbs import one_row, pairs

pytestmark = pytest.mark.integration

ELECTION = "pemilu-2024"
TOPIC = "t.submissions.validated.v1"
T0 = datetime(2024, 2, 14, 13, 0, tzinfo=UTC)
OP1 = OperatorRef(id="op1", role=Role.OPERATOR, scope=("11",))
OP2 = OperatorRef(id="op2", role=Role.OPERATOR, scope=("11",))
CAMAT = OperatorRef(id="camat1", role=Role.CAMAT, scope=("11",))

# One province, 2 kabupaten, 4 kecamatan, 8 desa, 40 TPS.
TREE = synthetic_tree(1, 2, 4, 8, 40)
TPS = [row[0] for row in TREE.tps]

# Sums every TPS's counted votes up its ancestors, straight from tps_results, to compare with
# the incrementally kept area_totals.
RECOMPUTED_TOTALS = """
SELECT r.election, r.contest, a.area_code, v.key AS candidate, sum(v.value::bigint) AS votes
FROM tps_results r, jsonb_each_text(r.votes) v,
     unnest(ARRAY[left(r.tps, 13), left(r.tps, 8), left(r.tps, 5), left(r.tps, 2)]) a(area_code)
WHERE r.hold = ''  -- held or rejected results are out of the totals (quarantine)
GROUP BY 1, 2, 3, 4 HAVING sum(v.value::bigint) <> 0
EXCEPT
SELECT election, contest, area_code, candidate, sum(votes) FROM area_totals
GROUP BY 1, 2, 3, 4 HAVING sum(votes) <> 0
"""
KEPT_TOTALS_NOT_RECOMPUTED = """
SELECT election, contest, area_code, candidate, sum(votes) FROM area_totals
GROUP BY 1, 2, 3, 4 HAVING sum(votes) <> 0
EXCEPT
SELECT r.election, r.contest, a.area_code, v.key, sum(v.value::bigint)
FROM tps_results r, jsonb_each_text(r.votes) v,
     unnest(ARRAY[left(r.tps, 13), left(r.tps, 8), left(r.tps, 5), left(r.tps, 2)]) a(area_code)
WHERE r.hold = ''  -- held or rejected results are out of the totals (quarantine)
GROUP BY 1, 2, 3, 4
"""
SUMMARY_MISMATCHES = """
WITH recomputed AS (
    -- A held or rejected result is reported (progress) but its numbers are out (quarantine).
    SELECT r.election, r.contest, a.area_code,
           coalesce(sum(r.suara_sah) FILTER (WHERE r.hold = ''), 0) AS sah,
           coalesce(sum(r.suara_tidak_sah) FILTER (WHERE r.hold = ''), 0) AS tidak_sah,
           coalesce(sum(coalesce(r.pengguna, r.suara_sah + r.suara_tidak_sah))
               FILTER (WHERE r.hold = ''), 0) AS pengguna,
           count(*) AS reported, sum(coalesce(t.dpt, 0)) AS dpt_reported
    FROM tps_results r LEFT JOIN tps t ON t.election = r.election AND t.code = r.tps,
         unnest(ARRAY[left(r.tps, 13), left(r.tps, 8), left(r.tps, 5), left(r.tps, 2)])
             a(area_code)
    GROUP BY 1, 2, 3),
kept AS (
    SELECT election, contest, area_code, sum(suara_sah) AS sah,
           sum(suara_tidak_sah) AS tidak_sah, sum(pengguna) AS pengguna,
           sum(tps_reported) AS reported, sum(dpt_reported) AS dpt_reported
    FROM area_summary GROUP BY 1, 2, 3)
SELECT * FROM recomputed r FULL JOIN kept k USING (election, contest, area_code)
WHERE (r.sah, r.tidak_sah, r.pengguna, r.reported, r.dpt_reported)
      IS DISTINCT FROM (k.sah, k.tidak_sah, k.pengguna, k.reported, k.dpt_reported)
  AND NOT (r.election IS NULL AND (k.sah, k.tidak_sah, k.pengguna, k.reported, k.dpt_reported)
                                  = (0, 0, 0, 0, 0))
"""


async def assert_projections_consistent(conn: asyncpg.Connection) -> None:
    """area_totals and area_summary equal a recomputation from tps_results and the roster."""
    assert await conn.fetch(RECOMPUTED_TOTALS) == []
    assert await conn.fetch(KEPT_TOTALS_NOT_RECOMPUTED) == []
    assert await conn.fetch(SUMMARY_MISMATCHES) == []


def chasil(tps: str, votes: dict[int, int], tidak_sah: int = 2) -> CHasil:
    return CHasil(
        election=ELECTION,
        contest=Contest.PPWP,
        tps=tps,
        suara_calon=votes,
        suara_sah=sum(votes.values()),
        suara_tidak_sah=tidak_sah,
    )


def received(n: int, operator: OperatorRef, form: CHasil) -> SubmissionReceived:
    return SubmissionReceived(
        submission_id=UUID(int=n),
        received_at=T0 + timedelta(seconds=n),
        channel=Channel.WHATSAPP,
        operator=operator,
        idempotency_key=f"k{n}",
        form=form,
    )


class Log:
    """Events at consecutive offsets of one partition, as the consumer hands them over."""

    def __init__(self, partition: int = 0) -> None:
        self.partition = partition
        self.offset = 0

    def _at(self) -> Position:
        self.offset += 1
        return Position(TOPIC, self.partition, self.offset - 1)

    def form(self, n: int, operator: OperatorRef, form: CHasil, *warnings: Violation) -> FormIn:
        return FormIn(to_submission(received(n, operator, form)), warnings, self._at())

    def rejected(self, n: int, operator: OperatorRef, form: CHasil) -> RejectedIn:
        violation = Violation(code="SAH_SUM", severity=Severity.ERROR, pesan="p", message="m")
        return RejectedIn(to_submission(received(n, operator, form)), (violation,), self._at())

    def review(self, n: int, tps: str, action: str, target: int | None = None) -> ReviewIn:
        decided = ReviewDecided(
            decision_id=UUID(int=50_000 + n),
            decided_at=T0 + timedelta(hours=2, seconds=n),
            reviewer=CAMAT,
            election=ELECTION,
            contest=Contest.PPWP,
            tps=tps,
            action=action,
            submission_id=UUID(int=target) if target is not None else None,
        )
        return ReviewIn(decided, self._at())

    def ends(self) -> dict[tuple[str, int], int]:
        return {(TOPIC, self.partition): self.offset}


@pytest.fixture
async def db(scratch_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(scratch_database)
    await write_synthetic_roster(conn, TREE, election=ELECTION, contests=[Contest.PPWP])
    yield conn
    await conn.close()


async def apply(conn: asyncpg.Connection, events: Sequence[Incoming], log: Log) -> int:
    applied = await apply_batch(conn, group="aggregator", events=events, next_offsets=log.ends())
    return applied.skipped


async def test_a_batch_applies_once_even_when_delivered_again(db: asyncpg.Connection) -> None:
    log = Log()
    warning = Violation(code="DPT_MISMATCH", severity=Severity.WARNING, pesan="p", message="m")
    batch: list[Incoming] = [
        log.form(1, OP1, chasil(TPS[0], {1: 10, 2: 20, 3: 5}), warning),
        log.form(2, OP1, chasil(TPS[1], {1: 1, 2: 2, 3: 3})),
        log.form(3, OP2, chasil(TPS[0], {1: 99, 2: 20, 3: 5})),  # conflict
        log.form(4, OP1, chasil(TPS[1], {1: 4, 2: 2, 3: 3})),  # revision
        log.rejected(5, OP2, chasil(TPS[2], {1: 1})),
        log.form(1, OP1, chasil(TPS[0], {1: 10, 2: 20, 3: 5})),  # repeat
    ]
    assert await apply(db, batch, log) == 0
    totals = await pairs(
        db, "SELECT candidate, votes FROM area_totals WHERE area_code = '11' ORDER BY 1"
    )
    assert totals == {"c1": 14, "c2": 22, "c3": 8}
    statuses = await pairs(db, "SELECT submission_id, status FROM submissions")
    assert statuses == {
        UUID(int=1): "accepted",
        UUID(int=2): "superseded",
        UUID(int=3): "conflict",
        UUID(int=4): "revision",
        UUID(int=5): "rejected",
    }
    assert await disputed_count(db) == 1
    assert await stored_offsets(db, "aggregator", [TOPIC]) == {(TOPIC, 0): 6}
    anomalies = await db.fetch("SELECT code, submission_id FROM anomalies")
    assert [(a["code"], a["submission_id"]) for a in anomalies] == [("DPT_MISMATCH", UUID(int=1))]
    history = await db.fetch("SELECT decision, version FROM tps_result_versions ORDER BY id")
    assert [(h["decision"], h["version"]) for h in history] == [
        ("new", 1),
        ("new", 1),
        ("conflict", None),
        ("revision", 2),
    ]
    summary = await one_row(
        db,
        "SELECT tps_reported, tps_total, dpt_reported, suara_sah FROM area_summary "
        "WHERE area_code = '11'",
    )
    dpt = await pairs(db, "SELECT code, dpt FROM tps WHERE code = ANY($1)", TPS[:2])
    assert summary == {
        "tps_reported": 2,
        "tps_total": 40,
        "dpt_reported": dpt[TPS[0]] + dpt[TPS[1]],
        "suara_sah": 35 + 9,
    }
    # The same records again (a crash before Kafka learnt of the commit): all skipped.
    assert await apply(db, batch, log) == len(batch)
    assert (
        await pairs(db, "SELECT candidate, votes FROM area_totals WHERE area_code = '11'") == totals
    )
    await assert_projections_consistent(db)


async def test_a_batch_refuses_offsets_that_went_back(db: asyncpg.Connection) -> None:
    # The aggregator's commits are asynchronous (ADR 0006): a PostgreSQL crash can take the last
    # ones with it. A process that was told they succeeded must not build upon the gap.
    log = Log()
    first = await apply_batch(
        db, group="aggregator", events=[log.form(1, OP1, chasil(TPS[0], {1: 10}))],
        next_offsets=log.ends(),
    )  # fmt: skip
    assert first.offsets == {(TOPIC, 0): 1}
    # What the crash does, made certain: the batch and its offsets are gone.
    await reset_projections(db, ["aggregator"])
    second = [log.form(2, OP1, chasil(TPS[1], {1: 4}))]
    with pytest.raises(LostCommits, match=r"\[0\] 0 < 1"):
        await apply_batch(
            db, group="aggregator", events=second, next_offsets=log.ends(), known=first.offsets
        )
    assert await db.fetchval("SELECT count(*) FROM submissions") == 0
    assert await stored_offsets(db, "aggregator", [TOPIC]) == {}  # rolled back
    # Offsets ahead of what this process knows (another instance applied more) are fine.
    assert await apply(db, second, log) == 0
    ahead = await apply_batch(
        db, group="aggregator", events=second, next_offsets={(TOPIC, 0): 2},
        known=first.offsets,
    )  # fmt: skip
    assert ahead.skipped == 1 and ahead.offsets == {(TOPIC, 0): 2}


async def test_review_accepts_a_stored_conflicting_version(db: asyncpg.Connection) -> None:
    log = Log()
    await apply(
        db,
        [log.form(1, OP1, chasil(TPS[0], {1: 10})), log.form(2, OP2, chasil(TPS[0], {1: 30}))],
        log,
    )
    await apply(db, [log.review(1, TPS[0], "accept_version", 2)], log)
    assert await db.fetchval("SELECT votes FROM area_totals WHERE area_code = '11'") == 30
    row = await one_row(db, "SELECT status, version, submission_id FROM tps_results")
    assert row == {"status": "verified", "version": 2, "submission_id": UUID(int=2)}
    statuses = await pairs(db, "SELECT submission_id, status FROM submissions")
    assert statuses == {UUID(int=1): "superseded", UUID(int=2): "accepted"}
    assert await db.fetchval("SELECT count(*) FROM review_decisions") == 1
    assert await disputed_count(db) == 0
    await assert_projections_consistent(db)


async def test_verify_resolves_the_anomalies_before_it_in_the_log(db: asyncpg.Connection) -> None:
    log = Log()
    turnout = Violation(
        code="ANOMALY_HIGH_TURNOUT", severity=Severity.WARNING, pesan="p", message="m"
    )
    dpt = Violation(code="DPT_MISMATCH", severity=Severity.WARNING, pesan="p", message="m")
    await apply(
        db,
        [
            log.form(1, OP1, chasil(TPS[0], {1: 10}), turnout),
            log.form(2, OP1, chasil(TPS[1], {1: 10}), turnout),  # another TPS: stays open
        ],
        log,
    )
    # One batch: the verify settles form 1's warning (stored) and form 3's (same batch, before
    # it); form 4 comes after the decision in the log and its warning stays open.
    await apply(
        db,
        [
            log.form(3, OP1, chasil(TPS[0], {1: 11}), dpt),
            log.review(1, TPS[0], "verify"),
            log.form(4, OP1, chasil(TPS[0], {1: 12}), turnout),
        ],
        log,
    )
    decided = T0 + timedelta(hours=2, seconds=1)
    rows = await db.fetch(
        "SELECT tps, code, submission_id, resolved_at, resolved_by FROM anomalies "
        "ORDER BY submission_id"
    )
    assert [tuple(r) for r in rows] == [
        (TPS[0], "ANOMALY_HIGH_TURNOUT", UUID(int=1), decided, "camat1"),
        (TPS[1], "ANOMALY_HIGH_TURNOUT", UUID(int=2), None, None),
        (TPS[0], "DPT_MISMATCH", UUID(int=3), decided, "camat1"),
        (TPS[0], "ANOMALY_HIGH_TURNOUT", UUID(int=4), None, None),
    ]
    # A later verify resolves form 4's; the ones resolved before keep their decision.
    await apply(db, [log.review(2, TPS[0], "verify")], log)
    resolved = await pairs(
        db, "SELECT submission_id, resolved_at FROM anomalies WHERE tps = $1", TPS[0]
    )
    assert resolved == {
        UUID(int=1): decided,
        UUID(int=3): decided,
        UUID(int=4): decided + timedelta(seconds=1),
    }
    open_ = await db.fetch("SELECT submission_id FROM anomalies WHERE resolved_at IS NULL")
    assert [r["submission_id"] for r in open_] == [UUID(int=2)]


async def test_a_rejected_submission_validated_later_counts(db: asyncpg.Connection) -> None:
    log = Log()
    await apply(db, [log.rejected(1, OP1, chasil(TPS[0], {1: 10}))], log)
    await apply(db, [log.form(1, OP1, chasil(TPS[0], {1: 10}))], log)
    row = await one_row(db, "SELECT status, violations FROM submissions")
    assert row["status"] == "accepted" and row["violations"] == []
    assert await db.fetchval("SELECT votes FROM area_totals WHERE area_code = '11'") == 10


async def test_zombie_instances_on_one_partition_apply_a_batch_once(scratch_database: str) -> None:
    first = await connect(scratch_database)
    second = await connect(scratch_database)
    try:
        await write_synthetic_roster(first, TREE, election=ELECTION, contests=[Contest.PPWP])
        log = Log()
        batch = [log.form(n, OP1, chasil(TPS[n], {1: n, 2: 1})) for n in range(1, 30)]
        skipped = await asyncio.gather(apply(first, batch, log), apply(second, batch, log))
        assert sorted(skipped) == [0, len(batch)]
        assert await first.fetchval(
            "SELECT votes FROM area_totals WHERE area_code = '11' AND candidate = 'c1'"
        ) == sum(range(1, 30))
        await assert_projections_consistent(first)
    finally:
        await first.close()
        await second.close()


async def test_each_batch_notifies_listeners(db: asyncpg.Connection, scratch_database: str) -> None:
    listener = await connect(scratch_database)
    payloads: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(NOTIFY_CHANNEL, lambda *args: payloads.put_nowait(args[-1]))
    try:
        log = Log()
        await apply(db, [log.form(1, OP1, chasil(TPS[0], {1: 10}))], log)
        raw = await asyncio.wait_for(payloads.get(), timeout=5)
        payload = ResultsChanged.model_validate_json(raw)  # the contract the api listens for
        assert payload.elections == (ElectionChange(election=ELECTION, contests=("PPWP",)),)
        assert payload.areas == 4 and payload.tps == 1
        assert payload.decisions == {"new": 1}
        assert scopes_of(raw) == {(ELECTION, "PPWP")}
    finally:
        await listener.close()


async def test_random_batches_keep_totals_equal_to_the_tps_results(
    db: asyncpg.Connection,
) -> None:
    rng = random.Random(5)
    log = Log()
    operators = [OP1, OP2, CAMAT]
    sent: list[int] = []
    n = 0
    for _ in range(12):
        batch: list[Incoming] = []
        for _ in range(rng.randint(1, 60)):
            n += 1
            roll = rng.random()
            tps = rng.choice(TPS[:12])
            if roll < 0.1 and sent:
                target = rng.choice(sent)
                batch.append(log.review(n, tps, "accept_version", target))
            elif roll < 0.15:
                batch.append(log.review(n, tps, "verify"))
            elif roll < 0.2:
                batch.append(log.rejected(n, OP1, chasil(tps, {1: rng.randint(0, 5)})))
            else:
                votes = {1: rng.randint(0, 4), 2: rng.randint(0, 4), 3: rng.randint(0, 1)}
                batch.append(log.form(n, rng.choice(operators), chasil(tps, votes)))
                sent.append(n)
        await apply(db, batch, log)
    await assert_projections_consistent(db)
    conflicts = await db.fetchval("SELECT count(*) FROM submissions WHERE status = 'conflict'")
    assert conflicts > 0 and await disputed_count(db) > 0


async def test_reset_projections_keeps_the_roster_denominators(db: asyncpg.Connection) -> None:
    log = Log()
    await apply(db, [log.form(1, OP1, chasil(TPS[0], {1: 10}))], log)
    await reset_projections(db, ["aggregator"])
    for table in ("submissions", "tps_results", "tps_result_versions", "area_totals"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0
    assert await stored_offsets(db, "aggregator", [TOPIC]) == {}
    row = await one_row(
        db, "SELECT tps_total, tps_reported, suara_sah FROM area_summary WHERE area_code = '11'"
    )
    assert row == {"tps_total": 40, "tps_reported": 0, "suara_sah": 0}
