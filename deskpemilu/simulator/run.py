"""Send a planned election day to the intake in compressed real time, retrying like phones do."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import asyncpg
import httpx

from deskpemilu import tokens
from deskpemilu.simulator.channels import (
    ChannelSecrets,
    Outcome,
    send_api,
    send_batch,
    send_sms,
    send_whatsapp,
)
from deskpemilu.simulator.plan import DayPlan, Send
from shared.events import Channel, OperatorRef, Role

MAX_ATTEMPTS = 200  # a phone keeps trying; the intake's per-operator rate limit paces it
BATCH_MAX = 25


@dataclass
class RunStats:
    """What happened on the wire."""

    requests: int = 0
    forms_stored: int = 0
    retries: int = 0
    by_status: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)  # connection errors by kind
    by_intake: Counter[str] = field(default_factory=Counter)  # forms acknowledged per intake URL
    first_202_at: float | None = None
    last_202_at: float | None = None


async def load_operators(conn: asyncpg.Connection) -> tuple[list[OperatorRef], dict[str, str]]:
    """Active operators with their scope, and their WhatsApp numbers."""
    rows = await conn.fetch(
        "SELECT id, name, role, scope, phone FROM operators WHERE active ORDER BY id"
    )
    operators = [
        OperatorRef(id=r["id"], role=Role(r["role"]), scope=tuple(r["scope"]), name=r["name"])
        for r in rows
    ]
    phones = {r["id"]: r["phone"] for r in rows if r["phone"]}
    return operators, phones


async def mint_tokens(
    conn: asyncpg.Connection, secret: str, operators: list[OperatorRef], hours: float = 24.0
) -> dict[str, str]:
    """A bearer token per operator, recorded in operator_tokens like the CLI's."""
    issued = await tokens.issue_tokens(conn, secret, operators, ttl=timedelta(hours=hours))
    return {operator_id: token for operator_id, (token, _) in issued.items()}


