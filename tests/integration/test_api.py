"""The read API against the real PostgreSQL: auth, results, TPS history, queue, ETag, exports, SSE.

Result rows are written straight into the aggregator's tables as fixtures (the way the aggregator
writes them, including a second shard on hot rows); the browser test feeds the real pipeline.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import openpyxl
import orjson
import pytest
import uvicorn

from deskpemilu.roster_load import load_roster
from services.api.app import create_app
from services.api.deps import ApiState
from services.api.settings import ApiSettings
from shared.auth import issue_token
from shared.db import connect
from shared.events import OperatorRef, Role
from shared.roster import ancestors_of
from tests.procs import REPO_ROOT, TEST_TOKEN_SECRET, free_port

pytestmark = pytest.mark.integration

ROSTER = REPO_ROOT / "data" / "rosters" / "pemilu-2024-banyuasin"
ELECTION = "pemilu-2024"
KABUPATEN = "16.07"
KAB_TPS, KAB_DPT = 2564, 625_988


def token_for(
    role: Role,
    *,
    scope: tuple[str, ...] = (),
    operator_id: str | None = None,
    ttl: timedelta = timedelta(hours=1),
    now: datetime | None = None,
) -> str:
    """A signed test token."""
    operator = OperatorRef(
        id=operator_id or f"{role.value}-test", role=role, scope=scope, name=f"{role.value} uji"
    )
    token, _ = issue_token(TEST_TOKEN_SECRET, operator, ttl=ttl, now=now)
    return token


def auth(token: str) -> dict[str, str]:
    """Authorization header of a token."""
    return {"Authorization": f"Bearer {token}"}


VIEWER = token_for(Role.VIEWER)


# --- fixture data, written the way the aggregator writes it --------------------------------------


@dataclass
class Seeded:
    """What the fixture put into the database, to compare the API's answers with."""

    url: str
    tps: dict[str, str] = field(default_factory=dict)  # name -> TPS code
    submissions: dict[str, uuid.UUID] = field(default_factory=dict)  # name -> submission id
    votes: dict[str, dict[str, int]] = field(default_factory=dict)  # TPS code -> counted votes
    sah: dict[str, int] = field(default_factory=dict)
    tidak_sah: dict[str, int] = field(default_factory=dict)

    def total(self, line: str, prefix: str = KABUPATEN) -> int:
        """Counted votes of a line over the TPS under an area."""
        return sum(v.get(line, 0) for t, v in self.votes.items() if t.startswith(prefix + "."))


def form_of(tps: str, votes: Mapping[str, int], sah: int, tidak_sah: int) -> dict[str, Any]:
    """A stored PPWP form (only what the API reads from it)."""
    return {
        "election": ELECTION,
        "contest": "PPWP",
        "tps": tps,
        "suara_calon": {k.removeprefix("c"): v for k, v in votes.items()},
        "suara_sah": sah,
        "suara_tidak_sah": tidak_sah,
    }


async def add_submission(
    conn: asyncpg.Connection,
    *,
    tps: str,
    votes: Mapping[str, int],
    tidak_sah: int,
    status: str,
    operator_id: str = "op-16.07.01",
    channel: str = "whatsapp",
    at: datetime | None = None,
) -> uuid.UUID:
    """One row of submissions."""
    submission_id = uuid.uuid4()
    sah = sum(votes.values())
    await conn.execute(
        """INSERT INTO submissions (submission_id, election, contest, tps, operator_id, channel,
                                    received_at, status, form, violations)
           VALUES ($1, $2, 'PPWP', $3, $4, $5, $6, $7, $8, '[]')""",
        submission_id,
        ELECTION,
        tps,
        operator_id,
        channel,
        at or datetime.now(UTC),
        status,
        form_of(tps, votes, sah, tidak_sah),
    )
    return submission_id


