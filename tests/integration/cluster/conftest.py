"""The cluster the topology tests run against: three Kafka nodes and three Elasticsearch nodes,
started by `shipper stack up --kafka-brokers 3 --es-nodes 3` beside the default stack.

The cluster is started once per session (in its own state dir and ports, so the single-node
stack keeps running) and stopped and purged at the end; one found running is left running. Under CI=true a cluster that does not
come up fails the tests; on a laptop it skips them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shipper.process import Supervised
from shipper.stack import StackSettings, chosen
from shipper.stack.services import Service

ROOT = Path(__file__).resolve().parents[3]
CLUSTER_SETTINGS = {
    "state_dir": str(ROOT / ".stack-cluster"),
    "kafka_brokers": "3",
    "es_nodes": "3",
    "kafka_port": "19092",
    "kafka_controller_port": "29193",
    "elasticsearch_port": "19200",
    "elasticsearch_transport_port": "29600",
}
"""Ports clear of the default stack's: brokers 19092/19192/19292, Elasticsearch 19200-19202."""


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


@dataclass(frozen=True)
class Cluster:
    """The running cluster, and its nodes by name (``kafka-2``, ``elasticsearch-3``)."""

    settings: StackSettings

    @property
    def kafka(self) -> str:
        """Every broker, as a bootstrap list."""
        return ",".join(s.url for s in chosen(self.settings, ["kafka"]))

    @property
    def elasticsearch(self) -> list[str]:
        """Every node's HTTP address."""
        return [s.url for s in chosen(self.settings, ["elasticsearch"])]

    def node(self, name: str) -> Service:
        (service,) = chosen(self.settings, [name])
        return service

    def kill9(self, name: str) -> None:
        """SIGKILL the node's process group (the node and anything it runs), as a crash would."""
        process = Supervised.from_pid_file(self.node(name).pid_file)
        assert process is not None, f"{name} is not running"
        os.killpg(os.getpgid(process.pid), signal.SIGKILL)
        process.wait(30)

    def stack(self, command: str, *services: str) -> None:
        """`shipper stack COMMAND SERVICES...` on the cluster, in a subprocess."""
        options = [f"--{k.replace('_', '-')}={v}" for k, v in CLUSTER_SETTINGS.items()]
        result = subprocess.run(
            [sys.executable, "-m", "shipper", "stack", command, *services, *options],
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"stack {command}: {result.stdout}{result.stderr}"


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """The three-broker, three-node cluster, up for the session; purged afterwards."""
    settings = StackSettings(**CLUSTER_SETTINGS)
    running = Cluster(settings)
    # Any node running means another session (or a person) owns the cluster and may be
    # restarting a node of it right now: bring the missing ones up, never purge it at the end.
    found_running = any(
        Supervised.from_pid_file(s.pid_file) is not None
        for s in chosen(settings, ["kafka", "elasticsearch"])
    )
    try:
        running.stack("up", "kafka", "elasticsearch")
    except AssertionError as exc:
        if _in_ci():
            pytest.fail(f"the cluster did not come up: {exc}", pytrace=False)
        pytest.skip(f"the cluster did not come up: {exc}")
    yield running
    if not found_running:
        running.stack("down", "kafka", "elasticsearch", "--purge")
