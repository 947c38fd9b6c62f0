"""GET /v1/findings on the real PostgreSQL: a simulated kecamatan with one stuffed and one copied
TPS goes through the aggregator's batch transaction and the screener, then out of the API."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

import pytest

from deskpemilu.quickcount.rosters import roster_from_folder
from deskpemilu.roster_load import load_roster
from deskpemilu.simulator.detection import day_forms
from deskpemilu.simulator.manipulation import copy_from, stuff
from services.aggregator.aggregation import FormIn, Position
from services.aggregator.aggregation import submission_of as to_submission
from services.aggregator.repository import apply_batch
from services.screener.consumer import screen_changed
from services.screener.screens import ScreenConfig
from shared.db import connect
from shared.events import Channel, OperatorRef, Role, SubmissionReceived
from shared.form import Contest
from tests.integration.test_api import ROSTER, Api, serve_api

pytestmark = pytest.mark.integration

ELECTION = "pemilu-2024"
KECAMATAN = "16.07.01"
TOPIC = "t.submissions.validated.v1"


@dataclass
class Day:
    url: str
    stuffed: str
    copy: str
    source: str
    tps: int  # TPS in the kecamatan


@pytest.fixture
async def day(scratch_database: str) -> Day:
    roster = roster_from_folder(ROSTER)
    forms, times = day_forms(roster, Contest.PPWP, seed=11)
    here = sorted((c for c in forms if c.startswith(KECAMATAN + ".")), key=lambda c: (times[c], c))
    source, copy, stuffed = here[3], here[40], here[60]
    forms[stuffed], _ = stuff(forms[stuffed], roster.tps[stuffed].dpt, random.Random(1))
    forms[copy], _ = copy_from(forms[copy], forms[source])
    operator = OperatorRef(id="op-kec", role=Role.OPERATOR, scope=(KECAMATAN,))
    events = []
    for n, code in enumerate(here):
        sub = SubmissionReceived(
            submission_id=UUID(int=n + 1),
            received_at=datetime.fromtimestamp(1_707_890_400 + times[code], UTC),
            channel=Channel.API,
            operator=operator,
            idempotency_key=f"k{n}",
            form=forms[code],
        )
        events.append(FormIn(to_submission(sub), (), Position(TOPIC, 0, n)))
    conn = await connect(scratch_database)
    try:
        await load_roster(conn, ROSTER)
        await apply_batch(conn, group="aggregator", events=events, next_offsets={(TOPIC, 0): n + 1})
        stats = await screen_changed(conn, ScreenConfig())
        assert stats.kecamatan == 1
    finally:
        await conn.close()
    return Day(scratch_database, stuffed, copy, source, len(here))


@pytest.fixture
async def api(day: Day) -> AsyncIterator[Api]:
    async with serve_api(day.url) as running:
        yield running


async def test_findings_by_area_code_and_severity(api: Api, day: Day) -> None:
    async with api.client() as client:
        everything = (await client.get(f"/v1/findings/{ELECTION}", params={"area": "16.07"})).json()
        tps = {f["tps"] for f in everything["findings"] if f["severity"] != "info"}
        assert {day.stuffed, day.copy} <= tps
        # Clean TPS flagged: under 5% of the kecamatan (the harness measures the real rate).
        assert len(tps - {day.stuffed, day.copy}) <= 0.05 * day.tps
        assert everything["advisory"].startswith("Temuan penyaringan bersifat petunjuk")
        kec = everything["by_kecamatan"]
        assert [k["kecamatan_code"] for k in kec] == [KECAMATAN]
        assert kec[0]["kecamatan"] and kec[0]["total"] == everything["total"] >= 2
        assert sum(everything["by_code"].values()) == everything["total"]

        copied = (
            await client.get(
                f"/v1/findings/{ELECTION}", params={"code": "IDENTICAL_VOTES", "contest": "PPWP"}
            )
        ).json()
        assert [(f["tps"], f["reference"]["tps"]) for f in copied["findings"]] == [
            (day.copy, day.source)
        ]
        one = copied["findings"][0]
        assert one["severity"] == "critical" and one["action"] == "flag"
        assert one["pesan"].startswith("angka suara sama persis dengan TPS")
        assert one["desa"] and one["kecamatan"]

        critical = (
            await client.get(f"/v1/findings/{ELECTION}", params={"severity": "critical"})
        ).json()
        assert {f["severity"] for f in critical["findings"]} == {"critical"}
        assert day.stuffed in {f["tps"] for f in critical["findings"]}

        elsewhere = (
            await client.get(f"/v1/findings/{ELECTION}", params={"area": "16.07.02"})
        ).json()
        assert elsewhere["findings"] == [] and elsewhere["total"] == 0

        forensic = (await client.get(f"/v1/forensics/{ELECTION}/PPWP/{KECAMATAN}")).json()
        assert forensic["advisory"].startswith("Uji forensik hanya petunjuk")
        assert forensic["fingerprint"]["winner"] == "c2"
        assert forensic["fingerprint"]["tps"] == day.tps
        assert sum(map(sum, forensic["fingerprint"]["counts"])) == day.tps
        assert forensic["last_digits"]["n"] > 2 * day.tps
        assert 0.0 <= forensic["last_digits"]["p_value"] <= 1.0

        exported = await client.get(f"/v1/findings/{ELECTION}/export.csv", params={"area": "16.07"})
        assert exported.status_code == 200
        assert exported.headers["content-type"].startswith("text/csv")
        lines = list(csv.reader(io.StringIO(exported.text)))
        assert lines[0][:5] == ["contest", "tps", "kecamatan", "desa", "code"]
        assert len(lines) - 1 == len(everything["findings"])
        assert {row[1] for row in lines[1:]} == {f["tps"] for f in everything["findings"]}

        bad = await client.get(f"/v1/findings/{ELECTION}", params={"code": "NOPE"})
        assert bad.status_code == 422 and bad.json()["code"] == "FINDING_CODE_UNKNOWN"
        assert (await client.get("/v1/findings/pemilu-1900")).status_code == 404
    async with api.client(token=None) as anonymous:
        assert (await anonymous.get(f"/v1/findings/{ELECTION}")).status_code == 401
