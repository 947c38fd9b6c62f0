"""One roster cache: a value built from the roster tables, rebuilt whole when the roster changes.

Every roster write bumps roster_state.version. A service keeps what it needs of the roster in
memory (the validator every election's ElectionRoster, the intake its operator directory) and asks
refresh() now and then: one cheap version query, and a full reload only when the number moved.
The version and the value are read in one snapshot, so a load committing meanwhile is seen whole
on the next refresh, never half now. The old value stays until a new one is complete.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from shared.roster_db import Conn, roster_snapshot, roster_version

T = TypeVar("T")


class RosterCache(Generic[T]):
    """A value built by `load` from the roster tables, swapped whole when the version moves."""

    def __init__(self, load: Callable[[Conn], Awaitable[T]], empty: T) -> None:
        self._load = load
        self.value: T = empty
        self.version: int | None = None
        self.checked_at = 0.0  # time.monotonic() of the last version check

    @property
    def loaded(self) -> bool:
        """True once a first load succeeded."""
        return self.version is not None

    def checked_within(self, seconds: float) -> bool:
        """True when the version was checked less than `seconds` ago (to ration re-checks)."""
        return time.monotonic() - self.checked_at < seconds

    async def refresh(self, conn: Conn) -> bool:
        """Reload when the roster version moved (or nothing is loaded yet); True if it did."""
        self.checked_at = time.monotonic()
        if self.version is not None and await roster_version(conn) == self.version:
            return False
        async with roster_snapshot(conn):
            version = await roster_version(conn)
            value = await self._load(conn)
        self.value, self.version = value, version
        return True
