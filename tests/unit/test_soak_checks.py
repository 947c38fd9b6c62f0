"""The soak's bounds: a flat run passes, growth or a backlog fails the series that shows it."""

from __future__ import annotations

from typing import Any

from deskpemilu.soak import check_series, histogram_growth


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


HISTOGRAM = """
 num     #instances         #bytes  class name (module)
-------------------------------------------------------
   1:         {a}        {ab}  [B (java.base@17.0.13)
   2:          2000          64000  java.lang.String (java.base@17.0.13)
   3:           {c}          {cb}  org.apache.kafka.storage.internals.log.ProducerStateEntry
Total         99999       99999999
"""


def test_the_heap_histograms_name_what_grew() -> None:
    half = HISTOGRAM.format(a=1000, ab=5_000_000, c=10, cb=800)
    end = HISTOGRAM.format(a=1100, ab=5_100_000, c=90_000, cb=7_200_000)
    grew = histogram_growth(half, end)
    assert [name for name, _, _ in grew] == [
        "org.apache.kafka.storage.internals.log.ProducerStateEntry",
        "[B",
    ]
    assert grew[0][1:] == (800, 7_200_000)
    assert histogram_growth(end, end) == []


def test_postgres_relation_files_are_bounded_by_the_files_on_disk() -> None:
    def pg(open_files: int) -> dict[str, Any]:
        return row() | {
            "postgres_rss_mib": 50.0,
            "postgres_fds": 60,
            "postgres_sockets": 10,
            "postgres_relation_files": open_files,
            "postgres_relation_files_on_disk": 100,
            "postgres_processes": 8,
        }

    assert failing([pg(200), pg(250), pg(300), pg(800)]) == set()
    assert failing([pg(200), pg(250), pg(300), pg(801)]) == {"postgres relation files"}
