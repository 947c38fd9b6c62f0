"""Prometheus for the local stack: a config scraping every service, and the server as a process.

`deskpemilu up` starts Debian's `prometheus` (installed by `deploy/stack.sh install`) on
127.0.0.1:$PROMETHEUS_PORT (9090) with the recording and alert rules of deploy/prometheus/rules/,
its data under $RUN_DIR/prometheus/; `PROMETHEUS=0` leaves it out. `deskpemilu down` stops it and
`deskpemilu status` shows its address. Tests build their own config with `scrape_config` and
run their own server with `PrometheusProcess` on a free port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import typer
from rich.console import Console

from deskpemilu import runtime

PROMETHEUS_DIR = runtime.REPO_ROOT / "deploy" / "prometheus"
RULES_DIR = PROMETHEUS_DIR / "rules"
DEFAULT_PORT = 9090
JOB = "deskpemilu"
app = typer.Typer(no_args_is_help=True, help="The local Prometheus (started by `up`).")


def enabled() -> bool:
    """False when PROMETHEUS is 0, false, no or off: the stack then runs without it."""
    return os.environ.get("PROMETHEUS", "1").strip().lower() not in ("0", "false", "no", "off")


def port() -> int:
    """The port the local Prometheus listens on."""
    return int(os.environ.get("PROMETHEUS_PORT", DEFAULT_PORT))


def rule_files() -> list[Path]:
    """The recording and alert rule files every Prometheus of the desk loads."""
    return sorted(RULES_DIR.glob("*.yml"))


def scrape_config(
    targets: Mapping[str, str],
    *,
    scrape_interval: str = "5s",
    evaluation_interval: str = "5s",
    rules: Sequence[Path] | None = None,
) -> dict[str, Any]:
    """A Prometheus config scraping each service's /metrics; targets: service -> host:port.

    Every series gets the target label `app` (the service; its instances differ in their
    `instance`, the address); metrics that carry their own
    `service` label (the consumer loop's, e.g. intake-notifier inside the intake) keep it.
    """
    return {
        "global": {
            "scrape_interval": scrape_interval,
            "evaluation_interval": evaluation_interval,
            "external_labels": {"desk": "deskpemilu"},
        },
        "rule_files": [str(p) for p in (rule_files() if rules is None else rules)],
        "scrape_configs": [
            {
                "job_name": JOB,
                "scrape_timeout": scrape_interval,
                "static_configs": [
                    {"targets": [address], "labels": {"app": runtime.split_instance(name)[0]}}
                    for name, address in sorted(targets.items())
                ],
            }
        ],
    }


def local_targets() -> dict[str, str]:
    """The local stack's four services at the ports the environment gives them."""
    from deskpemilu.supervisor import SERVICES

    return {
        name: f"127.0.0.1:{runtime.instance_port(name)}"
        for name in runtime.service_instances(SERVICES)
    }


class PrometheusError(RuntimeError):
    """The server could not be found, configured or started."""


@dataclass
class PrometheusProcess:
    """One Prometheus server: its config, data folder, port and pid file under `home`."""

    home: Path
    port: int
    binary: str = "prometheus"
    # The server this object started (so stop() can reap it); None for one found by pid file.
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False, compare=False)

    @property
    def url(self) -> str:
        """Base URL of the server's web UI and HTTP API."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        """Where the rendered config is written."""
        return self.home / "prometheus.yml"

    @property
    def pid_path(self) -> Path:
        """The pid file of the running server."""
        return self.home / "prometheus.pid"

    @property
    def log_path(self) -> Path:
        """The server's own log."""
        return self.home / "prometheus.log"

    def pid(self) -> int | None:
        """The pid of our live server, or None (a stale pid file is removed)."""
        try:
            pid = int(self.pid_path.read_text())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (FileNotFoundError, ValueError):
            self.pid_path.unlink(missing_ok=True)
            return None
        if str(self.config_path).encode() not in cmdline:
            self.pid_path.unlink(missing_ok=True)
            return None
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0]
        return None if state in ("Z", "X") else pid

    def write_config(self, config: Mapping[str, Any]) -> None:
        """Write the config (JSON is YAML) and check it with promtool when that is installed."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.config_path.write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
        promtool = shutil.which("promtool")
        if promtool is not None:
            check = subprocess.run(  # noqa: S603 - fixed argv
                [promtool, "check", "config", str(self.config_path)],
                capture_output=True,
                text=True,
                check=False,
            )
            if check.returncode != 0:
                raise PrometheusError(f"promtool check config: {check.stdout}{check.stderr}")

    def start(self, config: Mapping[str, Any], *, timeout_s: float = 30.0) -> None:
        """Write the config and start the server (or reload a running one); wait until ready."""
        binary = shutil.which(self.binary)
        if binary is None:
            raise PrometheusError(
                f"{self.binary} not found; install it with `deploy/stack.sh install` "
                "(Debian's prometheus package) or set PROMETHEUS=0"
            )
        self.write_config(config)
        running = self.pid()
        if running is not None:
            os.kill(running, signal.SIGHUP)  # re-reads the config and the rule files
            self.wait_ready(timeout_s)
            return
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [
                    binary,
                    f"--config.file={self.config_path}",
                    f"--storage.tsdb.path={self.home / 'data'}",
                    "--storage.tsdb.retention.time=15d",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--web.enable-lifecycle",
                ],
                cwd=self.home,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C in the terminal does not take it down
            )
        self.process = process
        self.pid_path.write_text(str(process.pid))
        try:
            self.wait_ready(timeout_s, process)
        except PrometheusError:
            self.stop()
            raise

    def wait_ready(self, timeout_s: float, process: subprocess.Popen[bytes] | None = None) -> None:
        """Poll /-/ready until 200; raise with the log's tail if it exits or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise PrometheusError(f"prometheus exited early:\n{self.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200:
                    return
            time.sleep(0.2)
        raise PrometheusError(f"prometheus not ready in {timeout_s}s:\n{self.log_tail()}")

    def healthy(self) -> bool:
        """The server answers /-/ready with 200."""
        try:
            return httpx.get(f"{self.url}/-/ready", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self, timeout_s: float = 20.0) -> bool:
        """SIGTERM and wait (SIGKILL after the timeout); False if it was not running."""
        pid = self.pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while self.pid() is not None:
            if time.monotonic() > deadline:
                os.kill(pid, signal.SIGKILL)
                deadline = time.monotonic() + 5
            time.sleep(0.1)
        if self.process is not None:
            self.process.wait(timeout=5)  # our own child: reap it, or it stays a zombie
        self.process = None
        self.pid_path.unlink(missing_ok=True)
        return True

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the server's log."""
        if not self.log_path.exists():
            return "(no log)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


