"""Scratch-database helpers shared by the test fixtures and the benchmarks."""

from __future__ import annotations

import asyncio

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
