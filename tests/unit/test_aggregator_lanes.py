"""How the aggregator cuts a batch into lanes: by partition number, order kept, offsets with it."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.aggregator.aggregation import Position, ReviewIn, lost_offsets
from services.aggregator.consumer import split_lanes
from shared.events import OperatorRef, ReviewDecided, Role
from shared.form import Contest

VALIDATED, REJECTED = "submissions.validated.v1", "submissions.rejected.v1"
CAMAT = OperatorRef(id="camat", role=Role.CAMAT, scope=("16.07.01",))


def event(topic: str, partition: int, offset: int) -> ReviewIn:
    """Any event will do: the split reads only its position."""
    decision = ReviewDecided(
        decision_id=UUID(int=partition * 1000 + offset + 1),
        decided_at=datetime(2024, 2, 14, 20, 0, tzinfo=UTC),
        election="pemilu-2024",
        contest=Contest.PPWP,
        tps="16.07.01.2001.001",
        reviewer=CAMAT,
        action="verify",
    )
    return ReviewIn(decision, Position(topic, partition, offset))


def test_a_partition_of_either_topic_goes_to_the_lane_of_its_number() -> None:
    events = [
        event(VALIDATED, 0, 5),
        event(VALIDATED, 1, 7),
        event(REJECTED, 1, 2),
        event(VALIDATED, 2, 6),
        event(VALIDATED, 0, 6),
        event(REJECTED, 3, 0),
    ]
    offsets = {(VALIDATED, 0): 7, (VALIDATED, 1): 8, (REJECTED, 1): 3, (VALIDATED, 2): 7}
    offsets[(REJECTED, 3)] = 1
    (even, even_offsets), (odd, odd_offsets) = split_lanes(events, offsets, 2)
    assert [e.position for e in even] == [
        Position(VALIDATED, 0, 5),
        Position(VALIDATED, 2, 6),
        Position(VALIDATED, 0, 6),
    ]
    assert [e.position for e in odd] == [
        Position(VALIDATED, 1, 7),
        Position(REJECTED, 1, 2),
        Position(REJECTED, 3, 0),
    ]
    assert even_offsets == {(VALIDATED, 0): 7, (VALIDATED, 2): 7}
    assert odd_offsets == {(VALIDATED, 1): 8, (REJECTED, 1): 3, (REJECTED, 3): 1}


def test_a_lane_without_partitions_gets_nothing_but_one_with_only_offsets_keeps_them() -> None:
    # Partition 2 was consumed (an undecodable record went to the DLQ) but decoded to no event:
    # its offset must still be stored, by its own lane.
    parts = split_lanes([event(VALIDATED, 0, 0)], {(VALIDATED, 0): 1, (VALIDATED, 2): 4}, 4)
    assert [(len(events), offsets) for events, offsets in parts] == [
        (1, {(VALIDATED, 0): 1}),
        (0, {}),
        (0, {(VALIDATED, 2): 4}),
        (0, {}),
    ]


def test_an_event_without_a_position_cannot_be_given_a_lane() -> None:
    unplaced = ReviewIn(event(VALIDATED, 0, 0).review, None)
    with pytest.raises(ValueError, match="position"):
        split_lanes([unplaced], {}, 2)


@given(
    st.lists(st.tuples(st.sampled_from([VALIDATED, REJECTED]), st.integers(0, 11)), max_size=60),
    st.integers(1, 5),
)
def test_the_lanes_hold_every_event_once_in_batch_order(
    places: list[tuple[str, int]], lanes: int
) -> None:
    events = [event(topic, partition, n) for n, (topic, partition) in enumerate(places)]
    offsets = {(topic, partition): len(places) for topic, partition in places}
    parts = split_lanes(events, offsets, lanes)
    assert len(parts) == lanes
    for lane, (part, part_offsets) in enumerate(parts):
        assert all(e.position is not None and e.position.partition % lanes == lane for e in part)
        offsets_of_part = [e.position.offset for e in part if e.position is not None]
        assert offsets_of_part == sorted(offsets_of_part)
        assert all(partition % lanes == lane for _, partition in part_offsets)
    assert sorted(id(e) for part, _ in parts for e in part) == sorted(id(e) for e in events)
    merged = {tp: o for _, part_offsets in parts for tp, o in part_offsets.items()}
    assert merged == offsets


def test_offsets_found_behind_what_was_committed_are_lost_commits() -> None:
    known = {(VALIDATED, 0): 40, (VALIDATED, 1): 7, (REJECTED, 0): 3}
    stored = {(VALIDATED, 0): 35, (VALIDATED, 1): 9, (REJECTED, 0): 3, (REJECTED, 1): 0}
    # Behind: lost. Ahead (another instance applied more) or equal: fine. Unknown: no claim.
    assert lost_offsets(stored, known) == {(VALIDATED, 0): (35, 40)}
    assert lost_offsets(stored, {}) == {}
    assert lost_offsets({(VALIDATED, 0): 40}, known) == {}
