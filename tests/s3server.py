"""A real S3 server for the tests: s3proxy (deploy/s3/s3proxy.sh) on a free loopback port.

The jar comes from Maven Central through `deploy/stack.sh install` (deploy/s3/install-s3proxy.sh,
into .run/tools/s3proxy.jar); S3PROXY_JAR names another. Without it the S3 tests fail and say how
to install it: the install is part of every set-up, so a missing jar is a broken set-up, not a
reason to skip.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.procs import REPO_ROOT, free_port

ACCESS_KEY = "deskpemilu-test-access"
SECRET_KEY = "deskpemilu-test-secret-key-0123456789"
SCRIPT = REPO_ROOT / "deploy" / "s3" / "s3proxy.sh"


@dataclass(frozen=True)
class S3Server:
    """Where the started server answers, and the credentials it accepts."""

    endpoint_url: str
    access_key: str
    secret_key: str


def s3proxy_jar() -> Path:
    """The s3proxy jar the tests run."""
    named = os.environ.get("S3PROXY_JAR")
    if named:
        return Path(named)
    return Path(os.environ.get("RUN_DIR", REPO_ROOT / ".run")) / "tools" / "s3proxy.jar"


def missing_jar_message(jar: Path) -> str:
    return f"no s3proxy jar at {jar}: run `deploy/stack.sh install` (or set S3PROXY_JAR)"


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@contextlib.contextmanager
def s3proxy_s3(jar: Path, *, timeout_s: float = 120.0) -> Iterator[S3Server]:
    """Start s3proxy, filesystem backend in a temporary folder; stop it and remove it after."""
    with tempfile.TemporaryDirectory(prefix="deskpemilu-s3-") as folder:
        data = Path(folder)
        port = free_port()
        env = dict(
            os.environ,
            S3PROXY_JAR=str(jar),
            S3PROXY_PORT=str(port),
            S3PROXY_DIR=str(data),
            S3_ACCESS_KEY=ACCESS_KEY,
            S3_SECRET_KEY=SECRET_KEY,
        )
        log_path = data / "s3proxy.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                ["bash", str(SCRIPT)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            try:
                deadline = time.monotonic() + timeout_s
                while not _listening(port):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.flush()
                        tail = log_path.read_text(errors="replace")[-3000:]
                        raise RuntimeError(f"s3proxy did not start:\n{tail}")
                    time.sleep(0.2)
                yield S3Server(f"http://127.0.0.1:{port}", ACCESS_KEY, SECRET_KEY)
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 15)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()
