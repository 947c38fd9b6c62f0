"""Screener process: after the aggregator's batches, screens the kecamatan whose results changed.

It wakes on the aggregator's NOTIFY (and every SCREENER_MAX_INTERVAL_S in case one is lost),
compares each kecamatan's fingerprint with the one it last screened, runs the pure screens
(services/screener/screens.py) over every changed kecamatan and stores the difference with the
open findings. It never writes totals and is not on the intake's or the aggregator's path: a
slow or stopped screener delays findings, nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import asyncpg
from aiokafka import AIOKafkaProducer

from services.screener import metrics
from services.screener.alerting import DeskAlerts
from services.screener.holds import hold_decisions
from services.screener.repository import (
    Conn,
    changed_kecamatan,
    claim_kecamatan,
    elections,
    hold_state,
    kecamatan_results,
    open_counts,
    open_findings,
    store_run,
)
from services.screener.screens import Action, ScreenConfig, reconcile, screen_kecamatan
from services.screener.settings import ScreenerSettings
from shared.codec import encode, key_for_tps
from shared.consumer import install_stop_signals
from shared.db import connect
from shared.events import ReviewDecided, utcnow
from shared.kafka import make_producer
from shared.logs import configure_logging
from shared.notify import ResultsChanged
from shared.ops import serve_ops

log = logging.getLogger(__name__)
SERVICE = "screener"


@dataclass
class PassStats:
    """What one screening pass did."""

    kecamatan: int = 0
    opened: int = 0
    updated: int = 0
    closed: int = 0
    holds: int = 0  # hold decisions published
    passed: int = 0  # changed kecamatan another instance was screening or had screened


Publish = Callable[[ReviewDecided], Awaitable[None]]


async def screen_changed(
    conn: Conn, cfg: ScreenConfig, publish: Publish | None = None
) -> PassStats:
    """Screen every kecamatan whose results changed since its last run; store the findings.

    Each kecamatan is screened in one transaction under its own advisory lock: several
    screener instances share the kecamatan between them, none is screened twice at once.
    With `publish`, a hold decision goes to the log for each result a 'hold' finding names
    (services/screener/holds.py); the aggregator takes its numbers out of the totals.
    """
    stats = PassStats()
    started = time.monotonic()
    for election in await elections(conn):
        for kecamatan in sorted(await changed_kecamatan(conn, election)):
            async with conn.transaction():
                # Another screener instance may be on it, or have just done it.
                fingerprint = await claim_kecamatan(conn, election, kecamatan)
                if fingerprint is None:
                    stats.passed += 1
                    continue
                results = await kecamatan_results(conn, election, kecamatan)
                fresh = screen_kecamatan(results, cfg)
                change = reconcile(await open_findings(conn, election, kecamatan), fresh)
                await store_run(
                    conn, election, kecamatan, change.opened + change.updated, change.closed,
                    fingerprint,
                )  # fmt: skip
                if publish is not None and any(f.action is Action.HOLD for f in fresh):
                    state = await hold_state(conn, election, kecamatan)
                    for decision in hold_decisions(election, fresh, state, utcnow()):
                        await publish(decision)
                        stats.holds += 1
            stats.kecamatan += 1
            stats.opened += len(change.opened)
            stats.updated += len(change.updated)
            stats.closed += len(change.closed)
    metrics.KECAMATAN_SCREENED.inc(stats.kecamatan)
    metrics.FINDINGS_CHANGED.labels("opened").inc(stats.opened)
    metrics.FINDINGS_CHANGED.labels("updated").inc(stats.updated)
    metrics.FINDINGS_CHANGED.labels("closed").inc(stats.closed)
    metrics.OPEN_FINDINGS.clear()
    for code, severity, n in await open_counts(conn):
        metrics.OPEN_FINDINGS.labels(code, severity).set(n)
    metrics.RUN_SECONDS.observe(time.monotonic() - started)
    return stats


async def main() -> None:
    """Run until SIGTERM: LISTEN for the aggregator's NOTIFY and screen what changed."""
    settings = ScreenerSettings()
    configure_logging(SERVICE, settings.log_level)
    cfg = settings.screen_config()
    stop = asyncio.Event()
    install_stop_signals(stop)
    wake = asyncio.Event()
    conn = await connect(settings.database_url)

    def on_notify(*_: object) -> None:
        wake.set()

    await conn.add_listener(ResultsChanged.CHANNEL, on_notify)

    async def health() -> dict[str, bool]:
        return {"postgres": not conn.is_closed(), "running": not stop.is_set()}

    producer: AIOKafkaProducer | None = None
    publish: Publish | None = None
    if any(a is Action.HOLD for a in cfg.actions.values()):
        producer = make_producer(settings.kafka_bootstrap_servers)
        await producer.start()
        kafka = producer
        received = settings.topics.received

        async def publish_hold(decision: ReviewDecided) -> None:
            await kafka.send_and_wait(received, encode(decision), key=key_for_tps(decision.tps))

        publish = publish_hold
    ops = await serve_ops(SERVICE, settings.ops_host, settings.ops_port, health)
    log.info("screener started", extra={"hold": sorted(cfg.actions)})
    desk_alerts = await DeskAlerts.start(settings, stop)
    try:
        while not stop.is_set():
            wake.clear()
            try:
                stats = await screen_changed(conn, cfg, publish)
            except (asyncpg.PostgresConnectionError, OSError):
                log.exception("database unavailable; exiting for the supervisor to restart")
                raise
            if stats.kecamatan:
                log.info("screened", extra=stats.__dict__)
            await _sleep_until(stop, wake, settings.min_interval_s, settings.max_interval_s)
    finally:
        stop.set()
        await desk_alerts.close()
        await ops.stop()
        if producer is not None:
            await producer.stop()
        with contextlib.suppress(Exception):
            await conn.close()


async def _sleep_until(
    stop: asyncio.Event, wake: asyncio.Event, min_s: float, max_s: float
) -> None:
    """Wait at least min_s (debounce), then until a NOTIFY, a stop or max_s in all."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), min_s)
    if stop.is_set():
        return
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=max(0.0, max_s - min_s), return_when="FIRST_COMPLETED")
    finally:
        for w in waiters:
            w.cancel()
