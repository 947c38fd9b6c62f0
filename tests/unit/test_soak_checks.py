"""The soak's bounds: a flat run passes, growth or a backlog fails the series that shows it."""

from __future__ import annotations

from typing import Any

from deskpemilu.soak import check_series


def row(rss: float = 100.0, fds: int = 40, lag: int = 0, p99: float = 150.0) -> dict[str, Any]:
    return {
        "elapsed_s": 60.0,
        "intake_rss_mib": rss,
        "intake_fds": fds,
        "intake_sockets": fds // 2,
        "validator_lag": lag,
        "aggregator_lag": lag,
        "fresh_p99_ms": p99,
    }


def failing(rows: list[dict[str, Any]]) -> set[str]:
    return {c.name for c in check_series(rows, rate=100) if not c.ok}


def test_a_flat_run_passes() -> None:
    assert failing([row(rss=60), row(), row(rss=110, fds=45), row(rss=105)]) == set()


def test_growth_past_the_bound_fails_its_own_series() -> None:
    # The first sample (start-up) is not the baseline: the second one is.
    assert failing([row(rss=20), row(rss=100), row(rss=200)]) == {"intake RSS"}
    assert failing([row(rss=20), row(rss=100), row(rss=120), row(rss=140), row(rss=200)]) == {
        "intake RSS"
    }
    assert failing([row(), row(fds=40), row(fds=61)]) == {"intake fds"}
    assert failing([row(), row(fds=40), row(fds=90)]) == {"intake fds", "intake sockets"}


def test_a_backlog_or_slow_interval_fails() -> None:
    assert failing([row(), row(lag=1051), row()]) == {"validator_lag", "aggregator_lag"}
    assert failing([row(), row(p99=2500), row()]) == {"freshness p99"}


def test_a_cache_filling_to_its_bound_then_flat_passes_and_a_leak_does_not() -> None:
    # Bounded caches fill in the first part of the day, then hold: the second half is flat.
    filling = [row(rss=60), row(rss=100), row(rss=180), row(rss=240)] + [row(rss=245)] * 8
    assert failing(filling) == set()
    # A leak keeps growing through the second half as well.
    leak = [row(rss=100 + 20 * minute) for minute in range(12)]
    assert failing(leak) == {"intake RSS"}


def test_the_brokers_live_heap_is_checked_from_half_time() -> None:
    def heap(mib: float) -> dict[str, Any]:
        return {**row(), "kafka_heap_live_mib": mib}

    # Measured after the first interval, at half time and after the drain.
    settled = [row(), heap(150), row(), heap(300), row(), heap(330)]
    assert failing(settled) == set()
    growing = [row(), heap(150), row(), heap(300), row(), heap(420)]
    assert failing(growing) == {"kafka live heap"}
