"""Entry point: `python -m services.intake`."""

from __future__ import annotations

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.logs import configure_logging
from shared.ops import run_http_service

if __name__ == "__main__":
    settings = IntakeSettings()
    configure_logging("intake", settings.log_level)
    run_http_service(create_app(settings), settings.host, settings.port)
