"""Batches gathered over a linger window: one batch as one fetch would have returned it."""

from __future__ import annotations

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from hypothesis import given
from hypothesis import strategies as st

from shared.consumer import Fetched, linger_left_s, merge_fetched

P0 = TopicPartition("t", 0)
P1 = TopicPartition("t", 1)


def rec(tp: TopicPartition, offset: int, timestamp_ms: int = 0) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=tp.topic,
        partition=tp.partition,
        offset=offset,
        timestamp=timestamp_ms,
        timestamp_type=0,
        key=b"k",
        value=str(offset).encode(),
        checksum=None,
        serialized_key_size=1,
        serialized_value_size=1,
        headers=(),
    )


def offsets(held: Fetched) -> dict[TopicPartition, list[int]]:
    return {tp: [r.offset for r in part] for tp, part in held.items()}


def test_later_fetches_extend_each_partition_in_order() -> None:
    held: Fetched = {P0: [rec(P0, 5), rec(P0, 6)]}
    added = merge_fetched(held, {P0: [rec(P0, 7)], P1: [rec(P1, 0), rec(P1, 1)]})
    assert added == 3
    assert offsets(held) == {P0: [5, 6, 7], P1: [0, 1]}


def test_a_partition_fetched_again_after_a_seek_back_is_held_once() -> None:
    # A rebalance gave P0 back at its committed offset 5: offsets 5 and 6 come a second time.
    held: Fetched = {P0: [rec(P0, 5), rec(P0, 6)]}
    added = merge_fetched(held, {P0: [rec(P0, 5), rec(P0, 6), rec(P0, 7), rec(P0, 8)]})
    assert added == 2
    assert offsets(held) == {P0: [5, 6, 7, 8]}


def test_a_seek_forward_leaves_a_gap_for_the_handler_to_judge() -> None:
    # Another owner committed up to 20 meanwhile: the handler's own offset checks skip 5-6.
    held: Fetched = {P0: [rec(P0, 5), rec(P0, 6)]}
    merge_fetched(held, {P0: [rec(P0, 20)]})
    assert offsets(held) == {P0: [5, 6, 20]}


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(1, 10)), min_size=1, max_size=8))
def test_merged_offsets_strictly_increase_and_lose_nothing_new(
    fetches: list[tuple[int, int]],
) -> None:
    held: Fetched = {}
    seen: set[int] = set()
    for start, length in fetches:
        merge_fetched(held, {P0: [rec(P0, o) for o in range(start, start + length)]})
        seen |= set(range(start, start + length))
    got = offsets(held)[P0]
    assert got == sorted(set(got))  # strictly increasing: no record twice, order kept
    assert set(got) <= seen
    first_start, first_len = fetches[0]
    assert got[:first_len] == list(range(first_start, first_start + first_len))


def test_the_linger_is_counted_from_the_oldest_record_in_hand() -> None:
    now_s = 1_000.0
    # The oldest record (partition 1) was written 60 ms ago: 40 ms of a 100 ms linger are left.
    held: Fetched = {P0: [rec(P0, 0, 999_980)], P1: [rec(P1, 0, 999_940), rec(P1, 1, 999_990)]}
    assert linger_left_s(held, 100, now_s) == pytest.approx(0.040)
    # A record older than the linger closes the batch at once.
    assert linger_left_s({P0: [rec(P0, 0, 999_700)]}, 100, now_s) == 0.0
    # A producer clock ahead of ours never makes a batch wait more than the linger.
    assert linger_left_s({P0: [rec(P0, 0, 1_000_500)]}, 100, now_s) == pytest.approx(0.100)
