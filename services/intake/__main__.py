"""Entry point: `python -m services.intake`."""

from __future__ import annotations

import uvicorn

from services.intake.app import create_app
from services.intake.settings import IntakeSettings
from shared.logs import configure_logging

if __name__ == "__main__":
    settings = IntakeSettings()
    configure_logging("intake", settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
    )
