"""Aggregator throughput: validated forms applied into PostgreSQL per second, by batch size.

Times services.aggregator.repository.apply_batch directly against a scratch PostgreSQL database
(decoding the Kafka record bytes, deciding, writing, storing offsets, committing): Kafka itself is
left out, so the figure is what the database side of one aggregator instance sustains.

    .venv/bin/python -m benchmarks.aggregator_bench --roster banyuasin
    .venv/bin/python -m benchmarks.aggregator_bench --roster national --forms 200000
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg

from services.aggregator.aggregation import FormIn, Incoming
from services.aggregator.consumer import to_incoming
from services.aggregator.repository import apply_batch
from shared.codec import encode
from shared.db import connect, migrate
from shared.events import Channel, OperatorRef, Role, SubmissionReceived, SubmissionValidated
from shared.form import LP, CHasil, Contest, DataPemilih, SuaraPartai
from shared.topics import Topics

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
        # The same denominators deskpemilu/roster_load.py writes: desa up to provinsi.
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


def bench_form(
    rng: random.Random, election: str, contest: Contest, tps: str, dpt: int
) -> CHasil:
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
    election: str = "pemilu-2024",
    partitions: int = 12,
    seed: int = 11,
) -> Iterator[tuple[int, bytes]]:
    """(partition, SubmissionValidated bytes) for `count` distinct TPS x contest pairs, shuffled."""
    rng = random.Random(seed)
    operator = OperatorRef(id="bench-op", role=Role.OPERATOR)
    pairs = [(code, dpt, contest) for code, dpt in tps for contest in contests]
    rng.shuffle(pairs)
    for n, (code, dpt, contest) in enumerate(pairs[:count]):
        sub = SubmissionReceived(
            submission_id=uuid.UUID(int=rng.getrandbits(128)),
            received_at=T0 + timedelta(milliseconds=n),
            channel=Channel.API,
            operator=operator,
            idempotency_key=f"bench-{n}",
            form=bench_form(rng, election, contest, code, dpt),
        )
        event = SubmissionValidated(submission=sub, validated_at=sub.received_at)
        yield hash(code) % partitions, encode(event)


@dataclass(frozen=True, slots=True)
class _Record:
    """The fields of an aiokafka ConsumerRecord that the aggregator reads."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


async def run(database_url: str, roster_name: str, forms: int, batches: Sequence[int]) -> None:
    """Create a scratch database per batch size, load the roster, apply the forms, print rates."""
    admin = await asyncpg.connect(database_url)
    topics = Topics("bench.")
    if roster_name == "national":
        tree = synthetic_tree(*NATIONAL)
        tps = [(code, dpt_l + dpt_p) for code, _, _, dpt_l, dpt_p in tree.tps]
    else:
        tree = None
        tps = []
    records: list[_Record] = []
    try:
        for batch in batches:
            name = f"bench_agg_{uuid.uuid4().hex[:8]}"
            await admin.execute(f'CREATE DATABASE "{name}"')
            url = f"{database_url.rpartition('/')[0]}/{name}"
            conn = await connect(url)
            try:
                await migrate(conn)
                started = time.perf_counter()
                if tree is not None:
                    await write_synthetic_roster(conn, tree)
                else:
                    from deskpemilu.roster_load import load_roster

                    await load_roster(conn, BANYUASIN)
                    rows = await conn.fetch("SELECT code, dpt FROM tps ORDER BY code")
                    tps = [(r["code"], r["dpt"]) for r in rows]
                roster_s = time.perf_counter() - started
                await conn.execute("ANALYZE")
                if not records:
                    offsets: dict[int, int] = {}
                    for partition, value in validated_records(tps, PEMILU_CONTESTS, forms):
                        offset = offsets.get(partition, 0)
                        offsets[partition] = offset + 1
                        records.append(_Record(topics.validated, partition, offset, None, value))
                total = len(records)
                busy = 0.0
                decode_s = 0.0
                started = time.perf_counter()
                for start in range(0, total, batch):
                    chunk = records[start : start + batch]
                    t0 = time.perf_counter()
                    events: list[Incoming] = [to_incoming(r, topics) for r in chunk]  # type: ignore[arg-type]
                    decode_s += time.perf_counter() - t0
                    next_offsets: dict[tuple[str, int], int] = {}
                    for r in chunk:
                        next_offsets[(r.topic, r.partition)] = r.offset + 1
                    t1 = time.perf_counter()
                    await apply_batch(
                        conn, group="bench", events=events, next_offsets=next_offsets
                    )
                    busy += time.perf_counter() - t1
                elapsed = time.perf_counter() - started
                counted = await conn.fetchval("SELECT count(*) FROM tps_results")
                assert counted == total, (counted, total)
                assert all(isinstance(e, FormIn) for e in events)
                print(
                    f"roster={roster_name} tps={len(tps)} forms={total} batch={batch}: "
                    f"{total / elapsed:,.0f} forms/s end to end ({elapsed:.1f} s; "
                    f"decode {decode_s:.1f} s, apply+commit {busy:.1f} s; "
                    f"roster load {roster_s:.1f} s)",
                    flush=True,
                )
            finally:
                await conn.close()
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument("--roster", choices=["banyuasin", "national"], default="banyuasin")
    parser.add_argument("--forms", type=int, default=12_820, help="distinct TPS x contest forms")
    parser.add_argument("--batch", type=int, action="append", help="batch sizes (repeatable)")
    args = parser.parse_args()
    asyncio.run(run(args.database_url, args.roster, args.forms, args.batch or [1000, 2000, 5000]))


if __name__ == "__main__":
    main()
