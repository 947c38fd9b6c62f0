"""Write a checked roster (roster_files.RosterFolder) into PostgreSQL in one transaction.

Upserts the election's rows, drops the ones no longer in the files, refuses a phone number another
operator holds, recomputes the per-area roster totals and logs the load in roster_loads.
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from deskpemilu.roster_files import Progress, RosterFileError, RosterFolder
from shared.roster import AreaLevel

# Any constant works: it only has to be the same for every process that loads rosters.
_ROSTER_LOCK_KEY = 0x726F7374  # "rost"


async def has_rosters(conn: asyncpg.Connection) -> bool:
    """True when at least one election's roster is loaded."""
    return bool(await conn.fetchval("SELECT EXISTS (SELECT 1 FROM elections)"))


@dataclass(frozen=True)
class LoadReport:
    """What a roster folder holds, now in the database."""

    election_id: str
    areas_by_level: dict[str, int]
    tps: int
    tps_special: int
    dpt_total: int
    dpt_l: int
    dpt_p: int
    contests: int
    parties: int
    candidates: int
    operators: int
    removed: dict[str, int] = field(default_factory=dict)  # rows no longer in the files
    roster_version: int = 0

    def __str__(self) -> str:
        areas = ", ".join(f"{n:,} {level}" for level, n in self.areas_by_level.items())
        removed = ", ".join(f"{n:,} {t}" for t, n in self.removed.items() if n)
        return (
            f"{self.election_id}: {areas}; {self.tps:,} TPS ({self.tps_special} khusus), "
            f"DPT {self.dpt_total:,} (L {self.dpt_l:,}, P {self.dpt_p:,}); "
            f"{self.contests} contests, {self.parties} parties, {self.candidates:,} candidates, "
            f"{self.operators} operators" + (f"; removed {removed}" if removed else "")
        )


@dataclass(frozen=True)
class _Table:
    """How one roster table is synchronised from a temp table filled by COPY."""

    name: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    conflict: str  # ON CONFLICT target
    nullable: tuple[str, ...] = ()  # key columns that may be NULL
    touch_updated_at: bool = False


_AREAS = _Table(
    "areas",
    ("code", "level", "name", "parent_code", "kind"),
    ("code",),
    "(code)",
    touch_updated_at=True,
)
_CONTESTS = _Table(
    "contests", ("election", "contest", "name"), ("election", "contest"), "(election, contest)"
)
_PARTIES = _Table(
    "parties",
    ("election", "nomor", "short_name", "name"),
    ("election", "nomor"),
    "(election, nomor)",
)
_CANDIDATES = _Table(
    "candidates",
    ("election", "contest", "party", "nomor", "name", "generated"),
    ("election", "contest", "party", "nomor"),
    "ON CONSTRAINT candidates_natural_key",
    nullable=("party",),
)
_TPS = _Table(
    "tps",
    ("election", "code", "desa_code", "number", "dpt_l", "dpt_p", "generated"),
    ("election", "code"),
    "(election, code)",
)
_OPERATORS = _Table(
    "operators",
    ("id", "name", "role", "scope", "phone", "active", "demo"),
    ("id",),
    "(id)",
    touch_updated_at=True,
)


async def _stage(conn: asyncpg.Connection, table: _Table, records: list[tuple[Any, ...]]) -> str:
    """COPY records into a temp table shaped like the target; returns its name."""
    temp = f"roster_load_{table.name}"
    columns = ", ".join(table.columns)
    # Identifiers in these statements are this module's constants, never input.
    await conn.execute(f"DROP TABLE IF EXISTS pg_temp.{temp}")
    await conn.execute(
        f"CREATE TEMP TABLE {temp} ON COMMIT DROP AS "  # noqa: S608
        f"SELECT {columns} FROM {table.name} WITH NO DATA"
    )
    await conn.copy_records_to_table(temp, records=records, columns=list(table.columns))
    # The target's statistics may be stale mid-load: with an index and fresh statistics here,
    # the anti-join of _delete_missing stays cheap whatever plan is chosen.
    await conn.execute(f"CREATE INDEX ON {temp} ({', '.join(table.key)})")
    await conn.execute(f"ANALYZE {temp}")
    return temp


async def _upsert(conn: asyncpg.Connection, table: _Table, temp: str) -> None:
    """Insert new rows and update changed ones from a staged table; unchanged rows are kept."""
    columns = ", ".join(table.columns)
    rest = [c for c in table.columns if c not in table.key]
    assignments = [f"{c} = EXCLUDED.{c}" for c in rest]
    if table.touch_updated_at:
        assignments.append("updated_at = now()")
    old = ", ".join(f"{table.name}.{c}" for c in rest)
    new = ", ".join(f"EXCLUDED.{c}" for c in rest)
    # Key order: row locks are taken in one order whoever else writes, and btree pages fill
    # in sequence.
    await conn.execute(
        f"INSERT INTO {table.name} ({columns}) SELECT {columns} FROM {temp} "  # noqa: S608
        f"ORDER BY {', '.join(table.key)} "
        f"ON CONFLICT {table.conflict} DO UPDATE SET {', '.join(assignments)} "
        f"WHERE ({old}) IS DISTINCT FROM ({new})"
    )


