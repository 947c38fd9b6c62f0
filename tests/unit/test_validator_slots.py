"""Transaction slots: whole slots per member, every partition once, spread evenly."""

from __future__ import annotations

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.protocol import ConsumerProtocolMemberMetadata
from hypothesis import given
from hypothesis import strategies as st

from services.validator.slots import (
    assign_slots,
    slot_assignor,
    slot_of,
    slot_partitions,
    split_slots,
)
from services.validator.transactions import transactional_id

TOPIC = "submissions.received.v1"


def test_a_slot_is_the_partitions_with_the_same_remainder() -> None:
    assert slot_of(TOPIC, 9, 4) == (TOPIC, 1)
    assert slot_partitions((TOPIC, 1), 4, 12) == [1, 5, 9]
    assert slot_partitions((TOPIC, 3), 4, 6) == [3]
    assert split_slots([(TOPIC, 5), (TOPIC, 1), (TOPIC, 2)], 4) == {
        (TOPIC, 1): [1, 5],
        (TOPIC, 2): [2],
    }
    # One id per slot, naming the slot count: another count is another id, never a shared one.
    assert transactional_id("g", (TOPIC, 1), 4) != transactional_id("g", (TOPIC, 1), 3)


def test_two_members_of_twelve_partitions_in_four_slots_get_two_whole_slots_each() -> None:
    plan = assign_slots({TOPIC: 12}, {"b": [TOPIC], "a": [TOPIC]}, 4)
    assert plan == {"a": {TOPIC: [0, 2, 4, 6, 8, 10]}, "b": {TOPIC: [1, 3, 5, 7, 9, 11]}}


@given(
    partitions=st.integers(1, 40),
    slots=st.integers(1, 16),
    members=st.integers(1, 6),
)
def test_every_partition_goes_once_and_each_slot_whole(
    partitions: int, slots: int, members: int
) -> None:
    subscriptions = {f"m{n}": [TOPIC] for n in range(members)}
    plan = assign_slots({TOPIC: partitions}, subscriptions, slots)
    owner: dict[int, str] = {}
    for member, topics in plan.items():
        for partition in topics.get(TOPIC, []):
            assert partition not in owner, f"partition {partition} twice"
            owner[partition] = member
    assert sorted(owner) == list(range(partitions))
    for partition, member in owner.items():
        assert owner[partition % slots] == member, "a slot split between members"
    # Spread: the fullest member has at most one slot's worth more than the emptiest.
    loads = [len(topics.get(TOPIC, [])) for topics in plan.values()]
    biggest_slot = len(slot_partitions((TOPIC, 0), slots, partitions))
    assert max(loads) - min(loads) <= biggest_slot


def test_the_assignor_plans_through_kafka_metadata_and_names_its_slot_count() -> None:
    assignor = slot_assignor(4)
    assert assignor.name == "deskpemilu-slots-4" != slot_assignor(3).name
    cluster = ClusterMetadata()
    cluster._partitions = {TOPIC: dict.fromkeys(range(12))}
    members = {m: ConsumerProtocolMemberMetadata(0, [TOPIC], b"") for m in ("x", "y", "z")}
    assignment = assignor.assign(cluster, members)
    got = {m: dict(a.assignment) for m, a in assignment.items()}
    assert sorted(p for a in got.values() for p in a[TOPIC]) == list(range(12))
    assert sorted(len(a[TOPIC]) for a in got.values()) == [3, 3, 6]
