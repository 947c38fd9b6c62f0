"""Kafka plumbing shared by the services: producer factory and explicit topic creation."""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.helpers import create_ssl_context
from pydantic import SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.topics import ALL_TOPICS, TopicSpec

log = logging.getLogger(__name__)


class KafkaClientSettings(BaseSettings):
    """How every Kafka client of the desk reaches the brokers: TLS and SASL for a managed Kafka.

    KAFKA_SECURITY_PROTOCOL (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL), KAFKA_SASL_MECHANISM
    (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512), KAFKA_SASL_USERNAME, KAFKA_SASL_PASSWORD and
    KAFKA_SSL_CAFILE (a PEM bundle; unset: the system's certificate authorities).
    """

    model_config = SettingsConfigDict(env_prefix="KAFKA_", extra="ignore", frozen=True)

    security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None
    ssl_cafile: Path | None = None

    @model_validator(mode="after")
    def _consistent(self) -> KafkaClientSettings:
        sasl = self.security_protocol.startswith("SASL_")
        if sasl and not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL={self.security_protocol} needs KAFKA_SASL_MECHANISM, "
                "KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
            )
        if not sasl and self.sasl_mechanism:
            raise ValueError("KAFKA_SASL_MECHANISM is set, KAFKA_SECURITY_PROTOCOL is not SASL_*")
        if self.ssl_cafile is not None:
            if not self.security_protocol.endswith("SSL"):
                raise ValueError("KAFKA_SSL_CAFILE is set but KAFKA_SECURITY_PROTOCOL has no SSL")
            if not self.ssl_cafile.is_file():
                raise ValueError(f"KAFKA_SSL_CAFILE: no file at {self.ssl_cafile}")
        return self

    def client_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for AIOKafkaProducer, AIOKafkaConsumer and AIOKafkaAdminClient."""
        kwargs: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.security_protocol.endswith("SSL"):
            cafile = str(self.ssl_cafile) if self.ssl_cafile else None
            kwargs["ssl_context"] = create_ssl_context(cafile=cafile)
        if self.sasl_mechanism:
            assert self.sasl_password is not None  # checked above
            kwargs.update(
                sasl_mechanism=self.sasl_mechanism,
                sasl_plain_username=self.sasl_username,
                sasl_plain_password=self.sasl_password.get_secret_value(),
            )
        return kwargs


@functools.lru_cache(maxsize=1)
def kafka_client_options() -> dict[str, Any]:
    """The environment's Kafka security settings as client keyword arguments (read once)."""
    return KafkaClientSettings().client_kwargs()


def make_producer(
    bootstrap_servers: str,
    *,
    transactional_id: str | None = None,
    linger_ms: int = 5,
    request_timeout_ms: int = 10_000,
) -> AIOKafkaProducer:
    """An idempotent producer waiting for all in-sync replicas (acks=all) before acknowledging."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        enable_idempotence=True,
        acks="all",
        linger_ms=linger_ms,
        request_timeout_ms=request_timeout_ms,
        transactional_id=transactional_id,
        compression_type=None,
        max_batch_size=256 * 1024,
        **kafka_client_options(),
    )


async def ensure_topics(
    bootstrap_servers: str,
    *,
    partitions: int,
    replication_factor: int,
    topics: Iterable[TopicSpec] = ALL_TOPICS,
) -> list[str]:
    """Create the missing topics with their configuration; returns the names created."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, **kafka_client_options())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(
                name=spec.name,
                num_partitions=partitions,
                replication_factor=replication_factor,
                topic_configs=dict(spec.config),
            )
            for spec in topics
            if spec.name not in existing
        ]
        if not wanted:
            return []
        try:
            response = await admin.create_topics(wanted)
        except TopicAlreadyExistsError:
            return []  # another process created them between our list and create
        created = []
        for topic, code, *_ in response.topic_errors:
            if code not in (0, TopicAlreadyExistsError.errno):
                raise RuntimeError(f"creating topic {topic} failed with Kafka error code {code}")
            if code == 0:
                created.append(topic)
        log.info("topics created", extra={"topics": created})
        return created
    finally:
        await admin.close()
