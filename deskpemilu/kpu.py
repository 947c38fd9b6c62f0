"""`deskpemilu kpu ...`: import KPU's published results and print the differences from the desk."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn
from rich.table import Table

from shared.form import Contest

if TYPE_CHECKING:
    import asyncpg

    from shared.kpu.repository import Conn, FindingCounts
    from shared.roster import ElectionRoster

app = typer.Typer(no_args_is_help=True, help="KPU's published results (Sirekap, D.Hasil).")
console = Console(stderr=True, soft_wrap=True)

ElectionOpt = Annotated[str, typer.Option("--election", help="Election id of a loaded roster.")]
ContestOpt = Annotated[Contest, typer.Option("--contest", help="Contest, e.g. PPWP or PILBUP.")]


def _progress() -> Progress:
    return Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
        TimeElapsedColumn(), console=console,
    )  # fmt: skip


def _print_bad(bad: list[object]) -> None:
    for item in bad:
        origin, code, reason = (getattr(item, a) for a in ("origin", "code", "reason"))
        console.print(f"[red]bad[/red] {origin}: {code}: {reason}", highlight=False)


def _under(codes: list[str], area: str | None) -> list[str]:
    return codes if not area else [c for c in codes if c.startswith(area + ".")]


async def _sync_review_queue(conn: Conn, election: str, contest: Contest) -> FindingCounts:
    """A counted TPS whose numbers KPU does not share becomes a finding on the review queue."""
    from shared.kpu import repository as repo
    from shared.kpu.reconcile import FINDING_CODE, compare_all, review_findings

    reserve = await repo.fetch_reserve_pct(conn, election=election) or 0.0
    comparisons = compare_all(
        await repo.fetch_frame(conn, election=election),
        await repo.fetch_desk(conn, election=election, contest=contest.value),
        await repo.fetch_kpu_current(conn, election=election, contest=contest.value),
        reserve_pct=reserve,
    )
    return await repo.sync_findings(
        conn, election=election, contest=contest.value, code=FINDING_CODE,
        findings=review_findings(comparisons),
    )  # fmt: skip


@contextlib.asynccontextmanager
async def _election_roster(
    election: str,
) -> AsyncIterator[tuple[asyncpg.Connection, ElectionRoster]]:
    """A migrated database connection and the election's roster; ImportSetupError if not loaded."""
    from deskpemilu.kpu_import import ImportSetupError
    from shared.db import connect, migrate
    from shared.roster_db import fetch_election_roster
    from shared.settings import CommonSettings

    conn = await connect(CommonSettings().database_url)
    try:
        await migrate(conn)
        roster = await fetch_election_roster(conn, election)
        if roster is None:
            raise ImportSetupError(f"election {election!r} is not loaded")
        yield conn, roster
    finally:
        await conn.close()