async def count_result(
    conn: asyncpg.Connection,
    seeded: Seeded,
    *,
    tps: str,
    votes: Mapping[str, int],
    tidak_sah: int,
    operator_id: str = "op-16.07.01",
    channel: str = "whatsapp",
    hot_shard: int = 0,
) -> uuid.UUID:
    """A new TPS result: submission, current result, history and deltas on every ancestor."""
    sah = sum(votes.values())
    submission_id = await add_submission(
        conn,
        tps=tps,
        votes=votes,
        tidak_sah=tidak_sah,
        status="accepted",
        operator_id=operator_id,
        channel=channel,
    )
    dpt = await conn.fetchval(
        "SELECT dpt FROM tps WHERE election = $1 AND code = $2", ELECTION, tps
    )
    await conn.execute(
        """INSERT INTO tps_results (election, contest, tps, submission_id, votes, suara_sah,
                                    suara_tidak_sah, pengguna, dpt, operator_id, channel,
                                    received_at)
           VALUES ($1, 'PPWP', $2, $3, $4, $5, $6, $7, $8, $9, $10, now())""",
        ELECTION,
        tps,
        submission_id,
        dict(votes),
        sah,
        tidak_sah,
        sah + tidak_sah,
        dpt,
        operator_id,
        channel,
    )
    await conn.execute(
        """INSERT INTO tps_result_versions (election, contest, tps, version, submission_id,
                                            decision, operator_id, channel, votes)
           VALUES ($1, 'PPWP', $2, 1, $3, 'new', $4, $5, $6)""",
        ELECTION,
        tps,
        submission_id,
        operator_id,
        channel,
        dict(votes),
    )
    for area in ancestors_of(tps):
        # Hot rows (kabupaten, provinsi) may live on another shard: readers must sum them.
        shard = hot_shard if area.count(".") <= 1 else 0
        # Votes are a vector by line number on the area's summary row (migration 0012).
        vector = [votes.get(f"c{n}") for n in range(1, max(int(k[1:]) for k in votes) + 1)]
        await conn.execute(
            """INSERT INTO area_summary AS a (election, contest, area_code, shard, votes)
               VALUES ($1, 'PPWP', $2, $3, $4)
               ON CONFLICT (election, contest, area_code, shard)
               DO UPDATE SET votes = deskpemilu_add_votes(a.votes, EXCLUDED.votes)""",
            ELECTION,
            area,
            shard,
            vector,
        )
        await conn.execute(
            """INSERT INTO area_summary AS a (election, contest, area_code, shard, suara_sah,
                                              suara_tidak_sah, pengguna, tps_reported,
                                              dpt_reported)
               VALUES ($1, 'PPWP', $2, $3, $4, $5, $6, 1, $7)
               ON CONFLICT (election, contest, area_code, shard) DO UPDATE
               SET suara_sah = a.suara_sah + EXCLUDED.suara_sah,
                   suara_tidak_sah = a.suara_tidak_sah + EXCLUDED.suara_tidak_sah,
                   pengguna = a.pengguna + EXCLUDED.pengguna,
                   tps_reported = a.tps_reported + 1,
                   dpt_reported = a.dpt_reported + EXCLUDED.dpt_reported,
                   updated_at = now()""",
            ELECTION,
            area,
            shard,
            sah,
            tidak_sah,
            sah + tidak_sah,
            dpt,
        )
    seeded.votes[tps] = dict(votes)
    seeded.sah[tps] = sah
    seeded.tidak_sah[tps] = tidak_sah
    return submission_id


async def seed(url: str) -> Seeded:
    """Banyuasin roster, five counted TPS in two kecamatan, one dispute and two anomalies."""
    seeded = Seeded(url)
    conn = await connect(url)
    try:
        await load_roster(conn, Path(ROSTER))
        codes = [
            r["code"]
            for r in await conn.fetch(
                """SELECT code FROM tps WHERE election = $1 AND desa_code = (
                       SELECT min(desa_code) FROM tps WHERE election = $1
                       AND desa_code LIKE '16.07.01.%') ORDER BY code LIMIT 3""",
                ELECTION,
            )
        ]
        other = await conn.fetchval(
            "SELECT min(code) FROM tps WHERE election = $1 AND code LIKE '16.07.02.%'", ELECTION
        )
        seeded.tps = {"a": codes[0], "b": codes[1], "c": codes[2], "d": other}
        s = seeded.submissions
        s["a"] = await count_result(
            conn, seeded, tps=codes[0], votes={"c1": 50, "c2": 120, "c3": 30}, tidak_sah=4
        )
        s["b"] = await count_result(
            conn,
            seeded,
            tps=codes[1],
            votes={"c1": 40, "c2": 100, "c3": 35},
            tidak_sah=5,
            channel="sms",
            hot_shard=1,
        )
        s["d"] = await count_result(
            conn,
            seeded,
            tps=other,
            votes={"c1": 10, "c2": 90, "c3": 60},
            tidak_sah=2,
            operator_id="op-16.07.02",
            channel="api",
            hot_shard=2,
        )
        # TPS b disputed: another operator sent different figures; the first stays counted.
        s["b_rival"] = await add_submission(
            conn,
            tps=codes[1],
            votes={"c1": 140, "c2": 0, "c3": 35},
            tidak_sah=5,
            status="conflict",
            operator_id="camat-16.07.01",
            channel="api",
        )
        await conn.execute(
            "UPDATE tps_results SET status = 'disputed' WHERE election = $1 AND tps = $2",
            ELECTION,
            codes[1],
        )
        await conn.execute(
            """INSERT INTO tps_result_versions (election, contest, tps, version, submission_id,
                                                decision, operator_id, channel, votes)
               VALUES ($1, 'PPWP', $2, NULL, $3, 'conflict', 'camat-16.07.01', 'api', $4)""",
            ELECTION,
            codes[1],
            s["b_rival"],
            {"c1": 140, "c2": 0, "c3": 35},
        )
        await conn.execute(
            """INSERT INTO anomalies (election, contest, tps, code, severity, detail,
                                      submission_id)
               VALUES ($1, 'PPWP', $2, 'SUBMISSION_CONFLICT', 'warning', '{}', $3),
                      ($1, 'PPWP', $4, 'BALLOTS_RESERVE', 'warning', '{"expected": 306}', $5)""",
            ELECTION,
            codes[1],
            s["b_rival"],
            other,
            s["d"],
        )
    finally:
        await conn.close()
    return seeded


