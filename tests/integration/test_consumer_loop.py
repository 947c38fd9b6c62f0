"""The consumer-loop helper in real processes: SIGKILL mid-batch redelivers, SIGTERM finishes."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from shared.kafka import make_producer
from tests.conftest import TopicFactory

pytestmark = pytest.mark.integration
RECORDS = 300
BATCH = 50


async def _fill(bootstrap: str, topic: str) -> None:
    producer = make_producer(bootstrap)
    await producer.start()
    try:
        for i in range(RECORDS):
            await producer.send(topic, value=str(i).encode(), partition=0)
        await producer.flush()
    finally:
        await producer.stop()


def _start(bootstrap: str, topic: str, group: str, out: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tests.integration.consumer_worker",
            bootstrap,
            topic,
            group,
            str(out),
            str(BATCH),
        ],
    )


def _lines(out: Path) -> list[str]:
    return out.read_text().splitlines() if out.exists() else []


async def _wait_lines(out: Path, at_least: int, timeout_s: float = 60.0) -> list[str]:
    for _ in range(int(timeout_s / 0.05)):
        lines = _lines(out)
        if len(lines) >= at_least:
            return lines
        await asyncio.sleep(0.05)
    raise AssertionError(f"only {len(_lines(out))} of {at_least} records handled in time")


async def test_sigkill_mid_batch_redelivers_the_batch(
    kafka_bootstrap: str, new_topic: TopicFactory, group_id: str, tmp_path: Path
) -> None:
    topic = await new_topic("loop", partitions=1)
    await _fill(kafka_bootstrap, topic)
    out = tmp_path / "handled.txt"
    worker = _start(kafka_bootstrap, topic, group_id, out)
    before_kill = await _wait_lines(out, BATCH * 2 + 10)  # inside the third batch
    worker.send_signal(signal.SIGKILL)
    worker.wait()
    before_kill = _lines(out)
    restarted = _start(kafka_bootstrap, topic, group_id, out)
    try:
        lines = await _wait_lines(out, len(before_kill) + 1)
        offsets = [int(line.split(":")[1]) for line in await _wait_lines(out, RECORDS)]
        while len(set(offsets)) < RECORDS:
            await asyncio.sleep(0.1)
            offsets = [int(line.split(":")[1]) for line in _lines(out)]
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)
    assert lines
    assert set(offsets) == set(range(RECORDS))  # nothing lost
    repeated = sorted(o for o, n in Counter(offsets).items() if n > 1)
    # Only the uncommitted batch in hand at the kill came again: committed ones never did.
    assert repeated, "the batch in hand at SIGKILL must be delivered again"
    assert min(repeated) % BATCH == 0 and min(repeated) >= BATCH
    assert max(repeated) < min(repeated) + BATCH


async def test_sigterm_finishes_the_batch_and_commits(
    kafka_bootstrap: str, new_topic: TopicFactory, group_id: str, tmp_path: Path
) -> None:
    topic = await new_topic("loop", partitions=1)
    await _fill(kafka_bootstrap, topic)
    out = tmp_path / "handled.txt"
    worker = _start(kafka_bootstrap, topic, group_id, out)
    await _wait_lines(out, BATCH + 5)  # inside the second batch
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    handled = len(_lines(out))
    assert handled % BATCH == 0, f"stopped after {handled} records: the batch was cut short"
    restarted = _start(kafka_bootstrap, topic, group_id, out)
    try:
        await _wait_lines(out, RECORDS)
        await asyncio.sleep(0.5)  # a repeat would show up right after the restart
    finally:
        restarted.send_signal(signal.SIGTERM)
        restarted.wait(timeout=30)
    offsets = [int(line.split(":")[1]) for line in _lines(out)]
    assert sorted(offsets) == list(range(RECORDS))  # each exactly once
