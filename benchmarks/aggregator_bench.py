"""Aggregator throughput: validated forms applied into PostgreSQL per second, by batch size.

Times services.aggregator.repository.apply_batch directly against a scratch PostgreSQL database
(decoding the Kafka record bytes, deciding, writing, storing offsets, committing): Kafka itself is
left out, so the figure is what the database side of one aggregator instance sustains. Mode
`direct` decodes and applies one batch after the other; `pipelined` decodes each batch while the
previous one's transactions run, through the consumer's own BatchApplier (`--lanes` concurrent
transactions) and decode cadence (what the aggregator process does); `process` times real
aggregator processes draining a topic.

    .venv/bin/python -m benchmarks.aggregator_bench --roster banyuasin
    .venv/bin/python -m benchmarks.aggregator_bench --roster national --forms 200000
    .venv/bin/python -m benchmarks.aggregator_bench --roster banyuasin --roster national \
        --forms 60000 --waves 5 --batch 5000 --mode direct --mode pipelined --mode process
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import tempfile
import time
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient

from services.aggregator.aggregation import Incoming
from services.aggregator.consumer import DECODE_YIELD_EVERY, BatchApplier, to_incoming, tune_gc
from services.aggregator.repository import apply_batch
from shared.codec import encode
from shared.db import connect, create_pool, migrate
from shared.events import Channel, OperatorRef, Role, SubmissionReceived, SubmissionValidated
from shared.form import LP, CHasil, Contest, DataPemilih, SuaraPartai
from shared.kafka import ensure_topics, make_producer
from shared.topics import Topics
from tests.dbs import drop_database

DEFAULT_DATABASE_URL = "postgresql://deskpemilu:deskpemilu@127.0.0.1:5433/deskpemilu"
BANYUASIN = Path(__file__).resolve().parent.parent / "data" / "rosters" / "pemilu-2024-banyuasin"
T0 = datetime(2024, 2, 14, 13, 0, tzinfo=UTC)

# National scale of Pemilu 2024 (DOMAIN.md).
NATIONAL = (38, 514, 7_277, 83_731, 823_220)
PEMILU_CONTESTS = (Contest.PPWP, Contest.DPR, Contest.DPD, Contest.DPRD_PROV, Contest.DPRD_KABKO)
PARTIES = 18
PAPER_CANDIDATES = {Contest.PPWP: 3, Contest.DPD: 20}
CANDIDATES_PER_PARTY = 8


def spread(total: int, parents: int) -> list[int]:
    """total children over parents as evenly as possible (the first ones get one more)."""
    base, extra = divmod(total, parents)
    return [base + (1 if i < extra else 0) for i in range(parents)]


@dataclass(frozen=True, slots=True)
class SyntheticRoster:
    """Area codes of a generated tree and its TPS with DPT."""

    areas: list[tuple[str, str, str, str | None, str | None]]  # code, level, name, parent, kind
    tps: list[tuple[str, str, int, int, int]]  # code, desa, number, dpt_l, dpt_p


def synthetic_tree(
    provinsi: int, kabko: int, kecamatan: int, desa: int, tps: int, *, seed: int = 7
) -> SyntheticRoster:
    """A Kemendagri-shaped area tree with exactly these counts per level and DPT 150-300."""
    rng = random.Random(seed)
    areas: list[tuple[str, str, str, str | None, str | None]] = []
    prov_codes = [f"{11 + i:02d}" for i in range(provinsi)]
    areas.extend((c, "provinsi", f"Provinsi {c}", None, None) for c in prov_codes)
    kab_codes: list[str] = []
    for prov, n in zip(prov_codes, spread(kabko, provinsi), strict=True):
        for i in range(n):
            code = f"{prov}.{i + 1:02d}"
            kab_codes.append(code)
            areas.append((code, "kabko", f"Kabupaten {code}", prov, "kabupaten"))
    kec_codes: list[str] = []
    for kab, n in zip(kab_codes, spread(kecamatan, kabko), strict=True):
        for i in range(n):
            code = f"{kab}.{i + 1:02d}"
            kec_codes.append(code)
            areas.append((code, "kecamatan", f"Kecamatan {code}", kab, None))
    desa_codes: list[str] = []
    for kec, n in zip(kec_codes, spread(desa, kecamatan), strict=True):
        for i in range(n):
            code = f"{kec}.{2001 + i}"
            desa_codes.append(code)
            areas.append((code, "desa", f"Desa {code}", kec, "desa"))
    tps_rows: list[tuple[str, str, int, int, int]] = []
    for ds, n in zip(desa_codes, spread(tps, desa), strict=True):
        for number in range(1, n + 1):
            dpt = rng.randint(150, 300)
            dpt_l = dpt // 2 + rng.randint(-10, 10)
            tps_rows.append((f"{ds}.{number:03d}", ds, number, dpt_l, dpt - dpt_l))
    return SyntheticRoster(areas, tps_rows)


async def write_synthetic_roster(
    conn: asyncpg.Connection,
    roster: SyntheticRoster,
    *,
    election: str = "pemilu-2024",
    contests: Sequence[Contest] = PEMILU_CONTESTS,
) -> None:
    """Write a generated roster (election, contests, areas, TPS) and its progress denominators."""
    async with conn.transaction():
        await conn.execute(
            """INSERT INTO elections (id, kind, name, date, max_dpt_per_tps, ballot_reserve_pct)
               VALUES ($1, 'pemilu', 'Pemilu (synthetic)', '2024-02-14', 300, 2.0)""",
            election,
        )
        await conn.executemany(
            "INSERT INTO contests (election, contest, name) VALUES ($1, $2, $2)",
            [(election, c.value) for c in contests],
        )
        await conn.copy_records_to_table(
            "areas", records=roster.areas, columns=["code", "level", "name", "parent_code", "kind"]
        )
        await conn.copy_records_to_table(
            "tps",
            records=[(election, *row, True) for row in roster.tps],
            columns=["election", "code", "desa_code", "number", "dpt_l", "dpt_p", "generated"],
        )
        # The same denominators deskpemilu/roster_store.py writes: desa up to provinsi.
        await conn.execute(
            """INSERT INTO area_summary (election, contest, area_code, shard, tps_total, dpt_total)
               SELECT $1, c.contest, a.area_code, 0, a.tps_total, a.dpt_total
               FROM (SELECT area_code, count(*)::int AS tps_total, sum(dpt)::bigint AS dpt_total
                     FROM tps, unnest(ARRAY[desa_code, left(desa_code, 8), left(desa_code, 5),
                                            left(desa_code, 2)]) AS area_code
                     WHERE election = $1 GROUP BY area_code) a
               CROSS JOIN contests c WHERE c.election = $1
               ORDER BY c.contest, a.area_code""",
            election,
        )


def bench_form(rng: random.Random, election: str, contest: Contest, tps: str, dpt: int) -> CHasil:
    """A consistent C.Hasil with realistic line counts (party lists carry candidate lines)."""
    voters = rng.randint(dpt * 6 // 10, dpt * 9 // 10)
    tidak_sah = rng.randint(0, voters // 20)
    sah = voters - tidak_sah
    if contest.is_party_list:
        weights = [rng.random() for _ in range(PARTIES)]
        shares = _split(sah, weights)
        parties = []
        for no, share in enumerate(shares, start=1):
            lines = _split(share, [rng.random() for _ in range(CANDIDATES_PER_PARTY + 1)])
            calon = {i: v for i, v in enumerate(lines[1:], start=1)}
            parties.append(
                SuaraPartai(nomor_partai=no, suara_partai=lines[0], suara_calon=calon, jumlah=share)
            )
        votes: dict[str, object] = {"suara_partai": parties}
    else:
        count = PAPER_CANDIDATES[contest]
        shares = _split(sah, [rng.random() for _ in range(count)])
        votes = {"suara_calon": dict(enumerate(shares, start=1))}
    half = voters // 2
    row = LP(l=half, p=voters - half, jumlah=voters)
    zero = LP(l=0, p=0, jumlah=0)
    pemilih = DataPemilih(
        dpt=LP(l=dpt // 2, p=dpt - dpt // 2, jumlah=dpt),
        pengguna_dpt=row,
        pengguna_dptb=zero,
        pengguna_dpk=zero,
        pengguna_total=row,
    )
    return CHasil.model_validate(
        {
            "election": election,
            "contest": contest,
            "tps": tps,
            "pemilih": pemilih,
            "suara_sah": sah,
            "suara_tidak_sah": tidak_sah,
            **votes,
        }
    )


def _split(total: int, weights: Sequence[float]) -> list[int]:
    scale = sum(weights) or 1.0
    parts = [int(total * w / scale) for w in weights]
    parts[0] += total - sum(parts)
    return parts


def validated_records(
    tps: Sequence[tuple[str, int]],
    contests: Sequence[Contest],
    count: int,
    *,
    waves: int = 1,
    election: str = "pemilu-2024",
    partitions: int = 12,
    seed: int = 11,
) -> Iterator[tuple[int, bytes]]:
    """(partition, SubmissionValidated bytes) for `count` distinct TPS x contest pairs, shuffled.

    With waves > 1 the operator sends every pair again, wave after wave, with new figures: the
    first wave is counted as new results, each later one as revisions (totals move by the
    difference), so a small roster yields a run long enough to time.
    """
    rng = random.Random(seed)
    operator = OperatorRef(id="bench-op", role=Role.OPERATOR)
    pairs = [(code, dpt, contest) for code, dpt in tps for contest in contests]
    rng.shuffle(pairs)
    pairs = pairs[:count]
    n = 0
    for wave in range(waves):
        if wave:
            rng.shuffle(pairs)
        for code, dpt, contest in pairs:
            sub = SubmissionReceived(
                submission_id=uuid.UUID(int=rng.getrandbits(128)),
                received_at=T0 + timedelta(milliseconds=n),
                channel=Channel.API,
                operator=operator,
                idempotency_key=f"bench-{n}",
                form=bench_form(rng, election, contest, code, dpt),
            )
            event = SubmissionValidated(submission=sub, validated_at=sub.received_at)
            yield zlib.crc32(code.encode()) % partitions, encode(event)
            n += 1


@dataclass(frozen=True, slots=True)
class _Record:
    """The fields of an aiokafka ConsumerRecord that the aggregator reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


