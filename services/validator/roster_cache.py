"""The validator's in-memory rosters: loaded at start, reloaded when the roster version changes.

The reload itself is shared.roster_cache.RosterCache (one roster cache for every service); this
class adds what judging needs around it: one connection, a poll loop, rationed re-checks when a
form names an unknown election, and a database outage that keeps the cached roster.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Mapping

import asyncpg

from services.validator import metrics, repository
from shared.roster import ElectionRoster
from shared.roster_cache import RosterCache as SharedRosterCache

log = logging.getLogger(__name__)

# A form naming an unknown election asks for a version check, but no more often than this:
# a stream of forms for a bogus election must not turn into a stream of queries.
UNKNOWN_ELECTION_CHECK_SECONDS = 1.0
# A database that stopped answering must not hold a batch (or the poller) for long.
REFRESH_TIMEOUT_SECONDS = 15.0


class RosterCache:
    """Every election's roster, swapped whole on reload so a batch never sees half of one."""

    def __init__(self, dsn: str, *, poll_seconds: float) -> None:
        self._dsn = dsn
        self._poll_seconds = poll_seconds
        self._conn: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()  # one connection: one query at a time
        self._cache: SharedRosterCache[Mapping[str, ElectionRoster]] = SharedRosterCache(
            repository.fetch_rosters, {}
        )

    @property
    def rosters(self) -> Mapping[str, ElectionRoster]:
        """Every election's roster as of the last reload (one object per reload)."""
        return self._cache.value

    @property
    def version(self) -> int | None:
        """The roster version in memory; None before the first load."""
        return self._cache.version

    @property
    def loaded(self) -> bool:
        """True once a first roster load succeeded."""
        return self._cache.loaded

    async def load(self) -> None:
        """First load; a database that cannot be reached here stops the process."""
        async with self._lock:
            await self._reload(await self._connection())

    async def close(self) -> None:
        """Close the database connection."""
        if self._conn is not None:
            await self._conn.close()
            self._conn = None

    async def refresh(self) -> bool:
        """Reload when the roster version moved; True if it did."""
        async with self._lock:
            self._cache.checked_at = time.monotonic()  # a failed connect counts as a check too
            return await self._reload(await self._connection())

    async def refresh_for_unknown(self, elections: set[str]) -> None:
        """Check for a new roster when a batch names elections the cache does not know."""
        if not elections - self.rosters.keys():
            return
        if self._cache.checked_within(UNKNOWN_ELECTION_CHECK_SECONDS):
            return
        await self._refresh_or_keep()

    async def run(self, stop: asyncio.Event) -> None:
        """Poll the roster version until stop is set."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=self._poll_seconds)
            except TimeoutError:
                await self._refresh_or_keep()

    async def _refresh_or_keep(self) -> None:
        # The cached roster stays good while PostgreSQL is away: judging goes on with it and
        # the next poll tries again (the roster only changes by a deliberate load).
        try:
            await asyncio.wait_for(self.refresh(), REFRESH_TIMEOUT_SECONDS)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            metrics.ROSTER_ERRORS.inc()
            log.warning(
                "roster refresh failed; keeping the cached roster", extra={"err": repr(exc)}
            )
            await self._drop_connection()

    async def _connection(self) -> asyncpg.Connection:
        if self._conn is None or self._conn.is_closed():
            self._conn = await repository.open_connection(self._dsn)
        return self._conn

    async def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def _reload(self, conn: asyncpg.Connection) -> bool:
        started = time.perf_counter()
        if not await self._cache.refresh(conn):
            return False
        rosters, version = self._cache.value, self._cache.version or 0
        # The rosters live until the next reload: out of the cyclic collector's way (see
        # consumer.tune_gc), so that collections stop rescanning thousands of TPS each time.
        gc.collect()
        gc.freeze()
        metrics.ROSTER_VERSION.set(version)
        metrics.ROSTER_RELOADS.inc()
        log.info(
            "roster loaded",
            extra={
                "version": version,
                "elections": sorted(rosters),
                "tps": sum(len(r.tps) for r in rosters.values()),
                "seconds": round(time.perf_counter() - started, 3),
            },
        )
        return True
