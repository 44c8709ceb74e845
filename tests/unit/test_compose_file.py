"""docker-compose.elk.yml offers the local stack's services on the same ports and versions."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from shipper.stack import StackSettings

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.elk.yml"


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _host_ports(service: dict[str, Any]) -> set[int]:
    return {int(str(mapping).split(":")[-2]) for mapping in service.get("ports", [])}


def test_compose_has_the_stack_services_on_the_local_stack_ports() -> None:
    services = _compose()["services"]
    defaults = StackSettings()
    assert _host_ports(services["kafka"]) == {defaults.kafka_port}
    assert _host_ports(services["elasticsearch"]) == {defaults.elasticsearch_port}
    assert _host_ports(services["prometheus"]) == {defaults.prometheus_port}
    assert _host_ports(services["alertmanager"]) == {defaults.alertmanager_port}
    assert {"kibana", "grafana"} <= services.keys()


def test_compose_elasticsearch_matches_the_local_version_and_settings() -> None:
    es = _compose()["services"]["elasticsearch"]
    assert es["image"].endswith(f":{StackSettings().elasticsearch_version}")
    assert es["environment"]["xpack.security.enabled"] == "false"
    assert es["environment"]["discovery.type"] == "single-node"


def test_compose_mounts_exist() -> None:
    for service in _compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (COMPOSE.parent / source).exists(), source


def test_docker_compose_config_accepts_the_file() -> None:
    docker = shutil.which("docker")
    probe = subprocess.run([docker, "compose", "version"], capture_output=True) if docker else None
    if probe is None or probe.returncode != 0:
        pytest.skip("could not check: `docker compose` is not available on this machine")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE), "config", "--quiet"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
