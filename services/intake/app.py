"""Intake HTTP app: accepts forms from every channel and publishes them to Kafka."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.intake import (
    metrics,
    routes_api,
    routes_app,
    routes_incidents,
    routes_photos,
    routes_webhooks,
)
from services.intake.directory import Directory, DirectoryRefresher
from services.intake.idempotency import IdempotencyCache
from services.intake.incidents import IncidentIntake
from services.intake.notifier import Replier, VerdictNotifier
from services.intake.photos import PhotoIntake
from services.intake.publisher import Publisher
from services.intake.ratelimit import RateLimiter
from services.intake.reminders import SilentReminders
from services.intake.schemas import JsonResponse
from services.intake.settings import IntakeSettings
from services.intake.submissions import Intake
from services.intake.whatsapp_media import LatestForms
from shared.blobstore import BlobSettings, blob_store_from
from shared.hotpath import install_hot_paths
from shared.http_errors import install_error_handlers
from shared.metrics import APP_TELEMETRY
from shared.ops import add_ops_routes
from shared.photos import PhotoLimits
from shared.silence_settings import SilenceSettings
from shared.tokens import TokenVerifier

DESCRIPTION = """
Operators send TPS results (Formulir C.Hasil) here: the mobile app as JSON (one form, a batch,
or a kecamatan spreadsheet), field staff as WhatsApp or SMS text.

* **202 means stored**: the answer comes only after Kafka acknowledged the record (acks=all).
  When Kafka cannot be reached the answer is **503 with Retry-After**, never 202.
* **Idempotency-Key**: the same key and form from the same operator always gets the same
  submission id and is counted once.
* **Errors** are `{"code", "pesan" (Indonesian), "message" (English), "details": [...]}`.
* Tokens: `deskpemilu operators token <operator-id>`; header `Authorization: Bearer <token>`.
"""


class RequestMetrics:
    """Counts requests by route template and status (a plain ASGI middleware: no extra task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # The labelled counters, looked up once: labels() costs more than inc() on the hot path.
        self._counters: dict[tuple[str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            route = scope.get("route")
            template = getattr(route, "path_format", None) or "unmatched"
            counter = self._counters.get((template, status))
            if counter is None:
                counter = metrics.REQUESTS.labels(template, str(status))
                self._counters[(template, status)] = counter
            counter.inc()


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """Build the app; settings are read here so tests can pass overrides."""
    settings = settings or IntakeSettings()
    tokens = TokenVerifier(settings.token_secret.get_secret_value())
    directory = Directory(tokens)
    refresher = DirectoryRefresher(
        directory, settings.database_url, interval_s=settings.directory_refresh_s
    )
    publisher = Publisher(
        settings.kafka_bootstrap_servers,
        timeout_s=settings.publish_timeout_s,
        linger_ms=settings.producer_linger_ms,
        retry_s=settings.producer_retry_s,
    )
    intake = Intake(
        publisher,
        IdempotencyCache(settings.idempotency_cache_size),
        topic=settings.topics.received,
        retry_after_s=settings.retry_after_s,
    )
    blobs = blob_store_from(BlobSettings())
    photos = PhotoIntake(
        blobs,
        publisher,
        topic=settings.topics.photos,
        limits=PhotoLimits(max_bytes=settings.photo_max_bytes),
        retry_after_s=settings.retry_after_s,
    )
    replier = Replier(settings, directory)
    notifier = VerdictNotifier(settings, replier)
    reminders = SilentReminders(settings, SilenceSettings(), replier)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Neither Kafka nor PostgreSQL has to be up for the process to start: both connect in
        # the background, and until then the routes answer 503 quickly.
        publisher.start()
        await blobs.start()
        refresher.start()
        replier.start()
        if settings.notifier_enabled:
            notifier.start()
        reminders.start()
        await refresher.wait_first(timeout_s=5.0)
        try:
            yield
        finally:
            await reminders.stop()
            await notifier.stop()
            await replier.stop()
            await publisher.stop()
            await refresher.stop()
            await blobs.close()

    app = FastAPI(
        title="Desk Pemilu intake",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
        default_response_class=JsonResponse,
        telemetry=APP_TELEMETRY,
    )
    app.state.settings = settings
    app.state.directory = directory
    app.state.refresher = refresher
    app.state.publisher = publisher
    app.state.intake = intake
    app.state.limiter = RateLimiter(settings.rate_per_s, settings.rate_burst)
    app.state.tokens = tokens
    app.state.replier = replier
    app.state.photos = photos
    app.state.latest_forms = LatestForms(settings.photo_link_window_s)
    app.state.notifier = notifier
    app.state.reminders = reminders
    install_error_handlers(app)
    install_hot_paths(app)
    app.add_middleware(RequestMetrics)
    for router in (
        routes_api.router,
        routes_api.upload_router,
        routes_webhooks.router,
        routes_app.router,
        routes_photos.router,
    ):
        app.include_router(router)
    routes_incidents.install(
        app,
        IncidentIntake(
            publisher,
            directory,
            topic=settings.topics.incidents,
            retry_after_s=settings.retry_after_s,
        ),
    )

    async def health() -> dict[str, bool]:
        return {"kafka": await publisher.healthy(), "postgres": refresher.healthy()}

    add_ops_routes(app, health)
    return app
