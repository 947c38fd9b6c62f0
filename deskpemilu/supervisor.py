"""A small process supervisor for the services: start, restart on crash, stop on SIGTERM.

DESKPEMILU_REPLICAS (e.g. `intake=2,validator=2,aggregator=2`) runs several instances of a
service: the second one is named `intake-2` and listens on the service's port + 10.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from deskpemilu.runtime import (
    LOG_DIR,
    PAUSE_DIR,
    REPO_ROOT,
    SERVICE_PORT_VARS,
    SERVICES_STATE,
    SUPERVISOR_PID,
    instance_port,
    service_instances,
    split_instance,
)

SERVICES = ("validator", "aggregator", "intake", "api", "screener")
MAX_BACKOFF_S = 10.0


@dataclass
class Child:
    """One supervised service process (an instance of a service) and its restart history."""

    name: str  # the instance: `intake`, `intake-2`
    process: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    backoff_s: float = 0.5
    next_start: float = 0.0
    started_at: float = field(default_factory=time.monotonic)

    @property
    def service(self) -> str:
        """The service this instance runs."""
        return split_instance(self.name)[0]

    def start(self) -> None:
        """Start the service with its output appended to its log file."""
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        log_file = (LOG_DIR / f"{self.name}.log").open("ab")
        env = instance_environment(self.name, os.environ)
        self.process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [sys.executable, "-m", f"services.{self.service}"],
            cwd=REPO_ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log_file.close()
        self.started_at = time.monotonic()


# Names a consumer gives itself in its group: two instances must never share one (the aggregator's
# is its static membership id, which the broker fences when two members claim it).
INSTANCE_ID_VARS = {"validator": "VALIDATOR_INSTANCE_ID", "aggregator": "AGGREGATOR_INSTANCE_ID"}


def instance_environment(instance: str, base: Mapping[str, str]) -> dict[str, str]:
    """The environment of one instance: its own port, and its own group instance id if set."""
    service, index = split_instance(instance)
    env = dict(base)
    env[SERVICE_PORT_VARS[service]] = str(instance_port(instance))
    id_var = INSTANCE_ID_VARS.get(service)
    if id_var and env.get(id_var) and index > 1:
        env[id_var] = f"{env[id_var]}-{index}"
    return env


def _write_state(children: dict[str, Child]) -> None:
    state = {
        name: {"pid": c.process.pid if c.process else None, "restarts": c.restarts}
        for name, c in children.items()
    }
    SERVICES_STATE.write_text(json.dumps(state, indent=2))


def supervise(services: tuple[str, ...] = SERVICES) -> int:
    """Run the services until SIGTERM/SIGINT; a crashed service is restarted with backoff."""
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    SUPERVISOR_PID.write_text(str(os.getpid()))
    children = {name: Child(name) for name in service_instances(services)}
    for child in children.values():
        child.start()
    _write_state(children)
    try:
        while not stopping:
            time.sleep(0.2)
            changed = False
            now = time.monotonic()
            for child in children.values():
                changed = _tend(child, now) or changed
            if changed:
                _write_state(children)
    finally:
        _stop_all(children)
        SUPERVISOR_PID.unlink(missing_ok=True)
        SERVICES_STATE.unlink(missing_ok=True)
    return 0


def _tend(child: Child, now: float) -> bool:
    """Stop a paused child, schedule a crashed one's restart, start a due one; True on a change."""
    proc = child.process
    if (PAUSE_DIR / child.service).exists():
        # `deskpemilu rebuild` pauses the aggregators: stop them, do not restart them.
        if proc is None:
            return False
        _stop_all({child.name: child})
        child.process = None
        return True
    if proc is not None and proc.poll() is not None:
        # A service that ran a while before dying gets a fresh, short backoff.
        if now - child.started_at > 30:
            child.backoff_s = 0.5
        print(
            f"supervisor: {child.name} exited with {proc.returncode}; "
            f"restart in {child.backoff_s:.1f}s",
            flush=True,
        )
        child.process = None
        child.next_start = now + child.backoff_s
        child.backoff_s = min(MAX_BACKOFF_S, child.backoff_s * 2)
    if child.process is None and now >= child.next_start:
        child.restarts += 1
        child.start()
        return True
    return False


def _stop_all(children: dict[str, Child], timeout_s: float = 20.0) -> None:
    running = [c.process for c in children.values() if c.process and c.process.poll() is None]
    for proc in running:
        proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for proc in running:
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
