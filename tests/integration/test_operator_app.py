"""The operator app's routes on the intake: static files, setup (roster slice + checks), states."""

from __future__ import annotations

import uuid

import pytest

from services.validator.relations import ROSTER_ONLY
from services.validator.rules import RULES
from shared.db import connect
from shared.events import OperatorRef, Role
from tests.integration import test_intake_app as intake_tests
from tests.integration.test_intake_app import FORM, OPERATOR, TPS, Harness
from tests.procs import TEST_TOKEN_SECRET

pytestmark = pytest.mark.integration

# The intake harness and its fixtures, shared with the intake's own tests.
roster_database = intake_tests.roster_database
topic_prefix = intake_tests.topic_prefix
intake = intake_tests.intake

OTHER = OperatorRef(id="op-16.07.02", role=Role.OPERATOR, scope=("16.07.02",), name="Op 2")


async def test_static_files_only_the_folders_own(intake: Harness) -> None:
    root = await intake.client.get("/app")
    assert (root.status_code, root.headers["location"]) == (308, "/app/")
    page = await intake.client.get("/app/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/app/app.js" in page.text
    worker = await intake.client.get("/app/sw.js")
    assert worker.headers["content-type"].startswith("text/javascript")
    assert worker.headers["cache-control"] == "no-cache"
    for path in ("/app/routes_app.py", "/app/..%2Fsettings.py", "/app/nothing.js"):
        missing = await intake.client.get(path)
        assert missing.status_code == 404, path
        assert missing.json()["code"] == "NOT_FOUND"


async def test_setup_is_the_scope_slice_with_the_validators_checks(intake: Harness) -> None:
    assert (await intake.client.get("/app/v1/setup")).status_code == 401
    headers = await intake.auth()
    answer = await intake.client.get("/app/v1/setup", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["operator"] == {
        "id": OPERATOR.id,
        "name": OPERATOR.name,
        "role": "operator",
        "scope": ["16.07.01"],
    }
    assert body["areas"]["16.07.01"] == {"name": "Banyuasin I", "level": "kecamatan"}
    elections = {e["id"]: e for e in body["elections"]}
    assert set(elections) == {"pemilu-2024", "pilkada-2024"}
    pemilu = elections["pemilu-2024"]
    conn = await connect(intake.database_url)
    try:
        count = await conn.fetchval(
            "SELECT count(*) FROM tps WHERE election = 'pemilu-2024' AND code LIKE '16.07.01.%'"
        )
        dpt = await conn.fetchrow(
            "SELECT dpt_l, dpt_p FROM tps WHERE election = 'pemilu-2024' AND code = $1", TPS
        )
    finally:
        await conn.close()
    assert dpt is not None
    assert len(pemilu["tps"]) == count > 100
    assert all(t["code"].startswith("16.07.01.") for t in pemilu["tps"])
    first = next(t for t in pemilu["tps"] if t["code"] == TPS)
    assert first["ctx"]["dpt_l"] == dpt["dpt_l"] and first["ctx"]["cap"] == 300
    assert first["ctx"]["reserve_pct"] == "2"
    contests = {c["contest"]: c for c in pemilu["contests"]}
    assert set(contests) == {"PPWP", "DPR", "DPD", "DPRD_PROV", "DPRD_KABKO"}
    ppwp = contests["PPWP"]
    assert [c["nomor"] for c in ppwp["candidates"]] == [1, 2, 3] and not ppwp["party_list"]
    assert {c["code"] for c in ppwp["checks"]} == set(RULES) - ROSTER_ONLY - {"PARTY_SUM"}
    sah = next(c for c in ppwp["checks"] if c["code"] == "SAH_SUM")
    assert sah["holds"]["b"] == {"sum": [{"f": f"suara_calon.{n}"} for n in (1, 2, 3)]}
    dpr = contests["DPR"]
    assert dpr["party_list"] and len(dpr["parties"]) == 18
    assert any(p["candidates"] for p in dpr["parties"])
    assert {r["code"] for r in body["rules"]} == set(RULES)
    # Gzipped for weak signals, and revalidated by its ETag.
    assert answer.headers["content-encoding"] == "gzip"
    again = await intake.client.get(
        "/app/v1/setup", headers={**headers, "If-None-Match": answer.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""


async def test_status_shows_the_verdict_to_the_scope_only(intake: Harness) -> None:
    headers = await intake.auth()
    sent = await intake.client.post(
        "/v1/submissions", json=FORM, headers={**headers, "Idempotency-Key": "app-status-1"}
    )
    submission_id = uuid.UUID(sent.json()["submission_id"])
    violation = {
        "code": "SAH_SUM",
        "severity": "error",
        "pesan": "Jumlah suara sah (V.A) 450 tidak sama dengan jumlah suara paslon 451",
        "message": "Total valid votes (V.A) 450 does not equal the sum of candidate pair votes 451",
        "field": "suara_sah",
    }
    conn = await connect(intake.database_url)
    try:
        await conn.execute(
            "INSERT INTO submissions (submission_id, election, contest, tps, operator_id, "
            "channel, received_at, status, form, violations) VALUES "
            "($1, 'pemilu-2024', 'PPWP', $2, $3, 'api', now() - interval '1 minute', "
            "'accepted', $4, '[]'), "
            "($5, 'pemilu-2024', 'PPWP', $2, $3, 'api', now(), 'rejected', $4, $6)",
            uuid.uuid4(),
            TPS,
            OPERATOR.id,
            FORM,
            submission_id,
            [violation],
        )
    finally:
        await conn.close()
    url = "/app/v1/status?election=pemilu-2024"
    body = (await intake.client.get(url, headers=headers)).json()
    [latest] = body["latest"]  # the newest of the two forms of that contest and TPS
    assert latest["submission_id"] == str(submission_id)
    assert (latest["state"], latest["violations"]) == ("rejected", [violation])
    progress = {p["contest"]: p for p in body["progress"]}
    assert set(progress) == {"PPWP", "DPR", "DPD", "DPRD_PROV", "DPRD_KABKO"}
    assert progress["PPWP"]["area"] == "16.07.01" and progress["PPWP"]["total"] > 100
    other = (await intake.client.get(url, headers=await intake.auth(OTHER))).json()
    assert other["latest"] == [] and {p["area"] for p in other["progress"]} == {"16.07.02"}
    bad = await intake.client.get("/app/v1/status?election=Not_An_Id", headers=headers)
    assert (bad.status_code, bad.json()["code"]) == (422, "INVALID_REQUEST")


def test_cli_prints_the_app_link_with_a_good_token_and_a_qr_code(
    roster_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from deskpemilu.cli import app
    from shared.auth import verify_token

    monkeypatch.setenv("DATABASE_URL", roster_database)
    monkeypatch.setenv("DESKPEMILU_TOKEN_SECRET", TEST_TOKEN_SECRET)
    result = CliRunner().invoke(
        app,
        ["operators", "token", OPERATOR.id, "--link", "--base-url", "https://intake.example/"],
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    link = lines[-1]
    assert link.startswith("https://intake.example/app/#token=")
    claims = verify_token(TEST_TOKEN_SECRET, link.split("#token=", 1)[1])
    assert claims.operator.id == OPERATOR.id
    # The QR code: rows of block characters of one width, above the link.
    qr = [line for line in lines if line and set(line) <= set("█▀▄ ")]
    assert len(qr) > 15 and len({len(line) for line in qr}) == 1
