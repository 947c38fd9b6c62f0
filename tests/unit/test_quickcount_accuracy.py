"""The accuracy harness in the suite: fewer days, fixed seeds, tolerances far from chance."""

from __future__ import annotations

import orjson
from typer.testing import CliRunner

from deskpemilu.cli import app
from deskpemilu.quickcount.accuracy import run_accuracy
from deskpemilu.quickcount.rosters import roster_of
from shared.form import Contest


def test_forty_days_of_pilbup_cover_the_truth_and_beat_the_raw_total() -> None:
    roster = roster_of("pilkada-2024")
    report = run_accuracy(roster, Contest.PILBUP, days=40)
    # At a true 95% coverage, 40 days give 32 or fewer hits with probability below 0.001; the
    # seeds are fixed, so the figure is the same on every run.
    for key, line in report["lines"].items():
        assert 0.80 <= line["coverage95"] <= 1.0, key
        assert line["coverage99"] >= line["coverage95"]
        assert 0 < line["mean_margin95"] < 0.05, key
    at20 = report["partial_count"]["20%"]
    assert at20["rmse_post_stratified"] <= 0.5 * at20["rmse_raw"]
    # The simulator can fail a bad method: early reporters are far from the final result.
    assert at20["rmse_raw"] >= 0.03
    assert report["sample_size"] == round(0.1 * len(roster.tps))


def test_the_command_prints_one_json_object() -> None:
    result = CliRunner().invoke(
        app, ["quickcount", "accuracy", "--election", "pemilu-2024", "--contest", "PPWP",
              "--days", "3", "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert set(report["lines"]) == {"c1", "c2", "c3", "turnout"}
    assert set(report["partial_count"]) == {"10%", "20%", "50%"}
    assert report["days"] == 3


def test_bad_input_gets_a_bilingual_error() -> None:
    runner = CliRunner()
    unknown = runner.invoke(
        app, ["quickcount", "accuracy", "--election", "nope", "--contest", "PPWP", "--days", "1"]
    )
    assert unknown.exit_code == 2
    assert "ELECTION_UNKNOWN" in unknown.output and "tidak punya roster" in unknown.output
    wrong = runner.invoke(
        app, ["quickcount", "accuracy", "--election", "pilkada-2024", "--contest", "PPWP",
              "--days", "1"],
    )  # fmt: skip
    assert wrong.exit_code == 2
    assert "CONTEST_NOT_IN_ELECTION" in wrong.output and "does not hold" in wrong.output
