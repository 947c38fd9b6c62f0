"""shared/silence.py: progress, missing TPS, counting time and the stalled mark."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shared.silence import (
    WIB,
    AreaCount,
    CountingHours,
    Responsible,
    StallPolicy,
    assess,
    bucket_start,
    counting_opened_at,
    counting_time_between,
    idle_time,
    in_counting_hours,
    is_stalled,
    last_progress,
    not_reported,
    progress,
    received_series,
    responsible_for,
    stalled_areas,
)

DAY = datetime(2024, 2, 14, tzinfo=WIB)
HOURS = CountingHours(time(13, 0), time(0, 0))
POLICY = StallPolicy(threshold=timedelta(minutes=60), hours=HOURS)


def wib(h: int, m: int = 0, day: int = 14) -> datetime:
    return datetime(2024, 2, day, h, m, tzinfo=WIB)


instants = st.datetimes(
    min_value=datetime(2024, 2, 12), max_value=datetime(2024, 2, 18), timezones=st.just(UTC)
)
hours_strategy = st.builds(
    CountingHours,
    start=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
    end=st.times().map(lambda t: t.replace(second=0, microsecond=0)),
)


def test_progress_counts_and_edges() -> None:
    assert progress(10, 5) == 0.5
    assert progress(0, 0) == 1.0
    assert progress(4, 6) == 1.0
    with pytest.raises(ValueError, match="negative"):
        progress(-1, 0)


def test_not_reported_keeps_expected_order_and_ignores_extras() -> None:
    assert not_reported(["c", "a", "b", "a"], ["b", "zz"]) == ["c", "a"]
    pairs = [("t1", "PPWP"), ("t1", "DPD"), ("t2", "PPWP")]
    assert not_reported(pairs, [("t1", "DPD")]) == [("t1", "PPWP"), ("t2", "PPWP")]


def test_counting_time_only_counts_inside_the_window() -> None:
    # 10:00 to 15:00 WIB: only 13:00-15:00 is counting time.
    assert counting_time_between(wib(10), wib(15), HOURS) == timedelta(hours=2)
    # Overnight: 23:00 to 14:00 next day: 23:00-24:00 and 13:00-14:00.
    assert counting_time_between(wib(23), wib(14, day=15), HOURS) == timedelta(hours=2)
    # A window over midnight: 20:00-02:00.
    late = CountingHours(time(20, 0), time(2, 0))
    assert counting_time_between(wib(19), wib(3, day=15), late) == timedelta(hours=6)
    assert counting_time_between(wib(1), wib(1, 30), late) == timedelta(minutes=30)
    # All day.
    assert counting_time_between(wib(1), wib(3), CountingHours(time(0), time(0))) == timedelta(
        hours=2
    )
    assert counting_time_between(wib(15), wib(14), HOURS) == timedelta(0)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        counting_time_between(datetime(2024, 2, 14, 13), wib(14), HOURS)


@given(instants, instants, instants, hours_strategy)
def test_counting_time_is_additive_and_bounded(
    a: datetime, b: datetime, c: datetime, hours: CountingHours
) -> None:
    a, b, c = sorted([a, b, c])
    ab = counting_time_between(a, b, hours)
    bc = counting_time_between(b, c, hours)
    assert counting_time_between(a, c, hours) == ab + bc
    assert timedelta(0) <= ab <= b - a


@given(instants, hours_strategy)
def test_counting_opened_at_is_a_window_start_not_after_now(
    now: datetime, hours: CountingHours
) -> None:
    opened = counting_opened_at(now, hours)
    assert opened <= now
    assert opened.astimezone(hours.tz).time() == hours.start
    assert now - opened <= timedelta(days=1)


def test_in_counting_hours() -> None:
    assert in_counting_hours(wib(13), HOURS)
    assert in_counting_hours(wib(23, 59), HOURS)
    assert not in_counting_hours(wib(12, 59), HOURS)
    assert not in_counting_hours(wib(0, 0, day=15), HOURS)


def test_stalled_after_threshold_of_counting_time() -> None:
    area = AreaCount(expected=10, received=4, last_progress_at=wib(14))
    assert not is_stalled(area, wib(14, 59), POLICY)
    assert is_stalled(area, wib(15), POLICY)
    status = assess(area, wib(15, 30), POLICY)
    assert status.missing == 6
    assert status.progress == 0.4
    assert status.idle == timedelta(minutes=90)
    assert status.stalled and not status.complete


def test_the_night_does_not_count_towards_a_stall() -> None:
    area = AreaCount(expected=10, received=4, last_progress_at=wib(23, 30))
    assert not is_stalled(area, wib(13, 29, day=15), POLICY)
    assert is_stalled(area, wib(13, 30, day=15), POLICY)


def test_a_complete_area_is_never_stalled() -> None:
    area = AreaCount(expected=3, received=3, last_progress_at=wib(13))
    assert not is_stalled(area, wib(23), POLICY)


def test_an_area_with_nothing_counts_from_the_window_opening() -> None:
    area = AreaCount(expected=5, received=0, last_progress_at=None)
    assert idle_time(None, wib(13, 45), HOURS) == timedelta(minutes=45)
    assert not is_stalled(area, wib(13, 59), POLICY)
    assert is_stalled(area, wib(14), POLICY)
    # Before counting opens that day, the previous day's window is the one that last opened.
    assert counting_opened_at(wib(9), HOURS) == wib(13, day=13)


def test_stalled_areas_keeps_order() -> None:
    areas = {
        "16.07.01": AreaCount(10, 4, wib(13)),
        "16.07.02": AreaCount(10, 10, wib(13)),
        "16.07.03": AreaCount(10, 2, wib(15, 30)),
        "16.07.04": AreaCount(10, 0, None),
    }
    assert stalled_areas(areas, wib(16), POLICY) == ["16.07.01", "16.07.04"]


@given(
    st.integers(0, 50),
    st.integers(0, 50),
    instants,
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)),
    hours_strategy,
)
def test_stall_is_monotone_in_time_and_never_marks_a_complete_area(
    expected: int,
    received: int,
    last: datetime,
    later: timedelta,
    hours: CountingHours,
) -> None:
    policy = StallPolicy(threshold=timedelta(minutes=45), hours=hours)
    area = AreaCount(expected, received, last)
    now = last + timedelta(minutes=1)
    if is_stalled(area, now, policy):
        assert is_stalled(area, now + later, policy)
    if received >= expected:
        assert not is_stalled(area, now + later, policy)
    status = assess(area, now + later, policy)
    assert status.missing + min(received, expected) == expected
    assert 0.0 <= status.progress <= 1.0


def test_policy_refuses_a_non_positive_threshold() -> None:
    with pytest.raises(ValueError, match="positive"):
        StallPolicy(threshold=timedelta(0))


def test_last_progress() -> None:
    assert last_progress([]) is None
    assert last_progress([wib(14), wib(16), wib(15)]) == wib(16)


def test_received_series_fills_gaps_and_accumulates() -> None:
    times = [wib(13, 1), wib(13, 14), wib(13, 50), wib(14, 20)]
    series = received_series(times, timedelta(minutes=15), until=wib(14, 40))
    assert [b.start for b in series] == [wib(13, 0) + timedelta(minutes=15 * i) for i in range(7)]
    assert [b.received for b in series] == [2, 0, 0, 1, 0, 1, 0]
    assert [b.cumulative for b in series] == [2, 2, 2, 3, 3, 4, 4]
    assert received_series([]) == []


@given(st.lists(instants, min_size=1, max_size=40), st.integers(1, 120))
def test_received_series_conserves_the_count(times: list[datetime], minutes: int) -> None:
    width = timedelta(minutes=minutes)
    series = received_series(times, width)
    assert series[-1].cumulative == len(times)
    assert sum(b.received for b in series) == len(times)
    assert all(b2.start - b1.start == width for b1, b2 in itertools.pairwise(series))
    assert all(bucket_start(t, width) <= t < bucket_start(t, width) + width for t in times)


def test_responsible_operators_are_the_closest_scope() -> None:
    kec = Responsible("op-kec", ("16.07.01",), "62811")
    kec2 = Responsible("op2-kec", ("16.07.01",), "62812")
    desa = Responsible("op-desa", ("16.07.01.1001",), "62813")
    other = Responsible("op-other", ("16.07.010",), "62814")
    assert responsible_for("16.07.01.1002.001", [kec, kec2, desa, other]) == [kec, kec2]
    assert responsible_for("16.07.01.1001.004", [kec, kec2, desa, other]) == [desa]
    assert responsible_for("16.07.02.1001.004", [kec, desa]) == []


def test_received_series_keeps_the_latest_buckets_with_the_running_total() -> None:
    times = [wib(9), wib(13, 1), wib(13, 50), wib(14, 20)]
    series = received_series(times, timedelta(minutes=15), until=wib(14, 40), max_buckets=3)
    assert [b.start for b in series] == [wib(14, 0), wib(14, 15), wib(14, 30)]
    assert [b.cumulative for b in series] == [3, 4, 4]
    with pytest.raises(ValueError, match="max_buckets"):
        received_series(times, max_buckets=0)
