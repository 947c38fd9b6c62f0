"""KPU import speed: Sirekap TPS documents per second for the whole Banyuasin frame.

Writes one Sirekap document per TPS of the Pemilu roster (2,564 TPS, PPWP; from a simulated day,
deskpemilu/simulator/kpu.py) as Sirekap's folder tree, loads the roster into a scratch PostgreSQL
database and times deskpemilu.kpu_import: a folder import into empty tables (every document new),
the same import again (every document unchanged), one with a tenth of the documents changed, and
the base-URL mode against a local HTTP server (`python -m http.server`, its own process) serving
the same tree. Parsing alone is timed too, to tell the parser's share from the database's.

    .venv/bin/python -m benchmarks.kpu_import_bench
    .venv/bin/python -m benchmarks.kpu_import_bench --rounds 3 --concurrency 32
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
import orjson

from deskpemilu.kpu_import import folder_documents, import_folder, import_url
from deskpemilu.roster_load import load_roster
from deskpemilu.simulator.kpu import candidate_list, document, election_roster, kpu_ids, write_tree
from deskpemilu.simulator.plan import Operators, plan_day
from shared.db import connect, migrate
from shared.events import OperatorRef, Role
from shared.form import Contest
from shared.kpu.sirekap import parse_candidate_map, parse_tps_document, tps_document_path
from tests.dbs import drop_database

DEFAULT_DATABASE_URL = "postgresql://deskpemilu:deskpemilu@127.0.0.1:5433/deskpemilu"
ROSTER = Path(__file__).resolve().parent.parent / "data" / "rosters" / "pemilu-2024-banyuasin"
RESULT_PREFIX = "RESULT "


def result(name: str, value: float, unit: str, note: str = "") -> None:
    """Print one figure for people and as a machine-readable line for run_all."""
    print(f"  {name}: {value:,.1f} {unit}" + (f"  ({note})" if note else ""), flush=True)
    record = {"name": name, "value": round(value, 1), "unit": unit, "note": note}
    print(RESULT_PREFIX + json.dumps(record, ensure_ascii=False), flush=True)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_documents(folder: Path) -> tuple[Path, Path, dict[str, dict[str, object]]]:
    """The Sirekap tree of a simulated day for every TPS, and KPU's candidate list."""
    roster = election_roster(ROSTER)
    kecamatan = sorted({t.kecamatan_code for t in roster.tps.values()})
    operators = Operators.from_list(
        [OperatorRef(id=f"op-{k}", role=Role.OPERATOR, scope=(k,)) for k in kecamatan]
    )
    plan = plan_day(roster, operators, seed=2024, contests=[Contest.PPWP])
    ids = kpu_ids(roster.contests[Contest.PPWP])
    docs = {
        tps: document(form, ids, pilkada=False, ts="2024-02-16 23:00:00")
        for (contest, tps), form in plan.counted.items()
        if contest == Contest.PPWP and tps in roster.tps
    }
    tree = write_tree(folder / "pemilu" / "hhcw", Contest.PPWP, docs)
    candidates = folder / "pemilu" / "ppwp.json"
    candidates.write_bytes(orjson.dumps(candidate_list(ids)))
    return tree, candidates, docs


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=1, help="repeat each timing N times")
    parser.add_argument("--concurrency", type=int, default=16, help="URL mode requests in flight")
    parser.add_argument("--batch", type=int, default=500, help="documents per write")
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    print(f"load average at start: {load_average()}", flush=True)
    name = f"bench_kpu_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(database_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = database_url.rpartition("/")
    server: asyncio.subprocess.Process | None = None
    try:
        conn = await connect(f"{base}/{name}")
        await migrate(conn)
        await load_roster(conn, ROSTER)
        with tempfile.TemporaryDirectory() as tmp:
            tree, candidates, docs = write_documents(Path(tmp))
            mapping = parse_candidate_map(candidates.read_bytes(), Contest.PPWP)
            files = folder_documents(tree)
            n = len(files)
            print(f"{n} TPS documents (Pemilu 2024 Banyuasin, PPWP) in {tree}", flush=True)

            for _ in range(args.rounds):
                started = time.perf_counter()
                for code, path in files:
                    parse_tps_document(path.read_bytes(), code, mapping)
                elapsed = time.perf_counter() - started
                result(
                    "parse only (read + parse)",
                    n / elapsed,
                    "documents/s",
                    f"{n} in {elapsed:.2f}s",
                )

            async def timed(label: str, note: str) -> None:
                await conn.execute("SELECT 1")
                started = time.perf_counter()
                report = await import_folder(
                    conn, election="pemilu-2024", contest=Contest.PPWP, folder=tree,
                    mapping=mapping, batch_size=args.batch,
                )  # fmt: skip
                elapsed = time.perf_counter() - started
                assert not report.bad, report.bad[:3]
                result(label, report.documents / elapsed, "TPS documents/s",
                       f"{report}; {elapsed:.2f}s; {note}")  # fmt: skip

            await timed("folder import, all new", "empty kpu tables")
            for _ in range(args.rounds):
                await timed("folder import, all unchanged", "same tree again: nothing written")
            rng = random.Random(7)
            changed_codes = rng.sample(sorted(docs), n // 10)
            for round_no in range(args.rounds):
                for code in changed_codes:
                    doc = docs[code]
                    doc["ts"] = f"2024-02-17 0{round_no % 10}:00:00"
                    (tree / tps_document_path(code)).write_bytes(orjson.dumps(doc))
                await timed("folder import, a tenth changed", f"{len(changed_codes)} changed")

            port = free_port()
            server = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                "--directory", str(tree),
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            url = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(timeout=30) as client:
                for _ in range(100):
                    try:
                        await client.get(url + "/")
                        break
                    except httpx.TransportError:
                        await asyncio.sleep(0.1)
                one = f"{url}/{tps_document_path(sorted(docs)[0])}"
                started = time.perf_counter()
                for _ in range(100):
                    (await client.get(one)).raise_for_status()
                elapsed = time.perf_counter() - started
                result("HTTP round trips, one at a time", 100 / elapsed, "requests/s",
                       "the same document 100 times from the local server: the ceiling one "
                       "connection sets on this machine")  # fmt: skip
                await conn.execute("TRUNCATE kpu_tps_current, kpu_tps_versions")
                for round_no in range(args.rounds):
                    started = time.perf_counter()
                    report = await import_url(
                        conn, election="pemilu-2024", contest=Contest.PPWP, base_url=url,
                        mapping=mapping, frame=sorted(docs), client=client,
                        batch_size=args.batch, concurrency=args.concurrency,
                    )  # fmt: skip
                    elapsed = time.perf_counter() - started
                    assert not report.bad, report.bad[:3]
                    state = "all new" if round_no == 0 else "all unchanged"
                    result(f"URL import, {state}", report.documents / elapsed, "TPS documents/s",
                           f"{report}; {elapsed:.2f}s; local http.server, "
                           f"{args.concurrency} in flight")  # fmt: skip
        await conn.close()
    finally:
        if server is not None:
            server.terminate()
            await server.wait()
        await drop_database(admin, name)
        await admin.close()
    print(f"load average at end: {load_average()}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
