"""`deskpemilu quickcount ...`: the quick count's sample and its accuracy harness."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from shared.errors import BilingualError

app = typer.Typer(no_args_is_help=True, help="Quick count (hitung cepat): sample and accuracy.")
console = Console(stderr=True, soft_wrap=True)
log = logging.getLogger("deskpemilu.quickcount")
EXPORT_SUFFIXES = (".csv", ".xlsx")


def _fail(exc: BilingualError) -> typer.Exit:
    console.print(f"[red]{exc.code}: {exc.pesan} / {exc.message}")
    return typer.Exit(2)


def _check_export(out: Path | None) -> None:
    from deskpemilu.quickcount.rosters import QuickCountInputError

    if out is not None and out.suffix.lower() not in EXPORT_SUFFIXES:
        raise QuickCountInputError(
            "EXPORT_FORMAT",
            f"format ekspor {out.suffix!r} tidak dikenal: pakai .csv atau .xlsx",
            f"unknown export format {out.suffix!r}: use .csv or .xlsx",
        )


@app.command()
def draw(
    election: Annotated[str, typer.Option(help="Election id of a loaded roster.")],
    seed: Annotated[int, typer.Option(help="Seed of the random starts (kept with the sample).")],
    size: Annotated[int | None, typer.Option(help="TPS in the sample.")] = None,
    fraction: Annotated[
        float | None, typer.Option(help="Share of the TPS (default 0.10) when no --size.")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Draw again although results have arrived (logged, shown).")
    ] = False,
    reason: Annotated[str, typer.Option(help="Why a forced draw is needed.")] = "",
    out: Annotated[
        Path | None, typer.Option(help="Also write the sample to .csv or .xlsx.")
    ] = None,
) -> None:
    """Draw the quick-count sample of an election and store it (fixed before polling day)."""
    from deskpemilu.quickcount import repository
    from deskpemilu.quickcount.design import draw_sample
    from deskpemilu.quickcount.export import sample_rows, write_sample
    from deskpemilu.quickcount.rosters import QuickCountInputError, election_not_loaded
    from shared.db import connect
    from shared.roster_db import fetch_election_roster
    from shared.settings import CommonSettings

    async def go() -> None:
        _check_export(out)
        conn = await connect(CommonSettings().database_url)
        try:
            roster = await fetch_election_roster(conn, election)
            if roster is None or not roster.tps:
                raise election_not_loaded(election)
            sample = draw_sample(roster, seed=seed, size=size, fraction=fraction)
            counted = await repository.results_counted(conn, election)
            if counted and not force:
                raise QuickCountInputError(
                    "SAMPLE_FIXED",
                    f"{counted} hasil TPS {election} sudah masuk: sampel tidak diundi ulang "
                    "(pakai --force, akan dicatat dan tampil di dasbor)",
                    f"{counted} TPS results of {election} have arrived: the sample is not "
                    "drawn again (use --force; it is logged and shown on the dashboard)",
                )
            by = getpass.getuser()
            stored = await repository.store_sample(
                conn, sample, drawn_by=by, results_at_draw=counted, forced=bool(counted),
                reason=reason,
            )  # fmt: skip
            if stored.forced:
                log.warning(
                    "quick-count sample drawn again after results arrived",
                    extra={"election": election, "sample_id": stored.id, "results": counted,
                           "drawn_by": by, "reason": reason},
                )  # fmt: skip
                console.print(
                    f"[yellow]forced: {counted} results had arrived; the dashboard shows it"
                )
            names = await repository.area_names_of(conn, sample.tps)
        finally:
            await conn.close()
        console.print(
            f"quickcount: sample {stored.id} of {election}: {sample.size} TPS in "
            f"{len(sample.allocation)} kecamatan, seed {seed}, "
            f"drawn {stored.drawn_at.isoformat(timespec='seconds')}"
        )
        if out is not None:
            write_sample(out, sample_rows(roster, sample.tps, names))
            console.print(f"quickcount: written to {out}")

    try:
        asyncio.run(go())
    except BilingualError as exc:
        raise _fail(exc) from exc


@app.command()
def export(
    election: Annotated[str, typer.Option(help="Election id.")],
    out: Annotated[Path, typer.Option(help="Where to write: .csv or .xlsx.")],
) -> None:
    """Write the election's current sample for the field team."""
    from deskpemilu.quickcount import repository
    from deskpemilu.quickcount.export import sample_rows, write_sample
    from deskpemilu.quickcount.rosters import QuickCountInputError, election_not_loaded
    from shared.db import connect
    from shared.roster_db import fetch_election_roster
    from shared.settings import CommonSettings

    async def go() -> int:
        _check_export(out)
        conn = await connect(CommonSettings().database_url)
        try:
            roster = await fetch_election_roster(conn, election)
            if roster is None:
                raise election_not_loaded(election)
            tps = await repository.current_sample_tps(conn, election)
            if not tps:
                raise QuickCountInputError(
                    "SAMPLE_MISSING",
                    f"{election} belum punya sampel (deskpemilu quickcount draw)",
                    f"{election} has no sample yet (deskpemilu quickcount draw)",
                )
            names = await repository.area_names_of(conn, tps)
        finally:
            await conn.close()
        write_sample(out, sample_rows(roster, tps, names))
        return len(tps)

    try:
        count = asyncio.run(go())
    except BilingualError as exc:
        raise _fail(exc) from exc
    console.print(f"quickcount: {count} sample TPS written to {out}")


