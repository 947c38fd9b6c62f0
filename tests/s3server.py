"""A real S3 server for the tests: SeaweedFS (`weed server -s3`) on free loopback ports.

The binary is looked up in WEED_BIN, then in the tools folder `deploy/stack.sh install` fills
(.run/tools/bin/weed), then on PATH. Without it the S3 tests skip and say why.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.procs import REPO_ROOT, free_port

NO_WEED = (
    "no SeaweedFS binary (weed): SeaweedFS is built from source, opt-in: run"
    " `INSTALL_S3=1 deploy/stack.sh install`, or set WEED_BIN"
)

ACCESS_KEY = "deskpemilu-test-access"
SECRET_KEY = "deskpemilu-test-secret-key-0123456789"


@dataclass(frozen=True)
class S3Server:
    """Where the started server answers, and the credentials it accepts."""

    endpoint_url: str
    access_key: str
    secret_key: str


def weed_binary() -> str | None:
    """Path of the SeaweedFS binary, or None when it is not installed."""
    candidates = [
        os.environ.get("WEED_BIN", ""),
        str(Path(os.environ.get("RUN_DIR", REPO_ROOT / ".run")) / "tools" / "bin" / "weed"),
        shutil.which("weed") or "",
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _assignable(master_port: int) -> bool:
    try:
        answer = httpx.get(f"http://127.0.0.1:{master_port}/dir/assign", timeout=5)
        return answer.status_code == 200 and "fid" in answer.json()
    except (httpx.HTTPError, ValueError):
        return False


@contextlib.contextmanager
def seaweedfs_s3(weed: str, *, timeout_s: float = 90.0) -> Iterator[S3Server]:
    """Start a one-node SeaweedFS with its S3 gateway; stop it and remove its data after."""
    with tempfile.TemporaryDirectory(prefix="deskpemilu-s3-") as folder:
        data = Path(folder)
        config = data / "s3.json"
        config.write_text(
            json.dumps(
                {
                    "identities": [
                        {
                            "name": "deskpemilu",
                            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                            "actions": ["Admin", "Read", "List", "Tagging", "Write"],
                        }
                    ]
                }
            )
        )
        s3_port = free_port()
        master_port = free_port()
        args = [
            weed,
            "server",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            f"-master.port={master_port}",
            f"-master.port.grpc={free_port()}",
            "-master.volumeSizeLimitMB=32",
            "-master.telemetry=false",
            f"-volume.port={free_port()}",
            f"-volume.port.grpc={free_port()}",
            "-volume.max=32",
            f"-filer.port={free_port()}",
            f"-filer.port.grpc={free_port()}",
            "-s3",
            f"-s3.port={s3_port}",
            f"-s3.port.grpc={free_port()}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
        ]
        log = (data / "weed.log").open("wb")
        proc = subprocess.Popen(
            args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, cwd=data
        )
        try:
            deadline = time.monotonic() + timeout_s
            while not _listening(s3_port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = (data / "weed.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"SeaweedFS S3 did not start:\n{tail}")
                time.sleep(0.3)
            # Writable only once a volume server registered and a volume can be assigned.
            while not _assignable(master_port):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    tail = (data / "weed.log").read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"SeaweedFS has no writable volume:\n{tail}")
                time.sleep(0.5)
            yield S3Server(f"http://127.0.0.1:{s3_port}", ACCESS_KEY, SECRET_KEY)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
            log.close()
