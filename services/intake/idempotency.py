"""Recent (operator, idempotency key) answers: a retry gets the first answer, not a new publish."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from cachetools import FIFOCache, LRUCache

from shared.events import Channel
from shared.form import CHasil


@dataclass(frozen=True, slots=True)
class Accepted:
    """A form Kafka acknowledged: everything a 202 answer and a status lookup are built from."""

    submission_id: uuid.UUID
    received_at: datetime
    operator_id: str
    channel: Channel
    election: str
    contest: str
    tps: str


class IdempotencyKeyReused(Exception):
    """The same operator sent a different form under a key it already used."""


@dataclass(slots=True)
class _Entry:
    body_hash: str
    outcome: asyncio.Future[Accepted]


def form_json(form: CHasil) -> bytes:
    """The form as validated, serialised: what is hashed and what is published."""
    return form.__pydantic_serializer__.to_json(form)


def form_hash(form: CHasil, serialised: bytes | None = None) -> str:
    """A digest of the form as validated, so that JSON spacing or key order do not matter."""
    return hashlib.sha256(serialised if serialised is not None else form_json(form)).hexdigest()


class IdempotencyCache:
    """LRU of recent keys per operator, plus recently published ids for status lookups.

    Concurrent requests with one key wait for the first one's outcome instead of publishing twice.
    A failed publish is forgotten, so the client's retry publishes again. Another intake replica
    does not share this memory: there a retry is published again under the same deterministic id
    and the aggregator drops the repeat.
    """

    def __init__(self, max_entries: int) -> None:
        # Keys a client retries stay (least recently used go first); ids go in publish order.
        self._by_key: LRUCache[tuple[str, str], _Entry] = LRUCache(maxsize=max_entries)
        self._by_id: FIFOCache[uuid.UUID, Accepted] = FIFOCache(maxsize=max_entries)

    def __len__(self) -> int:
        return len(self._by_key)

    async def once(
        self,
        operator_id: str,
        key: str,
        body_hash: str,
        publish: Callable[[], Awaitable[Accepted]],
    ) -> tuple[Accepted, bool]:
        """The outcome for this key, published only if new; True when answered from memory."""
        cache_key = (operator_id, key)
        entry = self._by_key.get(cache_key)
        if entry is not None:
            if entry.body_hash != body_hash:
                raise IdempotencyKeyReused(key)
            # shield: a client hanging up must not cancel the first request's publish.
            return await asyncio.shield(entry.outcome), True
        outcome: asyncio.Future[Accepted] = asyncio.get_running_loop().create_future()
        self._by_key[cache_key] = _Entry(body_hash, outcome)
        try:
            accepted = await publish()
        except BaseException as exc:
            current = self._by_key.get(cache_key)
            if current is not None and current.outcome is outcome:
                del self._by_key[cache_key]
            outcome.set_exception(exc)
            outcome.exception()  # waiters, if any, re-raise it; nobody else needs to see it
            raise
        outcome.set_result(accepted)
        self.remember(accepted)
        return accepted, False

    def remember(self, accepted: Accepted) -> None:
        """Keep a published submission for status lookups ('received' until the DB knows it)."""
        self._by_id[accepted.submission_id] = accepted

    def recent(self, submission_id: uuid.UUID) -> Accepted | None:
        """A submission this process published recently, if it still remembers it."""
        return self._by_id.get(submission_id)