@app.command()
def accuracy(
    election: Annotated[str, typer.Option(help="Election id (its roster folder in data/rosters).")],
    contest: Annotated[str, typer.Option(help="Contest code, e.g. PPWP or PILBUP.")],
    days: Annotated[int, typer.Option(min=1, help="Simulated days (one seed each).")] = 200,
    sample_fraction: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of the TPS in each day's sample.")
    ] = 0.10,
    first_seed: Annotated[int, typer.Option(help="Seed of the first day.")] = 1,
    roster: Annotated[
        Path | None, typer.Option(help="Roster folder (default: the election's in data/rosters).")
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 when a target is missed.")] = False,
) -> None:
    """Run the estimators over many simulated days (no services) and report their accuracy."""
    from deskpemilu.quickcount.accuracy import run_accuracy
    from deskpemilu.quickcount.rosters import contest_of, roster_of

    try:
        election_roster = roster_of(election, roster)
        chosen = contest_of(election_roster, contest)
        report = run_accuracy(
            election_roster, chosen, days=days, sample_fraction=sample_fraction,
            first_seed=first_seed,
        )  # fmt: skip
    except BilingualError as exc:
        raise _fail(exc) from exc
    if json_output:
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        _print_accuracy(report)
    if strict and not report["targets"]["met"]:
        raise typer.Exit(1)


def _print_accuracy(report: dict[str, object]) -> None:
    out = Console()
    table = Table(title=f"{report['election']} {report['contest']}: {report['days']} days")
    for col in ("line", "coverage 95%", "coverage 99%", "mean margin 95%", "bias"):
        table.add_column(col)
    lines = report["lines"]
    assert isinstance(lines, dict)
    for key, v in lines.items():
        table.add_row(
            key, f"{v['coverage95']:.3f}", f"{v['coverage99']:.3f}",
            f"{v['mean_margin95'] * 100:.2f} pt", f"{v['bias'] * 100:+.2f} pt",
        )  # fmt: skip
    out.print(table)
    partial = report["partial_count"]
    assert isinstance(partial, dict)
    for level, v in partial.items():
        out.print(
            f"{level} reported: RMSE post-stratified {v['rmse_post_stratified'] * 100:.2f} pt, "
            f"raw running total {v['rmse_raw'] * 100:.2f} pt"
        )
    out.print(f"targets: {report['targets']}")