class DayRunner:
    """Replays a DayPlan against the intake: time-compressed, rate-limited, ordered per TPS.

    intake_url may name several intake instances: the sends take them in turn, and a retry
    goes to the next one, as a phone behind a load balancer would reach another replica.
    """

    def __init__(
        self,
        plan: DayPlan,
        *,
        intake_url: str | Sequence[str],
        tokens: dict[str, str],
        phones: dict[str, str],
        secrets: ChannelSecrets,
        duration_s: float,
        max_rate: float | None = None,
        concurrency: int = 32,
        on_progress: Callable[[int], None] | None = None,
        on_answer: Callable[[list[Send], int], None] | None = None,
    ) -> None:
        self.plan = plan
        self.intake_urls = [intake_url] if isinstance(intake_url, str) else list(intake_url)
        if not self.intake_urls:
            raise ValueError("DayRunner needs at least one intake URL")
        self.intake_url = self.intake_urls[0]
        self._turn = 0  # the next group's intake (round robin)
        self.tokens = tokens
        self.phones = phones
        self.secrets = secrets
        self.max_rate = max_rate
        self.concurrency = concurrency
        self.on_progress = on_progress or (lambda n: None)
        # Every answer of every attempt (599: no answer), for callers that audit deliveries.
        self.on_answer = on_answer or (lambda group, status: None)
        self.stats = RunStats()
        sends = plan.sends
        span = (sends[-1].at_s - sends[0].at_s) if len(sends) > 1 else 0.0
        self.start_s = sends[0].at_s if sends else 0.0
        # Simulated seconds per real second; duration 0 means as fast as allowed.
        self.speed = span / duration_s if duration_s > 0 and span > 0 else float("inf")
        # One TPS's sends must reach Kafka in plan order: a revision after its first version.
        self._tps_tail: dict[tuple[str, str], asyncio.Future[None]] = {}

    async def run(self) -> RunStats:
        """Send everything; returns when every send got a 202 (or gave up)."""
        limits = httpx.Limits(max_connections=self.concurrency)
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0)
                )
                for url in self.intake_urls
            ]
            semaphore = asyncio.Semaphore(self.concurrency)
            tasks: list[asyncio.Task[None]] = []
            started = time.monotonic()
            for group in self._groups():
                due = (
                    (group[0].at_s - self.start_s) / self.speed if self.speed != float("inf") else 0
                )
                delay = due - (time.monotonic() - started)
                if delay > 0:
                    await asyncio.sleep(delay)
                if self.max_rate:
                    await asyncio.sleep(len(group) / self.max_rate)
                await semaphore.acquire()
                turn, self._turn = self._turn, self._turn + 1
                tasks.append(asyncio.create_task(self._deliver(clients, turn, group, semaphore)))
            await asyncio.gather(*tasks)
        return self.stats

    def _groups(self) -> list[list[Send]]:
        """Batch-channel sends of one operator close in time travel together; others alone."""
        groups: list[list[Send]] = []
        open_batch: dict[str, list[Send]] = {}
        window = 600.0  # simulated seconds a phone app collects before it uploads a batch
        for send in self.plan.sends:
            if send.channel is not Channel.BATCH:
                groups.append([send])
                continue
            current = open_batch.get(send.operator.id)
            if (
                current is None
                or len(current) >= BATCH_MAX
                or send.at_s - current[0].at_s > window
                or any((s.form.contest, s.form.tps) == (send.form.contest, send.form.tps)
                       for s in current)
            ):  # fmt: skip
                current = [send]
                open_batch[send.operator.id] = current
                groups.append(current)
            else:
                current.append(send)
        return groups

    async def _deliver(
        self,
        clients: Sequence[httpx.AsyncClient],
        turn: int,
        group: list[Send],
        semaphore: asyncio.Semaphore,
    ) -> None:
        keys = [(str(s.form.contest), s.form.tps) for s in group]
        waits = [self._tps_tail[k] for k in keys if k in self._tps_tail]
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        for k in keys:
            self._tps_tail[k] = done
        try:
            for previous in waits:
                await previous
            await self._send_with_retries(clients, turn, group)
        finally:
            if not done.done():  # a cancelled run also cancels the futures others wait on
                done.set_result(None)
            semaphore.release()

    async def _send_once(self, client: httpx.AsyncClient, group: list[Send]) -> Outcome:
        first = group[0]
        token = self.tokens[first.operator.id]
        if first.channel is Channel.BATCH:
            return await send_batch(client, token, group)
        if first.channel is Channel.WHATSAPP:
            return await send_whatsapp(client, self.secrets, self.phones[first.operator.id], first)
        if first.channel is Channel.SMS:
            return await send_sms(client, self.secrets, self.phones[first.operator.id], first)
        return await send_api(client, token, first)

    async def _send_with_retries(
        self, clients: Sequence[httpx.AsyncClient], turn: int, group: list[Send]
    ) -> None:
        backoff = 0.2
        for attempt in range(MAX_ATTEMPTS):
            client = clients[(turn + attempt) % len(clients)]
            try:
                outcome = await self._send_once(client, group)
            except httpx.HTTPError as exc:
                outcome = Outcome(599, None, len(group))  # the phone lost its connection
                self.stats.errors[type(exc).__name__] += 1
            self.stats.requests += 1
            self.stats.by_status[outcome.status] += 1
            self.on_answer(group, outcome.status)
            if outcome.status == 202:
                now = time.monotonic()
                self.stats.first_202_at = self.stats.first_202_at or now
                self.stats.last_202_at = now
                self.stats.forms_stored += len(group)
                self.stats.by_intake[str(client.base_url).rstrip("/")] += len(group)
                self.on_progress(len(group))
                return
            if outcome.status not in (429, 503, 599):
                self.stats.failures.append(
                    f"{group[0].idempotency_key}: HTTP {outcome.status} ({group[0].channel})"
                )
                self.on_progress(len(group))
                return
            if attempt:
                self.stats.retries += 1
            # Jitter keeps phones told to wait the same time from coming back all at once.
            await asyncio.sleep((outcome.retry_after_s or backoff) * random.uniform(0.5, 1.5))
            backoff = min(5.0, backoff * 2)
        self.stats.failures.append(f"{group[0].idempotency_key}: gave up after {MAX_ATTEMPTS}")
        self.on_progress(len(group))


def expected_outcomes(plan: DayPlan) -> dict[str, int]:
    """How many sends should end each way downstream (for the summary)."""
    counts: dict[str, int] = defaultdict(int)
    for send in plan.sends:
        counts[send.expect.split(":")[0]] += 1
    return dict(counts)
