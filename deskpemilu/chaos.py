"""Fault injection: SIGKILL services and crash Kafka and PostgreSQL while a simulated day runs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import asyncpg
import httpx

from deskpemilu.runtime import split_instance
from deskpemilu.simulator.channels import ChannelSecrets
from deskpemilu.simulator.plan import DayPlan, Operators, Send, plan_day
from deskpemilu.simulator.run import DayRunner, RunStats, load_operators, mint_tokens
from deskpemilu.simulator.truth import expected_statuses
from deskpemilu.simulator.verify import Difference, verify_against_api
from shared.db import connect
from shared.events import Role
from shared.form import Contest
from shared.roster import ElectionRoster
from shared.roster_db import fetch_election_roster

KAFKA = "kafka"
POSTGRES = "postgres"
BACKING = (KAFKA, POSTGRES)
# After the first round (every target once), a fault hits a service this often, else the stack.
SERVICE_SHARE = 0.75
PROGRESS_EVERY_S = 10.0

EventSink = Callable[[str], None]


class ChaosError(Exception):
    """The chaos run could not do what it was asked (not a difference in the results)."""


class ServiceControl(Protocol):
    """The services under test: SIGKILL one; whoever supervises them starts it again."""

    @property
    def names(self) -> Sequence[str]:
        """The services that may be killed."""
        ...

    async def kill(self, name: str) -> int | None:
        """SIGKILL the service's process; its pid, or None if it was not running."""
        ...

    def restarts(self) -> int:
        """Service starts seen since the chaos began (after kills and after their own crashes)."""
        ...

    async def wait_healthy(self, timeout_s: float) -> list[str]:
        """Wait until every service answers /healthz 200; the names that still do not."""
        ...


class StackControl(Protocol):
    """Kafka and PostgreSQL: crash one and start it again."""

    async def hard_restart(self, which: str) -> None:
        """Crash `kafka` or `postgres` and start it again; returns once it is healthy."""
        ...


def fault_schedule(
    rng: random.Random,
    services: Sequence[str],
    *,
    backing: bool = True,
    backing_targets: Sequence[str] = BACKING,
) -> Iterator[str]:
    """Targets of successive faults: every target once in a shuffled first round, then at random.

    backing_targets: which of Kafka and PostgreSQL may crash (with a three-broker cluster,
    `kafka` is one broker: deploy/stack.sh restart-kafka crashes a single node).
    """
    crashable = list(backing_targets) if backing else []
    first = [*services, *crashable]
    rng.shuffle(first)
    yield from first
    while True:
        if services and (not crashable or rng.random() < SERVICE_SHARE):
            yield rng.choice(list(services))
        else:
            yield rng.choice(crashable)


def compare_statuses(
    expected: Mapping[tuple[str, str], Sequence[str]],
    actual: Mapping[tuple[str, str], Sequence[str]],
) -> tuple[list[str], list[str]]:
    """(lost, extra): statuses the plan expects but the table lacks, and rows beyond the plan."""
    lost: list[str] = []
    extra: list[str] = []
    for key in sorted(set(expected) | set(actual)):
        want, have = Counter(expected.get(key, ())), Counter(actual.get(key, ()))
        contest, tps = key
        lost += [f"{contest} {tps}: {s} missing" for s in sorted((want - have).elements())]
        extra += [f"{contest} {tps}: unexpected {s}" for s in sorted((have - want).elements())]
    return lost, extra


@dataclass
class ChaosConfig:
    """How hard and how long to shake the pipeline."""

    seed: int = 1
    kill_every_s: float = 5.0  # mean pause between two faults
    backing_restarts: bool = True  # also crash Kafka and PostgreSQL
    backing_targets: tuple[str, ...] = BACKING  # which of the two (KAFKA only: broker faults)
    service_kills: bool = True  # False: only the backing servers crash
    duration_s: float = 120.0  # real seconds the simulated day takes
    day_timeout_s: float | None = None  # give up on unacknowledged sends (default: +180 s)
    concurrency: int = 16
    drain_timeout_s: float = 240.0
    settle_s: float = 15.0  # keep re-verifying this long while the API still differs