@dataclass(frozen=True, slots=True)
class Workload:
    """The roster to load and the forms to apply."""

    roster: str
    tree: SyntheticRoster | None
    contests: tuple[Contest, ...]
    forms: int
    waves: int = 1


async def _prepare(conn: asyncpg.Connection, work: Workload) -> list[tuple[str, int]]:
    """Migrate, load the roster and return its TPS with DPT."""
    await migrate(conn)
    if work.tree is not None:
        await write_synthetic_roster(conn, work.tree, contests=PEMILU_CONTESTS)
    else:
        from deskpemilu.roster_load import load_roster

        await load_roster(conn, BANYUASIN)
    await conn.execute("ANALYZE")
    rows = await conn.fetch("SELECT code, dpt FROM tps ORDER BY code")
    return [(r["code"], r["dpt"]) for r in rows]


def _records(values: list[tuple[int, bytes]], topics: Topics) -> list[_Record]:
    offsets: dict[int, int] = {}
    records = []
    for partition, value in values:
        offsets[partition] = offsets.get(partition, 0) + 1
        records.append(_Record(topics.validated, partition, offsets[partition] - 1, None, value))
    return records


def _cpu_figure(records: int, client_s: float, server_s: float) -> str:
    return (
        f"CPU per form: aggregator {client_s / records * 1e6:.0f} us, "
        f"PostgreSQL backend {server_s / records * 1e6:.0f} us"
    )


