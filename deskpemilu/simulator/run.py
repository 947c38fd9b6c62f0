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
from urllib.parse import urlsplit

import asyncpg
import httpx

from deskpemilu import loadgen, tokens
from deskpemilu.simulator.channels import (
    ChannelSecrets,
    Outcome,
    Prepared,
    outcome,
    prepare,
    send_httpx,
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

    client "httpx" (the default) sends with httpx; "lean" with deskpemilu.loadgen's keep-alive
    sockets, for benchmarks whose sender must cost little beside the pipeline. Either way every
    request is rendered once (`prepare`, before the clock starts if called first) and a retry
    sends the same bytes.
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
        client: str = "httpx",
    ) -> None:
        if client not in ("httpx", "lean"):
            raise ValueError(f"DayRunner client must be httpx or lean, not {client!r}")
        self.plan = plan
        self.client = client
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
        self._group_list: list[list[Send]] | None = None
        # Rendered requests by (group, intake): an SMS is signed with the intake's own URL.
        self._prepared: dict[tuple[int, int], Prepared] = {}
        self._lean_bytes: dict[tuple[int, int], bytes] = {}

    def prepare(self) -> int:
        """Render every request for the first intake now; returns how many groups."""
        groups = self._groups_once()
        for index in range(len(groups)):
            self._request(index, 0)
        return len(groups)

    def _groups_once(self) -> list[list[Send]]:
        if self._group_list is None:
            self._group_list = self._groups()
        return self._group_list

    def _request(self, index: int, url_index: int) -> Prepared:
        prepared = self._prepared.get((index, url_index))
        if prepared is None:
            group = self._groups_once()[index]
            operator = group[0].operator.id
            prepared = prepare(
                group,
                token=self.tokens[operator],
                phone=self.phones.get(operator),
                secrets=self.secrets,
                base_url=self.intake_urls[url_index],
            )
            self._prepared[(index, url_index)] = prepared
            if self.client == "lean":
                host = urlsplit(self.intake_urls[url_index]).netloc
                self._lean_bytes[(index, url_index)] = loadgen.render_request(
                    "POST", prepared.path, host, prepared.headers, prepared.body
                )
        return prepared

    async def run(self) -> RunStats:
        """Send everything; returns when every send got a 202 (or gave up)."""
        groups = self._groups_once()
        async with contextlib.AsyncExitStack() as stack:
            clients = [await self._client(stack, url) for url in self.intake_urls]
            semaphore = asyncio.Semaphore(self.concurrency)
            tasks: list[asyncio.Task[None]] = []
            started = time.monotonic()
            for index, group in enumerate(groups):
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
                tasks.append(
                    asyncio.create_task(self._deliver(clients, turn, index, group, semaphore))
                )
            await asyncio.gather(*tasks)
        return self.stats

    async def _client(
        self, stack: contextlib.AsyncExitStack, url: str
    ) -> httpx.AsyncClient | loadgen.LeanClient:
        if self.client == "lean":
            parts = urlsplit(url)
            lean = loadgen.LeanClient(parts.hostname or "127.0.0.1", parts.port or 80,
                                      self.concurrency)  # fmt: skip
            stack.callback(lean.close)
            return lean
        limits = httpx.Limits(max_connections=self.concurrency)
        return await stack.enter_async_context(
            httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0)
        )

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
        clients: Sequence[httpx.AsyncClient | loadgen.LeanClient],
        turn: int,
        index: int,
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
            await self._send_with_retries(clients, turn, index, group)
        finally:
            if not done.done():  # a cancelled run also cancels the futures others wait on
                done.set_result(None)
            semaphore.release()

    async def _send_once(
        self, client: httpx.AsyncClient | loadgen.LeanClient, index: int, url_index: int
    ) -> Outcome:
        prepared = self._request(index, url_index)
        if isinstance(client, loadgen.LeanClient):
            status, head, body = await client.request(self._lean_bytes[(index, url_index)])
            return outcome(prepared, status, lambda name: loadgen.header(head, name), body)
        return await send_httpx(client, prepared)

    async def _send_with_retries(
        self,
        clients: Sequence[httpx.AsyncClient | loadgen.LeanClient],
        turn: int,
        index: int,
        group: list[Send],
    ) -> None:
        backoff = 0.2
        for attempt in range(MAX_ATTEMPTS):
            url_index = (turn + attempt) % len(clients)
            try:
                answer = await self._send_once(clients[url_index], index, url_index)
            except (httpx.HTTPError, ConnectionError, OSError) as exc:
                answer = Outcome(599, None, len(group))  # the phone lost its connection
                self.stats.errors[type(exc).__name__] += 1
            self.stats.requests += 1
            self.stats.by_status[answer.status] += 1
            self.on_answer(group, answer.status)
            if answer.status == 202:
                now = time.monotonic()
                self.stats.first_202_at = self.stats.first_202_at or now
                self.stats.last_202_at = now
                self.stats.forms_stored += len(group)
                self.stats.by_intake[self.intake_urls[url_index].rstrip("/")] += len(group)
                self.on_progress(len(group))
                return
            if answer.status not in (429, 503, 599):
                self.stats.failures.append(
                    f"{group[0].idempotency_key}: HTTP {answer.status} ({group[0].channel})"
                )
                self.on_progress(len(group))
                return
            if attempt:
                self.stats.retries += 1
            # Jitter keeps phones told to wait the same time from coming back all at once.
            await asyncio.sleep((answer.retry_after_s or backoff) * random.uniform(0.5, 1.5))
            backoff = min(5.0, backoff * 2)
        self.stats.failures.append(f"{group[0].idempotency_key}: gave up after {MAX_ATTEMPTS}")
        self.on_progress(len(group))


def expected_outcomes(plan: DayPlan) -> dict[str, int]:
    """How many sends should end each way downstream (for the summary)."""
    counts: dict[str, int] = defaultdict(int)
    for send in plan.sends:
        counts[send.expect.split(":")[0]] += 1
    return dict(counts)
