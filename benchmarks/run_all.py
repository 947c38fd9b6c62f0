"""Run every benchmark (benchmarks/*_bench.py) one after another and write benchmarks/RESULTS.md.

Each script runs as `python -m benchmarks.<name>` from the repository root; its output is kept in
.run/bench-results/<name>.json, so `--only` reruns one benchmark and RESULTS.md still shows the
latest run of every other one (with that run's own date and load). Figures printed as
`RESULT {json}` lines (benchmarks/e2e_bench.py) become table rows; from scripts that print free
text, every line holding a number becomes a row.

    .venv/bin/python -m benchmarks.run_all
    .venv/bin/python -m benchmarks.run_all --only e2e_bench --args e2e_bench="--concurrency 32"
    .venv/bin/python -m benchmarks.run_all --write-only     # RESULTS.md from the kept outputs
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from deskpemilu import runtime  # noqa: E402

BENCH_DIR = REPO / "benchmarks"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
KEPT = runtime.RUN_DIR / "bench-results"
RESULT_PREFIX = "RESULT "
LAST = "e2e_bench"  # the whole pipeline last, after the per-service figures
BUSY_LOAD = 3.0  # above this, the run shares the machine with enough work to move the figures
KEY_FIGURES = (  # prefixes of e2e_bench figure names
    "banyuasin day forms/s end to end",
    "banyuasin day wall time",
    "freshness p50",
    "freshness p99",
    "freshness offered rate",
    "national slice forms/s end to end",
    "national day PROJECTED",
    "kafka ceiling records/s",
    "kafka ceiling MB/s",
)


@dataclass
class Run:
    """One benchmark script's run: what ran, when, under what load, and what it printed."""

    name: str
    command: str
    started: str
    seconds: float
    exit_code: int | None
    load_start: str
    load_end: str
    output: str


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def discover() -> list[str]:
    """Benchmark module names, the end-to-end one last."""
    names = sorted(p.stem for p in BENCH_DIR.glob("*_bench.py"))
    return [n for n in names if n != LAST] + ([LAST] if LAST in names else [])


def wait_for_quiet(max_load: float, wait_s: float) -> None:
    """Wait (up to wait_s) for the 1-minute load to drop below max_load; run anyway after."""
    deadline = time.monotonic() + wait_s
    while os.getloadavg()[0] > max_load and time.monotonic() < deadline:
        print(f"run_all: load {load_average()} above {max_load}; waiting ...", flush=True)
        time.sleep(15)


def run_one(name: str, extra: list[str], timeout_s: float) -> Run:
    """Run one benchmark module, echoing its output live, and keep what it printed."""
    argv = [sys.executable, "-m", f"benchmarks.{name}", *extra]
    command = shlex.join([".venv/bin/python", "-m", f"benchmarks.{name}", *extra])
    print(f"\nrun_all: {command} (load {load_average()})", flush=True)
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    load_start = load_average()
    started = time.monotonic()
    lines: list[str] = []
    exit_code: int | None
    with subprocess.Popen(
        argv,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    ) as process:
        assert process.stdout is not None
        try:
            for line in process.stdout:
                lines.append(line.rstrip("\n"))
                if not line.startswith(RESULT_PREFIX):
                    print(line, end="", flush=True)
                if time.monotonic() - started > timeout_s:
                    process.terminate()
                    lines.append(f"run_all: stopped after {timeout_s:.0f}s")
                    break
            exit_code = process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            exit_code = None
    return Run(
        name=name,
        command=command,
        started=started_at,
        seconds=time.monotonic() - started,
        exit_code=exit_code,
        load_start=load_start,
        load_end=load_average(),
        output="\n".join(lines),
    )


def keep(run: Run) -> None:
    """Store a run's output under .run/bench-results/."""
    KEPT.mkdir(parents=True, exist_ok=True)
    (KEPT / f"{run.name}.json").write_text(json.dumps(asdict(run), indent=1))


def kept_runs() -> list[Run]:
    """The latest kept run of every benchmark, in discovery order."""
    runs = []
    for name in discover():
        path = KEPT / f"{name}.json"
        if path.exists():
            runs.append(Run(**json.loads(path.read_text())))
    return runs


def figures(run: Run) -> list[dict[str, Any]]:
    """The rows of a run's table: RESULT lines if it printed any, else lines holding numbers."""
    rows = [
        json.loads(line.removeprefix(RESULT_PREFIX))
        for line in run.output.splitlines()
        if line.startswith(RESULT_PREFIX)
    ]
    if rows:
        return rows
    return [
        {"name": line.strip(), "value": "", "unit": "", "note": ""}
        for line in run.output.splitlines()
        if any(ch.isdigit() for ch in line) and line.strip() and not line.startswith("run_all:")
    ]