async def _direct(conn: asyncpg.Connection, values: list[tuple[int, bytes]], batch: int) -> str:
    """Decode and apply_batch in process, batch after batch; Kafka is not involved."""
    topics = Topics("bench.")
    records = _records(values, topics)
    decode_s = apply_s = 0.0
    backend = _cpu_seconds(await conn.fetchval("SELECT pg_backend_pid()"))
    client = time.process_time()
    started = time.perf_counter()
    for start in range(0, len(records), batch):
        chunk = records[start : start + batch]
        t0 = time.perf_counter()
        events: list[Incoming] = [to_incoming(r, topics) for r in chunk]
        t1 = time.perf_counter()
        next_offsets = {(r.topic, r.partition): r.offset + 1 for r in chunk}
        await apply_batch(conn, group="bench", events=events, next_offsets=next_offsets)
        decode_s += t1 - t0
        apply_s += time.perf_counter() - t1
    elapsed = time.perf_counter() - started
    return (
        f"{len(records) / elapsed:,.0f} forms/s ({elapsed:.1f} s: decode {decode_s:.1f} s, "
        f"decide+write+commit {apply_s:.1f} s); "
        + _cpu_figure(len(records), time.process_time() - client, backend() - backend.start)
    )


async def _pipelined(url: str, values: list[tuple[int, bytes]], batch: int, lanes: int) -> str:
    """Decode each batch while the previous batch's transactions run, as the consumer does."""
    topics = Topics("bench.")
    records = _records(values, topics)
    pool = await create_pool(url, min_size=lanes, max_size=lanes)
    try:
        backends = []
        async with contextlib.AsyncExitStack() as stack:
            for _ in range(lanes):
                conn = await stack.enter_async_context(pool.acquire())
                backends.append(_cpu_seconds(await conn.fetchval("SELECT pg_backend_pid()")))
        applier = BatchApplier(pool, "bench", asyncio.Event(), lanes=lanes)
        client = time.process_time()
        started = time.perf_counter()
        for start in range(0, len(records), batch):
            chunk = records[start : start + batch]
            events: list[Incoming] = []
            for n, record in enumerate(chunk, start=1):
                if n % DECODE_YIELD_EVERY == 0:
                    await asyncio.sleep(0)
                events.append(to_incoming(record, topics))
            next_offsets = {(r.topic, r.partition): r.offset + 1 for r in chunk}
            await applier.submit(events, next_offsets)
        await applier.drain()
        elapsed = time.perf_counter() - started
        server_s = sum(b() - b.start for b in backends)
        return f"{len(records) / elapsed:,.0f} forms/s ({elapsed:.1f} s); " + _cpu_figure(
            len(records), time.process_time() - client, server_s
        )
    finally:
        await pool.close()


