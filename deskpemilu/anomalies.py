"""`deskpemilu anomalies ...`: the screens' accuracy harness (pure, no services)."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.table import Table

from deskpemilu.quickcount.rosters import known_folders, roster_from_folder
from deskpemilu.simulator.detection import HARNESS_RATE, measure
from deskpemilu.simulator.manipulation import ManipulationRates
from shared.form import Contest

app = typer.Typer(no_args_is_help=True, help="Anomaly screens across TPS: accuracy harness.")


def rates_option(value: str) -> ManipulationRates:
    """`--manipulation` of `deskpemilu simulate`: demo, none, or a probability per kind."""
    if value == "demo":
        return ManipulationRates.demo()
    if value == "none":
        return ManipulationRates()
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not 0.0 <= rate <= 0.2:
        raise typer.BadParameter(
            "pilih demo, none, atau peluang 0-0.2 per jenis / "
            "use demo, none, or a probability 0-0.2 per kind"
        )
    return ManipulationRates.uniform(rate)


@app.command()
def accuracy(
    election: Annotated[str, typer.Option(help="Election id with a folder in data/rosters")] = (
        "pemilu-2024"
    ),
    contest: Annotated[Contest, typer.Option(help="Contest to simulate")] = Contest.PPWP,
    days: Annotated[int, typer.Option(min=1, help="Simulated days")] = 10,
    seed: Annotated[int, typer.Option(help="First day's seed")] = 1,
    rate: Annotated[
        float, typer.Option(min=0.0, max=0.2, help="Probability per TPS of each kind")
    ] = HARNESS_RATE,
    json: Annotated[bool, typer.Option("--json", help="Print JSON")] = False,
) -> None:
    """Per manipulation kind: the share of manipulated TPS flagged, and clean TPS flagged."""
    folders = known_folders()
    if election not in folders:
        raise typer.BadParameter(
            f"pemilihan {election} tidak dikenal / unknown election {election} "
            f"(known: {', '.join(sorted(folders))})"
        )
    roster = roster_from_folder(folders[election])
    if contest not in roster.contests:
        raise typer.BadParameter(f"{contest} tidak ada dalam {election} / not in {election}")
    report = measure(roster, contest=contest, days=days, seed=seed, rate=rate)
    if json:
        typer.echo(orjson.dumps(report.as_dict(), option=orjson.OPT_INDENT_2).decode())
        return
    table = Table(title=f"{election} {contest}: {days} days, {rate:.1%} of TPS per kind")
    for col in ("kind", "injected", "refused", "accepted", "flagged", "recall", "caught"):
        table.add_column(col, justify="right")
    for kind, score in report.kinds.items():
        d = score.as_dict()
        table.add_row(
            kind.value,
            str(d["injected"]),
            str(d["rejected_by_validator"]),
            str(d["accepted"]),
            str(d["flagged"]),
            f"{d['recall']:.3f}",
            f"{d['caught']:.3f}",
        )
    console = Console()
    console.print(table)
    console.print(
        f"clean TPS: {report.clean}, flagged {report.clean_flagged} "
        f"(false-positive rate {report.false_positive_rate:.4f}); "
        f"codes: {dict(report.fp_codes.most_common())}"
    )