async def _delete_missing(conn: asyncpg.Connection, table: _Table, temp: str, election: str) -> int:
    """Delete this election's rows that the staged files no longer hold; returns how many."""
    # '=' where the key cannot be NULL: IS NOT DISTINCT FROM would rule out a hash anti-join.
    match = " AND ".join(
        f"s.{c} IS NOT DISTINCT FROM t.{c}" if c in table.nullable else f"s.{c} = t.{c}"
        for c in table.key
    )
    result: str = await conn.execute(
        f"DELETE FROM {table.name} t WHERE t.election = $1 "  # noqa: S608
        f"AND NOT EXISTS (SELECT 1 FROM {temp} s WHERE {match})",
        election,
    )
    return int(result.split()[-1])


_UPSERT_ELECTION = """
INSERT INTO elections (id, kind, name, date, max_dpt_per_tps, ballot_reserve_pct)
VALUES ($1, $2, $3, $4, $5, $6)
ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, name = EXCLUDED.name, date = EXCLUDED.date,
    max_dpt_per_tps = EXCLUDED.max_dpt_per_tps, ballot_reserve_pct = EXCLUDED.ballot_reserve_pct,
    updated_at = now()
WHERE (elections.kind, elections.name, elections.date, elections.max_dpt_per_tps,
       elections.ballot_reserve_pct) IS DISTINCT FROM
      (EXCLUDED.kind, EXCLUDED.name, EXCLUDED.date, EXCLUDED.max_dpt_per_tps,
       EXCLUDED.ballot_reserve_pct)
"""

# Phones held by operators the folder does not list: the unique index would refuse the load.
_PHONES_TAKEN = """
SELECT phone, id FROM operators WHERE phone = ANY($1::text[]) AND NOT (id = ANY($2::text[]))
"""
# Operators of this folder whose phone changes release the old one first, so two operators
# can swap numbers in one load without tripping the unique index mid-statement.
_RELEASE_PHONES = """
UPDATE operators o SET phone = NULL
FROM unnest($1::text[], $2::text[]) AS f(id, phone)
WHERE o.id = f.id AND o.phone IS DISTINCT FROM f.phone AND o.phone IS NOT NULL
"""

# tps_total and dpt_total per area and contest are roster facts; the aggregator adds the rest.
# Codes have fixed widths (checked by areas' constraints), so ancestors are prefixes. Staged in
# a keyed temp table: area_summary's statistics are stale right after a load, and the planner's
# guess of one row there made the anti-join a quadratic nested loop.
_STAGE_TOTALS = (
    "DROP TABLE IF EXISTS pg_temp.roster_load_totals",
    """CREATE TEMP TABLE roster_load_totals (
           contest text, area_code text COLLATE "C", tps_total int, dpt_total bigint,
           PRIMARY KEY (contest, area_code)
       ) ON COMMIT DROP""",
)
_ROSTER_TOTALS = """
INSERT INTO roster_load_totals
SELECT c.contest, a.area_code, a.tps_total, a.dpt_total
FROM (SELECT area_code, sum(n)::int AS tps_total, sum(dpt)::bigint AS dpt_total
      FROM (SELECT desa_code, count(*) AS n, sum(dpt) AS dpt
            FROM tps WHERE election = $1 GROUP BY desa_code) per_desa,
           unnest(ARRAY[desa_code, left(desa_code, 8), left(desa_code, 5),
                        left(desa_code, 2)]) AS area_code
      GROUP BY area_code) a
CROSS JOIN contests c
WHERE c.election = $1
"""
_ZERO_STALE_TOTALS = """
UPDATE area_summary s SET tps_total = 0, dpt_total = 0, updated_at = now()
WHERE s.election = $1 AND s.shard = 0 AND (s.tps_total, s.dpt_total) <> (0, 0)
  AND NOT EXISTS (SELECT 1 FROM roster_load_totals w
                  WHERE w.contest = s.contest AND w.area_code = s.area_code)
"""
_UPSERT_TOTALS = """
INSERT INTO area_summary (election, contest, area_code, shard, tps_total, dpt_total)
SELECT $1, contest, area_code, 0, tps_total, dpt_total FROM roster_load_totals
ORDER BY contest, area_code
ON CONFLICT (election, contest, area_code, shard) DO UPDATE
    SET tps_total = EXCLUDED.tps_total, dpt_total = EXCLUDED.dpt_total, updated_at = now()
WHERE (area_summary.tps_total, area_summary.dpt_total)
      IS DISTINCT FROM (EXCLUDED.tps_total, EXCLUDED.dpt_total)
"""


