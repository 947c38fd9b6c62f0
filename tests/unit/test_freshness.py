"""The freshness metric's start: the intake's publish time, carried in the event, optional."""

from __future__ import annotations

from datetime import timedelta

import orjson

from services.aggregator.aggregation import FormIn, Position, submission_of
from services.aggregator.consumer import event_from_json
from services.aggregator.metrics import FRESHNESS, observe_freshness
from shared.codec import decode, encode
from shared.events import SubmissionReceived, SubmissionValidated, received_adapter, utcnow
from tests.unit.test_aggregation import OP1, form, received


def freshness_samples() -> dict[str, float]:
    samples = (s for m in FRESHNESS.collect() for s in m.samples)
    return {s.name + s.labels.get("le", ""): s.value for s in samples}


def as_validated_record(event: SubmissionReceived, *, drop_published: bool = False) -> bytes:
    """The validated-topic record the aggregator reads (optionally as written before the field)."""
    data = orjson.loads(encode(SubmissionValidated(submission=event, validated_at=utcnow())))
    if drop_published:
        del data["submission"]["published_at"]
    return orjson.dumps(data)


def aggregator_view(record: bytes) -> FormIn:
    incoming = event_from_json(record, Position("t", 0, 0), rejected=False)
    assert isinstance(incoming, FormIn)
    return incoming


def test_a_record_written_before_the_field_existed_still_decodes() -> None:
    event = received(1, OP1, form())
    data = orjson.loads(encode(event))
    assert data["published_at"] is None
    del data["published_at"]  # as the intake wrote records before
    old = decode(received_adapter, orjson.dumps(data))
    assert isinstance(old, SubmissionReceived) and old.published_at is None
    old_record = as_validated_record(event, drop_published=True)
    assert aggregator_view(old_record).submission.version.published_at is None


def test_the_publish_time_travels_to_the_aggregator_and_leaves_equality_alone() -> None:
    at = utcnow()
    event = received(1, OP1, form()).model_copy(update={"published_at": at})
    again = decode(received_adapter, encode(event))
    assert isinstance(again, SubmissionReceived) and again.published_at == at
    assert aggregator_view(as_validated_record(event)).submission.version.published_at == at
    assert submission_of(again).version.published_at == at
    # Only for the metric: a retry published later is still the same version.
    later = event.model_copy(update={"published_at": at + timedelta(seconds=5)})
    assert submission_of(later).version == submission_of(again).version


def test_observe_freshness_counts_forms_with_a_publish_time_only() -> None:
    before = freshness_samples()
    now = utcnow()
    observe_freshness([now - timedelta(seconds=0.3), None, now - timedelta(seconds=3)])
    after = freshness_samples()
    count = "deskpemilu_aggregator_freshness_seconds_count"
    assert after[count] - before[count] == 2
    under_1s = "deskpemilu_aggregator_freshness_seconds_bucket1.0"
    assert after[under_1s] - before[under_1s] == 1
    total = "deskpemilu_aggregator_freshness_seconds_sum"
    assert 3.3 <= after[total] - before[total] < 3.5