@dataclass
class ChaosReport:
    """What was done to the pipeline and how the results compare with the ground truth."""

    kills: Counter[str] = field(default_factory=Counter)  # per instance (`intake-2`)
    backing_restarts: Counter[str] = field(default_factory=Counter)
    service_restarts: int = 0
    forms: int = 0  # forms the intake acknowledged (202)
    sends: int = 0
    stats: RunStats | None = None
    failures: list[str] = field(default_factory=list)  # sends that never got their 202
    unhealthy: list[str] = field(default_factory=list)
    submissions: int = 0
    expected_submissions: int = 0
    lost: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    areas_checked: int = 0
    api_reads: Counter[int] = field(default_factory=Counter)  # status of the API reads meanwhile
    wall_s: float = 0.0
    errors: list[str] = field(default_factory=list)  # faults that could not be injected
    timeline: list[str] = field(default_factory=list)

    @property
    def kills_by_service(self) -> Counter[str]:
        """Kills per service, whichever of its instances was hit."""
        out: Counter[str] = Counter()
        for instance, count in self.kills.items():
            out[split_instance(instance)[0]] += count
        return out

    @property
    def api_errors(self) -> int:
        """API reads answered with a server error other than 503 (a database outage is a 503)."""
        # 599 stands for no answer at all: the process was down (killed, or restarting).
        errors = [n for code, n in self.api_reads.items() if 500 <= code < 599 and code != 503]
        return sum(errors)

    @property
    def ok(self) -> bool:
        """Every acknowledged form counted once, every total equal to the truth, no 500s."""
        return not (
            self.failures
            or self.api_errors
            or self.unhealthy
            or self.lost
            or self.extra
            or self.differences
            or self.errors
            or self.areas_checked == 0
        )

    def summary(self) -> str:
        """One line per figure, as the CLI prints them."""
        kills = ", ".join(f"{n} {c}" for n, c in sorted(self.kills.items())) or "none"
        if len(self.kills_by_service) < len(self.kills):  # several instances of a service
            kills += "; by service: " + ", ".join(
                f"{n} {c}" for n, c in sorted(self.kills_by_service.items())
            )
        restarts = ", ".join(f"{n} {c}" for n, c in sorted(self.backing_restarts.items()))
        lines = [
            f"kills:       {sum(self.kills.values())} ({kills})",
            f"restarts:    {sum(self.backing_restarts.values())} ({restarts or 'none'}); "
            f"service restarts {self.service_restarts}",
            f"forms:       {self.forms} acknowledged of {self.sends} sends"
            + (f"; {len(self.failures)} never acknowledged" if self.failures else ""),
            f"submissions: {self.submissions} stored, {self.expected_submissions} expected; "
            f"{len(self.lost)} lost, {len(self.extra)} extra",
            f"differences: {len(self.differences)} in {self.areas_checked} area results",
            f"api reads:   {dict(sorted(self.api_reads.items()))} during the faults "
            f"(status: count); {self.api_errors} server errors other than 503",
            f"wall time:   {self.wall_s:.0f}s",
        ]
        if self.unhealthy:
            lines.append(f"unhealthy:   {', '.join(self.unhealthy)}")
        if self.errors:
            lines.append(f"errors:      {'; '.join(self.errors[:5])}")
        return "\n".join(lines)

    def details(self, limit: int = 20) -> list[str]:
        """The first few problems of each kind, for a failing run."""
        out = [f"never acknowledged: {f}" for f in self.failures[:limit]]
        out += [f"lost: {x}" for x in self.lost[:limit]]
        out += [f"extra: {x}" for x in self.extra[:limit]]
        out += [f"difference: {d}" for d in self.differences[:limit]]
        return out