async def _write_roster_totals(conn: asyncpg.Connection, election: str) -> None:
    for statement in _STAGE_TOTALS:
        await conn.execute(statement)
    await conn.execute(_ROSTER_TOTALS, election)
    await conn.execute("ANALYZE roster_load_totals")
    await conn.execute(_ZERO_STALE_TOTALS, election)
    await conn.execute(_UPSERT_TOTALS, election)


async def _check_phones(conn: asyncpg.Connection, roster: RosterFolder) -> None:
    operators = roster.operators or []
    phones = {o.phone: o for o in operators if o.phone}
    rows = await conn.fetch(_PHONES_TAKEN, list(phones), [o.id for o in operators])
    if not rows:
        return
    path = str(roster.folder / "operators.csv")
    errors = [
        RosterFileError(
            path,
            phones[r["phone"]].line,
            phones[r["phone"]].phone_column,
            f"nomor {r['phone']} sudah dipakai operator {r['id']} / "
            f"number {r['phone']} already belongs to operator {r['id']}",
            code="ROSTER_PHONE_TAKEN",
        )
        for r in sorted(rows, key=lambda r: phones[r["phone"]].line)
    ]
    first = errors[0]
    raise RosterFileError(
        first.file, first.line, first.column, first.message, code=first.code, errors=errors
    )


async def write_roster(
    conn: asyncpg.Connection, roster: RosterFolder, *, progress: Progress | None = None
) -> LoadReport:
    """Write a checked roster in one transaction: upsert, and drop this election's stale rows."""
    say = progress or (lambda _message: None)
    election = roster.election
    eid = election.id
    async with conn.transaction():
        # Two loads at once would interleave their deletes and upserts: take turns.
        await conn.execute("SELECT pg_advisory_xact_lock($1)", _ROSTER_LOCK_KEY)
        await _check_phones(conn, roster)
        await conn.execute(
            _UPSERT_ELECTION,
            eid,
            election.kind,
            election.name,
            election.date,
            election.max_dpt_per_tps,
            election.ballot_reserve_pct,
        )
        staged: dict[_Table, list[tuple[Any, ...]]] = {
            _AREAS: [(a.code, a.level.value, a.name, a.parent_code, a.kind) for a in roster.areas],
            _CONTESTS: [(eid, c.value, name) for c, name in roster.contests.items()],
            _PARTIES: [(eid, *p) for p in roster.parties],
            _CANDIDATES: [
                (eid, c.contest.value, c.party, c.nomor, c.name, c.generated)
                for c in roster.candidates
            ],
            _TPS: [
                (eid, t.code, t.desa_code, t.number, t.dpt_l, t.dpt_p, t.generated)
                for t in roster.tps
            ],
        }
        if roster.operators is not None:
            staged[_OPERATORS] = [
                (o.id, o.name, o.role.value, list(o.scope), o.phone, o.active, o.demo)
                for o in roster.operators
            ]
        temps = {table: await _stage(conn, table, records) for table, records in staged.items()}
        # Stale rows of this election go first, children before the rows they point to.
        # Areas and operators are shared by every election, so they are never deleted here.
        removed = {
            table.name: await _delete_missing(conn, table, temps[table], eid)
            for table in (_CANDIDATES, _PARTIES, _CONTESTS, _TPS)
        }
        if roster.operators is not None:
            await conn.execute(
                _RELEASE_PHONES,
                [o.id for o in roster.operators],
                [o.phone for o in roster.operators],
            )
        for table, temp in temps.items():  # dict order is parents first
            await _upsert(conn, table, temp)
            say(f"{table.name}: {len(staged[table])}")
        # Fresh statistics for whoever queries the roster next.
        await conn.execute("ANALYZE tps")
        await _write_roster_totals(conn, eid)
        report = _report(roster, removed)
        await conn.execute(
            "INSERT INTO roster_loads (election, source, content_hash, counts) "
            "VALUES ($1, $2, $3, $4::text::jsonb)",
            eid,
            str(roster.folder),
            roster.content_hash,
            json.dumps(dataclasses.asdict(report)),
        )
        version: int = await conn.fetchval("SELECT version FROM roster_state")
    return dataclasses.replace(report, roster_version=version)


def _report(roster: RosterFolder, removed: dict[str, int]) -> LoadReport:
    levels = Counter(a.level.value for a in roster.areas)
    return LoadReport(
        election_id=roster.election.id,
        areas_by_level={lvl.value: levels[lvl.value] for lvl in AreaLevel if lvl.value in levels},
        tps=len(roster.tps),
        tps_special=sum(1 for t in roster.tps if t.number >= 900),
        dpt_total=sum(t.dpt_l + t.dpt_p for t in roster.tps),
        dpt_l=sum(t.dpt_l for t in roster.tps),
        dpt_p=sum(t.dpt_p for t in roster.tps),
        contests=len(roster.contests),
        parties=len(roster.parties),
        candidates=len(roster.candidates),
        operators=len(roster.operators or ()),
        removed=removed,
    )
