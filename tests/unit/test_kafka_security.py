"""TLS and SASL for a managed Kafka: the environment's settings reach every aiokafka client."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from services.validator.transactions import PartitionTransactions
from shared.kafka import KafkaClientSettings, kafka_client_options, make_producer

SECURITY_VARS = (
    "KAFKA_SECURITY_PROTOCOL",
    "KAFKA_SASL_MECHANISM",
    "KAFKA_SASL_USERNAME",
    "KAFKA_SASL_PASSWORD",
    "KAFKA_SSL_CAFILE",
)
# Any PEM bundle with a certificate authority will do: the system's, as a managed Kafka uses.
CA_BUNDLE = Path(ssl.get_default_verify_paths().cafile or "/etc/ssl/certs/ca-certificates.crt")


@pytest.fixture(autouse=True)
def _fresh_options(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in SECURITY_VARS:
        monkeypatch.delenv(name, raising=False)
    kafka_client_options.cache_clear()
    yield
    kafka_client_options.cache_clear()


def _client_settings(client: object) -> tuple[object, ...]:
    return (
        client._security_protocol,  # type: ignore[attr-defined]
        client._sasl_mechanism,  # type: ignore[attr-defined]
        client._sasl_plain_username,  # type: ignore[attr-defined]
        client._sasl_plain_password,  # type: ignore[attr-defined]
        client._ssl_context,  # type: ignore[attr-defined]
    )


def test_plaintext_by_default() -> None:
    assert kafka_client_options() == {"security_protocol": "PLAINTEXT"}


@pytest.mark.skipif(not CA_BUNDLE.is_file(), reason="no CA bundle on this machine")
async def test_sasl_ssl_settings_reach_producers_consumers_and_admin_clients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("KAFKA_SASL_MECHANISM", "SCRAM-SHA-512")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "desk")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "s3cret-from-the-vault")
    monkeypatch.setenv("KAFKA_SSL_CAFILE", str(CA_BUNDLE))
    producer = make_producer("broker.example:9096")
    consumer = AIOKafkaConsumer(bootstrap_servers="broker.example:9096", **kafka_client_options())
    admin = AIOKafkaAdminClient(bootstrap_servers="broker.example:9096", **kafka_client_options())
    transactions = PartitionTransactions(
        consumer, bootstrap_servers="broker.example:9096", group_id="g", transaction_timeout_ms=1000
    )
    validator_producer = transactions._make_producer(TopicPartition("t", 0))
    clients = [producer.client, consumer._client, admin._client, validator_producer.client]
    for client in clients:
        protocol, mechanism, user, password, context = _client_settings(client)
        assert (protocol, mechanism, user, password) == (
            "SASL_SSL", "SCRAM-SHA-512", "desk", "s3cret-from-the-vault",
        )  # fmt: skip
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
        assert context.cert_store_stats()["x509_ca"] > 0  # the bundle was loaded
    await consumer.stop()
    await admin.close()
    await producer.stop()
    await validator_producer.stop()


def test_a_password_never_shows_in_the_settings() -> None:
    settings = KafkaClientSettings(
        security_protocol="SASL_PLAINTEXT", sasl_mechanism="PLAIN", sasl_username="u",
        sasl_password="hunter2-hunter2",
    )  # fmt: skip
    assert "hunter2" not in repr(settings)
    assert settings.client_kwargs()["sasl_plain_password"] == "hunter2-hunter2"
    assert "ssl_context" not in settings.client_kwargs()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs KAFKA_SASL_MECHANISM"),
        ({"KAFKA_SASL_MECHANISM": "PLAIN"}, "is not SASL_"),
        ({"KAFKA_SSL_CAFILE": "/etc/hostname"}, "has no SSL"),
        (
            {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CAFILE": "/nonexistent/ca.pem"},
            "no file at",
        ),
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "security_protocol"),
    ],
)
def test_inconsistent_settings_are_refused_with_their_names(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], message: str
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        kafka_client_options()
