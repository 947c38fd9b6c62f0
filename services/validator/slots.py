"""Transaction slots: the input partitions whose verdicts commit in one Kafka transaction.

A transaction per input partition (the KIP-98 model, transactions.py) fences a partition's
previous owner, but each costs the broker some seven requests (AddPartitionsToTxn, its
verification, Produce, AddOffsetsToTxn, TxnOffsetCommit, EndTxn, WriteTxnMarkers) whatever it
carries: with 12 partitions and a 100 ms linger, a stream of 300 forms/s made a transaction
for every six forms, and at the pipeline's maximum rate transaction requests were 0.9 of the
broker's 1.3 requests per form (docs/decisions/0007, benchmarks/RESULTS.md).

A slot is the set of a topic's partitions whose number % slots is the same; one transactional id
per slot fences its previous owner exactly as one per partition did, provided a slot is never
split between two instances. The group's assignor (SlotAssignor) hands out whole slots, and its
protocol name carries the slot count, so an instance configured with another count cannot join
the group (Kafka finds no protocol common to all members) instead of writing beside it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from aiokafka.cluster import ClusterMetadata
from aiokafka.coordinator.assignors.abstract import AbstractPartitionAssignor
from aiokafka.coordinator.protocol import (
    ConsumerProtocolMemberAssignment,
    ConsumerProtocolMemberMetadata,
)

Slot = tuple[str, int]  # topic, slot number
# Slots when none are configured (VALIDATOR_TRANSACTION_SLOTS): two validators can share the
# work (the base deployment runs two), and a batch costs two transactions. Fewer slots cost less
# per form (docs/decisions/0007); more let more validators share the work.
DEFAULT_SLOTS = 2


def slot_of(topic: str, partition: int, slots: int) -> Slot:
    """The slot an input partition belongs to."""
    return topic, partition % slots


def slot_partitions(slot: Slot, slots: int, partition_count: int) -> list[int]:
    """Every partition of the slot's topic in the slot."""
    return list(range(slot[1], partition_count, slots))


def split_slots(partitions: Iterable[tuple[str, int]], slots: int) -> dict[Slot, list[int]]:
    """Partitions grouped by slot, each slot's in order."""
    grouped: dict[Slot, list[int]] = defaultdict(list)
    for topic, partition in sorted(partitions):
        grouped[slot_of(topic, partition, slots)].append(partition)
    return dict(grouped)


def assign_slots(
    partition_counts: Mapping[str, int],
    subscriptions: Mapping[str, Sequence[str]],
    slots: int,
) -> dict[str, dict[str, list[int]]]:
    """member -> topic -> partitions: whole slots, the largest first to the member with the
    fewest partitions so far (ties by member id), so partitions spread within one slot's size.

    Deterministic for the same members and topics, like any assignor the group leader runs.
    """
    assignment: dict[str, dict[str, list[int]]] = {m: defaultdict(list) for m in subscriptions}
    load = dict.fromkeys(subscriptions, 0)
    units: list[tuple[Slot, list[int]]] = []
    for topic, count in sorted(partition_counts.items()):
        for number in range(min(slots, count)):
            units.append(((topic, number), slot_partitions((topic, number), slots, count)))
    units.sort(key=lambda unit: (-len(unit[1]), unit[0]))
    for (topic, _), partitions in units:
        members = sorted(m for m, topics in subscriptions.items() if topic in topics)
        if not members:
            continue
        member = min(members, key=lambda m: (load[m], m))
        assignment[member][topic].extend(partitions)
        load[member] += len(partitions)
    return {m: {t: sorted(ps) for t, ps in topics.items()} for m, topics in assignment.items()}


def slot_assignor(slots: int) -> type[AbstractPartitionAssignor]:
    """An aiokafka assignor class handing out whole slots of `slots` (its name carries it)."""
    if slots < 1:
        raise ValueError("slots must be at least 1")

    class SlotAssignor(AbstractPartitionAssignor):  # type: ignore[misc]
        name = f"deskpemilu-slots-{slots}"
        version = 0

        @classmethod
        def assign(
            cls,
            cluster: ClusterMetadata,
            members: Mapping[str, ConsumerProtocolMemberMetadata],
        ) -> dict[str, ConsumerProtocolMemberAssignment]:
            subscriptions = {m: list(meta.subscription) for m, meta in members.items()}
            topics = {t for subscribed in subscriptions.values() for t in subscribed}
            counts = {}
            for topic in topics:
                partitions = cluster.partitions_for_topic(topic)
                if partitions:
                    counts[topic] = len(partitions)
            plan = assign_slots(counts, subscriptions, slots)
            return {
                member: ConsumerProtocolMemberAssignment(
                    cls.version, sorted(plan[member].items()), b""
                )
                for member in members
            }

        @classmethod
        def metadata(cls, topics: Iterable[str]) -> ConsumerProtocolMemberMetadata:
            return ConsumerProtocolMemberMetadata(cls.version, list(topics), b"")

        @classmethod
        def on_assignment(cls, assignment: ConsumerProtocolMemberAssignment) -> None:
            pass

    return SlotAssignor
