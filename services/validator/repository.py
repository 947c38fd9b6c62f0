"""The validator's database access: it reads the rosters it judges against and writes nothing.

The roster tables are read as shared.roster_db's ElectionRoster (the aggregator's rebuild and the
simulator read the same shape); this module is the one place the validator opens PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping

import asyncpg

from shared.db import connect
from shared.roster import ElectionRoster
from shared.roster_db import Conn, fetch_all_rosters


async def open_connection(dsn: str) -> asyncpg.Connection:
    """The validator's one connection (the roster is read at start and on a version change)."""
    return await connect(dsn)


async def fetch_rosters(conn: Conn) -> Mapping[str, ElectionRoster]:
    """Every loaded election's roster by election id: TPS with DPT, contests and candidates."""
    return await fetch_all_rosters(conn)
