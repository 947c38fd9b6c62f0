"""`deskpemilu prometheus start|stop` and `status`: the local server as `deskpemilu up` runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import orjson
import pytest

from tests.procs import REPO_ROOT, free_port

pytestmark = pytest.mark.integration


def deskpemilu(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "deskpemilu.cli", *args],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_local_prometheus_starts_reloads_reports_and_stops() -> None:
    run_dir = Path(tempfile.mkdtemp(prefix="dp-prometheus-cli-"))
    port = free_port()
    env = {
        **os.environ,
        "RUN_DIR": str(run_dir),
        "PROMETHEUS_PORT": str(port),
        "API_PORT": "18500",
        "INTAKE_PORT": "18501",
        "VALIDATOR_PORT": "18502",
        "AGGREGATOR_PORT": "18503",
        "SCREENER_PORT": "18504",
    }
    home = run_dir / "prometheus"
    try:
        started = deskpemilu(env, "prometheus", "start")
        assert started.returncode == 0, started.stderr
        assert f"http://127.0.0.1:{port}" in started.stderr
        pid = int((home / "prometheus.pid").read_text())
        config = orjson.loads((home / "prometheus.yml").read_bytes())
        targets = {
            c["labels"]["app"]: c["targets"][0]
            for c in config["scrape_configs"][0]["static_configs"]
        }
        assert targets == {
            "api": "127.0.0.1:18500",
            "intake": "127.0.0.1:18501",
            "validator": "127.0.0.1:18502",
            "aggregator": "127.0.0.1:18503",
            "screener": "127.0.0.1:18504",
        }
        rules = httpx.get(f"http://127.0.0.1:{port}/api/v1/rules", timeout=5).json()
        assert sum(len(g["rules"]) for g in rules["data"]["groups"]) >= 20

        again = deskpemilu(env, "prometheus", "start")  # a running server is reloaded, not doubled
        assert again.returncode == 0, again.stderr
        assert int((home / "prometheus.pid").read_text()) == pid

        status = deskpemilu(env, "status")
        assert f"prometheus  ready http://127.0.0.1:{port}" in status.stderr

        stopped = deskpemilu(env, "prometheus", "stop")
        assert stopped.returncode == 0 and "prometheus: stopped" in stopped.stderr
        assert not (home / "prometheus.pid").exists()
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
        after = deskpemilu({**env, "PROMETHEUS": "0"}, "status")
        assert "prometheus  off (PROMETHEUS=0)" in after.stderr
    finally:
        deskpemilu(env, "prometheus", "stop")
        subprocess.run(["rm", "-rf", str(run_dir)], check=False)
