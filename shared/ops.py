"""The operations endpoints of a consumer process: /healthz and /metrics on a small HTTP server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import orjson
import uvicorn
from fastapi import FastAPI, Response

from shared.metrics import HEALTH_CHECK, render_latest

HealthCheck = Callable[[], Awaitable[dict[str, bool]]]
HEALTH_TIMEOUT_S = 2.0


async def record_health(health: HealthCheck, known: set[str]) -> None:
    """Set deskpemilu_health_check per check; checks that raise or hang all count as failing.

    `known` collects the checks seen so far: when the checks raise (a database query failing
    before it could answer false), every check seen before is set to 0 ("healthz" if none was).
    """
    try:
        checks = await asyncio.wait_for(health(), HEALTH_TIMEOUT_S)
    except Exception:  # any failure of the checks is a failing check, never a failed scrape
        checks = dict.fromkeys(known or {"healthz"}, False)
    known.update(checks)
    for name, ok in checks.items():
        HEALTH_CHECK.labels(name).set(1 if ok else 0)


def add_ops_routes(app: FastAPI, health: HealthCheck) -> None:
    """Add /healthz (200 when every check passes, else 503) and /metrics to an app.

    Each scrape of /metrics runs the checks too (deskpemilu_health_check), so Prometheus sees
    the database or Kafka connection failing without probing /healthz itself.
    """
    known: set[str] = set()

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        checks = await health()
        status = 200 if all(checks.values()) else 503
        body = orjson.dumps({"ok": status == 200, "checks": checks})
        return Response(body, status_code=status, media_type="application/json")

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        await record_health(health, known)
        body, content_type = render_latest()
        return Response(body, media_type=content_type)


@dataclass
class OpsServer:
    """The background ops server of a consumer process."""

    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Ask uvicorn to exit and wait for it, so it is not cancelled with the loop."""
        # A cancelled uvicorn logs a CancelledError traceback from its lifespan at every
        # shutdown: noise for whoever reads the logs at 22:00 on election night.
        self.server.should_exit = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self.task), timeout_s)


async def serve_ops(service: str, host: str, port: int, health: HealthCheck) -> OpsServer:
    """Start the ops server in the background of the running loop; returns it for shutdown."""
    app = FastAPI(title=f"deskpemilu {service} ops", docs_url=None, redoc_url=None)
    add_ops_routes(app, health)
    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    )
    # The process owns SIGTERM (it finishes its batch first); uvicorn must not take it over.
    server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign,assignment]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # surfaces a bind error instead of waiting forever
        await asyncio.sleep(0.02)
    return OpsServer(server, task)


def run_http_service(app: FastAPI, host: str, port: int) -> None:
    """Serve an HTTP service in the foreground: uvloop, httptools, our JSON logs, no access log.

    No X-Forwarded-For rewriting either (uvicorn's proxy headers middleware): nothing here reads
    the client's address, and the middleware is one more layer on every request.
    """
    uvicorn.run(
        app,
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
