"""The real validator process on the real broker and PostgreSQL: every input judged exactly once."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from deskpemilu.roster_load import load_roster
from services.validator.rules import reserve_ballots
from shared.db import connect
from shared.events import (
    Channel,
    DeadLetter,
    OperatorRef,
    ReviewDecided,
    Role,
    SubmissionReceived,
    SubmissionRejected,
    SubmissionValidated,
)
from shared.form import LP, CHasil, Contest, DataPemilih, SuratSuara
from shared.kafka import ensure_topics, make_producer
from shared.roster import ElectionRoster
from shared.roster_db import fetch_all_rosters
from shared.topics import Topics
from tests.procs import ServiceProcess, stack_env

pytestmark = pytest.mark.integration

ROSTERS = Path(__file__).resolve().parents[2] / "data" / "rosters"
PEMILU = ROSTERS / "pemilu-2024-banyuasin"
PILKADA = ROSTERS / "pilkada-2024-banyuasin"

PARTS = 4
Outputs = dict[str, list[tuple[bytes | None, bytes]]]  # topic -> (key, value) in log order


# --- forms -----------------------------------------------------------------------------------


def consistent_form(roster: ElectionRoster, tps_code: str, contest: Contest) -> CHasil:
    """A form of a roster TPS and candidate contest that breaks no rule and raises no warning."""
    info = roster.tps[tps_code]
    dpt = info.dpt
    diterima = dpt + reserve_ballots(dpt, roster.ballot_reserve_pct)
    cast = dpt * 7 // 10
    tidak_sah = min(3, cast)
    sah = cast - tidak_sah
    numbers = sorted(roster.contests[contest].candidates)
    votes = {no: sah // len(numbers) for no in numbers}
    votes[numbers[0]] += sah - sum(votes.values())
    men = cast // 2
    voted = LP(l=men, p=cast - men, jumlah=cast)
    return CHasil(
        election=roster.election_id,
        contest=contest,
        tps=tps_code,
        pemilih=DataPemilih(
            dpt=LP(l=info.dpt_l, p=info.dpt_p, jumlah=dpt),
            pengguna_dpt=voted,
            pengguna_dptb=LP(l=0, p=0, jumlah=0),
            pengguna_dpk=LP(l=0, p=0, jumlah=0),
            pengguna_total=voted,
        ),
        surat_suara=SuratSuara(diterima=diterima, digunakan=cast, rusak=0, sisa=diterima - cast),
        suara_calon=votes,
        suara_sah=sah,
        suara_tidak_sah=tidak_sah,
    )


def submission(form: CHasil, *, operator: OperatorRef | None = None) -> SubmissionReceived:
    """A received submission of the form by an operator of the TPS's kecamatan."""
    kecamatan = ".".join(form.tps.split(".")[:3])
    return SubmissionReceived(
        submission_id=uuid.uuid4(),
        received_at=datetime.now(UTC),
        channel=Channel.API,
        operator=operator
        or OperatorRef(id=f"op-{kecamatan}", role=Role.OPERATOR, scope=(kecamatan,)),
        idempotency_key=uuid.uuid4().hex,
        form=form,
    )


# --- Kafka and process helpers ---------------------------------------------------------------


@pytest.fixture
async def topic_cleanup(kafka_bootstrap: str) -> AsyncIterator[list[Topics]]:
    """Topics created by a test under its own prefix, deleted afterwards."""
    made: list[Topics] = []
    yield made
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([spec.name for topics in made for spec in topics.specs()])
    finally:
        await admin.close()


async def make_topics(
    bootstrap: str, env: dict[str, str], cleanup: list[Topics], partitions: int
) -> Topics:
    """Create the four topics of the env's prefix."""
    topics = Topics(env["TOPIC_PREFIX"])
    await ensure_topics(
        bootstrap, partitions=partitions, replication_factor=1, topics=topics.specs()
    )
    cleanup.append(topics)
    return topics