@pytest.fixture
async def seeded(scratch_database: str) -> Seeded:
    """A migrated database with the roster and the fixture results."""
    return await seed(scratch_database)


@dataclass
class Api:
    """An api app served by uvicorn in this test's event loop (real HTTP, real streaming)."""

    url: str
    app: Any

    @property
    def state(self) -> ApiState:
        """The app's state (cache, feed, publisher)."""
        state: ApiState = self.app.state.api
        return state

    def client(self, token: str | None = VIEWER, **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client for the api, authenticated unless token is None."""
        headers = auth(token) if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=10, **kwargs)


@contextlib.asynccontextmanager
async def serve_api(database_url: str, **overrides: Any) -> AsyncIterator[Api]:
    """Run create_app on a free port until the block ends."""
    values: dict[str, Any] = {
        "database_url": database_url,
        "DESKPEMILU_TOKEN_SECRET": TEST_TOKEN_SECRET,
        "API_REFRESH_S": 0.5,
        "API_SSE_COALESCE_S": 0.05,
    }
    settings = ApiSettings(**(values | overrides))
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.02)
        api = Api(f"http://127.0.0.1:{port}", app)
        await asyncio.wait_for(api.state.feed.connected.wait(), 10)
        yield api
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 20)


@pytest.fixture
async def api(seeded: Seeded) -> AsyncIterator[Api]:
    """The api on the seeded database."""
    async with serve_api(seeded.url) as running:
        yield running


async def notify(url: str, payload: object) -> None:
    """What the aggregator sends after each batch commit."""
    conn = await connect(url)
    try:
        await conn.execute(
            "SELECT pg_notify('deskpemilu_results', $1)", orjson.dumps(payload).decode()
        )
    finally:
        await conn.close()


AGGREGATOR_PAYLOAD = {
    "elections": [{"election": ELECTION, "contests": ["PPWP"]}],
    "areas": 5,
    "tps": 1,
    "decisions": {},
}


# --- auth ----------------------------------------------------------------------------------------


async def test_every_data_route_needs_a_valid_token(api: Api, seeded: Seeded) -> None:
    routes = [
        "/v1/elections",
        f"/v1/elections/{ELECTION}",
        f"/v1/areas/{KABUPATEN}",
        f"/v1/results/{ELECTION}/PPWP/{KABUPATEN}",
        f"/v1/quickcount/{ELECTION}/PPWP",
        f"/v1/tps/{ELECTION}/PPWP/{seeded.tps['a']}",
        f"/v1/conflicts/{ELECTION}",
        f"/v1/anomalies/{ELECTION}",
        f"/v1/exports/{ELECTION}/PPWP.csv",
        "/v1/events",
        "/v1/whoami",
    ]
    async with api.client(token=None) as client:
        for route in routes:
            response = await client.get(route)
            assert response.status_code == 401, route
            body = response.json()
            assert body["code"] == "TOKEN_MISSING"
            assert body["pesan"] and body["message"]
            assert response.headers["www-authenticate"] == "Bearer"
        bad = await client.get("/v1/elections", headers=auth("not-a-token"))
        assert (bad.status_code, bad.json()["code"]) == (401, "TOKEN_INVALID")
        forged, _ = issue_token(
            "another-secret-" + "y" * 40,
            OperatorRef(id="x", role=Role.ADMIN),
            ttl=timedelta(hours=1),
        )
        assert (await client.get("/v1/elections", headers=auth(forged))).status_code == 401
        expired = token_for(Role.VIEWER, now=datetime.now(UTC) - timedelta(hours=2))
        response = await client.get("/v1/elections", headers=auth(expired))
        assert (response.status_code, response.json()["code"]) == (401, "TOKEN_EXPIRED")
        # The page itself loads without a token; it asks for one.
        page = await client.get("/")
        assert page.status_code == 200 and "Desk Pemilu" in page.text
        assert (await client.get("/static/app.js")).status_code == 200


async def test_a_revoked_token_is_refused_after_the_refresh(api: Api, seeded: Seeded) -> None:
    operator = OperatorRef(id="viewer-revoked", role=Role.VIEWER, name="Dicabut")
    token, claims = issue_token(TEST_TOKEN_SECRET, operator, ttl=timedelta(hours=1))
    async with api.client(token) as client:
        assert (await client.get("/v1/whoami")).json()["role"] == "viewer"
        conn = await connect(seeded.url)
        try:
            await conn.execute(
                "INSERT INTO operators (id, name, role) "
                "VALUES ('viewer-revoked', 'Dicabut', 'viewer')"
            )
            await conn.execute(
                """INSERT INTO operator_tokens (jti, operator_id, expires_at, revoked_at)
                   VALUES ($1, 'viewer-revoked', $2, now())""",
                claims.jti,
                claims.expires_at,
            )
        finally:
            await conn.close()
        await api.state.refresh()
        response = await client.get("/v1/elections")
        assert (response.status_code, response.json()["code"]) == (401, "TOKEN_REVOKED")


async def test_a_roster_loaded_later_is_served_after_one_refresh(api: Api, seeded: Seeded) -> None:
    pilkada = "pilkada-2024"
    assert pilkada not in api.state.roster.elections
    assert await api.state.refresh() is False  # nothing changed: no reload
    conn = await connect(seeded.url)
    try:
        await load_roster(conn, REPO_ROOT / "data" / "rosters" / "pilkada-2024-banyuasin")
    finally:
        await conn.close()
    # The app's own refresher (every API_REFRESH_S) may see the new version before this call
    # does; either way one refresh after the load serves it.
    await api.state.refresh()
    assert {ELECTION, pilkada} <= set(api.state.roster.elections)
    assert await api.state.refresh() is False
    async with api.client() as client:
        response = await client.get(f"/v1/elections/{pilkada}")
    assert response.status_code == 200


async def test_whoami_tells_who_may_review(api: Api) -> None:
    camat = token_for(Role.CAMAT, scope=("16.07.01",))
    async with api.client(camat) as client:
        me = (await client.get("/v1/whoami")).json()
    assert me["role"] == "camat" and me["scope"] == ["16.07.01"] and me["can_review"] is True
    async with api.client() as client:
        assert (await client.get("/v1/whoami")).json()["can_review"] is False


# --- elections, areas, results -------------------------------------------------------------------


async def test_elections_and_area_tree(api: Api) -> None:
    async with api.client() as client:
        elections = (await client.get("/v1/elections")).json()["elections"]
        election = (await client.get(f"/v1/elections/{ELECTION}")).json()
        area = (await client.get(f"/v1/areas/{KABUPATEN}", params={"election": ELECTION})).json()
        missing = await client.get("/v1/elections/pemilu-1955")
    assert [e["id"] for e in elections] == [ELECTION]
    assert election["home_area"] == KABUPATEN
    assert (election["tps_total"], election["dpt_total"]) == (KAB_TPS, KAB_DPT)
    ppwp = next(c for c in election["contests"] if c["contest"] == "PPWP")
    assert [x["key"] for x in ppwp["lines"]] == ["c1", "c2", "c3"]
    assert ppwp["lines"][1]["name"] == "Prabowo Subianto - Gibran Rakabuming Raka"
    dpr = next(c for c in election["contests"] if c["contest"] == "DPR")
    assert dpr["party_list"] and len(dpr["lines"]) == 18 and dpr["lines"][0]["key"] == "p1"
    assert [a["code"] for a in area["breadcrumb"]] == ["16", KABUPATEN]
    assert len(area["children"]) == 21
    assert sum(c["tps_total"] for c in area["children"]) == KAB_TPS
    assert missing.status_code == 404 and missing.json()["code"] == "NOT_FOUND"


async def test_kabupaten_result_sums_shards_children_and_progress(api: Api, seeded: Seeded) -> None:
    async with api.client() as client:
        response = await client.get(f"/v1/results/{ELECTION}/PPWP/{KABUPATEN}")
    assert response.status_code == 200
    result = response.json()
    totals = {t["key"]: t["votes"] for t in result["totals"]}
    assert totals == {line: seeded.total(line) for line in ("c1", "c2", "c3")}
    sah = sum(seeded.sah.values())
    tidak_sah = sum(seeded.tidak_sah.values())
    assert (result["suara_sah"], result["suara_tidak_sah"]) == (sah, tidak_sah)
    assert result["jumlah_suara"] == sah + tidak_sah
    c2 = next(t for t in result["totals"] if t["key"] == "c2")
    assert c2["pct"] == round(100 * seeded.total("c2") / sah, 2)
    progress = result["progress"]
    assert (progress["tps_reported"], progress["tps_total"]) == (3, KAB_TPS)
    assert progress["tps_pct"] == round(100 * 3 / KAB_TPS, 2)
    assert progress["dpt_total"] == KAB_DPT and 0 < progress["dpt_reported"] <= 900
    assert result["turnout_pct"] == round(100 * (sah + tidak_sah) / progress["dpt_reported"], 2)
    assert result["updated_at"] is not None and result["child_level"] == "kecamatan"
    children = {c["code"]: c for c in result["children"]}
    assert len(children) == 21
    k01 = children["16.07.01"]
    assert k01["votes"] == {line: seeded.total(line, "16.07.01") for line in ("c1", "c2", "c3")}
    assert k01["progress"]["tps_reported"] == 2
    quiet = children["16.07.03"]
    assert quiet["votes"] == {} and quiet["progress"]["tps_reported"] == 0
    assert quiet["progress"]["tps_total"] > 0 and quiet["updated_at"] is None


async def test_drill_down_kecamatan_desa_tps(api: Api, seeded: Seeded) -> None:
    desa = seeded.tps["a"].rsplit(".", 1)[0]
    async with api.client() as client:
        kecamatan = (await client.get(f"/v1/results/{ELECTION}/PPWP/16.07.01")).json()
        village = (await client.get(f"/v1/results/{ELECTION}/PPWP/{desa}")).json()
        nowhere = await client.get(f"/v1/results/{ELECTION}/PPWP/16.07.99")
        no_contest = await client.get(f"/v1/results/{ELECTION}/PILBUP/{KABUPATEN}")
    assert kecamatan["child_level"] == "desa"
    assert [a["code"] for a in kecamatan["breadcrumb"]] == ["16", KABUPATEN, "16.07.01"]
    row = next(c for c in kecamatan["children"] if c["code"] == desa)
    assert row["progress"]["tps_reported"] == 2
    assert village["child_level"] == "tps"
    tps_rows = {c["code"]: c for c in village["children"]}
    assert tps_rows[seeded.tps["a"]]["votes"] == seeded.votes[seeded.tps["a"]]
    assert tps_rows[seeded.tps["a"]]["status"] == "ok"
    assert tps_rows[seeded.tps["b"]]["status"] == "disputed"
    assert tps_rows[seeded.tps["b"]]["channel"] == "sms"
    assert tps_rows[seeded.tps["c"]]["status"] is None
    assert tps_rows[seeded.tps["c"]]["progress"]["tps_reported"] == 0
    assert tps_rows[seeded.tps["a"]]["name"].startswith("TPS 0")
    assert village["progress"]["tps_reported"] == 2
    assert nowhere.status_code == 404 and no_contest.status_code == 404


# --- one TPS, conflicts, anomalies ---------------------------------------------------------------


async def test_tps_history_shows_every_version_sender_and_channel(api: Api, seeded: Seeded) -> None:
    code = seeded.tps["b"]
    async with api.client() as client:
        detail = (await client.get(f"/v1/tps/{ELECTION}/PPWP/{code}")).json()
        undotted = await client.get(f"/v1/tps/{ELECTION}/PPWP/{code.replace('.', '')}")
        bad = await client.get(f"/v1/tps/{ELECTION}/PPWP/16.07.x")
        unknown = await client.get(f"/v1/tps/{ELECTION}/PPWP/16.07.01.1001.999")
    assert detail["tps"] == code and detail["dpt"] > 0
    assert [a["level"] for a in detail["breadcrumb"]] == ["provinsi", "kabko", "kecamatan", "desa"]
    assert detail["result"]["status"] == "disputed"
    assert detail["result"]["submission_id"] == str(seeded.submissions["b"])
    assert detail["result"]["operator_name"] == "Operator Kecamatan Banyuasin I (demo)"
    sent = {s["submission_id"]: s for s in detail["submissions"]}
    first, rival = sent[str(seeded.submissions["b"])], sent[str(seeded.submissions["b_rival"])]
    assert (first["channel"], first["status"], first["counted"]) == ("sms", "accepted", True)
    assert (rival["channel"], rival["status"], rival["counted"]) == ("api", "conflict", False)
    assert rival["operator_id"] == "camat-16.07.01" and rival["votes"]["c1"] == 140
    assert [v["decision"] for v in detail["versions"]] == ["new", "conflict"]
    assert [a["code"] for a in detail["anomalies"]] == ["SUBMISSION_CONFLICT"]
    assert undotted.status_code == 200 and undotted.json()["tps"] == code
    assert (bad.status_code, bad.json()["code"]) == (422, "TPS_CODE_INVALID")
    assert unknown.status_code == 404


async def test_conflicts_and_anomalies_lists(api: Api, seeded: Seeded) -> None:
    async with api.client() as client:
        conflicts = (await client.get(f"/v1/conflicts/{ELECTION}")).json()["conflicts"]
        in_other = (
            await client.get(f"/v1/conflicts/{ELECTION}", params={"area": "16.07.02"})
        ).json()["conflicts"]
        anomalies = (await client.get(f"/v1/anomalies/{ELECTION}")).json()["anomalies"]
        in_kec2 = (
            await client.get(f"/v1/anomalies/{ELECTION}", params={"area": "16.07.02"})
        ).json()["anomalies"]
    assert [c["tps"] for c in conflicts] == [seeded.tps["b"]]
    conflict = conflicts[0]
    assert conflict["kecamatan"] == "Banyuasin I" and conflict["desa"]
    assert [r["submission_id"] for r in conflict["rivals"]] == [str(seeded.submissions["b_rival"])]
    assert conflict["rivals"][0]["votes"] == {"c1": 140, "c2": 0, "c3": 35}
    assert in_other == []
    assert {a["code"] for a in anomalies} == {"SUBMISSION_CONFLICT", "BALLOTS_RESERVE"}
    assert [a["tps"] for a in in_kec2] == [seeded.tps["d"]]
    assert in_kec2[0]["detail"] == {"expected": 306}


# --- caching -------------------------------------------------------------------------------------


async def test_etag_304_and_a_notify_invalidates_the_cache(api: Api, seeded: Seeded) -> None:
    route = f"/v1/results/{ELECTION}/PPWP/{KABUPATEN}"
    async with api.client() as client:
        first = await client.get(route)
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "private, max-age=2"
        # Browsers get the body gzipped once per version; other clients get it as is.
        assert first.headers["content-encoding"] == "gzip" and etag.endswith('-gz"')
        plain = await client.get(route, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.json() == first.json()
        assert plain.headers["etag"] == etag.removesuffix('-gz"') + '"'
        plain_304 = await client.get(
            route, headers={"Accept-Encoding": "identity", "If-None-Match": plain.headers["etag"]}
        )
        assert plain_304.status_code == 304
        again = await client.get(route, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        # A new TPS counted: the cached answer stays until the aggregator's NOTIFY arrives.
        conn = await connect(seeded.url)
        try:
            desa_tps = seeded.tps["c"]
            await count_result(
                conn, seeded, tps=desa_tps, votes={"c1": 1, "c2": 2, "c3": 3}, tidak_sah=0
            )
        finally:
            await conn.close()
        assert (await client.get(route, headers={"If-None-Match": etag})).status_code == 304
        version = api.state.feed.version
        await notify(seeded.url, AGGREGATOR_PAYLOAD)
        for _ in range(100):
            if api.state.feed.version > version:
                break
            await asyncio.sleep(0.02)
        changed = await client.get(route, headers={"If-None-Match": etag})
    assert changed.status_code == 200 and changed.headers["etag"] != etag
    assert changed.json()["progress"]["tps_reported"] == 4
    assert {t["key"]: t["votes"] for t in changed.json()["totals"]}["c3"] == seeded.total("c3")


async def test_concurrent_requests_share_one_load(api: Api) -> None:
    route = f"/v1/results/{ELECTION}/PPWP/16.07.02"
    api.state.cache.invalidate()
    async with api.client() as client:
        answers = await asyncio.gather(*(client.get(route) for _ in range(20)))
    assert {a.status_code for a in answers} == {200}
    assert len({a.headers["etag"] for a in answers}) == 1


# --- exports -------------------------------------------------------------------------------------


async def test_csv_export_by_kecamatan_parses_back_with_the_right_sums(
    api: Api, seeded: Seeded
) -> None:
    async with api.client() as client:
        response = await client.get(f"/v1/exports/{ELECTION}/PPWP.csv")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "rekap-pemilu-2024-PPWP-16.07-kecamatan.csv" in response.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body, total = rows[0], rows[1:-1], rows[-1]
    assert header[:2] == ["Kode", "Kecamatan"]
    assert header[2] == "01 Anies Rasyid Baswedan - Abdul Muhaimin Iskandar"
    assert len(body) == 21 and total[1] == "JUMLAH"
    by_code = {r[0]: dict(zip(header, r, strict=True)) for r in body}
    prabowo = header[3]
    assert int(by_code["16.07.01"][prabowo]) == seeded.total("c2", "16.07.01")
    assert int(total[3]) == seeded.total("c2")
    assert sum(int(r[header.index("TPS total")]) for r in body) == KAB_TPS
    assert int(total[header.index("DPT")]) == KAB_DPT
    assert int(total[header.index("TPS masuk")]) == 3
    assert int(total[header.index("Suara sah")]) == sum(seeded.sah.values())


async def test_csv_export_by_tps_under_a_kecamatan(api: Api, seeded: Seeded) -> None:
    async with api.client() as client:
        response = await client.get(
            f"/v1/exports/{ELECTION}/PPWP.csv", params={"level": "tps", "area": "16.07.01"}
        )
        wrong = await client.get(
            f"/v1/exports/{ELECTION}/PPWP.csv", params={"level": "kecamatan", "area": "16.07.01"}
        )
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    header, body = rows[0], rows[1:-1]
    assert header[:4] == ["Kode", "Kecamatan", "Desa/Kelurahan", "TPS"]
    assert header[-1] == "Status"
    assert all(r[0].startswith("16.07.01.") for r in body)
    statuses = {r[0]: r[-1] for r in body}
    assert statuses[seeded.tps["b"]] == "disputed" and statuses[seeded.tps["c"]] == ""
    assert sum(int(r[5]) for r in body) == seeded.total("c2", "16.07.01")
    assert (wrong.status_code, wrong.json()["code"]) == (422, "LEVEL_NOT_BELOW_AREA")


async def test_xlsx_export_by_desa_is_a_recap_sheet(api: Api, seeded: Seeded) -> None:
    async with api.client() as client:
        response = await client.get(f"/v1/exports/{ELECTION}/PPWP.xlsx", params={"level": "desa"})
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(response.content), read_only=True)
    sheet = workbook.active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert str(rows[0][0]).startswith("REKAPITULASI HASIL PENGHITUNGAN SUARA")
    header_at = next(i for i, r in enumerate(rows) if r[0] == "Kode")
    header, body = rows[header_at], rows[header_at + 1 : -1]
    total = rows[-1]
    assert header[1:3] == ["Kecamatan", "Desa/Kelurahan"]
    assert len(body) == 313 and total[2] == "JUMLAH"
    c1 = header.index("01 Anies Rasyid Baswedan - Abdul Muhaimin Iskandar")
    assert sum(r[c1] for r in body) == total[c1] == seeded.total("c1")
    desa = seeded.tps["a"].rsplit(".", 1)[0]
    row = next(r for r in body if r[0] == desa)
    assert row[c1] == seeded.total("c1", desa)
    pct = header.index("% TPS masuk")
    assert row[pct] == pytest.approx(2 / row[header.index("TPS total")], abs=1e-4)


async def test_an_export_is_csv_or_xlsx_by_its_path_and_the_openapi_says_both(api: Api) -> None:
    async with api.client() as client:
        wrong = await client.get(f"/v1/exports/{ELECTION}/PPWP.pdf")
        spec = (await client.get("/openapi.json")).json()
    assert (wrong.status_code, wrong.json()["code"]) == (422, "INVALID_REQUEST")
    assert spec["components"]["schemas"]["FileKind"]["enum"] == ["csv", "xlsx"]
    exports = {
        "/v1/exports/{election}/{contest}.{kind}",
        "/v1/exports/kpu/{election}/{contest}.{kind}",
        "/v1/silent/{election}/{contest}/export.{kind}",
        "/v1/activity/{election}/export.{kind}",
        "/v1/incidents/export.{kind}",
    }
    assert {p for p in spec["paths"] if p.endswith("{kind}")} == exports
    for path in exports:
        operation = spec["paths"][path]["get"]
        kind = next(p for p in operation["parameters"] if p["name"] == "kind")
        assert kind["in"] == "path" and kind["schema"]["$ref"].endswith("/FileKind"), path
        assert set(operation["responses"]["200"]["content"]) == {
            "text/csv; charset=utf-8",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        }, path


# --- live updates --------------------------------------------------------------------------------


async def test_sse_stream_sends_changed_after_a_notify(api: Api, seeded: Seeded) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    connected = asyncio.Event()

    async def listen() -> None:
        async with (
            httpx.AsyncClient(base_url=api.url, timeout=10) as client,
            client.stream("GET", "/v1/events", params={"token": VIEWER}) as response,
        ):
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            name = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    name = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    events.append((name, orjson.loads(line.removeprefix("data: "))))
                    if name == "hello":
                        connected.set()
                    if name == "changed":
                        return

    task = asyncio.create_task(listen())
    await asyncio.wait_for(connected.wait(), 10)
    assert len(api.state.feed.subscribers) == 1
    await notify(seeded.url, AGGREGATOR_PAYLOAD)
    await asyncio.wait_for(task, 10)
    assert [name for name, _ in events] == ["hello", "changed"]
    assert events[1][1]["changes"] == [{"election": ELECTION, "contest": "PPWP"}]
    assert events[1][1]["version"] > events[0][1]["version"]
    for _ in range(100):  # the server notices the closed stream and forgets the subscriber
        if not api.state.feed.subscribers:
            break
        await asyncio.sleep(0.05)
    assert not api.state.feed.subscribers


async def test_sse_pings_an_idle_stream_and_forgets_a_client_that_hangs_up(
    seeded: Seeded,
) -> None:
    async with serve_api(seeded.url, API_SSE_HEARTBEAT_S=0.2) as api:
        lines: list[str] = []
        async with (
            httpx.AsyncClient(base_url=api.url, timeout=10, headers=auth(VIEWER)) as client,
            client.stream("GET", "/v1/events") as response,
        ):
            assert response.headers["cache-control"] == "no-cache"
            assert response.headers["x-accel-buffering"] == "no"
            async for line in response.aiter_lines():
                lines.append(line)
                if line.startswith(":"):
                    break  # hang up after the first keep-alive
        assert "event: hello" in lines and lines[-1] == ": ping"
        for _ in range(100):  # the disconnect is noticed and the subscriber dropped
            if not api.state.feed.subscribers:
                break
            await asyncio.sleep(0.05)
        assert not api.state.feed.subscribers


async def test_sse_coalesces_a_burst_into_few_events(seeded: Seeded) -> None:
    async with serve_api(seeded.url, API_SSE_COALESCE_S=0.5) as api:
        received: list[dict[str, Any]] = []
        hello = asyncio.Event()

        async def listen() -> None:
            async with (
                httpx.AsyncClient(base_url=api.url, timeout=10, headers=auth(VIEWER)) as client,
                client.stream("GET", "/v1/events") as response,
            ):
                async for line in response.aiter_lines():
                    if line.startswith("data: "):
                        data = orjson.loads(line.removeprefix("data: "))
                        if "changes" in data:
                            received.append(data)
                        else:
                            hello.set()

        task = asyncio.create_task(listen())
        await asyncio.wait_for(hello.wait(), 10)
        conn = await connect(seeded.url)
        try:
            for i in range(30):
                contest = "PPWP" if i % 2 else "DPD"
                payload = {"elections": [{"election": ELECTION, "contests": [contest]}]}
                await conn.execute(
                    "SELECT pg_notify('deskpemilu_results', $1)", orjson.dumps(payload).decode()
                )
                await asyncio.sleep(0.02)
        finally:
            await conn.close()
        await asyncio.sleep(1.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    # 30 changes over ~0.6 s at most one event per 0.5 s: a handful, the last one the newest.
    assert 1 <= len(received) <= 4
    assert received[-1]["version"] == max(r["version"] for r in received)
    contests = {c["contest"] for r in received for c in r["changes"]}
    assert contests == {"PPWP", "DPD"}