@app.command("import")
def import_(
    source: Annotated[str, typer.Argument(help="A folder of Sirekap JSON or a base URL.")],
    election: ElectionOpt,
    contest: ContestOpt,
    candidates: Annotated[
        str,
        typer.Option(
            help="KPU's candidate list JSON (pemilu/ppwp.json) or a mapping file (kpu_id,line "
            "CSV or JSON), as a path or URL."
        ),
    ],
    area: Annotated[
        str | None, typer.Option(help="Only the TPS under this area code (URL mode: the frame).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="TPS documents per write.")] = 500,
    concurrency: Annotated[int, typer.Option(help="Requests in flight (URL mode).")] = 16,
) -> None:
    """Import Sirekap per-TPS documents; exit 1 if any document was bad (the rest is stored)."""
    from deskpemilu.kpu_import import (
        ImportSetupError,
        check_mapping,
        import_folder,
        import_url,
        is_url,
        read_candidate_map,
    )
    from shared.kpu.sirekap import SirekapError

    folder = Path(source)
    if not is_url(source) and not folder.is_dir():
        console.print(f"[red]kpu import: {source} is neither a folder nor an http(s) URL")
        raise typer.Exit(2)

    async def go() -> int:
        async with _election_roster(election) as (conn, roster):
            async with httpx.AsyncClient(timeout=30, follow_redirects=True) as client:
                mapping = await read_candidate_map(candidates, contest, client)
                check_mapping(mapping, roster, contest)
                with _progress() as progress:
                    task = progress.add_task("KPU TPS documents", total=None)

                    def start(total: int) -> None:
                        progress.update(task, total=total)

                    def advance(n: int) -> None:
                        progress.advance(task, n)

                    if is_url(source):
                        report = await import_url(
                            conn, election=election, contest=contest, base_url=source,
                            mapping=mapping, frame=_under(sorted(roster.tps), area), client=client,
                            batch_size=batch_size, concurrency=concurrency,
                            on_start=start, on_progress=advance,
                        )  # fmt: skip
                    else:
                        report = await import_folder(
                            conn, election=election, contest=contest, folder=folder,
                            mapping=mapping, batch_size=batch_size, area=area,
                            on_start=start, on_progress=advance,
                        )  # fmt: skip
            findings = await _sync_review_queue(conn, election, contest)
        _print_bad(list(report.bad))
        console.print(f"kpu import {election}/{contest}: {report}")
        console.print(
            f"review queue: {findings.opened} TPS opened or updated, {findings.resolved} resolved "
            "(anomaly KPU_DIFFERENCE)"
        )
        return 1 if report.bad else 0

    try:
        code = asyncio.run(go())
    except (ImportSetupError, SirekapError, httpx.HTTPError, OSError) as exc:
        console.print(f"[red]kpu import: {exc}")
        raise typer.Exit(2) from exc
    raise typer.Exit(code)


@app.command("recap")
def recap_(
    files: Annotated[list[Path], typer.Argument(exists=True, dir_okay=False)],
    election: ElectionOpt,
    contest: ContestOpt,
) -> None:
    """Import D.Hasil recaps (CSV/XLSX per kecamatan, docs/KPU_IMPORT.md); exit 1 on bad rows."""
    from deskpemilu.kpu_import import ImportSetupError, import_recaps, roster_lines

    async def go() -> int:
        async with _election_roster(election) as (conn, roster):
            desa = {t.desa_code for t in roster.tps.values()}
            report = await import_recaps(
                conn, election=election, contest=contest, files=files,
                lines=roster_lines(roster, contest), desa=desa,
            )  # fmt: skip
        _print_bad(list(report.bad))
        console.print(f"kpu recap {election}/{contest}: {report}")
        return 1 if report.bad else 0

    try:
        code = asyncio.run(go())
    except ImportSetupError as exc:
        console.print(f"[red]kpu recap: {exc}")
        raise typer.Exit(2) from exc
    raise typer.Exit(code)


@app.command("diff")
def diff(
    election: ElectionOpt,
    contest: ContestOpt,
    area: Annotated[str | None, typer.Option(help="Only under this area code.")] = None,
    tolerance_votes: Annotated[int, typer.Option(help="Vote line differences up to N.")] = 0,
    tolerance_sah: Annotated[int, typer.Option(help="Suara sah differences up to N.")] = 0,
    tolerance_tidak_sah: Annotated[int, typer.Option(help="Tidak sah differences up to N.")] = 0,
    tolerance_pengguna: Annotated[int, typer.Option(help="Pengguna differences up to N.")] = 0,
) -> None:
    """Print the differences between the desk's count and KPU's, per kecamatan and TPS."""
    from shared.db import connect
    from shared.kpu import repository as repo
    from shared.kpu.reconcile import Tolerance, compare_all, compare_recap, roll_up
    from shared.settings import CommonSettings

    tolerance = Tolerance(tolerance_votes, tolerance_sah, tolerance_tidak_sah, tolerance_pengguna)

    async def go() -> None:
        conn = await connect(CommonSettings().database_url)
        try:
            reserve = await repo.fetch_reserve_pct(conn, election=election)
            if reserve is None:
                console.print(f"[red]election {election!r} is not loaded")
                raise typer.Exit(2)
            frame = await repo.fetch_frame(conn, election=election, area=area)
            desk = await repo.fetch_desk(conn, election=election, contest=contest, area=area)
            kpu = await repo.fetch_kpu_current(conn, election=election, contest=contest, area=area)
            recap = await repo.fetch_recap_current(
                conn, election=election, contest=contest, area=area
            )
        finally:
            await conn.close()
        comparisons = compare_all(frame, desk, kpu, reserve_pct=reserve, tolerance=tolerance)
        table = Table("kecamatan", "TPS", "compared", "matching", "differing", "missing KPU",
                      "missing desk", "net KPU-desk")  # fmt: skip
        for code, r in roll_up(comparisons, 3).items():
            net = " ".join(f"{k}{v:+d}" for k, v in r.net_difference.items() if v)
            counts = (r.tps_total, r.compared, r.matching, r.differing, r.missing_at_kpu,
                      r.missing_at_desk)  # fmt: skip
            table.add_row(code, *(str(n) for n in counts), net)
        Console().print(table)
        for item in comparisons:
            for d in item.differences:
                typer.echo(f"{d.tps}\t{d.kind}\t{d.line or ''}\t{d.desk}\t{d.kpu}")
        for desa in compare_recap(frame, desk, recap, tolerance=tolerance):
            gap = "" if desa.complete else f"\tdesk has {desa.desk_tps}/{desa.tps_total} TPS"
            for d in desa.differences:
                typer.echo(f"{d.tps}\tRECAP_{d.kind}\t{d.line or ''}\t{d.desk}\t{d.kpu}{gap}")

    asyncio.run(go())
