"""The local S3 server `deskpemilu up` runs when photos go to S3 (BLOB_STORE=s3).

With BLOB_STORE=s3 and no S3_ENDPOINT_URL, `up` starts s3proxy (deploy/s3/s3proxy.sh, jar
fetched by `deploy/stack.sh install`) on 127.0.0.1:$S3PROXY_PORT (9000), objects under
$RUN_DIR/s3proxy/data, and hands the services S3_ENDPOINT_URL and the credentials: those of the
environment (S3_ACCESS_KEY, S3_SECRET_KEY), else a pair generated once and kept, mode 600, in
$RUN_DIR/s3proxy/credentials.env. A set S3_ENDPOINT_URL names an S3 store run elsewhere, which
is left alone. `deskpemilu down` stops the local server; its objects stay.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

import typer
from rich.console import Console

from deskpemilu import runtime

SCRIPT = runtime.REPO_ROOT / "deploy" / "s3" / "s3proxy.sh"
# The server this process started (stop() reaps it); None for one found by its pid file.
_started: list[subprocess.Popen[bytes]] = []


class S3LocalError(RuntimeError):
    """The local S3 server could not be started."""


def home() -> Path:
    """The server's folder: data/, its generated configuration, log, pid and credentials."""
    return runtime.RUN_DIR / "s3proxy"


def port() -> int:
    """The port the local server listens on."""
    return int(os.environ.get("S3PROXY_PORT", "9000"))


def url() -> str:
    """The local server's endpoint."""
    return f"http://127.0.0.1:{port()}"


def wanted() -> bool:
    """Photos go to S3 and no S3 store elsewhere is named (or the one named is ours)."""
    endpoint = os.environ.get("S3_ENDPOINT_URL", "")
    return os.environ.get("BLOB_STORE") == "s3" and endpoint in ("", url())


def _credentials() -> dict[str, str]:
    """S3_ACCESS_KEY and S3_SECRET_KEY: the environment's, else the pair kept in the run folder."""
    path = home() / "credentials.env"
    kept: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            name, _, value = line.partition("=")
            kept[name] = value
    if not kept.get("S3_ACCESS_KEY") or not kept.get("S3_SECRET_KEY"):
        kept = {
            "S3_ACCESS_KEY": "desk-" + secrets.token_hex(8),
            "S3_SECRET_KEY": secrets.token_urlsafe(30),
        }
        home().mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{k}={v}\n" for k, v in kept.items()))
        path.chmod(0o600)
    return {name: os.environ.get(name) or kept[name] for name in kept}


def pid() -> int | None:
    """The pid of the running local server, or None (a stale pid file is removed)."""
    pid_path = home() / "s3proxy.pid"
    try:
        found = int(pid_path.read_text())
        cmdline = Path(f"/proc/{found}/cmdline").read_bytes()
    except (FileNotFoundError, ValueError):
        pid_path.unlink(missing_ok=True)
        return None
    if str(home() / "s3proxy.properties").encode() not in cmdline:
        pid_path.unlink(missing_ok=True)
        return None
    return found


def _listening() -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port())) == 0


def start(timeout_s: float = 90.0) -> None:
    """Start the server (unless it runs) and put its address and credentials in os.environ."""
    credentials = _credentials()
    os.environ.update(credentials)
    if pid() is None:
        home().mkdir(parents=True, exist_ok=True)
        log_path = home() / "s3proxy.log"
        env = dict(os.environ, S3PROXY_DIR=str(home()), S3PROXY_PORT=str(port()))
        with log_path.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                ["bash", str(SCRIPT)],  # noqa: S607
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _started.append(process)
        (home() / "s3proxy.pid").write_text(str(process.pid))  # the script execs java
        deadline = time.monotonic() + timeout_s
        while not _listening():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
                stop()
                raise S3LocalError(f"s3proxy did not start:\n{tail}")
            time.sleep(0.3)
    os.environ["S3_ENDPOINT_URL"] = url()


def stop(timeout_s: float = 20.0) -> bool:
    """SIGTERM and wait (SIGKILL after the timeout); False if it was not running."""
    running = pid()
    if running is None:
        return False
    os.kill(running, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while pid() is not None and Path(f"/proc/{running}").exists():
        state = Path(f"/proc/{running}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        if state in ("Z", "X"):
            break
        if time.monotonic() > deadline:
            os.kill(running, signal.SIGKILL)
            deadline = time.monotonic() + 5
        time.sleep(0.1)
    for process in [p for p in _started if p.pid == running]:
        process.wait(timeout=5)  # our own child: reap it
        _started.remove(process)
    (home() / "s3proxy.pid").unlink(missing_ok=True)
    return True


def up_local(console: Console) -> str:
    """`deskpemilu up`: start the local server when wanted; the line `up` prints."""
    if not wanted():
        return ""
    try:
        start()
    except S3LocalError as exc:
        console.print(f"[red]s3proxy: {exc}")
        raise typer.Exit(1) from exc
    console.print(f"s3proxy: ready ({url()})")
    return f"\n  photo store (S3)      {url()}  (s3proxy, objects in {home() / 'data'})"


def down_local(console: Console) -> None:
    """`deskpemilu down`: stop the local server if it runs."""
    if stop():
        console.print("s3proxy: stopped")


def status_line() -> str:
    """`deskpemilu status`: the local server's state, when photos go to it."""
    if pid() is not None:
        state = "ready" if _listening() else "not ready"
    elif wanted():
        state = "stopped"
    else:
        return f"{'s3proxy':<11} off   (BLOB_STORE={os.environ.get('BLOB_STORE', 'fs')})"
    return f"{'s3proxy':<11} {state:<5} {url()}"
