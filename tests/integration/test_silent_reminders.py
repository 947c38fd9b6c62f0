"""Silent-TPS reminders through the intake's WhatsApp client to a local stand-in Cloud API:
once per operator within the rate limit, only in counting hours, recorded, failures retried."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from deskpemilu.roster_load import load_roster
from services.intake.notifier import Replier
from services.intake.reminders import Due, SilentReminders, reminder_text, reminders_due
from shared.db import connect
from shared.silence import WIB, Responsible
from shared.silence_settings import SilenceSettings
from tests.integration.test_api import ROSTER
from tests.integration.test_intake_app import (
    OPERATOR_PHONE,
    Harness,
    start_harness,
)
from tests.procs import free_port
from tests.webhooks import FakeGraph

pytestmark = pytest.mark.integration

ELECTION = "pemilu-2024"
# Counting 13:00-24:00 WIB; reminders from 15:00, at most one per operator per hour.
NOON = datetime(2024, 2, 14, 12, 0, tzinfo=WIB)
FOUR_PM = datetime(2024, 2, 14, 16, 0, tzinfo=WIB)


@pytest.fixture
async def intake(
    monkeypatch: pytest.MonkeyPatch,
    kafka_bootstrap: str,
    scratch_database: str,
    fake_graph: FakeGraph,
) -> AsyncIterator[Harness]:
    conn = await connect(scratch_database)
    try:
        await load_roster(conn, ROSTER)
    finally:
        await conn.close()
    # Reminders need no topic: the producer may stay unconnected.
    async for harness in start_harness(
        monkeypatch,
        kafka_bootstrap=kafka_bootstrap,
        database_url=scratch_database,
        prefix=f"t{uuid.uuid4().hex[:8]}.",
        graph=fake_graph,
        wait_for_kafka=False,
        INTAKE_TEXT_ELECTION=ELECTION,
        INTAKE_NOTIFIER_ENABLED="false",
    ):
        yield harness


def _reminders(intake: Harness, **values: object) -> SilentReminders:
    silence = SilenceSettings(
        reminders_enabled=True, reminder_after_minutes=120, reminder_interval_minutes=60,
        reminder_max_tps=3, **values,  # type: ignore[arg-type]
    )  # fmt: skip
    return SilentReminders(intake.settings, silence, intake.app.state.replier)


async def test_reminders_once_per_operator_per_interval(intake: Harness) -> None:
    reminders = _reminders(intake)
    assert await reminders.check_once(NOON) == 0  # before counting opened
    assert await reminders.check_once(FOUR_PM.replace(hour=14)) == 0  # counting for 1 h only
    assert intake.graph.received == []

    conn = await connect(intake.database_url)
    try:
        operators = await conn.fetchval(
            "SELECT count(*) FROM operators"
            " WHERE active AND role = 'operator' AND phone IS NOT NULL"
        )
        first_tps = await conn.fetchval(
            "SELECT min(code) FROM tps WHERE election = $1 AND code LIKE '16.07.01.%'", ELECTION
        )
        # One TPS of 16.07.01 has every contest in: it is not named.
        for contest in ("PPWP", "DPR", "DPD", "DPRD_PROV", "DPRD_KABKO"):
            await conn.execute(
                "INSERT INTO tps_results (election, contest, tps, submission_id, votes, suara_sah,"
                " suara_tidak_sah, operator_id, channel, received_at)"
                " VALUES ($1, $2, $3, gen_random_uuid(), '{}', 0, 0, 'op-16.07.01', 'api', now())",
                ELECTION, contest, first_tps,
            )  # fmt: skip

        sent = await reminders.check_once(FOUR_PM)
        assert sent == operators == len(intake.graph.received)
        texts = intake.graph.texts_to(OPERATOR_PHONE)
        assert len(texts) == 1
        assert first_tps not in texts[0]
        assert "belum kami terima" in texts[0] and "dan " in texts[0]

        # Within the hour: nothing again, whatever the number of checks (or replicas).
        assert await reminders.check_once(FOUR_PM + timedelta(minutes=30)) == 0
        assert await _reminders(intake).check_once(FOUR_PM + timedelta(minutes=59)) == 0
        assert len(intake.graph.received) == operators
        rows = await conn.fetch(
            "SELECT status, tps, contests FROM silent_reminders WHERE operator_id = 'op-16.07.01'"
        )
        assert [r["status"] for r in rows] == ["sent"]
        assert len(rows[0]["tps"]) == 3 and first_tps not in rows[0]["tps"]
        assert rows[0]["contests"] == ["DPD", "DPR", "DPRD_KABKO", "DPRD_PROV", "PPWP"]

        # An hour later, once more.
        assert await reminders.check_once(FOUR_PM + timedelta(minutes=61)) == operators
        assert len(intake.graph.texts_to(OPERATOR_PHONE)) == 2
    finally:
        await conn.close()


async def test_an_unreachable_api_is_recorded_failed_and_retried(intake: Harness) -> None:
    # The same intake settings, but the Cloud API on a port nobody listens on.
    down = intake.settings.model_copy(
        update={"whatsapp_api_base": f"http://127.0.0.1:{free_port()}/v21.0"}
    )
    replier = Replier(down, intake.app.state.directory)
    silence = SilenceSettings(reminders_enabled=True, reminder_after_minutes=120)
    try:
        assert await SilentReminders(down, silence, replier).check_once(FOUR_PM) == 0
    finally:
        await replier.stop()
    conn = await connect(intake.database_url)
    try:
        statuses = await conn.fetch("SELECT DISTINCT status FROM silent_reminders")
        assert [r["status"] for r in statuses] == ["failed"]
        # A failed reminder does not hold back the next check.
        assert await _reminders(intake).check_once(FOUR_PM + timedelta(minutes=1)) > 0
        sent = await conn.fetchval("SELECT count(*) FROM silent_reminders WHERE status = 'sent'")
        assert sent == len(intake.graph.received) > 0
    finally:
        await conn.close()


def test_reminders_due_groups_by_the_closest_operator() -> None:
    kec = Responsible("op-k", ("16.07.01",), "1")
    desa = Responsible("op-d", ("16.07.01.1001",), "2")
    pairs = [
        ("16.07.01.1001.001", "PPWP"),
        ("16.07.01.1001.001", "DPD"),
        ("16.07.01.1002.001", "PPWP"),
    ]
    due = reminders_due(pairs, [kec, desa])
    assert due == [
        Due(desa, (("16.07.01.1001.001", ("DPD", "PPWP")),)),
        Due(kec, (("16.07.01.1002.001", ("PPWP",)),)),
    ]
    text = reminder_text(due[0], max_tps=1)
    assert "TPS 16.07.01.1001.001: DPD, PPWP" in text and "dan" not in text
