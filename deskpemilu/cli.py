"""The `deskpemilu` command: run the local stack, load rosters, issue tokens, replay, simulate."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Coroutine
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console

from deskpemilu import anomalies, prometheus, runtime, s3local, soak
from deskpemilu.kpu import app as kpu_app
from deskpemilu.quickcount.cli import app as quickcount_app

if TYPE_CHECKING:
    from rich.progress import Progress

    from deskpemilu.simulator.channels import ChannelSecrets

app = typer.Typer(no_args_is_help=True, help="Desk Pemilu: TPS results pipeline.")
roster_app = typer.Typer(no_args_is_help=True, help="Election rosters (areas, TPS, contests).")
operators_app = typer.Typer(no_args_is_help=True, help="Operators and their tokens.")
app.add_typer(roster_app, name="roster")
app.add_typer(operators_app, name="operators")
app.add_typer(quickcount_app, name="quickcount")
app.add_typer(anomalies.app, name="anomalies")
app.add_typer(kpu_app, name="kpu")
app.add_typer(prometheus.app, name="prometheus")
app.add_typer(soak.app, name="soak")
console = Console(stderr=True, soft_wrap=True)
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _progress() -> Progress:
    """The progress bar of the commands that send a simulated day's forms."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    return Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )


def _channel_secrets() -> ChannelSecrets:
    """What the simulator needs to sign WhatsApp and SMS webhooks, from the environment."""
    from deskpemilu.simulator.channels import ChannelSecrets

    return ChannelSecrets(
        whatsapp_app_secret=os.environ["WHATSAPP_APP_SECRET"],
        sms_auth_token=os.environ["SMS_AUTH_TOKEN"],
    )


@app.callback()
def _environment() -> None:
    """Every command sees the local stack's addresses and secrets unless the environment says."""
    runtime.load_local_environment()


def _stack(*args: str) -> None:
    result = subprocess.run(["bash", str(runtime.STACK_SCRIPT), *args], check=False)  # noqa: S603,S607
    if result.returncode != 0:
        raise typer.Exit(result.returncode)


async def _prepare_database_and_topics(load_default_rosters: bool) -> None:
    from shared.db import connect, migrate
    from shared.kafka import ensure_topics
    from shared.settings import CommonSettings

    settings = CommonSettings()
    conn = await connect(settings.database_url)
    try:
        applied = await migrate(conn)
        console.print(f"postgres: {len(applied)} migration(s) applied")
        if load_default_rosters:
            from deskpemilu.roster_store import has_rosters

            if not await has_rosters(conn):
                for folder in sorted(runtime.DEFAULT_ROSTERS.iterdir()):
                    if folder.is_dir():
                        await _load_roster_folder(conn, folder)
    finally:
        await conn.close()
    created = await ensure_topics(
        settings.kafka_bootstrap_servers,
        partitions=settings.topic_partitions,
        replication_factor=settings.topic_replication_factor,
        topics=settings.topics.specs(),
    )
    console.print(f"kafka: {len(created)} topic(s) created")


async def _load_roster_folder(conn: Any, folder: Path) -> None:
    from deskpemilu.roster_load import load_roster

    with console.status(f"roster: loading {folder.name} ..."):
        started = time.perf_counter()
        report = await load_roster(conn, folder)
    console.print(f"roster: {folder.name} loaded in {time.perf_counter() - started:.1f}s: {report}")


