"""Read election rosters from PostgreSQL into shared.roster dataclasses (one query per table)."""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias

import asyncpg

from shared.form import PARTY_LIST_CONTESTS, Contest
from shared.roster import ContestInfo, ElectionRoster, TpsInfo

if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

# A plain connection or one borrowed from a pool: both run the same queries.
Conn: TypeAlias = "asyncpg.Connection | PoolConnectionProxy[Any]"

_ELECTIONS = """
SELECT id, kind, max_dpt_per_tps, ballot_reserve_pct::float8 AS ballot_reserve_pct
FROM elections WHERE $1::text IS NULL OR id = $1
"""
_TPS = """
SELECT election, code, number, dpt_l, dpt_p FROM tps WHERE $1::text IS NULL OR election = $1
"""
_CONTESTS = "SELECT election, contest FROM contests WHERE $1::text IS NULL OR election = $1"
_PARTIES = "SELECT election, nomor FROM parties WHERE $1::text IS NULL OR election = $1"
_CANDIDATES = """
SELECT election, contest, party, nomor FROM candidates WHERE $1::text IS NULL OR election = $1
"""


@asynccontextmanager
async def roster_snapshot(conn: Conn) -> AsyncIterator[None]:
    """One read-only snapshot for several roster queries (joins a transaction already open).

    A roster load committing meanwhile cannot mix two rosters into one answer.
    """
    if conn.is_in_transaction():
        yield
        return
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        yield


@contextmanager
def _gc_paused() -> Iterator[None]:
    # Building 800,000 TpsInfo makes CPython 3.11's cyclic GC rescan the growing heap again and
    # again; none of these objects form cycles, so collection can wait until they are built.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def _fetch(conn: Conn, election_id: str | None) -> dict[str, ElectionRoster]:
    tps: dict[str, dict[str, TpsInfo]] = defaultdict(dict)
    async with roster_snapshot(conn):
        elections = await conn.fetch(_ELECTIONS, election_id)
        contest_rows = await conn.fetch(_CONTESTS, election_id)
        party_rows = await conn.fetch(_PARTIES, election_id)
        candidate_rows = await conn.fetch(_CANDIDATES, election_id)
        with _gc_paused():
            for election, code, number, dpt_l, dpt_p in await conn.fetch(_TPS, election_id):
                tps[election][code] = TpsInfo(code, number, dpt_l, dpt_p)

    parties: dict[str, list[int]] = defaultdict(list)
    for row in party_rows:
        parties[row["election"]].append(row["nomor"])
    candidates: dict[tuple[str, str], set[int]] = defaultdict(set)
    party_candidates: dict[tuple[str, str, int], set[int]] = defaultdict(set)
    for row in candidate_rows:
        if row["party"] is None:
            candidates[row["election"], row["contest"]].add(row["nomor"])
        else:
            party_candidates[row["election"], row["contest"], row["party"]].add(row["nomor"])
    contests: dict[str, dict[Contest, ContestInfo]] = defaultdict(dict)
    for row in contest_rows:
        eid, contest = row["election"], Contest(row["contest"])
        if contest in PARTY_LIST_CONTESTS:
            # Every party of the election stands in each party-list contest, even one whose
            # candidate list was not loaded: its party votes (A.1) still count.
            info = ContestInfo(
                contest,
                parties={
                    p: frozenset(party_candidates.get((eid, contest.value, p), ()))
                    for p in parties[eid]
                },
            )
        else:
            info = ContestInfo(contest, candidates=frozenset(candidates[eid, contest.value]))
        contests[eid][contest] = info
    return {
        row["id"]: ElectionRoster(
            election_id=row["id"],
            kind=row["kind"],
            max_dpt_per_tps=row["max_dpt_per_tps"],
            ballot_reserve_pct=row["ballot_reserve_pct"],
            tps=tps[row["id"]],
            contests=contests[row["id"]],
        )
        for row in elections
    }


async def fetch_election_roster(conn: Conn, election_id: str) -> ElectionRoster | None:
    """The roster of one election, or None if no such election was loaded."""
    return (await _fetch(conn, election_id)).get(election_id)


async def fetch_all_rosters(conn: Conn) -> dict[str, ElectionRoster]:
    """Every loaded election's roster, by election id."""
    return await _fetch(conn, None)


async def roster_version(conn: Conn) -> int:
    """A number that grows whenever any roster table is written; poll it to refresh caches."""
    version: int = await conn.fetchval("SELECT version FROM roster_state")
    return version
