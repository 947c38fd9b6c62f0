"""One Kafka version: the broker jars, docker-compose and testcontainers agree."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.conftest import KAFKA_IMAGE

ROOT = Path(__file__).resolve().parents[2]
POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


def _pom_kafka_version() -> str:
    root = ET.parse(ROOT / "deploy" / "kafka" / "pom.xml").getroot()
    node = root.find("m:properties/m:kafka.version", POM_NS)
    assert node is not None and node.text, "deploy/kafka/pom.xml has no kafka.version property"
    return node.text.strip()


def test_docker_compose_runs_the_kafka_version_the_jars_pin() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    images = re.findall(r"image:\s*apache/kafka:(\S+)", compose)
    assert images == [_pom_kafka_version()]


def test_testcontainers_runs_the_kafka_version_the_jars_pin() -> None:
    assert f"apache/kafka:{_pom_kafka_version()}" == KAFKA_IMAGE