def local() -> PrometheusProcess:
    """The local stack's server: $RUN_DIR/prometheus on $PROMETHEUS_PORT."""
    return PrometheusProcess(runtime.RUN_DIR / "prometheus", port())


def start_local() -> PrometheusProcess:
    """Start (or reload) the local stack's server scraping the four services."""
    server = local()
    server.start(scrape_config(local_targets()))
    return server


def up_local(console: Console) -> str:
    """`deskpemilu up`: start the local server unless PROMETHEUS=0; the line `up` prints."""
    if not enabled():
        return ""
    try:
        server = start_local()
    except PrometheusError as exc:
        console.print(f"[red]prometheus: {exc}")
        raise typer.Exit(1) from exc
    console.print(f"prometheus: ready ({server.url})")
    return f"\n  prometheus            {server.url}  (rules: deploy/prometheus/rules/)"


def down_local(console: Console) -> None:
    """`deskpemilu down`: stop the local server if it runs."""
    if local().stop():
        console.print("prometheus: stopped")


def status_line() -> str:
    """`deskpemilu status`: the local server's state and address."""
    server = local()
    if server.pid() is not None:
        state = "ready" if server.healthy() else "not ready"
    else:
        state = "stopped" if enabled() else "off (PROMETHEUS=0)"
    return f"{'prometheus':<11} {state:<5} {server.url}"


@app.command("start")
def start_command() -> None:
    """Start (or reload) the local Prometheus scraping the four services."""
    up_local(Console(stderr=True))


@app.command("stop")
def stop_command() -> None:
    """Stop the local Prometheus."""
    down_local(Console(stderr=True))