class DeliveryAudit:
    """Which sends the intake acknowledged, and every other answer they got (DayRunner hook)."""

    def __init__(self, plan: DayPlan) -> None:
        self.plan = plan
        self.acked: set[str] = set()  # idempotency keys acknowledged at least once
        self.acked_sends: set[int] = set()  # id() of each Send acknowledged (a retry is another)
        self.refused: Counter[str] = Counter()  # '<channel> <status>' of answers other than 202
        self.refused_keys: dict[str, str] = {}  # the last idempotency key refused so, per kind
        self.answers: dict[int, Counter[int]] = {}  # id() of a Send -> its answers but 202

    def __call__(self, group: list[Send], status: int) -> None:
        """Record one answer to one request (a batch is one request)."""
        if status == 202:
            self.acked.update(s.idempotency_key for s in group)
            self.acked_sends.update(id(s) for s in group)
            return
        kind = f"{group[0].channel.value} {status}"
        self.refused[kind] += 1
        self.refused_keys[kind] = group[0].idempotency_key
        for send in group:
            self.answers.setdefault(id(send), Counter())[status] += 1

    def unacknowledged(self) -> list[str]:
        """Sends still without a 202, with the answers they got instead."""
        return [
            f"{s.idempotency_key} ({s.channel.value}): never acknowledged, answers "
            f"{dict(sorted(self.answers.get(id(s), Counter()).items()))}"
            for s in self.plan.sends
            if id(s) not in self.acked_sends
        ]


@dataclass
class Prepared:
    """A planned day with everything needed to send it and check it."""

    plan: DayPlan
    roster: ElectionRoster
    tokens: dict[str, str]
    phones: dict[str, str]
    viewer_token: str


async def prepare_day(
    database_url: str,
    election: str,
    *,
    token_secret: str,
    seed: int,
    tps_limit: int | None,
    contests: Sequence[Contest] | None = None,
) -> Prepared:
    """Plan a day on a loaded roster and mint tokens for its operators and a viewer."""
    conn = await connect(database_url)
    try:
        roster = await fetch_election_roster(conn, election)
        if roster is None:
            raise ChaosError(f"election {election!r} is not loaded (deskpemilu roster load)")
        operators, phones = await load_operators(conn)
        tokens = await mint_tokens(conn, token_secret, operators)
    finally:
        await conn.close()
    viewers = [op for op in operators if op.role in (Role.VIEWER, Role.ADMIN)]
    if not viewers:
        raise ChaosError("the roster has no viewer or admin operator to read the API with")
    viewer = min(viewers, key=lambda op: (op.role is not Role.VIEWER, op.id))
    plan = plan_day(
        roster, Operators.from_list(operators), seed=seed, tps_limit=tps_limit, contests=contests
    )
    return Prepared(plan, roster, tokens, phones, tokens[viewer.id])


async def _submissions(database_url: str, election: str) -> dict[tuple[str, str], list[str]]:
    conn = await connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT contest, tps, status FROM submissions WHERE election = $1", election
        )
    finally:
        await conn.close()
    actual: dict[tuple[str, str], list[str]] = {}
    for row in rows:
        actual.setdefault((row["contest"], row["tps"]), []).append(row["status"])
    return {k: sorted(v) for k, v in actual.items()}


async def count_submissions(database_url: str, election: str) -> int:
    """Rows in the submissions table for one election."""
    conn = await connect(database_url)
    try:
        count: int = await conn.fetchval(
            "SELECT count(*) FROM submissions WHERE election = $1", election
        )
    finally:
        await conn.close()
    return count


