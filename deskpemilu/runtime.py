"""Where the local stack keeps its state, and the environment every process is started with."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from shared.settings import LocalSecrets

REPO_ROOT = Path(__file__).resolve().parent.parent
RUN_DIR = Path(os.environ.get("RUN_DIR", REPO_ROOT / ".run"))
LOG_DIR = RUN_DIR / "logs"
SECRETS_FILE = RUN_DIR / "secrets.env"
SUPERVISOR_PID = RUN_DIR / "supervisor.pid"
SERVICES_STATE = RUN_DIR / "services.json"
PAUSE_DIR = RUN_DIR / "paused"  # a file named after a service keeps the supervisor from running it
STACK_SCRIPT = REPO_ROOT / "deploy" / "stack.sh"
DEFAULT_ROSTERS = REPO_ROOT / "data" / "rosters"

# Secrets a fresh local run generates once (random, kept in .run/, never committed).
GENERATED_SECRETS = tuple(name.upper() for name in LocalSecrets.model_fields)

SERVICE_PORTS = {
    "api": 8000,
    "intake": 8001,
    "validator": 8002,
    "aggregator": 8003,
    "screener": 8004,
}
SERVICE_PORT_VARS = {
    "api": "API_PORT",
    "intake": "INTAKE_PORT",
    "validator": "VALIDATOR_PORT",
    "aggregator": "AGGREGATOR_PORT",
    "screener": "SCREENER_PORT",
}


def service_port(name: str) -> int:
    """The port a service listens on (its /healthz and /metrics), honouring the environment."""
    return int(os.environ.get(SERVICE_PORT_VARS[name], SERVICE_PORTS[name]))


def load_local_environment() -> None:
    """Fill os.environ with the local stack's addresses and secrets, never overriding set values."""
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    stored = LocalSecrets.read(SECRETS_FILE).as_environment()
    missing = [name for name in GENERATED_SECRETS if name not in stored]
    if missing:
        for name in missing:
            stored[name] = secrets.token_urlsafe(32)
        SECRETS_FILE.write_text("".join(f"{k}={v}\n" for k, v in stored.items()))
        SECRETS_FILE.chmod(0o600)
    for key, value in stored.items():
        os.environ.setdefault(key, value)
    pg_port = os.environ.get("PG_PORT", "5433")
    os.environ.setdefault(
        "DATABASE_URL", f"postgresql://deskpemilu:deskpemilu@127.0.0.1:{pg_port}/deskpemilu"
    )
    os.environ.setdefault(
        "KAFKA_BOOTSTRAP_SERVERS", f"127.0.0.1:{os.environ.get('KAFKA_PORT', '9092')}"
    )
