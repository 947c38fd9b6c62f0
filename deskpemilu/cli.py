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
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console

from deskpemilu import runtime

app = typer.Typer(no_args_is_help=True, help="Desk Pemilu: TPS results pipeline.")
roster_app = typer.Typer(no_args_is_help=True, help="Election rosters (areas, TPS, contests).")
operators_app = typer.Typer(no_args_is_help=True, help="Operators and their tokens.")
app.add_typer(roster_app, name="roster")
app.add_typer(operators_app, name="operators")
console = Console(stderr=True)
T = TypeVar("T")


def _run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


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
            count = await conn.fetchval("SELECT count(*) FROM elections")
            if count == 0:
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
                url = f"http://127.0.0.1:{runtime.service_port(name)}/healthz"
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

    _wait_healthy(SERVICES)
    api = runtime.service_port("api")
    intake = runtime.service_port("intake")
    console.print(
        "\n[bold]Desk Pemilu is running[/bold]\n"
        f"  dashboard + read API  http://127.0.0.1:{api}/   (docs: /docs)\n"
        f"  intake (operators)    http://127.0.0.1:{intake}/v1/submissions  (docs: /docs)\n"
        "  metrics               /metrics on ports "
        + ", ".join(str(runtime.service_port(s)) for s in SERVICES)
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

    for name in SERVICES:
        url = f"http://127.0.0.1:{runtime.service_port(name)}/healthz"
        try:
            code = str(httpx.get(url, timeout=1.0).status_code)
        except httpx.HTTPError:
            code = "down"
        console.print(f"{name:<11} {code:<5} {url}")


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


@operators_app.command("token")
def operators_token(
    operator_id: str,
    ttl_hours: Annotated[float, typer.Option(help="Hours until the token expires.")] = 24.0,
) -> None:
    """Issue a bearer token for a registered operator and print it."""
    from shared.auth import issue_token
    from shared.db import connect
    from shared.events import OperatorRef, Role
    from shared.settings import TokenSettings

    settings = TokenSettings()

    async def go() -> str:
        conn = await connect(settings.database_url)
        try:
            row = await conn.fetchrow(
                "SELECT id, name, role, scope FROM operators WHERE id = $1 AND active",
                operator_id,
            )
            if row is None:
                console.print(f"[red]operator {operator_id!r} not found or inactive")
                raise typer.Exit(1)
            operator = OperatorRef(
                id=row["id"], role=Role(row["role"]), scope=tuple(row["scope"]), name=row["name"]
            )
            token, claims = issue_token(
                settings.token_secret.get_secret_value(),
                operator,
                ttl=timedelta(hours=ttl_hours),
            )
            await conn.execute(
                "INSERT INTO operator_tokens (jti, operator_id, expires_at) VALUES ($1, $2, $3)",
                claims.jti,
                operator.id,
                claims.expires_at,
            )
            console.print(f"token {claims.jti} for {operator.id} expires {claims.expires_at}")
            return token
        finally:
            await conn.close()

    typer.echo(_run(go()))


@operators_app.command("revoke")
def operators_revoke(jti: str) -> None:
    """Revoke a token by its id (services refuse it within their refresh interval)."""
    from shared.db import connect
    from shared.settings import CommonSettings

    async def go() -> str:
        conn = await connect(CommonSettings().database_url)
        try:
            result: str = await conn.execute(
                "UPDATE operator_tokens SET revoked_at = now() "
                "WHERE jti = $1::uuid AND revoked_at IS NULL",
                jti,
            )
            return result
        finally:
            await conn.close()

    if _run(go()) == "UPDATE 0":
        console.print(f"[red]no active token {jti}")
        raise typer.Exit(1)
    console.print(f"revoked {jti}")


if __name__ == "__main__":
    app()
