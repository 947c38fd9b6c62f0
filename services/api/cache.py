"""In-memory response cache: JSON bodies with their ETag, dropped whenever the results change."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from cachetools import TTLCache

from services.api.metrics import CACHE_LOOKUPS

_HIT = CACHE_LOOKUPS.labels("hit")
_MISS = CACHE_LOOKUPS.labels("miss")
_SHARED = CACHE_LOOKUPS.labels("shared")


def etag_of(body: bytes) -> str:
    """A strong ETag from the body's hash: equal bodies, equal tags, whoever computed them."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """True when an If-None-Match header names this ETag (weak comparison, as for GET)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    tags = (t.strip().removeprefix("W/") for t in if_none_match.split(","))
    return etag in tags


# Below this a gzip header costs more than it saves.
GZIP_MIN_BYTES = 1024


@dataclass(frozen=True, slots=True)
class CachedBody:
    """A serialised response and its ETag, with a gzip copy for larger bodies (own ETag)."""

    body: bytes
    etag: str
    gzipped: bytes | None = None
    gzip_etag: str = ""

    @classmethod
    def of(cls, body: bytes) -> CachedBody:
        """Hash and, once per cached version, compress the body."""
        etag = etag_of(body)
        if len(body) < GZIP_MIN_BYTES:
            return cls(body, etag)
        # mtime=0: the same body always gives the same bytes.
        packed = gzip.compress(body, compresslevel=6, mtime=0)
        return cls(body, etag, packed, etag[:-1] + '-gz"')


class ResponseCache:
    """Bodies by key; invalidate() drops all of them, loads are shared by concurrent requests."""

    def __init__(self, *, ttl_s: float, max_entries: int) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.generation = 0
        # Expiry after ttl_s, then the least recently used go first beyond max_entries.
        self._entries: TTLCache[Hashable, CachedBody] = TTLCache(
            maxsize=max_entries, ttl=ttl_s, timer=time.monotonic
        )
        self._loading: dict[Hashable, asyncio.Future[CachedBody]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def invalidate(self) -> None:
        """Forget everything; loads already running will not be stored."""
        self.generation += 1
        self._entries.clear()
        self._loading.clear()

    async def get(self, key: Hashable, load: Callable[[], Awaitable[bytes]]) -> CachedBody:
        """The cached body for key, or load it once however many requests ask at the same time."""
        while True:
            entry = self._entries.get(key)
            if entry is not None:
                _HIT.inc()
                return entry
            pending = self._loading.get(key)
            if pending is None:
                return await self._load(key, load)
            _SHARED.inc()
            try:
                return await asyncio.shield(pending)
            except asyncio.CancelledError:
                if not pending.cancelled():
                    raise  # this request itself was cancelled
                # The request doing the load went away (client disconnected): load it ourselves.

    async def _load(self, key: Hashable, load: Callable[[], Awaitable[bytes]]) -> CachedBody:
        _MISS.inc()
        generation = self.generation
        future: asyncio.Future[CachedBody] = asyncio.get_running_loop().create_future()
        self._loading[key] = future
        try:
            body = await load()
        except BaseException as exc:
            if self._loading.get(key) is future:
                del self._loading[key]
            if isinstance(exc, asyncio.CancelledError):
                future.cancel()
            else:
                future.set_exception(exc)
                future.exception()  # retrieved: waiters re-raise it, nobody logs it as lost
            raise
        entry = CachedBody.of(body)
        if self._loading.get(key) is future:
            del self._loading[key]
        # Results changed while loading: serve this body to whoever asked, but do not keep it.
        if generation == self.generation:
            self._entries[key] = entry
        future.set_result(entry)
        return entry
