"""Response cache: ETags, one shared load per key, invalidation while a load runs, TTL."""

from __future__ import annotations

import asyncio

import pytest

from services.api.cache import ResponseCache, etag_matches, etag_of


def test_etag_is_stable_and_matching_accepts_lists_and_weak_tags() -> None:
    tag = etag_of(b'{"a":1}')
    assert tag == etag_of(b'{"a":1}') != etag_of(b'{"a":2}')
    assert tag.startswith('"') and tag.endswith('"')
    assert etag_matches(tag, tag)
    assert etag_matches(f'"other", W/{tag}', tag)
    assert etag_matches("*", tag)
    assert not etag_matches(None, tag) and not etag_matches('"other"', tag)


async def test_concurrent_gets_share_one_load() -> None:
    cache = ResponseCache(ttl_s=60, max_entries=10)
    calls = 0
    release = asyncio.Event()

    async def load() -> bytes:
        nonlocal calls
        calls += 1
        await release.wait()
        return b"body"

    tasks = [asyncio.create_task(cache.get("k", load)) for _ in range(10)]
    await asyncio.sleep(0)
    release.set()
    entries = await asyncio.gather(*tasks)
    assert calls == 1 and {e.body for e in entries} == {b"body"}
    assert (await cache.get("k", load)).body == b"body" and calls == 1


async def test_a_load_overtaken_by_invalidate_is_served_but_not_kept() -> None:
    cache = ResponseCache(ttl_s=60, max_entries=10)
    release = asyncio.Event()
    version = 1

    async def load() -> bytes:
        body = f"v{version}".encode()
        await release.wait()
        return body

    first = asyncio.create_task(cache.get("k", load))
    await asyncio.sleep(0)
    cache.invalidate()
    version = 2
    release.set()
    assert (await first).body == b"v1"
    assert len(cache) == 0
    assert (await cache.get("k", load)).body == b"v2"


async def test_failures_reach_every_waiter_and_are_not_cached() -> None:
    cache = ResponseCache(ttl_s=60, max_entries=10)
    release = asyncio.Event()

    async def broken() -> bytes:
        await release.wait()
        raise RuntimeError("database gone")

    tasks = [asyncio.create_task(cache.get("k", broken)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)

    async def ok() -> bytes:
        return b"fine"

    assert (await cache.get("k", ok)).body == b"fine"


async def test_a_cancelled_loader_lets_a_waiter_load_itself() -> None:
    cache = ResponseCache(ttl_s=60, max_entries=10)
    never = asyncio.Event()

    async def stuck() -> bytes:
        await never.wait()
        return b"never"

    async def ok() -> bytes:
        return b"fine"

    first = asyncio.create_task(cache.get("k", stuck))
    await asyncio.sleep(0)
    second = asyncio.create_task(cache.get("k", ok))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    assert (await second).body == b"fine"


async def test_entries_expire_and_the_oldest_go_first() -> None:
    cache = ResponseCache(ttl_s=0.05, max_entries=2)
    loads: list[str] = []

    def loader(key: str) -> object:
        async def load() -> bytes:
            loads.append(key)
            return key.encode()

        return load

    for key in ("a", "b", "c"):
        await cache.get(key, loader(key))  # type: ignore[arg-type]
    assert len(cache) == 2
    await cache.get("c", loader("c"))  # type: ignore[arg-type]
    assert loads == ["a", "b", "c"]
    await asyncio.sleep(0.06)
    await cache.get("c", loader("c"))  # type: ignore[arg-type]
    assert loads == ["a", "b", "c", "c"]
