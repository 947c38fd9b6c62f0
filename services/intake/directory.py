"""In-memory operator directory and revoked tokens, refreshed from PostgreSQL in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg

from services.intake import repository
from services.intake.repository import OperatorRow
from shared.db import create_pool
from shared.roster_cache import RosterCache
from shared.tokens import TokenVerifier

if TYPE_CHECKING:
    from services.intake.repository import Conn

log = logging.getLogger(__name__)


def normalise_phone(value: str) -> str:
    """E.164 digits without '+': '+62 812-1' and '0812-1' (Indonesian local) become '628121'."""
    digits = "".join(ch for ch in value if ch.isdigit())
    if digits.startswith("0"):
        digits = "62" + digits[1:]
    return digits


@dataclass(frozen=True, slots=True)
class Operators:
    """The roster part the intake needs: operators by id and phone, contests' newest election."""

    by_id: dict[str, OperatorRow] = field(default_factory=dict)
    by_phone: dict[str, OperatorRow] = field(default_factory=dict)
    election_of_contest: dict[str, str] = field(default_factory=dict)
    # Desa and TPS codes of every loaded election: the places an incident can be reported at.
    areas: frozenset[str] = frozenset()


async def _load_operators(conn: Conn) -> Operators:
    operators = await repository.fetch_operators(conn)
    newest: dict[str, str] = {}
    for row in await repository.fetch_election_contests(conn):  # newest election first
        newest.setdefault(row.contest, row.election)
    log.info("operator directory loaded", extra={"operators": len(operators)})
    return Operators(
        by_id={op.id: op for op in operators},
        by_phone={op.phone: op for op in operators if op.phone},
        election_of_contest=newest,
        areas=await repository.fetch_incident_areas(conn),
    )


class Directory:
    """What the request path needs from PostgreSQL, read from memory only."""

    def __init__(self, tokens: TokenVerifier) -> None:
        self.tokens = tokens  # its revocation list is refreshed with the directory
        self.loaded = False
        self.refreshed_at = 0.0  # time.monotonic() of the last successful refresh
        self._roster: RosterCache[Operators] = RosterCache(_load_operators, Operators())
        self._sample: frozenset[tuple[str, str]] = frozenset()

    @property
    def roster_version(self) -> int | None:
        """The roster version the operators were read at; None before the first load."""
        return self._roster.version

    def operator(self, operator_id: str) -> OperatorRow | None:
        """A registered operator by id."""
        return self._roster.value.by_id.get(operator_id)

    def by_phone(self, phone: str) -> OperatorRow | None:
        """The active operator registered with this WhatsApp/SMS number."""
        row = self._roster.value.by_phone.get(normalise_phone(phone))
        return row if row is not None and row.active else None

    def election_for(self, contest: str) -> str | None:
        """The newest loaded election holding this contest (texts do not name the election)."""
        return self._roster.value.election_of_contest.get(contest)

    def knows_area(self, code: str) -> bool:
        """True when the desa or TPS code is in a loaded roster."""
        return code in self._roster.value.areas

    def in_sample(self, election: str, tps: str) -> bool:
        """True when the TPS is in the election's quick-count sample (as of the last refresh)."""
        return (election, tps) in self._sample

    def elections(self) -> set[str]:
        """Every election with at least one contest loaded."""
        return set(self._roster.value.election_of_contest.values())

    async def refresh(self, conn: Conn) -> None:
        """Reload revoked tokens and samples; operators, elections only when the roster moved."""
        await self._roster.refresh(conn)
        await self.tokens.refresh_revoked(conn)
        self._sample = frozenset(await repository.fetch_sample_tps(conn))
        self.loaded = True
        self.refreshed_at = time.monotonic()


class DirectoryRefresher:
    """Owns the pool and refreshes the directory every interval; survives PostgreSQL outages."""

    def __init__(self, directory: Directory, database_url: str, *, interval_s: float) -> None:
        self.directory = directory
        self.pool: asyncpg.Pool | None = None
        self._url = database_url
        self._interval = interval_s
        self._task: asyncio.Task[None] | None = None
        self._first = asyncio.Event()

    def start(self) -> None:
        """Begin refreshing in the background."""
        self._task = asyncio.create_task(self._run(), name="directory-refresh")

    async def wait_first(self, timeout_s: float) -> bool:
        """Wait a little for the first load so that a fresh process answers its first request."""
        try:
            await asyncio.wait_for(self._first.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def _run(self) -> None:
        while True:
            try:
                if self.pool is None:
                    self.pool = await create_pool(self._url, min_size=1, max_size=4)
                async with self.pool.acquire() as conn:
                    await self.directory.refresh(conn)
                self._first.set()
            except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("directory refresh failed", extra={"error": str(exc)})
            await asyncio.sleep(self._interval)

    def healthy(self) -> bool:
        """Loaded, and refreshed within three intervals."""
        return (
            self.directory.loaded
            and time.monotonic() - self.directory.refreshed_at < 3 * self._interval + 5
        )

    async def stop(self) -> None:
        """Stop refreshing and close the pool."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self.pool is not None:
            await self.pool.close()
