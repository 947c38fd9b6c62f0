"""Start the real service processes for integration and end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.webhooks import SMS_TOKEN, WA_SECRET

REPO_ROOT = Path(__file__).resolve().parent.parent
PORT_VARS = {
    "api": "API_PORT",
    "intake": "INTAKE_PORT",
    "validator": "VALIDATOR_PORT",
    "aggregator": "AGGREGATOR_PORT",
    "screener": "SCREENER_PORT",
}
TEST_TOKEN_SECRET = "test-secret-" + "x" * 40


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def stack_env(kafka_bootstrap: str, database_url: str, **extra: str) -> dict[str, str]:
    """Environment for service processes of one test: its own topics prefix and database."""
    env = dict(os.environ)
    env.update(
        KAFKA_BOOTSTRAP_SERVERS=kafka_bootstrap,
        DATABASE_URL=database_url,
        TOPIC_PREFIX=f"t{uuid.uuid4().hex[:8]}.",
        TOPIC_PARTITIONS="4",
        DESKPEMILU_TOKEN_SECRET=TEST_TOKEN_SECRET,
        WHATSAPP_APP_SECRET=WA_SECRET,
        WHATSAPP_VERIFY_TOKEN="test-verify-token",
        SMS_AUTH_TOKEN=SMS_TOKEN,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class ServiceProcess:
    """One running `python -m services.<service>` with its port and log file.

    name is the instance's name (`intake`, or `intake-2` for a second one); service the
    service it runs, when the name is not the service's own.
    """

    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    service: str = ""

    @property
    def kind(self) -> str:
        """The service this process runs (intake, validator, aggregator, api, screener)."""
        return self.service or self.name

    @property
    def url(self) -> str:
        """Base URL of the service's HTTP server."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait: bool = True, timeout_s: float = 30.0) -> ServiceProcess:
        """Start the process and (by default) wait until /healthz answers 200."""
        env = dict(self.env)
        env[PORT_VARS[self.kind]] = str(self.port)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", f"services.{self.kind}"],
                cwd=REPO_ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        if wait:
            self.wait_healthy(timeout_s)
        return self

    def wait_healthy(self, timeout_s: float = 30.0) -> None:
        """Poll /healthz until 200; fail with the log's tail if the process dies or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not healthy in {timeout_s}s:\n{self.log_tail()}")

    def kill(self) -> None:
        """SIGKILL: a crash, no cleanup."""
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout_s: float = 20.0) -> int | None:
        """SIGTERM and wait; SIGKILL after the timeout. Returns the exit code."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def log_tail(self, lines: int = 40) -> str:
        """The last lines of the service's log."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
