"""Intake HTTP app: accepts forms from every channel and publishes them to Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from services.intake.settings import IntakeSettings
from shared.kafka import make_producer
from shared.ops import add_ops_routes


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """Build the app; settings are read here so tests can pass overrides."""
    settings = settings or IntakeSettings()
    producer = make_producer(settings.kafka_bootstrap_servers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await producer.start()
        try:
            yield
        finally:
            await producer.stop()

    app = FastAPI(title="Desk Pemilu intake", version="1", lifespan=lifespan)
    app.state.settings = settings
    app.state.producer = producer

    async def health() -> dict[str, bool]:
        return {"kafka": bool(producer.client.cluster.brokers())}

    add_ops_routes(app, health)
    return app