async def produce(
    bootstrap: str,
    topic: str,
    records: Iterable[tuple[bytes | None, bytes | None]],
    *,
    partition: int | None = None,
) -> None:
    """Publish (key, value) records in order with the default partitioner, like the intake
    does, or all to one partition."""
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        futures = [
            await producer.send(topic, value=value, key=key, partition=partition)
            for key, value in records
        ]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def read_outputs(
    bootstrap: str,
    topics: Topics,
    done: Callable[[Outputs], bool],
    *,
    partitions: int,
    timeout_s: float = 60.0,
    isolation_level: str = "read_committed",
) -> Outputs:
    """Read the three output topics from the start until done(outputs) or the timeout."""
    names = [topics.validated, topics.rejected, topics.dlq]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level=isolation_level,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    outputs: Outputs = {name: [] for name in names}
    try:
        parts = [TopicPartition(name, p) for name in names for p in range(partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        deadline = time.monotonic() + timeout_s
        while not done(outputs) and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for tp, records in batch.items():
                outputs[tp.topic].extend((r.key, r.value) for r in records if r.value is not None)
    finally:
        await consumer.stop()
    return outputs


def key_value(sub: SubmissionReceived) -> tuple[bytes, bytes]:
    """The record the intake would publish for a submission."""
    return sub.form.tps.encode(), sub.model_dump_json().encode()


VERSION = "deskpemilu_validator_roster_version"


def scrape(process: ServiceProcess) -> str:
    """A running process's /metrics."""
    return httpx.get(f"{process.url}/metrics").text


def metric_of(process: ServiceProcess, name: str, **labels: str) -> float:
    """One sample of a running process's /metrics."""
    return metric(scrape(process), name, **labels)


async def wait_for_roster_version(
    process: ServiceProcess, *, above: float, timeout_s: float = 10.0
) -> float:
    """Wait until the process holds a roster version above the given one; returns it."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        version = metric_of(process, VERSION)
        if version > above:
            return version
        await asyncio.sleep(0.1)
    raise AssertionError(f"roster version stayed at {above}:\n{process.log_tail()}")


def total(outputs: Outputs) -> int:
    """Records read over all output topics."""
    return sum(len(records) for records in outputs.values())


def metric(text: str, name: str, **labels: str) -> float:
    """One sample of a Prometheus exposition, 0 when absent."""
    wanted = name + (
        "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}" if labels else ""
    )
    for line in text.splitlines():
        if line.startswith(wanted + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


async def load(database_url: str, folder: Path) -> dict[str, ElectionRoster]:
    """Load a roster folder into the database; every roster now in it."""
    conn = await connect(database_url)
    try:
        await load_roster(conn, folder)
        return await fetch_all_rosters(conn)
    finally:
        await conn.close()


@pytest.fixture
async def pemilu(scratch_database: str) -> ElectionRoster:
    """The scratch database with the Banyuasin Pemilu 2024 roster loaded."""
    return (await load(scratch_database, PEMILU))["pemilu-2024"]


# --- tests -----------------------------------------------------------------------------------


async def test_mixed_stream_every_input_lands_once_on_the_right_topic(
    kafka_bootstrap: str,
    scratch_database: str,
    pemilu: ElectionRoster,
    topic_cleanup: list[Topics],
    tmp_path: Path,
) -> None:
    env = stack_env(kafka_bootstrap, scratch_database)
    topics = await make_topics(kafka_bootstrap, env, topic_cleanup, partitions=PARTS)
    codes = sorted(pemilu.tps)
    good = [submission(consistent_form(pemilu, code, Contest.PPWP)) for code in codes[:40]]
    form = consistent_form(pemilu, codes[40], Contest.PPWP)
    arithmetic = submission(form.model_copy(update={"suara_sah": form.suara_sah + 7}))
    unknown_tps = submission(
        consistent_form(pemilu, codes[41], Contest.PPWP).model_copy(
            update={"tps": "16.07.01.1016.777"}
        )
    )
    outsider = submission(
        consistent_form(pemilu, codes[42], Contest.PPWP),
        operator=OperatorRef(id="op-elsewhere", role=Role.OPERATOR, scope=("16.07.99",)),
    )
    # The undotted KPU form of a TPS code: validated, and carried on normalised.
    undotted_raw = orjson.loads(
        submission(consistent_form(pemilu, codes[43], Contest.PPWP)).model_dump_json()
    )
    undotted_raw["form"]["tps"] = codes[43].replace(".", "")
    undotted = SubmissionReceived.model_validate(undotted_raw)
    camat_scope = ".".join(codes[0].split(".")[:3])
    review = ReviewDecided(
        decision_id=uuid.uuid4(),
        decided_at=datetime.now(UTC),
        reviewer=OperatorRef(id="camat-x", role=Role.CAMAT, scope=(camat_scope,)),
        election="pemilu-2024",
        contest=Contest.PPWP,
        tps=codes[0],
        action="accept_version",
        submission_id=good[0].submission_id,
    )
    bad_review = review.model_copy(
        update={
            "decision_id": uuid.uuid4(),
            "reviewer": OperatorRef(id="op-1", role=Role.OPERATOR, scope=(camat_scope,)),
        }
    )
    garbage = b"\x89PNG\r\n\x1a\n not a form at all"
    wrong_schema = orjson.dumps({"type": "submission.received", "form": {"tps": 1}})
    unknown_type = orjson.dumps({"type": "submission.received.v9", "hello": "world"})

    records: list[tuple[bytes | None, bytes | None]] = [key_value(s) for s in good[:20]]
    records += [
        key_value(arithmetic),
        (b"garbage-key", garbage),
        key_value(unknown_tps),
        (None, wrong_schema),
        (codes[0].encode(), review.model_dump_json().encode()),
        (codes[0].encode(), bad_review.model_dump_json().encode()),
        key_value(outsider),
        (None, unknown_type),
        (undotted_raw["form"]["tps"].encode(), orjson.dumps(undotted_raw)),
    ]
    records += [key_value(s) for s in good[20:]]
    await produce(kafka_bootstrap, topics.received, records)

    validator = ServiceProcess("validator", env, tmp_path / "validator.log").start()
    try:
        outputs = await read_outputs(
            kafka_bootstrap, topics, lambda out: total(out) >= len(records), partitions=PARTS
        )
        await asyncio.sleep(1.0)  # anything beyond one verdict per input would show up now
        outputs = await read_outputs(
            kafka_bootstrap,
            topics,
            lambda out: total(out) >= len(records),
            partitions=PARTS,
            timeout_s=3,
        )
        metrics_text = scrape(validator)
    finally:
        assert validator.stop() == 0, validator.log_tail()
    # SIGTERM is a normal stop: nothing in the log may look like a crash.
    assert "Traceback" not in validator.log_path.read_text(), validator.log_tail()

    assert total(outputs) == len(records), outputs
    validated = [
        SubmissionValidated.model_validate_json(v)
        for _, v in outputs[topics.validated]
        if b'"submission.validated"' in v
    ]
    forwarded = [
        ReviewDecided.model_validate_json(v)
        for _, v in outputs[topics.validated]
        if b'"review.decided"' in v
    ]
    rejected = {
        e.submission.submission_id: e
        for e in (SubmissionRejected.model_validate_json(v) for _, v in outputs[topics.rejected])
    }
    letters = [DeadLetter.model_validate_json(v) for _, v in outputs[topics.dlq]]

    assert sorted(str(e.submission.submission_id) for e in validated) == sorted(
        str(s.submission_id) for s in [*good, undotted]
    )
    assert all(e.warnings == () for e in validated)
    by_id = {e.submission.submission_id: e for e in validated}
    assert by_id[good[5].submission_id].submission == good[5]
    assert by_id[undotted.submission_id].submission.form.tps == codes[43]
    # Output keys are TPS codes, so all verdicts of a TPS stay in order on one partition.
    assert {k for k, _ in outputs[topics.validated]} == {
        c.encode() for c in codes[:44] if c not in (codes[40], codes[41], codes[42])
    }

    assert forwarded == [review]
    assert set(rejected) == {
        arithmetic.submission_id,
        unknown_tps.submission_id,
        outsider.submission_id,
    }
    assert {"SAH_SUM", "PENGGUNA_VS_SUARA", "SURAT_DIGUNAKAN"} <= {
        v.code for v in rejected[arithmetic.submission_id].violations
    }
    assert "TPS_UNKNOWN" in {v.code for v in rejected[unknown_tps.submission_id].violations}
    assert [v.code for v in rejected[outsider.submission_id].violations] == ["SCOPE_OUTSIDE"]
    assert rejected[arithmetic.submission_id].submission == arithmetic

    originals = {base64.b64decode(letter.original_b64): letter for letter in letters}
    assert set(originals) == {
        garbage,
        wrong_schema,
        unknown_type,
        bad_review.model_dump_json().encode(),
    }
    assert originals[garbage].key == "garbage-key"
    assert originals[garbage].source_topic == topics.received
    assert "json_invalid" in originals[garbage].error
    assert "union_tag_invalid" in originals[unknown_type].error
    assert originals[bad_review.model_dump_json().encode()].error.startswith(
        "review rejected: REVIEW_ROLE"
    )

    assert metric(metrics_text, "deskpemilu_validator_forms_total", outcome="validated") == 41
    assert metric(metrics_text, "deskpemilu_validator_forms_total", outcome="rejected") == 3
    assert metric(metrics_text, "deskpemilu_validator_forms_total", outcome="dead_letter") == 3
    assert metric(metrics_text, "deskpemilu_validator_forms_total", outcome="review") == 1
    assert metric(metrics_text, "deskpemilu_validator_forms_total", outcome="review_rejected") == 1
    assert (
        metric(
            metrics_text, "deskpemilu_validator_violations_total", code="SAH_SUM", severity="error"
        )
        == 1
    )
    assert metric(metrics_text, "deskpemilu_consumer_records_total", service="validator") == len(
        records
    )
    assert metric(metrics_text, "deskpemilu_consumer_lag_records", service="validator") == 0


async def test_roster_changes_reach_the_running_validator(
    kafka_bootstrap: str,
    scratch_database: str,
    pemilu: ElectionRoster,
    topic_cleanup: list[Topics],
    tmp_path: Path,
) -> None:
    env = stack_env(kafka_bootstrap, scratch_database, VALIDATOR_ROSTER_POLL_SECONDS="0.5")
    topics = await make_topics(kafka_bootstrap, env, topic_cleanup, partitions=PARTS)
    validator = ServiceProcess("validator", env, tmp_path / "validator.log").start()
    try:
        # Pilkada 2024 is not loaded yet: its forms name an unknown election.
        pemilu_tps = sorted(pemilu.tps)[0]
        early = submission(
            consistent_form(pemilu, pemilu_tps, Contest.PPWP).model_copy(
                update={"election": "pilkada-2024", "contest": Contest.PILBUP}
            )
        )
        await produce(kafka_bootstrap, topics.received, [key_value(early)])
        out = await read_outputs(
            kafka_bootstrap, topics, lambda out: total(out) >= 1, partitions=PARTS
        )
        [rejected] = [SubmissionRejected.model_validate_json(v) for _, v in out[topics.rejected]]
        assert rejected.submission == early
        assert rejected.violations[0].code == "ELECTION_UNKNOWN"

        # Read before the load: the poll may pick the new roster up before load() returns.
        before = metric_of(validator, VERSION)
        pilkada = (await load(scratch_database, PILKADA))["pilkada-2024"]
        version = await wait_for_roster_version(validator, above=before)
        tps_code = sorted(pilkada.tps)[0]
        late = submission(consistent_form(pilkada, tps_code, Contest.PILBUP))
        await produce(kafka_bootstrap, topics.received, [key_value(late)])
        # Judged before the DPT changes below: otherwise the poll may see the change first.
        await read_outputs(kafka_bootstrap, topics, lambda out: total(out) >= 2, partitions=PARTS)

        # A changed DPT (a roster re-load or a hand-run UPDATE) is picked up by the poll too.
        conn = await connect(scratch_database)
        try:
            await conn.execute(
                "UPDATE tps SET dpt_l = dpt_l + 5 WHERE election = 'pilkada-2024' AND code = $1",
                tps_code,
            )
        finally:
            await conn.close()
        await wait_for_roster_version(validator, above=version)
        stale = submission(consistent_form(pilkada, tps_code, Contest.PILBUP))
        await produce(kafka_bootstrap, topics.received, [key_value(stale)])
        out = await read_outputs(
            kafka_bootstrap, topics, lambda out: total(out) >= 3, partitions=PARTS
        )
    finally:
        assert validator.stop() == 0, validator.log_tail()
    validated = {
        e.submission.submission_id: e
        for e in (SubmissionValidated.model_validate_json(v) for _, v in out[topics.validated])
    }
    assert validated.keys() == {late.submission_id, stale.submission_id}
    assert validated[late.submission_id].warnings == ()
    assert [w.code for w in validated[stale.submission_id].warnings] == ["DPT_MISMATCH"]


async def test_a_form_of_an_unknown_election_checks_for_a_new_roster_at_once(
    kafka_bootstrap: str,
    scratch_database: str,
    pemilu: ElectionRoster,
    topic_cleanup: list[Topics],
    tmp_path: Path,
) -> None:
    # The poll would take a minute: only the check asked for by the form can find the roster.
    env = stack_env(kafka_bootstrap, scratch_database, VALIDATOR_ROSTER_POLL_SECONDS="60")
    topics = await make_topics(kafka_bootstrap, env, topic_cleanup, partitions=PARTS)
    validator = ServiceProcess("validator", env, tmp_path / "validator.log").start()
    try:
        pilkada = (await load(scratch_database, PILKADA))["pilkada-2024"]
        await asyncio.sleep(1.1)  # past the once-a-second limit of such checks
        tps_code = sorted(pilkada.tps)[-1]
        sub = submission(consistent_form(pilkada, tps_code, Contest.PILGUB))
        await produce(kafka_bootstrap, topics.received, [key_value(sub)])
        out = await read_outputs(
            kafka_bootstrap, topics, lambda out: total(out) >= 1, partitions=PARTS
        )
    finally:
        assert validator.stop() == 0, validator.log_tail()
    [validated] = [SubmissionValidated.model_validate_json(v) for _, v in out[topics.validated]]
    assert validated.submission == sub
