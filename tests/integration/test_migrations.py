"""The migration runner on the real PostgreSQL: applies in order, once, and refuses edited files."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from shared.db import connect, migrate, migration_files

pytestmark = pytest.mark.integration


async def test_project_migrations_apply_twice_without_change(scratch_database: str) -> None:
    conn = await connect(scratch_database)
    try:
        # scratch_database already migrated once; a second run must find nothing to do.
        assert await migrate(conn) == []
        names = await conn.fetch("SELECT name FROM schema_migrations ORDER BY name")
        assert [r["name"] for r in names] == [p.name for p in migration_files()]
    finally:
        await conn.close()


async def test_runner_applies_in_order_and_refuses_an_edited_migration(
    scratch_database: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_first.sql").write_text("CREATE TABLE t_first (id int PRIMARY KEY);")
    (tmp_path / "0002_second.sql").write_text("INSERT INTO t_first VALUES (1), (2);")
    conn = await connect(scratch_database)
    try:
        assert await migrate(conn, tmp_path) == ["0001_first.sql", "0002_second.sql"]
        assert await migrate(conn, tmp_path) == []
        assert await conn.fetchval("SELECT count(*) FROM t_first") == 2
        (tmp_path / "0002_second.sql").write_text("INSERT INTO t_first VALUES (3);")
        with pytest.raises(RuntimeError, match="changed after it was applied"):
            await migrate(conn, tmp_path)
    finally:
        await conn.close()


async def test_failed_migration_leaves_nothing_behind(
    scratch_database: str, tmp_path: Path
) -> None:
    (tmp_path / "0001_ok.sql").write_text("CREATE TABLE t_ok (id int);")
    (tmp_path / "0002_broken.sql").write_text("CREATE TABLE t_half (id int); SELECT nonsense();")
    conn = await connect(scratch_database)
    try:
        with pytest.raises(asyncpg.UndefinedFunctionError):
            await migrate(conn, tmp_path)
        assert await conn.fetchval("SELECT to_regclass('t_half')") is None
        applied = await conn.fetch(
            "SELECT name FROM schema_migrations WHERE name LIKE '000%_ok.sql'"
        )
        assert len(applied) == 1
    finally:
        await conn.close()