class Chaos:
    """Injects faults on a schedule while the day runs, then checks what the pipeline kept."""

    def __init__(
        self,
        services: ServiceControl,
        stack: StackControl | None,
        config: ChaosConfig,
        on_event: EventSink | None = None,
    ) -> None:
        self.services = services
        self.stack = stack
        self.config = config
        self.report = ChaosReport()
        self._on_event = on_event or (lambda line: None)
        self._started = time.monotonic()

    def _event(self, line: str) -> None:
        stamped = f"{time.monotonic() - self._started:6.1f}s {line}"
        self.report.timeline.append(stamped)
        self._on_event(stamped)

    async def _fault(self, target: str) -> None:
        if target in BACKING:
            assert self.stack is not None
            self._event(f"{target}: hard restart ...")
            started = time.monotonic()
            try:
                await self.stack.hard_restart(target)
            except ChaosError as error:
                self.report.errors.append(f"{target} restart failed: {error}")
                self._event(f"{target}: restart FAILED: {error}")
                return
            self.report.backing_restarts[target] += 1
            self._event(f"{target}: back after {time.monotonic() - started:.1f}s")
            return
        pid = await self.services.kill(target)
        if pid is None:
            self._event(f"{target}: not running (restarting?), no kill")
            return
        self.report.kills[target] += 1
        self._event(f"{target}: SIGKILL pid {pid}")

    async def _inject(self, done: asyncio.Event) -> None:
        rng = random.Random(self.config.seed)
        names = list(self.services.names) if self.config.service_kills else []
        targets = fault_schedule(
            rng,
            names,
            backing=self.config.backing_restarts and bool(self.stack),
            backing_targets=self.config.backing_targets,
        )
        # A Kafka or PostgreSQL restart runs beside the kills: services also die while the
        # broker or the database is away, and must come back when it does.
        backing: asyncio.Task[None] | None = None
        try:
            while True:
                pause = self.config.kill_every_s * rng.uniform(0.5, 1.5)
                try:
                    await asyncio.wait_for(done.wait(), pause)
                    return
                except TimeoutError:
                    pass
                target = next(targets)
                if target not in BACKING:
                    await self._fault(target)
                elif backing is None or backing.done():
                    backing = asyncio.create_task(self._fault(target))
                elif names:
                    await self._fault(rng.choice(names))
        finally:
            if backing is not None:
                await backing

    async def _read_api(self, api_url: str, token: str, truth: dict[str, Any]) -> None:
        """Read one result now and then, as the dashboard does: 5xx other than 503 is a bug."""
        election = truth["election"]
        contest = next(iter(truth["totals"]), None)
        if contest is None:
            return
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=api_url, headers=headers, timeout=10.0) as client:
            top: str | None = None
            while True:
                try:
                    if top is None:
                        meta = await client.get(f"/v1/elections/{election}")
                        if meta.status_code == 200:
                            top = meta.json()["top_areas"][0]
                        status = meta.status_code
                    else:
                        response = await client.get(f"/v1/results/{election}/{contest}/{top}")
                        status = response.status_code
                except httpx.HTTPError:
                    status = 599
                self.report.api_reads[status] += 1
                if status >= 500 and status not in (503, 599):
                    self._event(f"api: read answered {status}")
                await asyncio.sleep(1.0)

    async def run(
        self,
        prepared: Prepared,
        truth: dict[str, Any],
        *,
        intake_url: str | Sequence[str],
        api_url: str,
        database_url: str,
        secrets: ChannelSecrets,
        on_progress: Callable[[int], None] | None = None,
    ) -> ChaosReport:
        """Send the day under faults, wait for the pipeline to drain, compare with the truth.

        intake_url: one intake, or every instance of it (the sends are spread over them).
        """
        report = self.report
        self._started = time.monotonic()
        plan = prepared.plan
        report.sends = len(plan.sends)
        audit = DeliveryAudit(plan)
        runner = DayRunner(
            plan, intake_url=intake_url, tokens=prepared.tokens, phones=prepared.phones,
            secrets=secrets, duration_s=self.config.duration_s,
            concurrency=self.config.concurrency, on_progress=on_progress, on_answer=audit,
        )  # fmt: skip
        done = asyncio.Event()
        injector = asyncio.create_task(self._inject(done))
        watcher = asyncio.create_task(self._watch(runner, audit, done))
        reader = asyncio.create_task(self._read_api(api_url, prepared.viewer_token, truth))
        sending = asyncio.create_task(runner.run())
        try:
            # A send the intake never acknowledges must fail the run, not hang it.
            timeout = self.config.day_timeout_s or self.config.duration_s + 180.0
            finished, _ = await asyncio.wait({sending}, timeout=timeout)
            if not finished:
                self._event(f"day not sent after {timeout:.0f}s: giving up on the rest")
                sending.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await sending
                report.failures += audit.unacknowledged()
            stats = runner.stats
        finally:
            done.set()
            await injector  # a restart in progress completes before the checks
            await watcher
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        report.stats = stats
        report.forms = stats.forms_stored
        report.failures = list(stats.failures) + report.failures
        self._event(
            f"day sent: {stats.forms_stored} forms acknowledged, {stats.requests} requests, "
            f"{stats.retries} retries, refused {dict(sorted(audit.refused.items()))}, "
            f"e.g. {audit.refused_keys}"
        )
        report.unhealthy = await self.services.wait_healthy(120.0)
        if report.unhealthy:
            self._event(f"services still unhealthy: {', '.join(report.unhealthy)}")
        expected = expected_statuses(plan)
        # Only what the intake acknowledged must be there; a send that never got its 202 is
        # already a failure of its own.
        acked_keys = audit.acked
        acked_plan = DayPlan(
            sends=[s for s in plan.sends if s.idempotency_key in acked_keys],
            counted=plan.counted,
            disputed=plan.disputed,
        )
        if len(acked_plan.sends) != len(plan.sends):
            expected = expected_statuses(acked_plan)
        report.expected_submissions = sum(len(v) for v in expected.values())
        await self._drain(database_url, plan, report.expected_submissions)
        actual = await _retrying(lambda: _submissions(database_url, truth["election"]))
        report.submissions = sum(len(v) for v in actual.values())
        report.lost, report.extra = compare_statuses(expected, actual)
        await self._verify(api_url, prepared.viewer_token, truth)
        report.service_restarts = self.services.restarts()
        report.wall_s = time.monotonic() - self._started
        return report

    async def _watch(self, runner: DayRunner, audit: DeliveryAudit, done: asyncio.Event) -> None:
        """Log the wire statistics now and then: a stalled day shows in them."""
        while True:
            try:
                await asyncio.wait_for(done.wait(), PROGRESS_EVERY_S)
                return
            except TimeoutError:
                pass
            stats = runner.stats
            self._event(
                f"progress: {stats.forms_stored}/{len(runner.plan.sends)} forms acknowledged, "
                f"{stats.requests} requests, refused {dict(sorted(audit.refused.items()))}"
            )

    async def _drain(self, database_url: str, plan: DayPlan, expected: int) -> None:
        """Wait until the submissions table holds every expected row and stops growing."""
        election = plan.sends[0].form.election if plan.sends else ""
        deadline = time.monotonic() + self.config.drain_timeout_s
        last, stable_since = -1, time.monotonic()
        while time.monotonic() < deadline:
            count = await _retrying(lambda: count_submissions(database_url, election))
            if count != last:
                last, stable_since = count, time.monotonic()
            # Equal and unchanged for a moment: a late duplicate would show up as growth.
            if count >= expected and time.monotonic() - stable_since >= 3.0:
                self._event(f"drained: {count} submissions stored ({expected} expected)")
                return
            await asyncio.sleep(0.5)
        self._event(f"drain timed out: {last} submissions stored ({expected} expected)")

    async def _verify(self, api_url: str, token: str, truth: dict[str, Any]) -> None:
        deadline = time.monotonic() + self.config.settle_s
        while True:
            try:
                checked, diffs = await asyncio.to_thread(verify_against_api, api_url, token, truth)
            except httpx.HTTPError as error:
                if time.monotonic() >= deadline:
                    self.report.errors.append(f"verify failed: {error!r}")
                    return
                self._event(f"verify: API error {error!r}; retrying")
                await asyncio.sleep(2.0)
                continue
            self.report.areas_checked, self.report.differences = checked, diffs
            self._event(f"verify: {checked} area results checked, {len(diffs)} differences")
            if not diffs or time.monotonic() >= deadline:
                return
            await asyncio.sleep(3.0)