def _cell(value: Any) -> str:
    text = f"{value:,.1f}" if isinstance(value, float) else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(rows: list[dict[str, Any]], *, with_value: bool = True) -> list[str]:
    if not with_value:
        return ["| printed figure |", "|---|", *(f"| `{_cell(r['name'])}` |" for r in rows)]
    lines = ["| figure | value | unit | note |", "|---|---:|---|---|"]
    lines += [
        f"| {_cell(r['name'])} | {_cell(r['value'])} | {_cell(r['unit'])} | {_cell(r['note'])} |"
        for r in rows
    ]
    return lines


def _machine(runs: list[Run]) -> list[str]:
    """The machine as the e2e benchmark read it, else read now."""
    for run in runs:
        rows = [r for r in figures(run) if str(r["name"]).startswith("machine ")]
        if rows:
            return [f"| {r['name'].removeprefix('machine ')} | {_cell(r['value'])} |" for r in rows]
    from benchmarks.e2e_bench import machine_description

    return [f"| {k} | {_cell(v)} |" for k, v in machine_description().items()]


def _one_minute(load: str) -> float:
    return float(load.split()[0])


def render(runs: list[Run], notes: list[str]) -> str:
    """RESULTS.md: machine, key figures, notes, then one section per benchmark."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    out = [
        "# Benchmark results",
        "",
        f"Written by `benchmarks/run_all.py` on {now}; rewrite with `make bench-all` "
        "(`.venv/bin/python -m benchmarks.run_all`). Each section below carries its own run's "
        "date, command and load average.",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        *_machine(runs),
        "",
    ]
    key = [r for run in runs for r in figures(run) if str(r["name"]).startswith(KEY_FIGURES)]
    if key:
        out += ["## Key figures (end to end)", "", *_table(key), ""]
    out += ["## Notes", ""]
    busy = [r for r in runs if max(_one_minute(r.load_start), _one_minute(r.load_end)) > BUSY_LOAD]
    out.append(
        "- The machine is shared: other tests and benchmarks ran at the same time. "
        "The 1/5/15-minute load average at the start and end of every benchmark is recorded "
        "in its section; figures taken above a 1-minute load of "
        f"{BUSY_LOAD:g} are lower than this machine can do alone."
    )
    if busy:
        out.append(
            "- Run under load above the threshold: " + ", ".join(f"`{r.name}`" for r in busy) + "."
        )
    out += [f"- {note}" for note in notes]
    out.append("")
    for run in runs:
        rows = [r for r in figures(run) if not str(r["name"]).startswith("machine ")]
        structured = any(r.get("value") != "" for r in rows)
        status = "ok" if run.exit_code == 0 else f"EXIT {run.exit_code}"
        out += [
            f"## {run.name}",
            "",
            f"- command: `{run.command}`",
            f"- run: {run.started}, {run.seconds:.0f} s, {status}",
            f"- load average (1/5/15 min): start {run.load_start}, end {run.load_end}",
            "",
        ]
        out += [*(_table(rows) if structured else _table(rows, with_value=False)), ""]
        text = [ln for ln in run.output.splitlines() if not ln.startswith(RESULT_PREFIX)]
        shown = text[-120:]
        summary = "output" + (" (last 120 lines)" if len(text) > 120 else "")
        out += [f"<details><summary>{summary}</summary>", "", "```", *shown, "```", ""]
        out += ["</details>", ""]
    return "\n".join(out)


def keep_targets_block(text: str) -> str:
    """Carry the `make bench` block (benchmarks/e2e_targets.py) over into the new RESULTS.md."""
    from benchmarks.e2e_targets import END, START

    old = RESULTS_MD.read_text() if RESULTS_MD.exists() else ""
    if START not in old or END not in old:
        return text
    block = START + old.partition(START)[2].partition(END)[0] + END
    first, _, rest = text.partition("\n## ")
    return first + "\n" + block + "\n\n## " + rest


def _extra_args(pairs: list[str]) -> dict[str, list[str]]:
    extra: dict[str, list[str]] = {}
    for pair in pairs:
        name, _, text = pair.partition("=")
        extra[name] = shlex.split(text)
    return extra


def main() -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", help="benchmark module names (repeatable)")
    parser.add_argument("--args", action="append", default=[], help='NAME="--flag value"')
    parser.add_argument("--timeout", type=float, default=900, help="seconds per benchmark")
    parser.add_argument("--max-load", type=float, default=BUSY_LOAD)
    parser.add_argument("--wait-load", type=float, default=300, help="seconds to wait for quiet")
    parser.add_argument("--note", action="append", default=[], help="a line for the notes")
    parser.add_argument("--write-only", action="store_true", help="only rewrite RESULTS.md")
    args = parser.parse_args()
    extra = _extra_args(args.args)
    if not args.write_only:
        for name in args.only or discover():
            wait_for_quiet(args.max_load, args.wait_load)
            run = run_one(name, extra.get(name, []), args.timeout)
            keep(run)
            print(f"run_all: {name} exit {run.exit_code} in {run.seconds:.0f}s", flush=True)
    runs = kept_runs()
    RESULTS_MD.write_text(keep_targets_block(render(runs, args.note)))
    print(f"run_all: wrote {RESULTS_MD} ({len(runs)} benchmarks)")


if __name__ == "__main__":
    main()
