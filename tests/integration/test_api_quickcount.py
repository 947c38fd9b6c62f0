"""GET /v1/quickcount on real PostgreSQL: release gate with a fixed clock, estimates, ETag."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from deskpemilu.quickcount import repository
from deskpemilu.quickcount.design import draw_sample
from deskpemilu.roster_load import load_roster
from deskpemilu.simulator.model import ContestTruth, contest_truth
from shared.db import connect
from shared.events import Role
from shared.form import Contest
from shared.roster_db import fetch_election_roster
from tests.integration.test_api import ROSTER, Api, serve_api, token_for

pytestmark = pytest.mark.integration

ELECTION = "pemilu-2024"
BEFORE = datetime(2024, 2, 14, 7, 59, tzinfo=UTC)  # 14:59 WIB on polling day
AFTER = datetime(2024, 2, 14, 8, 0, tzinfo=UTC)  # 15:00 WIB
ADMIN = token_for(Role.ADMIN)
VIEWER = token_for(Role.VIEWER)


async def _count(url: str, truth: ContestTruth, codes: list[str]) -> None:
    conn = await connect(url)
    try:
        records = []
        for code in codes:
            r = truth.result(code)
            records.append(
                (ELECTION, "PPWP", code, uuid.uuid4(), {f"c{n}": v for n, v in r.votes.items()},
                 r.suara_sah, r.suara_tidak_sah, r.voters, r.dpt, "op-test", "api",
                 datetime.now(UTC))
            )  # fmt: skip
        await conn.executemany(
            """INSERT INTO tps_results (election, contest, tps, submission_id, votes, suara_sah,
                                        suara_tidak_sah, pengguna, dpt, operator_id, channel,
                                        received_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)""",
            records,
        )
    finally:
        await conn.close()


@pytest.fixture
async def api(scratch_database: str) -> AsyncIterator[tuple[Api, ContestTruth, list[str]]]:
    conn = await connect(scratch_database)
    try:
        await load_roster(conn, ROSTER)
        roster = await fetch_election_roster(conn, ELECTION)
        assert roster is not None
        sample = draw_sample(roster, seed=5)
        await repository.store_sample(conn, sample, drawn_by="test", results_at_draw=0,
                                      forced=False)  # fmt: skip
    finally:
        await conn.close()
    truth = contest_truth(roster, Contest.PPWP, seed=5)
    # Every sample TPS has reported, and the first 300 others (nearest kecamatan first).
    others = [c for c in sorted(roster.tps) if c not in set(sample.tps)][:300]
    await _count(scratch_database, truth, [*sample.tps, *others])
    async with serve_api(scratch_database) as running:
        yield running, truth, list(sample.tps)


async def test_the_gate_hides_estimates_from_viewers_until_the_release_moment(
    api: tuple[Api, ContestTruth, list[str]],
) -> None:
    running, truth, _ = api
    running.app.state.quickcount_clock = lambda: BEFORE
    async with running.client(VIEWER) as client:
        early = (await client.get(f"/v1/quickcount/{ELECTION}/PPWP")).json()
    assert early["released"] is False and early["banner"] is None
    assert early["quick_count"] is None and early["partial_count"] is None
    assert early["progress"]["sample_drawn"] == 256
    assert early["progress"]["sample_reported"] == 256
    assert early["release_at"].startswith("2024-02-14T15:00:00+07:00")
    async with running.client(ADMIN) as client:
        admin = (await client.get(f"/v1/quickcount/{ELECTION}/PPWP")).json()
    assert admin["released"] is False and "TIDAK UNTUK DIPUBLIKASIKAN" in admin["banner"]
    assert admin["quick_count"] is not None

    running.app.state.quickcount_clock = lambda: AFTER
    async with running.client(VIEWER) as client:
        answer = await client.get(f"/v1/quickcount/{ELECTION}/PPWP")
        body = answer.json()
        again = await client.get(
            f"/v1/quickcount/{ELECTION}/PPWP", headers={"If-None-Match": answer.headers["etag"]}
        )
    assert again.status_code == 304
    assert body["released"] is True and body["banner"] is None
    qc = body["quick_count"]
    assert qc["method"] == "stratified_ratio" and qc["reports"] == 256
    final = truth.final_shares()
    for line in qc["lines"]:
        assert line["low95"] <= final[int(line["key"][1:])] <= line["high95"], line
        assert line["low99"] <= line["low95"] <= line["share"] <= line["high95"] <= line["high99"]
    assert qc["lead"]["decided95"] and qc["lead"]["leader"] == "c2"
    assert qc["sentence"].startswith("02 unggul ") and "keyakinan 95%" in qc["sentence"]
    assert body["partial_count"]["reports"] == 556
    strata = body["progress"]["strata"]
    assert len(strata) == 21 and sum(s["sample_drawn"] for s in strata) == 256
    assert all(s["sample_drawn"] >= 2 for s in strata)


async def test_an_area_and_bad_input(api: tuple[Api, ContestTruth, list[str]]) -> None:
    running, truth, sample = api
    running.app.state.quickcount_clock = lambda: AFTER
    kec = sample[0].rsplit(".", 2)[0]
    async with running.client(VIEWER) as client:
        one = (await client.get(f"/v1/quickcount/{ELECTION}/PPWP", params={"area": kec})).json()
        wrong_contest = await client.get(f"/v1/quickcount/{ELECTION}/PILBUP")
        wrong_area = await client.get(f"/v1/quickcount/{ELECTION}/PPWP", params={"area": "99"})
        marked = (await client.get(f"/v1/tps/{ELECTION}/PPWP/{sample[0]}")).json()
        outside = next(c for c in truth.tps if c not in set(sample))
        plain = (await client.get(f"/v1/tps/{ELECTION}/PPWP/{outside}")).json()
    async with running.client(None) as anonymous:
        no_token = await anonymous.get(f"/v1/quickcount/{ELECTION}/PPWP")
    assert one["area"] == kec and [s["code"] for s in one["progress"]["strata"]] == [kec]
    assert one["quick_count"]["reports"] == one["progress"]["sample_reported"] >= 2
    assert wrong_contest.status_code == 404 and wrong_contest.json()["code"] == "NOT_FOUND"
    assert wrong_area.status_code == 404
    assert no_token.status_code == 401
    assert marked["in_sample"] is True and plain["in_sample"] is False