async def _retrying(call: Callable[[], Any], attempts: int = 30) -> Any:
    """Run a database read, retrying while PostgreSQL is (re)starting."""
    for attempt in range(attempts):
        try:
            return await call()
        except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(1.0)
    raise AssertionError("unreachable")


class ShellStack:
    """Kafka and PostgreSQL started by deploy/stack.sh in one RUN_DIR, restarted the same way."""

    def __init__(self, script: Path, env: Mapping[str, str]) -> None:
        self.script = script
        self.env = dict(env)

    async def hard_restart(self, which: str) -> None:
        """`stack.sh restart-kafka --hard` (SIGKILL) or `restart-postgres --hard` (immediate)."""
        process = await asyncio.create_subprocess_exec(
            "bash", str(self.script), f"restart-{which}", "--hard",
            env=self.env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        output, _ = await process.communicate()
        if process.returncode != 0:
            tail = output.decode(errors="replace").strip().splitlines()[-5:]
            raise ChaosError(f"stack.sh restart-{which} exited {process.returncode}: {tail}")


class SupervisedServices:
    """The services `deskpemilu supervise` runs: pids from its state file; it restarts them."""

    def __init__(self, state_file: Path, names: Sequence[str], ports: Mapping[str, int]) -> None:
        self.state_file = state_file
        self._names = tuple(names)
        self.ports = dict(ports)
        self._initial = self._restart_counts()

    @property
    def names(self) -> Sequence[str]:
        """The supervised services."""
        return self._names

    def _state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads(self.state_file.read_text())
        except (FileNotFoundError, json.JSONDecodeError) as error:
            raise ChaosError(
                f"no supervisor state in {self.state_file}: is `deskpemilu up` running?"
            ) from error
        return state

    def _restart_counts(self) -> dict[str, int]:
        return {name: int(info.get("restarts", 0)) for name, info in self._state().items()}

    async def kill(self, name: str) -> int | None:
        """SIGKILL the pid the supervisor recorded, if it still runs that service."""
        pid = self._state().get(name, {}).get("pid")
        if not isinstance(pid, int) or not _runs_service(pid, name):
            return None
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return None
        return pid

    def restarts(self) -> int:
        """Restarts the supervisor recorded since this object was made."""
        now = self._restart_counts()
        return sum(max(0, now.get(n, 0) - self._initial.get(n, 0)) for n in self._names)

    async def wait_healthy(self, timeout_s: float) -> list[str]:
        """Poll every service's /healthz until 200 or the timeout."""
        return await wait_healthy_urls(
            {n: f"http://127.0.0.1:{self.ports[n]}" for n in self._names}, timeout_s
        )


def _runs_service(pid: int, name: str) -> bool:
    # The pid in the state file may be stale and reused by another process.
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return f"services.{split_instance(name)[0]}".encode() in cmdline


async def wait_healthy_urls(urls: Mapping[str, str], timeout_s: float) -> list[str]:
    """Poll `<url>/healthz` of each named service until 200; the names still failing at the end."""
    pending = dict(urls)
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(timeout=2.0) as client:
        while pending:
            for name, url in list(pending.items()):
                try:
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        del pending[name]
                except httpx.HTTPError:
                    pass
            if not pending or time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.5)
    return sorted(pending)
