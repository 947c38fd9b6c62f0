"""Load a roster folder into PostgreSQL: read and check it (roster_files), then write it
(roster_store) in one transaction; nothing is written when any check fails.
"""

from __future__ import annotations

from pathlib import Path

import asyncpg

from deskpemilu.roster_files import Progress, RosterFileError, RosterFolder, read_roster_folder
from deskpemilu.roster_store import LoadReport, write_roster

__all__ = [
    "LoadReport",
    "RosterFileError",
    "RosterFolder",
    "load_roster",
    "read_roster_folder",
    "write_roster",
]


async def load_roster(
    conn: asyncpg.Connection, folder: Path, *, progress: Progress | None = None
) -> LoadReport:
    """Check a roster folder and load it in one transaction; nothing is written on any error."""
    roster = read_roster_folder(folder)
    if progress is not None:
        progress(f"{folder}: checked, {len(roster.tps)} TPS")
    return await write_roster(conn, roster, progress=progress)
