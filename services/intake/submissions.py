"""Taking one form from any channel: scope check, idempotency, publish, the Accepted outcome."""

from __future__ import annotations

import uuid

from services.intake import metrics
from services.intake.idempotency import (
    Accepted,
    IdempotencyCache,
    IdempotencyKeyReused,
    form_hash,
    form_json,
)
from services.intake.publisher import KafkaUnavailable, Publisher
from services.intake.schemas import IntakeError
from shared.codec import key_for_tps
from shared.events import Channel, OperatorRef, SubmissionReceived, submission_id_for, utcnow
from shared.form import CHasil
from shared.policy import Refusal, submit_refusal


def event_json(event: SubmissionReceived, form_json: bytes) -> bytes:
    """The published record: shared.codec.encode(event), with the form's JSON made once already.

    The form is serialised once per submission, for its idempotency hash and for the record:
    the rest of the event is serialised here and the form goes in as its last member.
    """
    rest = event.__pydantic_serializer__.to_json(event, exclude={"form"})
    return b'%s,"form":%s}' % (rest[:-1], form_json)


def refusal_error(refused: Refusal) -> IntakeError:
    """The 403 answer of a shared.policy refusal (the validator would reject it the same way)."""
    return IntakeError(403, refused.code, refused.pesan, refused.message)


def scope_error(operator: OperatorRef, tps: str) -> IntakeError | None:
    """Why this operator may not send this TPS's result, or None when it may."""
    refused = submit_refusal(operator, tps)
    return None if refused is None else refusal_error(refused)


def kafka_unavailable(retry_after: int) -> IntakeError:
    """The 503 answer when Kafka did not acknowledge: nothing was stored, try again later."""
    return IntakeError(
        503,
        "KAFKA_UNAVAILABLE",
        "Sistem penyimpanan sedang tidak bisa dihubungi; data BELUM tersimpan. Kirim ulang "
        "sebentar lagi.",
        "The message store cannot be reached; the form was NOT stored. Retry shortly.",
        retry_after=retry_after,
    )


def key_reused(key: str) -> IntakeError:
    """The 409 answer for a known Idempotency-Key sent with a different form.

    409, not 422: the request is well formed; it conflicts with what the key already stored.
    """
    return IntakeError(
        409,
        "IDEMPOTENCY_KEY_REUSED",
        f"Idempotency-Key '{key}' sudah dipakai untuk formulir lain. Pakai kunci baru.",
        f"Idempotency-Key '{key}' was already used for a different form. Use a new key.",
    )


class Intake:
    """The channel-independent core: every route hands its forms to submit()."""

    def __init__(
        self,
        publisher: Publisher,
        cache: IdempotencyCache,
        *,
        topic: str,
        retry_after_s: int,
    ) -> None:
        self.publisher = publisher
        self.cache = cache
        self.topic = topic
        self.retry_after_s = retry_after_s

    async def submit(
        self,
        operator: OperatorRef,
        form: CHasil,
        *,
        channel: Channel,
        idempotency_key: str | None,
        reply_to: str | None = None,
    ) -> tuple[Accepted, bool]:
        """Publish the form once per (operator, key); True in the pair when it was a replay."""
        refused = scope_error(operator, form.tps)
        if refused is not None:
            raise refused
        key = idempotency_key or str(uuid.uuid4())
        serialised = form_json(form)  # once: hashed for the idempotency check, and published

        async def publish() -> Accepted:
            event = SubmissionReceived(
                submission_id=submission_id_for(operator.id, key),
                received_at=utcnow(),
                channel=channel,
                operator=operator,
                idempotency_key=key,
                form=form,
                reply_to=reply_to,
                published_at=utcnow(),
            )
            try:
                value = event_json(event, serialised)
                await self.publisher.publish(self.topic, key_for_tps(form.tps), value)
            except KafkaUnavailable as exc:
                raise kafka_unavailable(self.retry_after_s) from exc
            metrics.FORMS.labels(channel.value).inc()
            return Accepted(
                submission_id=event.submission_id,
                received_at=event.received_at,
                operator_id=operator.id,
                channel=channel,
                election=form.election,
                contest=form.contest.value,
                tps=form.tps,
            )

        if idempotency_key is None:
            # A fresh key can have no earlier answer: publish, and remember only for status lookups.
            accepted = await publish()
            self.cache.remember(accepted)
            return accepted, False
        try:
            return await self.cache.once(operator.id, key, form_hash(form, serialised), publish)
        except IdempotencyKeyReused as exc:
            raise key_reused(key) from exc
