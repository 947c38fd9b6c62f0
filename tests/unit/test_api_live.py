"""Live updates without a database: NOTIFY payloads, coalescing per client, the SSE framing."""

from __future__ import annotations

import asyncio
import time

from services.api.live import ChangeFeed, scopes_of, sse_event, sse_ping, stream_changes
from services.api.metrics import SSE_PUSH_SECONDS
from shared.notify import ElectionChange, ResultsChanged


def push_observations() -> tuple[float, float]:
    """(count, sum) of the NOTIFY-to-push histogram so far."""
    samples = {s.name: s.value for m in SSE_PUSH_SECONDS.collect() for s in m.samples}
    return samples["deskpemilu_api_sse_push_seconds_count"], samples[
        "deskpemilu_api_sse_push_seconds_sum"
    ]


def test_scopes_of_reads_the_aggregator_payload_and_tolerates_anything() -> None:
    payload = '{"elections": [{"election": "pemilu-2024", "contests": ["DPD", "PPWP"]}], "tps": 3}'
    assert scopes_of(payload) == {("pemilu-2024", "DPD"), ("pemilu-2024", "PPWP")}
    sent = ResultsChanged(
        elections=(ElectionChange(election="pilkada-2024", contests=("PILBUP",)),), tps=1
    )
    assert scopes_of(sent.model_dump_json()) == {("pilkada-2024", "PILBUP")}
    # Not the contract: counted as a change of anything, never an error.
    assert scopes_of('{"election": "pilkada-2024", "contest": "PILBUP"}') == {("", "")}
    assert scopes_of('{"elections": [], "tps": -1}') == {("", "")}
    assert scopes_of("{}") == {("", "")}
    assert scopes_of("") == {("", "")}
    assert scopes_of("not json") == {("", "")}
    assert scopes_of("[1, 2]") == {("", "")}


def test_sse_event_framing() -> None:
    assert sse_event("changed", {"version": 3}, 3).encode() == (
        b'id: 3\nevent: changed\ndata: {"version":3}\n\n'
    )
    assert sse_event("expired", {"code": "TOKEN_EXPIRED"}).encode() == (
        b'event: expired\ndata: {"code":"TOKEN_EXPIRED"}\n\n'
    )
    assert sse_ping().encode() == b": ping\n\n"


def test_a_slow_subscriber_gets_one_merged_change() -> None:
    invalidations = 0

    def invalidate() -> None:
        nonlocal invalidations
        invalidations += 1

    feed = ChangeFeed("postgresql://unused", "deskpemilu_results", invalidate)
    sub = feed.subscribe()
    for contest in ("PPWP", "DPD", "PPWP"):
        feed.changed({("pemilu-2024", contest)})
    assert invalidations == 3 and sub.version == 3
    assert sub.take() == {("pemilu-2024", "PPWP"), ("pemilu-2024", "DPD")}
    assert sub.take() == set() and not sub.wakeup.is_set()
    feed.unsubscribe(sub)
    assert not feed.subscribers


async def test_stream_sends_hello_then_coalesced_changes_and_nothing_while_idle() -> None:
    feed = ChangeFeed("postgresql://unused", "deskpemilu_results", lambda: None)
    stream = stream_changes(feed, heartbeat_s=0.05, coalesce_s=0.2, expires_at=time.time() + 60)
    hello = (await anext(stream)).encode()
    assert b"event: hello" in hello and b"retry: 3000" in hello
    assert len(feed.subscribers) == 1
    idle = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.15)  # three heartbeats: the pings are the response's, not events
    assert not idle.done()
    feed.changed({("pemilu-2024", "PPWP")})
    first = (await idle).encode()
    assert b"event: changed" in first and b'"contest":"PPWP"' in first
    started = time.monotonic()
    next_event = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.01)
    for contest in ("DPD", "DPR"):
        feed.changed({("pemilu-2024", contest)})
    second = (await next_event).encode()
    assert time.monotonic() - started >= 0.15  # held back to merge the burst
    assert b'"contest":"DPD"' in second and b'"contest":"DPR"' in second
    await stream.aclose()
    assert not feed.subscribers


async def test_stream_ends_when_the_token_expires() -> None:
    feed = ChangeFeed("postgresql://unused", "deskpemilu_results", lambda: None)
    stream = stream_changes(feed, heartbeat_s=10, coalesce_s=0, expires_at=time.time() + 0.05)
    await anext(stream)
    assert b"event: expired" in (await anext(stream)).encode()
    assert [chunk async for chunk in stream] == []
    assert not feed.subscribers


async def test_stream_ends_when_the_token_is_revoked() -> None:
    feed = ChangeFeed("postgresql://unused", "deskpemilu_results", lambda: None)
    revoked = False
    stream = stream_changes(
        feed,
        heartbeat_s=0.02,
        coalesce_s=0,
        expires_at=time.time() + 60,
        revoked=lambda: revoked,
    )
    await anext(stream)
    pending = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    assert not pending.done()
    revoked = True
    started = time.monotonic()
    assert b"TOKEN_REVOKED" in (await pending).encode()
    assert time.monotonic() - started < 0.5  # noticed at the next heartbeat (0.02 s)
    assert [chunk async for chunk in stream] == []
    assert not feed.subscribers


async def test_push_delay_is_measured_from_the_notify_including_the_coalescing_wait() -> None:
    feed = ChangeFeed("postgresql://unused", "deskpemilu_results", lambda: None)
    stream = stream_changes(feed, heartbeat_s=10, coalesce_s=0.2, expires_at=time.time() + 60)
    await anext(stream)  # hello
    count0, sum0 = push_observations()
    payload = '{"elections": [{"election": "pemilu-2024", "contests": ["PPWP"]}]}'
    feed._notified(None, 1, "deskpemilu_results", payload)  # what asyncpg calls on a NOTIFY
    assert b"event: changed" in (await anext(stream)).encode()  # the first goes out at once
    feed._notified(None, 1, "deskpemilu_results", payload)
    await asyncio.sleep(0.05)
    feed._notified(None, 1, "deskpemilu_results", payload)
    assert b"event: changed" in (await anext(stream)).encode()  # the burst waits
    count, total = push_observations()
    assert count == count0 + 2  # one per event pushed, not one per NOTIFY
    # The second waited ~0.2 s after the first push, measured from the burst's first NOTIFY.
    assert 0.15 <= total - sum0 < 1.0
    # A change that is no NOTIFY (the feed reconnecting) is pushed but not measured.
    feed.changed({("", "")})
    assert b"event: changed" in (await anext(stream)).encode()
    assert push_observations()[0] == count
    await stream.aclose()
