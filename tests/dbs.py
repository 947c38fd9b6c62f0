"""Scratch-database helpers shared by the test fixtures and the benchmarks."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg


async def drop_database(admin: asyncpg.Connection, name: str, patience: float = 60.0) -> None:
    """DROP ... WITH (FORCE), retried while an autovacuum worker holds the database.

    PostgreSQL 15 refuses to terminate an autovacuum worker for a role that is not a
    superuser ("must be a member of the role whose process is being terminated"); the
    worker finishes its table, so retrying for up to `patience` seconds is enough.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except (asyncpg.InsufficientPrivilegeError, asyncpg.ObjectInUseError):
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.25)


async def pairs(conn: asyncpg.Connection, query: str, *args: object) -> dict[Any, Any]:
    """The rows of a two-column query as {first column: second column}."""
    return {row[0]: row[1] for row in await conn.fetch(query, *args)}


async def one_row(conn: asyncpg.Connection, query: str, *args: object) -> dict[str, Any]:
    """The one row a query returns, as a dict; fails the test when there is none."""
    row = await conn.fetchrow(query, *args)
    assert row is not None, f"no row for {query}"
    return dict(row)
