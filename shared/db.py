"""PostgreSQL access: the asyncpg pool and the forward-only migration runner."""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import orjson
from pydantic import BaseModel

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_MIGRATION_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")
# Any constant works; it only has to be the same for every process that migrates this database.
_MIGRATION_LOCK_KEY = 0x6465736B  # "desk"


async def _init_connection(conn: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects, encoded by orjson.
    await conn.set_type_codec(
        "jsonb",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )
    # json likewise (submissions.form since migration 0014).
    await conn.set_type_codec(
        "json",
        encoder=lambda v: orjson.dumps(v).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    server_settings: Mapping[str, str] | None = None,
) -> asyncpg.Pool:
    """Open a connection pool whose connections speak jsonb as Python objects
    (server_settings: session settings sent at connect, e.g. synchronous_commit)."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings=dict(server_settings or {}),
    )
    assert pool is not None
    return pool


async def connect(dsn: str) -> asyncpg.Connection:
    """Open one connection with the same codecs as the pool."""
    conn = await asyncpg.connect(dsn)
    await _init_connection(conn)
    return conn


def migration_files(directory: Path = MIGRATIONS_DIR) -> list[Path]:
    """Numbered migration files in order; refuses misnamed or duplicate-numbered files."""
    files = sorted(p for p in directory.glob("*.sql"))
    seen: dict[str, Path] = {}
    for path in files:
        match = _MIGRATION_NAME.match(path.name)
        if match is None:
            raise ValueError(f"migration file name must be NNNN_name.sql: {path.name}")
        if match.group(1) in seen:
            raise ValueError(f"two migrations numbered {match.group(1)}: {path.name}")
        seen[match.group(1)] = path
    return files


async def migrate(conn: asyncpg.Connection, directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply pending migrations in order, each in its own transaction; returns the names applied."""
    applied_now: list[str] = []
    # Session advisory lock: two services starting together must not both apply 0003.
    await conn.execute("SELECT pg_advisory_lock($1)", _MIGRATION_LOCK_KEY)
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS schema_migrations (
                   name text PRIMARY KEY,
                   checksum text NOT NULL,
                   applied_at timestamptz NOT NULL DEFAULT now())"""
        )
        rows = await conn.fetch("SELECT name, checksum FROM schema_migrations")
        done: dict[str, Any] = {r["name"]: r["checksum"] for r in rows}
        for path in migration_files(directory):
            sql = path.read_text()
            checksum = hashlib.sha256(sql.encode()).hexdigest()
            if path.name in done:
                if done[path.name] != checksum:
                    raise RuntimeError(
                        f"migration {path.name} was changed after it was applied; "
                        "add a new migration instead"
                    )
                continue
            async with conn.transaction():
                await conn.execute(sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)",
                    path.name,
                    checksum,
                )
            applied_now.append(path.name)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _MIGRATION_LOCK_KEY)
    return applied_now


Built = TypeVar("Built")


def from_row(cls: type[Built], row: Mapping[str, Any] | asyncpg.Record, **given: Any) -> Built:
    """A dataclass or pydantic model from a query row, field by field of the same name.

    `given` supplies the fields the row does not hold as they are (converted, computed, renamed);
    a field neither given nor in the row takes its default, or the constructor says it is missing.
    """
    names = (
        cls.model_fields
        if isinstance(cls, type) and issubclass(cls, BaseModel)
        else [f.name for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    )
    values = {name: row[name] for name in names if name not in given and name in row}
    return cls(**values, **given)
