"""The slot assignor in a real group: whole slots per member, and no member with another count."""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import InconsistentGroupProtocolError

from services.validator.slots import slot_assignor
from tests.conftest import TopicFactory

pytestmark = pytest.mark.integration


def _member(bootstrap: str, topic: str, group: str, slots: int) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        partition_assignment_strategy=(slot_assignor(slots),),
    )


async def test_members_get_whole_slots_and_another_slot_count_cannot_join(
    kafka_bootstrap: str, new_topic: TopicFactory, group_id: str
) -> None:
    topic = await new_topic("slots", partitions=12)
    members = [_member(kafka_bootstrap, topic, group_id, 4) for _ in range(2)]
    for member in members:
        await member.start()
    other = _member(kafka_bootstrap, topic, group_id, 3)
    try:
        owned: list[list[int]] = []
        for _ in range(60):
            await asyncio.gather(*(m.getmany(timeout_ms=200) for m in members))
            owned = [sorted(tp.partition for tp in m.assignment()) for m in members]
            if sum(map(len, owned)) == 12:
                break
        assert sorted(owned) == [[0, 2, 4, 6, 8, 10], [1, 3, 5, 7, 9, 11]]
        # Kafka finds no protocol common to the group: the odd member is refused, and the
        # group keeps its assignment.
        with pytest.raises(InconsistentGroupProtocolError):
            await asyncio.wait_for(other.start(), 30)
        assert [sorted(tp.partition for tp in m.assignment()) for m in members] == owned
    finally:
        with contextlib.suppress(Exception):
            await other.stop()
        for member in members:
            await member.stop()
