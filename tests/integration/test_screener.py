"""The screener on the real PostgreSQL: results written by the aggregator's own batch
transaction, findings opened, kept, closed when the numbers move, and closed after a reset."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import asyncpg
import pytest

from benchmarks.aggregator_bench import synthetic_tree, write_synthetic_roster
from services.aggregator.aggregation import FormIn, Position
from services.aggregator.aggregation import submission_of as to_submission
from services.aggregator.repository import apply_batch, reset_projections
from services.screener import metrics
from services.screener.consumer import screen_changed
from services.screener.screens import Action, ScreenConfig
from shared.db import connect
from shared.events import Channel, OperatorRef, Role, SubmissionReceived
from shared.form import CHasil, Contest

pytestmark = pytest.mark.integration

ELECTION = "pemilu-2024"
TOPIC = "t.submissions.validated.v1"
T0 = datetime(2024, 2, 14, 13, 0, tzinfo=UTC)
OP = OperatorRef(id="op1", role=Role.OPERATOR, scope=("11",))
# One kecamatan, 4 desa, 40 TPS (DPT 150-300).
TREE = synthetic_tree(1, 1, 1, 4, 40)
DPT = {row[0]: row[3] + row[4] for row in TREE.tps}
TPS = sorted(DPT)
STUFFED = TPS[7]


def _form(tps: str, rng: random.Random, *, turnout: float | None = None) -> CHasil:
    voters = round(DPT[tps] * (turnout if turnout is not None else rng.uniform(0.72, 0.82)))
    tidak_sah = rng.randint(2, 6)
    sah = voters - tidak_sah
    c1 = round(sah * rng.uniform(0.12, 0.18))
    c3 = round(sah * rng.uniform(0.10, 0.16))
    votes = {1: c1, 2: sah - c1 - c3, 3: c3}
    return CHasil(
        election=ELECTION,
        contest=Contest.PPWP,
        tps=tps,
        suara_calon=votes,
        suara_sah=sah,
        suara_tidak_sah=tidak_sah,
    )


class Log:
    def __init__(self) -> None:
        self.offset = 0

    def form(self, n: int, form: CHasil) -> FormIn:
        sub = SubmissionReceived(
            submission_id=UUID(int=n),
            received_at=T0 + timedelta(minutes=3 * n),
            channel=Channel.WHATSAPP,
            operator=OP,
            idempotency_key=f"k{n}",
            form=form,
        )
        self.offset += 1
        return FormIn(to_submission(sub), (), Position(TOPIC, 0, self.offset - 1))


@pytest.fixture
async def db(scratch_database: str) -> AsyncIterator[asyncpg.Connection]:
    conn = await connect(scratch_database)
    await write_synthetic_roster(conn, TREE, election=ELECTION, contests=[Contest.PPWP])
    yield conn
    await conn.close()


async def _open(conn: asyncpg.Connection) -> dict[tuple[str, str], asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT * FROM screen_findings WHERE election = $1 AND closed_at IS NULL", ELECTION
    )
    return {(r["tps"], r["code"]): r for r in rows}


async def test_findings_open_update_and_close_as_results_move(db: asyncpg.Connection) -> None:
    rng = random.Random(5)
    log = Log()
    forms = [_form(t, rng, turnout=0.99 if t == STUFFED else None) for t in TPS]
    events = [log.form(n, f) for n, f in enumerate(forms, start=1)]
    await apply_batch(db, group="aggregator", events=events, next_offsets={(TOPIC, 0): log.offset})
    cfg = ScreenConfig(actions={"TURNOUT_OUTLIER_KECAMATAN": Action.HOLD})

    first = await screen_changed(db, cfg)
    assert first.kecamatan == 1 and first.opened >= 1
    found = await _open(db)
    assert {tps for tps, _ in found} == {STUFFED}
    row = found[(STUFFED, "TURNOUT_OUTLIER_KECAMATAN")]
    assert row["severity"] in ("warning", "critical") and row["action"] == "hold"
    assert row["kecamatan"] == STUFFED[:8]
    assert row["value"]["turnout"] >= 0.98 and 0.7 < row["reference"]["median"] < 0.85
    assert row["pesan"].startswith("partisipasi 9") and "median kecamatan" in row["pesan"]
    sample = metrics.OPEN_FINDINGS.labels("TURNOUT_OUTLIER_KECAMATAN", row["severity"])
    assert sample._value.get() == 1

    # Nothing changed: nothing is screened again.
    assert (await screen_changed(db, cfg)).kecamatan == 0

    # The operator corrects the stuffed form: the finding closes, the row stays as history.
    fixed = _form(STUFFED, rng)
    revision = log.form(100, fixed)
    await apply_batch(
        db, group="aggregator", events=[revision], next_offsets={(TOPIC, 0): log.offset}
    )
    again = await screen_changed(db, cfg)
    assert again.kecamatan == 1 and again.closed >= 1
    assert await _open(db) == {}
    closed = await db.fetchval(
        "SELECT count(*) FROM screen_findings WHERE tps = $1 AND closed_at IS NOT NULL", STUFFED
    )
    assert closed >= 1

    # Stuffed again: the same row reopens.
    restuffed = log.form(101, _form(STUFFED, rng, turnout=0.99))
    await apply_batch(
        db, group="aggregator", events=[restuffed], next_offsets={(TOPIC, 0): log.offset}
    )
    await screen_changed(db, cfg)
    assert (STUFFED, "TURNOUT_OUTLIER_KECAMATAN") in await _open(db)

    # A rebuild empties the results first: every finding of the kecamatan closes.
    await reset_projections(db, ["aggregator"])
    emptied = await screen_changed(db, cfg)
    assert emptied.kecamatan == 1
    assert await _open(db) == {}


async def test_two_screeners_share_the_kecamatan_and_screen_each_change_once(
    db: asyncpg.Connection, scratch_database: str
) -> None:
    rng = random.Random(9)
    log = Log()
    forms = [_form(t, rng, turnout=0.99 if t == STUFFED else None) for t in TPS]
    events = [log.form(n, f) for n, f in enumerate(forms, start=1)]
    await apply_batch(db, group="aggregator", events=events, next_offsets={(TOPIC, 0): log.offset})
    cfg = ScreenConfig()
    other = await connect(scratch_database)
    try:
        # Another instance is screening the kecamatan: this one passes it by.
        async with other.transaction():
            claimed = await other.fetchval(
                "SELECT pg_try_advisory_xact_lock(hashtext('deskpemilu-screener'), hashtext($1))",
                f"{ELECTION}/{STUFFED[:8]}",
            )
            assert claimed is True
            held = await screen_changed(db, cfg)
            assert (held.kecamatan, held.passed) == (0, 1)
            assert await _open(db) == {}
        # Two instances at once: the change is screened by one of them, once.
        first, second = await asyncio.gather(screen_changed(db, cfg), screen_changed(other, cfg))
        assert first.kecamatan + second.kecamatan == 1
        assert first.opened + second.opened >= 1
        assert {tps for tps, _ in await _open(db)} == {STUFFED}
        # A revision: screened again, by one of them.
        revision = log.form(100, _form(STUFFED, rng))
        await apply_batch(
            db, group="aggregator", events=[revision], next_offsets={(TOPIC, 0): log.offset}
        )
        first, second = await asyncio.gather(screen_changed(other, cfg), screen_changed(db, cfg))
        assert first.kecamatan + second.kecamatan == 1
        assert first.closed + second.closed >= 1
        assert await _open(db) == {}
    finally:
        await other.close()
