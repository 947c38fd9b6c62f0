"""Live updates: one LISTEN connection per process, fanned out to every SSE client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncGenerator, Callable, Collection
from typing import Any

import asyncpg
import orjson
from pydantic import ValidationError
from sse_starlette import EventSourceResponse, ServerSentEvent

from services.api.errors import ApiError
from services.api.metrics import (
    NOTIFICATIONS,
    REPLICA_WAIT_SECONDS,
    REPLICA_WAIT_TIMEOUTS,
    SSE_CLIENTS,
    SSE_PUSH_SECONDS,
)
from services.api.settings import ApiSettings
from shared.auth import Claims
from shared.db import connect
from shared.notify import ResultsChanged, Scope

log = logging.getLogger(__name__)
# The documented 200 of a stream route.
STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}
}


def scopes_of(payload: str) -> set[Scope]:
    """The (election, contest) pairs a NOTIFY payload names; {("", "")} if it names none.

    A payload that is not a ResultsChanged still counts as a change (of anything).
    """
    try:
        return ResultsChanged.model_validate_json(payload).scopes()
    except ValidationError:
        return {("", "")}


class Subscriber:
    """One SSE client: the latest version and the scopes changed since its last event."""

    __slots__ = ("changed_at", "closed", "pending", "version", "wakeup")

    def __init__(self, version: int) -> None:
        self.version = version
        self.pending: set[Scope] = set()
        self.changed_at: float | None = None  # monotonic time of the oldest change not pushed
        self.wakeup = asyncio.Event()
        self.closed = False

    def mark(self, version: int, scopes: set[Scope], at: float | None = None) -> None:
        """Merge a change: a slow client gets one event for many changes, never a backlog."""
        if self.changed_at is None and at is not None:
            self.changed_at = at
        self.version = version
        self.pending |= scopes
        self.wakeup.set()

    def take(self) -> set[Scope]:
        """The scopes changed since the last call."""
        scopes, self.pending = self.pending, set()
        self.wakeup.clear()
        return scopes


REPLICA_POLL_S = 0.005
_PRIMARY_LSN = "SELECT pg_current_wal_lsn()::text"
_REPLAYED = "SELECT coalesce(pg_last_wal_replay_lsn() >= $1::text::pg_lsn, true)"


class ChangeFeed:
    """LISTENs on the results channel; on each NOTIFY runs the callbacks and wakes subscribers.

    With a read replica (`replica`, the read pool), a NOTIFY is passed on only once the
    replica has replayed the primary's WAL as far as it was when the NOTIFY came (or after
    `replica_wait_s`): a client re-reading on a 'changed' event, and the response cache, then
    see the change, not the replica's state from before it.
    """

    def __init__(
        self,
        dsn: str,
        channel: str,
        on_change: Callable[[], None],
        *,
        replica: asyncpg.Pool | None = None,
        replica_wait_s: float = 5.0,
    ) -> None:
        self.dsn = dsn
        self.channel = channel
        self.on_change = on_change
        self.version = 0
        self.connected = asyncio.Event()
        self.subscribers: set[Subscriber] = set()
        self._task: asyncio.Task[None] | None = None
        self.replica = replica
        self.replica_wait_s = replica_wait_s
        self._conn: asyncpg.Connection | None = None
        self._conn_lock = asyncio.Lock()  # the LISTEN connection runs one query at a time
        self._held: set[Scope] = set()  # scopes notified, waiting for the replica
        self._held_at: float | None = None
        self._held_wake = asyncio.Event()
        self._follower: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run the listener (and the replica follower) in the background."""
        self._task = asyncio.create_task(self._run(), name="change-feed")
        if self.replica is not None:
            self._follower = asyncio.create_task(self._follow_replica(), name="replica-follower")

    async def stop(self) -> None:
        """Stop listening and wake every stream so it can end."""
        for task in (self._follower, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for sub in list(self.subscribers):
            sub.closed = True
            sub.wakeup.set()

    def subscribe(self) -> Subscriber:
        """A new client, starting at the current version."""
        sub = Subscriber(self.version)
        self.subscribers.add(sub)
        SSE_CLIENTS.inc()
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a client that went away."""
        if sub in self.subscribers:
            self.subscribers.discard(sub)
            SSE_CLIENTS.dec()

    def changed(self, scopes: set[Scope], notified_at: float | None = None) -> None:
        """Results changed: drop caches first, so clients re-fetching see the new data."""
        self.on_change()
        self.version += 1
        for sub in self.subscribers:
            sub.mark(self.version, scopes, notified_at)

    def _notified(self, _conn: object, _pid: int, _channel: str, payload: object) -> None:
        NOTIFICATIONS.inc()
        scopes = scopes_of(payload if isinstance(payload, str) else "")
        if self.replica is None:
            self.changed(scopes, time.monotonic())
            return
        self._held |= scopes
        if self._held_at is None:
            self._held_at = time.monotonic()
        self._held_wake.set()

    async def _follow_replica(self) -> None:
        """Pass held NOTIFYs on once the replica has replayed up to the primary's WAL position."""
        while True:
            await self._held_wake.wait()
            self._held_wake.clear()
            scopes, at = self._held, self._held_at
            self._held, self._held_at = set(), None
            started = time.monotonic()
            try:
                caught_up = await asyncio.wait_for(self._replica_catch_up(), self.replica_wait_s)
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                caught_up = False
                waited = round(time.monotonic() - started, 3)
                extra = {"error": repr(exc), "waited_s": waited}
                log.warning("read replica not caught up; passing the change on", extra=extra)
            if caught_up:
                REPLICA_WAIT_SECONDS.observe(time.monotonic() - started)
            else:
                REPLICA_WAIT_TIMEOUTS.inc()
            self.changed(scopes, at)

    async def _replica_catch_up(self) -> bool:
        conn = self._conn
        if conn is None or conn.is_closed():
            return False
        async with self._conn_lock:
            target: str = await conn.fetchval(_PRIMARY_LSN)
        assert self.replica is not None
        async with self.replica.acquire() as reader:
            while True:
                if await reader.fetchval(_REPLAYED, target):
                    return True
                await asyncio.sleep(REPLICA_POLL_S)

    async def _run(self) -> None:
        backoff = 0.5
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await connect(self.dsn)
                await conn.add_listener(self.channel, self._notified)
                self._conn = conn
                self.connected.set()
                backoff = 0.5
                # Anything may have changed while we were not listening.
                self.changed({("", "")})
                while not conn.is_closed():
                    await asyncio.sleep(5)
                    async with self._conn_lock:  # finds a dead connection within seconds
                        await conn.fetchval("SELECT 1")
            except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                log.warning("LISTEN connection lost, reconnecting", extra={"error": str(exc)})
            finally:
                self.connected.clear()
                self._conn = None
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await asyncio.shield(conn.close(timeout=2))
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 10.0)


