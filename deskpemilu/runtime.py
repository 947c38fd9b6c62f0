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
    os.environ.setdefault("KAFKA_BOOTSTRAP_SERVERS", local_bootstrap())
    if kafka_brokers() > 1:  # deploy/stack.sh KAFKA_BROKERS=3: every topic on three brokers
        os.environ.setdefault("TOPIC_REPLICATION_FACTOR", "3")


def kafka_brokers() -> int:
    """How many local Kafka nodes deploy/stack.sh runs (KAFKA_BROKERS: 1 or 3)."""
    return int(os.environ.get("KAFKA_BROKERS", "1"))


def local_bootstrap() -> str:
    """The local Kafka's bootstrap list, as deploy/stack.sh computes it."""
    port = int(os.environ.get("KAFKA_PORT", "9092"))
    if kafka_brokers() == 1:
        return f"127.0.0.1:{port}"
    ports = os.environ.get("KAFKA_PORTS") or ",".join(
        str(port + 10 * n) for n in range(kafka_brokers())
    )
    return ",".join(f"127.0.0.1:{p}" for p in ports.split(","))


# ---- several instances of a service (DESKPEMILU_REPLICAS=intake=2,validator=2,aggregator=2)

REPLICAS_VAR = "DESKPEMILU_REPLICAS"
# The n-th instance of a service listens on the service's port + 10 * (n - 1): 8001, 8011, ...
INSTANCE_PORT_STEP = 10
MAX_REPLICAS = 9


def instance_name(service: str, index: int) -> str:
    """The first instance is named after its service, the others `<service>-<n>`."""
    return service if index == 1 else f"{service}-{index}"


def split_instance(instance: str) -> tuple[str, int]:
    """(service, index) of an instance name: `intake` -> (intake, 1), `intake-2` -> (intake, 2)."""
    service, _, index = instance.rpartition("-")
    if service and index.isdigit():
        return service, int(index)
    return instance, 1


def parse_replicas(spec: str, services: tuple[str, ...]) -> dict[str, int]:
    """`intake=2,validator=2` -> instances per service (1 for those not named)."""
    counts = dict.fromkeys(services, 1)
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, sep, value = item.partition("=")
        name = name.strip()
        if not sep or name not in counts or not value.strip().isdigit():
            raise ValueError(
                f"{REPLICAS_VAR}: {item!r} is not <service>=<count> with a service of "
                f"{', '.join(services)}"
            )
        count = int(value)
        if not 1 <= count <= MAX_REPLICAS:
            raise ValueError(f"{REPLICAS_VAR}: {name} wants 1 to {MAX_REPLICAS} instances")
        counts[name] = count
    return counts


def service_instances(services: tuple[str, ...]) -> tuple[str, ...]:
    """Every instance the local stack runs, by service order (DESKPEMILU_REPLICAS)."""
    counts = parse_replicas(os.environ.get(REPLICAS_VAR, ""), services)
    return tuple(instance_name(s, n) for s in services for n in range(1, counts[s] + 1))


def instance_port(instance: str) -> int:
    """The port of one instance: its service's port, shifted for the second and later ones."""
    service, index = split_instance(instance)
    return service_port(service) + INSTANCE_PORT_STEP * (index - 1)
