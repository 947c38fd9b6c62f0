"""Entry point: `python -m services.api`."""

from __future__ import annotations

from services.api.app import create_app
from services.api.settings import ApiSettings
from shared.logs import configure_logging
from shared.ops import run_http_service

if __name__ == "__main__":
    settings = ApiSettings()
    configure_logging("api", settings.log_level)
    run_http_service(create_app(settings), settings.host, settings.port)