def sse_event(event: str, data: object, event_id: int | None = None) -> ServerSentEvent:
    """One Server-Sent Events message, its data as compact JSON."""
    return ServerSentEvent(
        orjson.dumps(data).decode(),
        event=event,
        id=str(event_id) if event_id is not None else None,
        sep="\n",
    )


def sse_ping() -> ServerSentEvent:
    """The keep-alive comment EventSourceResponse sends on an idle stream."""
    return ServerSentEvent(comment="ping", sep="\n")


async def stream_changes(
    feed: ChangeFeed,
    *,
    heartbeat_s: float,
    coalesce_s: float,
    expires_at: float,
    revoked: Callable[[], bool] = lambda: False,
) -> AsyncGenerator[ServerSentEvent, None]:
    """Events for one client: hello, then 'changed' at most every coalesce_s.

    The response (sse-starlette's EventSourceResponse) adds the keep-alive pings and ends this
    generator when the client disconnects. It wakes every heartbeat_s on its own, so an expired
    or revoked token ends the stream within a heartbeat even when nothing changes.
    """
    # Subscribed inside the generator, so the finally below always runs for a subscriber.
    sub = feed.subscribe()
    try:
        hello = sse_event("hello", {"version": sub.version}, sub.version)
        hello.retry = 3000
        yield hello
        last_sent = 0.0
        while not sub.closed:
            remaining = expires_at - time.time()
            if remaining <= 0:
                yield sse_event("expired", {"code": "TOKEN_EXPIRED"})
                return
            if revoked():
                yield sse_event("expired", {"code": "TOKEN_REVOKED"})
                return
            try:
                await asyncio.wait_for(sub.wakeup.wait(), timeout=min(heartbeat_s, remaining))
            except TimeoutError:
                continue
            if sub.closed:
                return
            wait = last_sent + coalesce_s - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # changes arriving meanwhile merge into this event
            scopes, changed_at = sub.take(), sub.changed_at
            sub.changed_at = None
            changes = [{"election": e, "contest": c} for e, c in sorted(scopes) if e]
            event = sse_event("changed", {"version": sub.version, "changes": changes}, sub.version)
            if changed_at is not None:
                SSE_PUSH_SECONDS.observe(time.monotonic() - changed_at)
            yield event
            last_sent = time.monotonic()
    finally:
        feed.unsubscribe(sub)


def event_stream(
    feed: ChangeFeed,
    settings: ApiSettings,
    claims: Claims,
    revoked: Callable[[], Collection[uuid.UUID]],
) -> EventSourceResponse:
    """The SSE answer of a change feed for the bearer of claims: 503 past API_SSE_MAX_CLIENTS.

    Pings every heartbeat and the disconnect watch come from EventSourceResponse; the stream
    ends once the token expires or is revoked (checked at every event or ping).
    """
    if len(feed.subscribers) >= settings.sse_max_clients:
        raise ApiError(
            503,
            "TOO_MANY_STREAMS",
            "Terlalu banyak koneksi langsung; coba lagi nanti.",
            "Too many live connections; try again later.",
            headers={"Retry-After": "10"},
        )
    stream = stream_changes(
        feed,
        heartbeat_s=settings.sse_heartbeat_s,
        coalesce_s=settings.sse_coalesce_s,
        expires_at=claims.expires_at.timestamp(),
        revoked=lambda: claims.jti in revoked(),
    )
    return EventSourceResponse(
        stream,
        headers={"Cache-Control": "no-cache"},
        ping=settings.sse_heartbeat_s,
        ping_message_factory=sse_ping,
        sep="\n",
    )
