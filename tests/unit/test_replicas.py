"""Several instances of a service in the local stack: names, ports, DESKPEMILU_REPLICAS."""

from __future__ import annotations

import pytest

from deskpemilu import prometheus, runtime
from deskpemilu.chaos import ChaosReport
from deskpemilu.supervisor import SERVICES, instance_environment


def test_second_instances_are_named_and_ported_after_their_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(runtime.REPLICAS_VAR, "intake=2, validator=2,aggregator=3")
    monkeypatch.delenv("INTAKE_PORT", raising=False)
    monkeypatch.setenv("AGGREGATOR_PORT", "18003")
    instances = runtime.service_instances(SERVICES)
    assert instances == (
        "validator", "validator-2", "aggregator", "aggregator-2", "aggregator-3",
        "intake", "intake-2", "api", "screener",
    )  # fmt: skip
    assert runtime.instance_port("intake") == 8001
    assert runtime.instance_port("intake-2") == 8011
    assert runtime.instance_port("aggregator-3") == 18023
    assert runtime.split_instance("aggregator-3") == ("aggregator", 3)
    assert runtime.split_instance("api") == ("api", 1)
    # Prometheus scrapes every instance, labelled with its service.
    config = prometheus.scrape_config(prometheus.local_targets())
    labels = [c["labels"]["app"] for c in config["scrape_configs"][0]["static_configs"]]
    assert sorted(labels) == sorted(runtime.split_instance(i)[0] for i in instances)


def test_one_instance_each_without_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(runtime.REPLICAS_VAR, raising=False)
    assert runtime.service_instances(SERVICES) == SERVICES


@pytest.mark.parametrize("spec", ["intake", "intake=0", "intake=x", "kafka=2", "intake=10"])
def test_a_bad_replicas_setting_is_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="DESKPEMILU_REPLICAS"):
        runtime.parse_replicas(spec, SERVICES)


def test_kills_are_summed_per_service() -> None:
    report = ChaosReport()
    report.kills.update({"intake": 2, "intake-2": 1, "api": 1})
    assert report.kills_by_service == {"intake": 3, "api": 1}
    assert "by service: api 1, intake 3" in report.summary()


def test_each_instance_gets_its_own_port_and_group_instance_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("AGGREGATOR_PORT", raising=False)
    base = {"AGGREGATOR_INSTANCE_ID": "agg", "PATH": "/usr/bin"}
    first = instance_environment("aggregator", base)
    second = instance_environment("aggregator-2", base)
    assert (first["AGGREGATOR_PORT"], second["AGGREGATOR_PORT"]) == ("8003", "8013")
    assert (first["AGGREGATOR_INSTANCE_ID"], second["AGGREGATOR_INSTANCE_ID"]) == ("agg", "agg-2")
    assert "VALIDATOR_INSTANCE_ID" not in instance_environment("validator-2", base)
    assert second["PATH"] == "/usr/bin"