def _wait_healthy(names: tuple[str, ...], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    pending = set(names)
    with console.status("services: waiting for /healthz ...") as status:
        while pending and time.monotonic() < deadline:
            for name in sorted(pending):
                url = f"http://127.0.0.1:{runtime.instance_port(name)}/healthz"
                try:
                    if httpx.get(url, timeout=1.0).status_code == 200:
                        pending.discard(name)
                        console.print(f"services: {name} healthy ({url})")
                except httpx.HTTPError:
                    pass
            status.update(f"services: waiting for {', '.join(sorted(pending))} ...")
            time.sleep(0.3)
    if pending:
        console.print(f"[red]services not healthy: {', '.join(sorted(pending))}; see .run/logs/")
        raise typer.Exit(1)


def _supervisor_pid() -> int | None:
    try:
        pid = int(runtime.SUPERVISOR_PID.read_text())
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid


@app.command()
def up(
    services: Annotated[bool, typer.Option(help="Start the four services.")] = True,
) -> None:
    """Start Kafka, PostgreSQL, migrations, topics, the default rosters and all four services."""
    if os.environ.get("DESKPEMILU_EXTERNAL_STACK") != "1":  # docker-compose runs its own
        _stack("start", "all")
    _run(_prepare_database_and_topics(load_default_rosters=True))
    if not services:
        return
    s3_line = s3local.up_local(console)  # before the services: they inherit its address
    if _supervisor_pid() is None:
        runtime.LOG_DIR.mkdir(parents=True, exist_ok=True)
        log = (runtime.LOG_DIR / "supervisor.log").open("ab")
        subprocess.Popen(
            [sys.executable, "-m", "deskpemilu.cli", "supervise"],
            cwd=runtime.REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    from deskpemilu.supervisor import SERVICES

    instances = runtime.service_instances(SERVICES)
    _wait_healthy(instances)
    prometheus_line = prometheus.up_local(console)
    api = runtime.service_port("api")
    intake = runtime.service_port("intake")
    console.print(
        "\n[bold]Desk Pemilu is running[/bold]\n"
        f"  dashboard + read API  http://127.0.0.1:{api}/?token={_viewer_token()}\n"
        f"  intake (operators)    http://127.0.0.1:{intake}/v1/submissions  (docs: /docs)\n"
        f"  operator app          http://127.0.0.1:{intake}/app/  "
        "(sign-in: deskpemilu operators token <id> --link)\n"
        "  metrics               /metrics on ports "
        + ", ".join(str(runtime.instance_port(s)) for s in instances)
        + prometheus_line
        + s3_line
        + "\n  logs                  .run/logs/\n  stop                  deskpemilu down"
    )


@app.command()
def down() -> None:
    """Stop the services this stack started, then Kafka and PostgreSQL."""
    pid = _supervisor_pid()
    if pid is not None:
        os.kill(pid, signal.SIGTERM)
        with console.status("services: stopping ..."):
            for _ in range(300):
                if _supervisor_pid() is None:
                    break
                time.sleep(0.1)
        console.print("services: stopped")
    prometheus.down_local(console)
    s3local.down_local(console)
    _stack("stop", "all")


@app.command()
def supervise() -> None:
    """Run the four services in the foreground, restarting any that crash (used by `up`)."""
    from deskpemilu.supervisor import supervise as run_supervisor

    raise typer.Exit(run_supervisor())


@app.command()
def status() -> None:
    """Show Kafka, PostgreSQL and the services' health."""
    subprocess.run(["bash", str(runtime.STACK_SCRIPT), "status"], check=False)  # noqa: S603,S607
    from deskpemilu.supervisor import SERVICES

    for name in runtime.service_instances(SERVICES):
        url = f"http://127.0.0.1:{runtime.instance_port(name)}/healthz"
        try:
            code = str(httpx.get(url, timeout=1.0).status_code)
        except httpx.HTTPError:
            code = "down"
        console.print(f"{name:<11} {code:<5} {url}")
    console.print(prometheus.status_line())
    console.print(s3local.status_line())


@app.command()
def migrate() -> None:
    """Apply pending database migrations and create missing Kafka topics."""
    _run(_prepare_database_and_topics(load_default_rosters=False))


@roster_app.command("load")
def roster_load(folder: Annotated[Path, typer.Argument(exists=True, file_okay=False)]) -> None:
    """Load a roster folder (CSV files, see docs/ROSTER_FORMAT.md) in one transaction."""
    from deskpemilu.roster_load import RosterFileError
    from shared.db import connect, migrate
    from shared.settings import CommonSettings

    async def go() -> None:
        conn = await connect(CommonSettings().database_url)
        try:
            await migrate(conn)
            await _load_roster_folder(conn, folder)
        finally:
            await conn.close()

    try:
        _run(go())
    except RosterFileError as exc:
        console.print(f"[red]{exc}")
        raise typer.Exit(1) from exc


@roster_app.command("national")
def roster_national(
    out: Annotated[Path, typer.Option(help="Folder to write the roster into.", file_okay=False)],
    seed: Annotated[int, typer.Option(help="Same seed, same bytes.")] = 2024,
    provinces: Annotated[
        int | None, typer.Option(help="Only the first N provinces (a slice of the same roster).")
    ] = None,
) -> None:
    """Write the synthetic national Pemilu roster (823,220 TPS, made-up codes) as a folder."""
    from deskpemilu.national import generate

    # `up` loads every folder under data/rosters/: 823k TPS there would slow every start.
    if out.resolve().parent == runtime.DEFAULT_ROSTERS.resolve():
        console.print(f"[red]not under {runtime.DEFAULT_ROSTERS}: `up` loads every folder there")
        raise typer.Exit(2)
    with console.status(f"roster national: writing {out} ..."):
        report = generate(out, seed=seed, provinces=provinces)
    console.print(f"roster national: {report}")
    console.print(f"load it with: deskpemilu roster load {out}")


@operators_app.command("token")
def operators_token(
    operator_id: str,
    ttl_hours: Annotated[float, typer.Option(help="Hours until the token expires.")] = 24.0,
    link: Annotated[
        bool, typer.Option("--link", help="Print the operator app's sign-in link and QR code.")
    ] = False,
    base_url: Annotated[
        str | None, typer.Option(help="The intake's address as phones reach it (with --link).")
    ] = None,
) -> None:
    """Issue a bearer token for a registered operator and print it."""
    from deskpemilu import tokens
    from shared.db import connect
    from shared.settings import TokenSettings

    settings = TokenSettings()

    async def go() -> str:
        conn = await connect(settings.database_url)
        try:
            operator = await tokens.active_operator(conn, operator_id)
            if operator is None:
                console.print(f"[red]operator {operator_id!r} not found or inactive")
                raise typer.Exit(1)
            ttl = timedelta(hours=ttl_hours)
            secret = settings.token_secret.get_secret_value()
            token, claims = (await tokens.issue_tokens(conn, secret, [operator], ttl=ttl))[
                operator.id
            ]
            console.print(f"token {claims.jti} for {operator.id} expires {claims.expires_at}")
            return token
        finally:
            await conn.close()

    token = _run(go())
    if link:
        from deskpemilu.app_link import app_link, default_base_url, qr_text

        url = app_link(base_url or default_base_url(), token)
        typer.echo(qr_text(url))
        typer.echo(url)
    else:
        typer.echo(token)


@operators_app.command("revoke")
def operators_revoke(jti: str) -> None:
    """Revoke a token by its id (services refuse it within their refresh interval)."""
    import uuid

    from deskpemilu import tokens
    from shared.db import connect
    from shared.settings import CommonSettings

    try:
        token_id = uuid.UUID(jti)
    except ValueError:
        console.print(f"[red]{jti!r} is not a token id (a UUID)")
        raise typer.Exit(1) from None

    async def go() -> bool:
        conn = await connect(CommonSettings().database_url)
        try:
            return await tokens.revoke(conn, token_id)
        finally:
            await conn.close()

    if not _run(go()):
        console.print(f"[red]no active token {jti}")
        raise typer.Exit(1)
    console.print(f"revoked {jti}")


def _truth_path(election: str) -> Path:
    return runtime.RUN_DIR / "simulation" / f"{election}-truth.json"


@app.command()
def simulate(
    election: Annotated[str, typer.Option(help="Election id of a loaded roster.")] = "pemilu-2024",
    duration: Annotated[
        float, typer.Option(help="Real seconds the whole day takes (0: as fast as possible).")
    ] = 0.0,
    demo: Annotated[
        bool, typer.Option(help="Pace the day over 3 minutes for the dashboard.")
    ] = False,
    rate: Annotated[
        float, typer.Option(help="At most this many forms per second (0: none).")
    ] = 0.0,
    concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 32,
    seed: Annotated[int, typer.Option(help="Same seed, same day.")] = 2024,
    tps_limit: Annotated[int, typer.Option(help="Only the first N TPS (0: all).")] = 0,
    intake_url: Annotated[str, typer.Option(help="Intake base URL (default: local).")] = "",
    truth: Annotated[Path | None, typer.Option(help="Where to write the ground truth.")] = None,
    manipulation: Annotated[
        str, typer.Option(help="Injected manipulation: demo (a few), none, or a rate per kind.")
    ] = "demo",
    silent: Annotated[
        float, typer.Option(help="Share of TPS that send nothing (silent TPS).")
    ] = 0.0,
    quit_rate: Annotated[
        float, typer.Option("--quit", help="Share of TPS that stop after their first contests.")
    ] = 0.0,
    incident_rate: Annotated[
        float, typer.Option(help="Incident reports per TPS over the day (0: none).")
    ] = 0.01,
    critical_share: Annotated[
        float, typer.Option(help="Share of the incidents in a critical category.")
    ] = 0.25,
) -> None:
    """Simulate an election day: every TPS reports every contest through every channel."""
    from deskpemilu.quickcount.repository import current_sample_tps
    from deskpemilu.simulator.incidents import IncidentSender, plan_incidents
    from deskpemilu.simulator.manipulation import manipulate_plan
    from deskpemilu.simulator.plan import Operators, SilenceRates, plan_day
    from deskpemilu.simulator.run import DayRunner, expected_outcomes, load_operators, mint_tokens
    from deskpemilu.simulator.truth import write_truth
    from shared.db import connect
    from shared.roster_db import fetch_election_roster
    from shared.settings import TokenSettings

    settings = TokenSettings()
    truth_path = truth or _truth_path(election)

    async def go() -> None:
        conn = await connect(settings.database_url)
        try:
            roster = await fetch_election_roster(conn, election)
            if roster is None:
                console.print(f"[red]election {election!r} is not loaded (deskpemilu roster load)")
                raise typer.Exit(1)
            operators, phones = await load_operators(conn)
            tokens = await mint_tokens(conn, settings.token_secret.get_secret_value(), operators)
            # TPS of the quick-count sample report first (deskpemilu quickcount draw).
            sample = await current_sample_tps(conn, election)
        finally:
            await conn.close()
        plan = plan_day(
            roster,
            Operators.from_list(operators),
            seed=seed,
            tps_limit=tps_limit or None,
            sample=sample,
            silence=SilenceRates(silent=silent, quit=quit_rate),
        )
        injected = manipulate_plan(plan, roster, anomalies.rates_option(manipulation), seed)
        reports = plan_incidents(
            roster,
            Operators.from_list(operators),
            rate=incident_rate,
            critical_share=critical_share,
            seed=seed,
            only={tps for _, tps in plan.counted},
        )
        write_truth(truth_path, plan, roster, [i.as_dict() for i in injected], reports)
        console.print(
            f"simulate: {len(plan.sends)} sends for {len(plan.counted)} TPS results "
            f"({expected_outcomes(plan)}), {len(injected)} manipulated, "
            f"{len(plan.silenced)} left silent; ground truth in "
            f"{truth_path}"
        )
        url = intake_url or f"http://127.0.0.1:{runtime.service_port('intake')}"
        secrets = _channel_secrets()
        with _progress() as progress:
            task = progress.add_task("forms sent", total=len(plan.sends))
            runner = DayRunner(
                plan,
                intake_url=url,
                tokens=tokens,
                phones=phones,
                secrets=secrets,
                duration_s=180.0 if demo else duration,
                max_rate=rate or None,
                concurrency=concurrency,
                on_progress=lambda n: progress.advance(task, n),
            )
            incidents = IncidentSender(
                reports,
                intake_url=url,
                tokens=tokens,
                phones=phones,
                secrets=secrets,
                duration_s=180.0 if demo else duration,
            )
            started = time.monotonic()
            stats, reported = await asyncio.gather(runner.run(), incidents.run())
            elapsed = time.monotonic() - started
        console.print(
            f"simulate: {stats.forms_stored} forms stored (202) in {elapsed:.1f}s "
            f"= {stats.forms_stored / max(elapsed, 1e-9):.0f} forms/s; {stats.requests} requests, "
            f"{stats.retries} retries, statuses {dict(stats.by_status)}, "
            f"connection errors {dict(stats.errors)}"
        )
        console.print(
            f"simulate: {reported.stored} of {len(incidents.sends)} incidents stored "
            f"({reported.critical} critical), by channel {dict(reported.by_channel)}"
        )
        if stats.failures or reported.failures:
            failed = stats.failures + reported.failures
            console.print(f"[red]{len(failed)} sends failed, e.g. {failed[:3]}")
            raise typer.Exit(1)

    _run(go())
    console.print(f"check the totals: deskpemilu verify --election {election}")
    if not intake_url:
        console.print(_simulated_summary(election))


def _simulated_summary(election: str) -> str:
    """The closing lines of `simulate` on the local stack: the election and its dashboard link."""
    api = f"http://127.0.0.1:{runtime.service_port('api')}"
    token = _viewer_token()
    name = election
    try:
        answer = httpx.get(
            f"{api}/v1/elections/{election}", headers={"Authorization": f"Bearer {token}"}
        )
        if answer.status_code == 200:
            name = str(answer.json()["name"])
    except httpx.HTTPError:
        pass  # the link below still works once the api answers
    return (
        f"[bold]simulated: {name} ({election})[/bold]\n"
        f"  dashboard  {api}/?token={token}#/hasil/{election}"
    )


@app.command()
def verify(
    election: Annotated[str, typer.Option(help="Election id of the simulation.")] = "pemilu-2024",
    truth: Annotated[Path | None, typer.Option(help="Ground truth file of `simulate`.")] = None,
    api_url: Annotated[str, typer.Option(help="Read API base URL (default: local).")] = "",
    wait: Annotated[float, typer.Option(help="Keep checking this long for the pipeline.")] = 60.0,
) -> None:
    """Compare the API's totals and progress at every area with the ground truth; exit 1 on any."""
    import orjson

    from deskpemilu.simulator.verify import verify_against_api

    truth_path = truth or _truth_path(election)
    expected = orjson.loads(truth_path.read_bytes())
    token = _viewer_token()
    url = api_url or f"http://127.0.0.1:{runtime.service_port('api')}"
    deadline = time.monotonic() + wait
    while True:
        with console.status("verify: walking every area ..."):
            checked, diffs = verify_against_api(url, token, expected)
        if not diffs or time.monotonic() >= deadline:
            break
        console.print(f"verify: {len(diffs)} differences; the pipeline may still be busy ...")
        time.sleep(3)
    for diff in diffs[:50]:
        console.print(f"  {diff}")
    console.print(f"verify: {checked} area results checked, {len(diffs)} differences")
    if diffs:
        raise typer.Exit(1)


def _viewer_token() -> str:
    """A short-lived token of the roster's viewer (or admin) for read-only commands."""
    from deskpemilu import tokens
    from shared.db import connect
    from shared.settings import TokenSettings

    settings = TokenSettings()

    async def go() -> str:
        conn = await connect(settings.database_url)
        try:
            operator = await tokens.reader(conn)
            if operator is None:
                raise typer.Exit(1)
            secret = settings.token_secret.get_secret_value()
            return await tokens.issue(conn, secret, operator, ttl=timedelta(hours=12))
        finally:
            await conn.close()

    return _run(go())


@app.command()
def rebuild() -> None:
    """Drop the projections and replay the Kafka log through validation and aggregation."""
    import json

    from services.aggregator.rebuild import RebuildRefused
    from services.aggregator.rebuild import rebuild as run_rebuild
    from services.aggregator.settings import AggregatorSettings

    pause = runtime.PAUSE_DIR / "aggregator"
    supervised = _supervisor_pid() is not None
    if supervised:
        runtime.PAUSE_DIR.mkdir(parents=True, exist_ok=True)
        pause.touch()
        with console.status("rebuild: stopping the supervised aggregator ..."):
            for _ in range(300):
                state = json.loads(runtime.SERVICES_STATE.read_text() or "{}")
                running = [
                    info.get("pid")
                    for name, info in state.items()
                    if runtime.split_instance(name)[0] == "aggregator"
                ]
                if not any(running):
                    break
                time.sleep(0.1)
    try:
        with console.status("rebuild: replaying the log ...") as status:
            report = _run(run_rebuild(AggregatorSettings(), progress=status.update))
    except RebuildRefused as exc:
        console.print(f"[red]rebuild refused: {exc}")
        raise typer.Exit(1) from exc
    finally:
        pause.unlink(missing_ok=True)
    console.print(
        f"rebuild: {report.records} records replayed in {report.seconds:.1f}s, "
        f"{report.dead_letters} undecodable; decisions {dict(report.decisions)}"
        + ("; aggregator restarted by the supervisor" if supervised else "")
    )


@app.command()
def chaos(
    election: Annotated[str, typer.Option(help="Election id of a loaded roster.")] = "pemilu-2024",
    tps_limit: Annotated[int, typer.Option(help="Only the first N TPS (0: all).")] = 300,
    duration: Annotated[float, typer.Option(help="Real seconds the simulated day takes.")] = 120.0,
    seed: Annotated[int, typer.Option(help="Same seed, same day and same faults.")] = 1,
    kill_every: Annotated[float, typer.Option(help="Mean seconds between two faults.")] = 5.0,
    no_broker_restarts: Annotated[
        bool, typer.Option("--no-broker-restarts", help="Only SIGKILL services.")
    ] = False,
    concurrency: Annotated[int, typer.Option(help="Requests in flight.")] = 16,
) -> None:
    """Fault injection: SIGKILL services, crash Kafka and PostgreSQL during a simulated day."""
    import orjson

    from deskpemilu.chaos import Chaos as ChaosRun
    from deskpemilu.chaos import (
        ChaosConfig,
        ChaosError,
        ShellStack,
        SupervisedServices,
        count_submissions,
        prepare_day,
    )
    from deskpemilu.simulator.truth import write_truth
    from deskpemilu.supervisor import SERVICES
    from shared.settings import TokenSettings

    if _supervisor_pid() is None:
        console.print("[red]chaos: no supervised services; start them with `deskpemilu up`")
        raise typer.Exit(2)
    settings = TokenSettings()
    truth_path = runtime.RUN_DIR / "simulation" / f"{election}-chaos-truth.json"

    async def go() -> bool:
        if await count_submissions(settings.database_url, election):
            # The same seed sends the same keys: old rows would hide lost forms and add votes.
            console.print(
                f"[red]chaos: {election} already has submissions; run it on a fresh stack, e.g. "
                "RUN_DIR=/tmp/chaosrun KAFKA_PORT=29092 KAFKA_CONTROLLER_PORT=29093 "
                "PG_PORT=25433 API_PORT=18000 INTAKE_PORT=18001 VALIDATOR_PORT=18002 "
                "AGGREGATOR_PORT=18003 deskpemilu up"
            )
            raise typer.Exit(2)
        prepared = await prepare_day(
            settings.database_url,
            election,
            seed=seed,
            tps_limit=tps_limit or None,
            token_secret=settings.token_secret.get_secret_value(),
        )
        write_truth(truth_path, prepared.plan, prepared.roster)
        targets = "services only" if no_broker_restarts else "services, Kafka, PostgreSQL"
        console.print(
            f"chaos: {len(prepared.plan.sends)} sends over {duration:.0f}s, a fault every "
            f"~{kill_every:.0f}s ({targets}); ground truth in {truth_path}"
        )
        instances = runtime.service_instances(SERVICES)
        ports = {name: runtime.instance_port(name) for name in instances}
        services = SupervisedServices(runtime.SERVICES_STATE, instances, ports)
        intakes = [f"http://127.0.0.1:{p}" for n, p in ports.items() if n.startswith("intake")]
        stack = None if no_broker_restarts else ShellStack(runtime.STACK_SCRIPT, os.environ)
        config = ChaosConfig(
            seed=seed,
            kill_every_s=kill_every,
            backing_restarts=not no_broker_restarts,
            duration_s=duration,
            concurrency=concurrency,
        )
        with _progress() as progress:
            task = progress.add_task("forms sent", total=len(prepared.plan.sends))
            run: ChaosRun

            def on_event(line: str) -> None:
                report = run.report
                progress.console.print(f"chaos {line}")
                progress.update(
                    task,
                    description=f"forms sent, {sum(report.kills.values())} kills, "
                    f"{sum(report.backing_restarts.values())} restarts",
                )

            run = ChaosRun(services, stack, config, on_event=on_event)
            report = await run.run(
                prepared,
                orjson.loads(truth_path.read_bytes()),
                intake_url=intakes,
                api_url=f"http://127.0.0.1:{ports['api']}",
                database_url=settings.database_url,
                secrets=_channel_secrets(),
                on_progress=lambda n: progress.advance(task, n),
            )
        for line in report.details():
            console.print(f"  {line}")
        typer.echo(report.summary())
        return report.ok

    try:
        ok = _run(go())
    except ChaosError as exc:
        console.print(f"[red]chaos: {exc}")
        raise typer.Exit(2) from exc
    if not ok:
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
