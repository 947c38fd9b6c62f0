"""The Kubernetes manifests render with `kubectl kustomize` and fit the services they run."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped,unused-ignore]
from pydantic_settings import BaseSettings

from deskpemilu.runtime import SERVICE_PORTS
from services.aggregator.settings import AggregatorSettings
from services.api.settings import ApiSettings
from services.intake.settings import IntakeSettings
from services.screener.settings import ScreenerSettings
from services.validator.settings import ValidatorSettings

K8S = Path(__file__).resolve().parents[2] / "deploy" / "k8s"
TARGETS = ("base", "overlays/province", "overlays/national")
SETTINGS: tuple[type[BaseSettings], ...] = (
    IntakeSettings,
    ValidatorSettings,
    AggregatorSettings,
    ApiSettings,
    ScreenerSettings,
)


def render(target: str) -> list[dict[str, Any]]:
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl not found (needed to render deploy/k8s with kustomize)")
    result = subprocess.run(
        [kubectl, "kustomize", str(K8S / target)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"kubectl kustomize {target}:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def known_variables() -> set[str]:
    names: set[str] = {"RUN_DIR"}
    for settings in SETTINGS:
        for name, info in settings.model_fields.items():
            alias = info.validation_alias
            names.add(alias if isinstance(alias, str) else name.upper())
    return names


@pytest.mark.parametrize("target", TARGETS)
def test_manifests_render_and_run_every_service_with_probes_and_resources(target: str) -> None:
    docs = render(target)
    workloads = by_kind(docs, "Deployment") | by_kind(docs, "StatefulSet")
    assert set(workloads) == set(SERVICE_PORTS)
    services = by_kind(docs, "Service")
    for name, workload in workloads.items():
        pod = workload["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert container["command"] == ["python", "-m", f"services.{name}"]
        assert container["ports"] == [{"name": "http", "containerPort": SERVICE_PORTS[name]}]
        for probe in ("startupProbe", "readinessProbe"):
            assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}, name
        assert pod["metadata"]["annotations"]["prometheus.io/port"] == str(SERVICE_PORTS[name])
        requests = container["resources"]["requests"]
        assert requests["cpu"] and requests["memory"], name
        assert container["resources"]["limits"]["memory"], name
        env_from = {next(iter(e.values()))["name"] for e in container["envFrom"]}
        assert env_from >= {"deskpemilu-secrets"}, name
        assert any(n.startswith("deskpemilu-config") for n in env_from), name
        port = services[name]["spec"]["ports"][0]
        assert (port["port"], port["targetPort"]) == (SERVICE_PORTS[name], "http")
    assert workloads["screener"]["spec"]["replicas"] == 1
    for name in ("validator", "aggregator"):
        env = workloads[name]["spec"]["template"]["spec"]["containers"][0]["env"]
        assert env[0]["name"] == f"{name.upper()}_INSTANCE_ID"
    (job,) = by_kind(docs, "Job").values()
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["deskpemilu", "migrate"]


@pytest.mark.parametrize("target", TARGETS)
def test_config_names_only_variables_the_services_read(target: str) -> None:
    (config,) = by_kind(render(target), "ConfigMap").values()
    unknown = set(config["data"]) - known_variables()
    assert unknown == set(), unknown
    assert int(config["data"]["TOPIC_REPLICATION_FACTOR"]) == 3


@pytest.mark.parametrize("target", ["overlays/province", "overlays/national"])
def test_overlays_autoscale_consumers_on_lag_within_the_partitions(target: str) -> None:
    docs = render(target)
    assert {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"} == {
        f"deskpemilu-{target.split('/')[1]}"
    }
    (config,) = by_kind(docs, "ConfigMap").values()
    partitions = int(config["data"]["TOPIC_PARTITIONS"])
    scalers = by_kind(docs, "HorizontalPodAutoscaler")
    assert set(scalers) == set(SERVICE_PORTS) - {"screener"}  # the screener runs once
    for name in ("validator", "aggregator"):
        spec = scalers[name]["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "StatefulSet",
            "name": name,
        }
        (metric,) = spec["metrics"]
        assert metric["external"]["metric"]["name"] == "deskpemilu_consumer_lag_records"
        assert metric["external"]["metric"]["selector"] == {"matchLabels": {"service": name}}
        assert spec["minReplicas"] <= spec["maxReplicas"] <= partitions
    for name in ("intake", "api"):
        assert scalers[name]["spec"]["metrics"][0]["resource"]["name"] == "cpu"