class _cpu_seconds:
    """CPU seconds (user + system) a process has used so far, read from /proc."""

    def __init__(self, pid: int) -> None:
        self.path = Path(f"/proc/{pid}/stat")
        self.start = self()

    def __call__(self) -> float:
        fields = self.path.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _process(
    url: str,
    bootstrap: str,
    values: list[tuple[int, bytes]],
    batch: int,
    partitions: int,
    instances: int,
    lanes: int,
) -> str:
    """Fill a fresh prefixed validated topic, then time real aggregator processes draining it."""
    from tests.procs import ServiceProcess, stack_env

    env = stack_env(bootstrap, url, AGGREGATOR_MAX_BATCH=str(batch), AGGREGATOR_LANES=str(lanes))
    topics = Topics(env["TOPIC_PREFIX"])
    await ensure_topics(
        bootstrap, partitions=partitions, replication_factor=1, topics=topics.specs()
    )
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for partition, value in values:
            await producer.send(topics.validated, value, partition=partition % partitions)
        await producer.flush()
    finally:
        await producer.stop()
    conn = await connect(url)
    log_path = Path(tempfile.gettempdir()) / f"aggregator-bench-{os.getpid()}.log"
    aggregators = [
        ServiceProcess(
            "aggregator",
            {**env, "AGGREGATOR_INSTANCE_ID": f"bench-{n}"},
            log_path.with_suffix(f".{n}.log"),
        )
        for n in range(instances)
    ]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        started = time.perf_counter()
        for aggregator in aggregators:
            aggregator.start(wait=False)
        first = None
        while True:
            done = await conn.fetchval(
                "SELECT coalesce(sum(next_offset), 0)::bigint FROM consumer_offsets"
            )
            if done and first is None:
                first = (time.perf_counter(), done)
            if done >= len(values):
                break
            for aggregator in aggregators:
                assert aggregator.process is not None and aggregator.process.poll() is None, (
                    aggregator.log_tail()
                )
            await asyncio.sleep(0.05)
        ended = time.perf_counter()
        assert first is not None
        steady = (len(values) - first[1]) / max(ended - first[0], 1e-9)
        return (
            f"{len(values) / (ended - started):,.0f} forms/s from process start "
            f"({ended - started:.1f} s), {steady:,.0f} forms/s after the first commit"
        )
    finally:
        for aggregator in aggregators:
            aggregator.stop()
        await conn.close()
        await admin.start()
        await admin.delete_topics([spec.name for spec in topics.specs()])
        await admin.close()


