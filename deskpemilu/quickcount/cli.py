"""`deskpemilu quickcount ...`: the quick count's sample and its accuracy harness."""

from __future__ import annotations

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


def _fail(exc: BilingualError) -> typer.Exit:
    console.print(f"[red]{exc.code}: {exc.pesan} / {exc.message}")
    return typer.Exit(2)


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
