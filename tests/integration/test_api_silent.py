"""GET /v1/silent and /v1/activity on the real PostgreSQL: results written by the aggregator's
batch transaction at chosen times; the stalled mark, the series and the scope checks."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from openpyxl import load_workbook

from deskpemilu.quickcount.rosters import roster_from_folder
from deskpemilu.roster_load import load_roster
from deskpemilu.simulator.detection import day_forms
from services.aggregator.aggregation import FormIn, Position
from services.aggregator.aggregation import submission_of as to_submission
from services.aggregator.repository import apply_batch
from shared.db import connect
from shared.events import Channel, OperatorRef, Role, SubmissionReceived
from shared.form import Contest
from shared.silence import WIB
from shared.silence_settings import silence_settings
from tests.integration.test_api import ROSTER, Api, serve_api, token_for

pytestmark = pytest.mark.integration

ELECTION = "pemilu-2024"
QUIET, BUSY = "16.07.01", "16.07.02"  # quiet: last result 3 h ago; busy: 5 min ago
TOPIC = "t.submissions.validated.v1"
ADMIN = token_for(Role.ADMIN)
CAMAT = token_for(Role.CAMAT, scope=(QUIET,), operator_id="camat-16.07.01")


@pytest.fixture(autouse=True)
def _all_day_counting(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Counting all day (start == end), a 60-minute threshold, and the day's counting opened six
    # hours ago whatever the hour (opened at 00:00 WIB, a run just after midnight WIB saw the
    # empty kecamatan idle for minutes only): the test does not depend on the clock's hour.
    opened = (datetime.now(WIB) - timedelta(hours=6)).strftime("%H:%M")
    monkeypatch.setenv("SILENT_COUNTING_START", opened)
    monkeypatch.setenv("SILENT_COUNTING_END", opened)
    monkeypatch.setenv("SILENT_STALL_MINUTES", "60")
    silence_settings.cache_clear()
    yield
    silence_settings.cache_clear()


@pytest.fixture
async def api(scratch_database: str) -> AsyncIterator[Api]:
    roster = roster_from_folder(ROSTER)
    forms, _ = day_forms(roster, Contest.PPWP, seed=3)
    now = datetime.now(UTC)
    quiet = sorted(c for c in forms if c.startswith(QUIET + "."))[:10]
    busy = sorted(c for c in forms if c.startswith(BUSY + "."))[:20]
    sent = [(c, now - timedelta(hours=3, minutes=n)) for n, c in enumerate(quiet)]
    sent += [(c, now - timedelta(minutes=5 + n)) for n, c in enumerate(busy)]
    operator = OperatorRef(id=f"op-{QUIET}", role=Role.OPERATOR, scope=(QUIET,))
    events = [
        FormIn(
            to_submission(
                SubmissionReceived(
                    submission_id=UUID(int=n + 1),
                    received_at=at,
                    channel=Channel.API,
                    operator=operator,
                    idempotency_key=f"k{n}",
                    form=forms[code],
                )
            ),
            (),
            Position(TOPIC, 0, n),
        )
        for n, (code, at) in enumerate(sent)
    ]
    conn = await connect(scratch_database)
    try:
        await load_roster(conn, ROSTER)
        await apply_batch(conn, group="aggregator", events=events, next_offsets={(TOPIC, 0): 30})
    finally:
        await conn.close()
    async with serve_api(scratch_database) as running:
        yield running


async def test_stalled_kecamatan_series_and_list(api: Api) -> None:
    async with api.client(ADMIN) as client:
        view = (await client.get(f"/v1/silent/{ELECTION}/PPWP")).json()
    assert view["area"]["code"] == "16.07"
    assert view["area"]["received"] == 30
    kec = {c["code"]: c for c in view["children"]}
    assert len(kec) == 21
    assert kec[QUIET]["stalled"] and kec[QUIET]["received"] == 10
    assert not kec[BUSY]["stalled"] and kec[BUSY]["received"] == 20
    # A kecamatan with nothing has not moved since counting opened (six hours ago here).
    assert all(k["stalled"] for code, k in kec.items() if code not in (QUIET, BUSY))
    assert 3 * 3600 <= kec[QUIET]["idle_s"] < 4 * 3600
    assert view["area"]["stalled"] is False  # the kabupaten moved 5 minutes ago
    series = view["series"]
    assert sum(b["received"] for b in series) == 30 == series[-1]["cumulative"]
    starts = [datetime.fromisoformat(b["start"]) for b in series]
    assert all(b - a == timedelta(minutes=15) for a, b in itertools.pairwise(starts))
    assert len(view["silent"]) == view["area"]["expected"] - 30


async def test_a_camat_sees_their_kecamatan_only(api: Api) -> None:
    async with api.client(CAMAT) as client:
        mine = (await client.get(f"/v1/silent/{ELECTION}/PPWP")).json()
        assert mine["area"]["code"] == QUIET
        assert {s["kecamatan_code"] for s in mine["silent"]} == {QUIET}
        assert [o["id"] for o in mine["silent"][0]["operators"]] == [f"op-{QUIET}", f"op2-{QUIET}"]
        assert {c["level"] for c in mine["children"]} == {"desa"}
        for path in (f"/v1/silent/{ELECTION}/PPWP", f"/v1/activity/{ELECTION}"):
            refused = await client.get(path, params={"area": BUSY})
            assert refused.status_code == 403 and refused.json()["code"] == "SCOPE_OUTSIDE"
        report = (await client.get(f"/v1/activity/{ELECTION}")).json()
        assert [o["operator_id"] for o in report["operators"]] == [f"op-{QUIET}", f"op2-{QUIET}"]
        sender = report["operators"][0]
        assert (sender["pairs_sent"], sender["channels"]) == (10, ["api"])
        csv_file = await client.get(f"/v1/silent/{ELECTION}/PPWP/export.csv")
        assert csv_file.headers["content-disposition"].endswith(f'-{QUIET}.csv"')
        rows = list(csv.DictReader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
        assert len({r["tps"] for r in rows}) == len(mine["silent"])
        assert {r["operator_id"] for r in rows} == {f"op-{QUIET}", f"op2-{QUIET}"}
        xlsx = await client.get(f"/v1/activity/{ELECTION}/export.xlsx")
        sheet = load_workbook(io.BytesIO(xlsx.content)).active
        assert sheet is not None
        values = [r for r in sheet.iter_rows(values_only=True) if r and r[0]]
        assert values[-2][0] == f"op-{QUIET}" and values[-2][6] == 10
    async with api.client() as viewer:  # a viewer may read results, not names and phones
        assert (await viewer.get(f"/v1/silent/{ELECTION}/PPWP")).status_code == 403
    async with api.client(ADMIN) as admin:
        assert (await admin.get(f"/v1/silent/{ELECTION}/NOPE")).status_code == 404
        assert (
            await admin.get(f"/v1/silent/{ELECTION}/PPWP", params={"area": "99"})
        ).status_code == 404
