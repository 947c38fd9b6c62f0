"""Prometheus rules: promtool's unit tests pass, every alert is tested, metric names are real."""

from __future__ import annotations

import importlib
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from prometheus_client import REGISTRY

from deskpemilu import prometheus, runtime

PROM_DIR = prometheus.PROMETHEUS_DIR
TEST_FILES = sorted((PROM_DIR / "tests").glob("*.yml"))
# Modules that define the metrics the rules use (importing registers them).
METRIC_MODULES = (
    "shared.metrics",
    "services.intake.metrics",
    "services.validator.metrics",
    "services.aggregator.metrics",
    "services.api.metrics",
    "services.api.live",
    "services.api.cache",
)


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail(
            "promtool not found: install Debian's prometheus with `deploy/stack.sh install`"
        )
    return path


def run_promtool(*args: str) -> str:
    result = subprocess.run(
        [promtool(), *args], capture_output=True, text=True, check=False, cwd=PROM_DIR
    )
    assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"
    return result.stdout


def rules() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    for path in prometheus.rule_files():
        for group in yaml.safe_load(path.read_text())["groups"]:
            found.extend(group["rules"])
    return found


def test_rule_files_are_valid() -> None:
    assert prometheus.rule_files(), "no rule file under deploy/prometheus/rules/"
    out = run_promtool("check", "rules", *map(str, prometheus.rule_files()))
    assert "SUCCESS" in out


@pytest.mark.parametrize("test_file", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests_pass(test_file: Path) -> None:
    out = run_promtool("test", "rules", str(test_file))
    assert "SUCCESS" in out


def test_every_alert_is_tested_firing_and_quiet() -> None:
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in TEST_FILES:
        spec = yaml.safe_load(path.read_text())
        assert spec["rule_files"] == ["../rules/deskpemilu.yml"], path
        for case in spec["tests"]:
            for check in case.get("alert_rule_test", []):
                (firing if check["exp_alerts"] else quiet).add(check["alertname"])
    alerts = {r["alert"] for r in rules() if "alert" in r}
    assert len(alerts) >= 10
    assert alerts - firing == set(), "alerts never tested firing"
    assert alerts - quiet == set(), "alerts never tested staying quiet"
    assert (firing | quiet) - alerts == set(), "tests of alerts that do not exist"


def test_every_alert_has_a_runbook_entry() -> None:
    oncall = (runtime.REPO_ROOT / "docs" / "ONCALL.md").read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in oncall.splitlines()
        if line.startswith("### ")
    }
    for rule in rules():
        if "alert" in rule:
            runbook = rule["annotations"]["runbook"]
            assert runbook == f"docs/ONCALL.md#{rule['alert'].lower()}"
            assert runbook.split("#")[1] in anchors, rule["alert"]


def defined_metric_names() -> set[str]:
    for module in METRIC_MODULES:
        importlib.import_module(module)
    names: set[str] = {"up"}
    for family in REGISTRY.collect():
        if family.type == "counter":
            names.add(family.name + "_total")
        elif family.type == "histogram":
            names.update(family.name + s for s in ("_bucket", "_count", "_sum"))
        else:
            names.add(family.name)
    return names


def test_rules_use_only_metrics_the_services_define() -> None:
    defined = defined_metric_names()
    recorded = {r["record"] for r in rules() if "record" in r}
    used: set[str] = set()
    for rule in rules():
        used.update(
            re.findall(r"\b(deskpemilu[_:][a-z0-9_:]+|up)\b(?=\s*[{\[)=<>!]|\s*$)", rule["expr"])
        )
    assert used, "no metric found in the expressions"
    unknown = {name for name in used if name not in defined and name not in recorded}
    assert unknown == set(), f"rules name metrics no service exports: {sorted(unknown)}"


def test_checked_in_config_matches_the_rendered_one() -> None:
    run_promtool("check", "config", "prometheus.yml")
    checked_in = yaml.safe_load((PROM_DIR / "prometheus.yml").read_text())
    defaults = {name: f"127.0.0.1:{port}" for name, port in runtime.SERVICE_PORTS.items()}
    rendered = prometheus.scrape_config(defaults)
    assert checked_in["scrape_configs"] == rendered["scrape_configs"]
    assert checked_in["global"] == rendered["global"]
    compose = yaml.safe_load((PROM_DIR / "prometheus.compose.yml").read_text())
    targets = {
        c["labels"]["app"]: c["targets"][0] for c in compose["scrape_configs"][0]["static_configs"]
    }
    # docker-compose.yml runs every service; each is scraped at its own port.
    assert targets and all(t == f"{n}:{runtime.SERVICE_PORTS[n]}" for n, t in targets.items())
    services = yaml.safe_load((runtime.REPO_ROOT / "docker-compose.yml").read_text())["services"]
    assert set(targets) == set(runtime.SERVICE_PORTS) == set(services) & set(runtime.SERVICE_PORTS)
    for name in targets:
        assert services[name]["command"] == ["python", "-m", f"services.{name}"]


def test_rendered_config_passes_promtool(tmp_path: Path) -> None:
    server = prometheus.PrometheusProcess(tmp_path, port=1)
    server.write_config(prometheus.scrape_config({"api": "127.0.0.1:18000"}))
    out = run_promtool("check", "config", str(server.config_path))
    assert "1 rule files found" in out