async def run(
    database_url: str,
    bootstrap: str,
    work: Workload,
    batches: Sequence[int],
    modes: Sequence[str],
    partitions: int,
    instances: int,
    lanes: int,
) -> None:
    """A scratch database per run: load the roster, apply the forms, print forms per second."""
    admin = await asyncpg.connect(database_url)
    values: list[tuple[int, bytes]] = []
    try:
        for mode in modes:
            for batch in batches:
                name = f"bench_agg_{uuid.uuid4().hex[:8]}"
                await admin.execute(f'CREATE DATABASE "{name}"')
                url = f"{database_url.rpartition('/')[0]}/{name}"
                conn = await connect(url)
                try:
                    started = time.perf_counter()
                    tps = await _prepare(conn, work)
                    roster_s = time.perf_counter() - started
                    if not values:
                        values = list(
                            validated_records(tps, work.contests, work.forms, waves=work.waves)
                        )
                    if mode == "direct":
                        figure = await _direct(conn, values, batch)
                    elif mode == "pipelined":
                        figure = await _pipelined(url, values, batch, lanes)
                    else:
                        figure = await _process(
                            url, bootstrap, values, batch, partitions, instances, lanes
                        )
                    counted = await conn.fetchval("SELECT count(*) FROM tps_results")
                    assert counted * work.waves == len(values), (counted, len(values))
                    stored = await conn.fetchval("SELECT count(*) FROM submissions")
                    assert stored == len(values), (stored, len(values))
                    contests = "+".join(c.value for c in work.contests)
                    label = f"process x{instances}" if mode == "process" else mode
                    if mode != "direct":
                        label += f" lanes={lanes}"
                    print(
                        f"{label:10} roster={work.roster} tps={len(tps)} contests={contests} "
                        f"forms={len(values)} waves={work.waves} batch={batch}: {figure} "
                        f"[roster load {roster_s:.1f} s]",
                        flush=True,
                    )
                finally:
                    await conn.close()
                    await drop_database(admin, name)
    finally:
        await admin.close()


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument(
        "--roster", choices=["banyuasin", "national"], action="append", help="(repeatable)"
    )
    parser.add_argument(
        "--forms", type=int, default=12_820, help="distinct TPS x contest forms (at most)"
    )
    parser.add_argument(
        "--waves", type=int, default=1, help="sends per pair: the first new, the rest revisions"
    )
    parser.add_argument("--contests", choices=["all", "PPWP"], default="all")
    parser.add_argument("--batch", type=int, action="append", help="batch sizes (repeatable)")
    parser.add_argument("--mode", choices=["direct", "pipelined", "process"], action="append")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--instances", type=int, default=1, help="aggregator processes")
    parser.add_argument(
        "--lanes", type=int, default=2, help="concurrent batch transactions per process"
    )
    args = parser.parse_args()
    tune_gc()  # this process stands in for the aggregator's
    for roster in args.roster or ["banyuasin"]:
        work = Workload(
            roster=roster,
            tree=synthetic_tree(*NATIONAL) if roster == "national" else None,
            contests=PEMILU_CONTESTS if args.contests == "all" else (Contest.PPWP,),
            forms=args.forms,
            waves=args.waves,
        )
        asyncio.run(
            run(
                args.database_url,
                args.bootstrap,
                work,
                args.batch or [1000, 2000, 5000],
                args.mode or ["direct", "pipelined"],
                args.partitions,
                args.instances,
                args.lanes,
            )
        )


if __name__ == "__main__":
    main()
