"""The one config model of the local stack: where it lives, which versions, which ports."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["StackSettings"]


class StackSettings(BaseModel):
    """Settings of `shipper stack`; every field is also a CLI flag and a LOGFERRY_STACK_* env var."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    state_dir: Path = Field(
        Path(".stack"), description="Data, logs, configs and pid files of the running services."
    )
    cache_dir: Path = Field(
        Path.home() / ".cache" / "logferry",
        description="Downloaded and unpacked distributions, shared by every state dir.",
    )
    host: str = Field("127.0.0.1", description="Address every service binds to.")
    kafka_port: int = Field(9092, description="Kafka broker (PLAINTEXT listener).")
    kafka_controller_port: int = Field(29093, description="Kafka KRaft controller listener.")
    elasticsearch_port: int = Field(9200, description="Elasticsearch HTTP.")
    elasticsearch_transport_port: int = Field(
        29300, description="Elasticsearch transport (node-to-node)."
    )
    prometheus_port: int = Field(9090, description="Prometheus HTTP.")
    alertmanager_port: int = Field(9093, description="Alertmanager HTTP.")
    node_exporter_port: int = Field(
        9100, description="Node exporter HTTP (host CPU, memory and filesystem metrics)."
    )
    kafka_version: str = Field(
        "4.4.0", description="Apache Kafka version, resolved from Maven Central."
    )
    elasticsearch_version: str = Field(
        "8.19.21", description="Elasticsearch integ-test-zip version, resolved from Maven Central."
    )
    kafka_brokers: int = Field(
        1,
        ge=1,
        le=9,
        description="Kafka nodes, each broker and KRaft controller (a quorum of all of them). "
        "Broker n listens on kafka_port + 100*(n-1), its controller on kafka_controller_port + n-1.",
    )
    es_nodes: int = Field(
        1,
        ge=1,
        le=9,
        description="Elasticsearch nodes of one cluster, each master-eligible and data. Node n "
        "listens on elasticsearch_port + n-1, its transport on elasticsearch_transport_port + n-1.",
    )
    secure: bool = Field(
        False,
        description="Kafka on a SASL_SSL listener (SCRAM-SHA-512) and Elasticsearch with x-pack "
        "security (TLS on HTTP and transport, a user and an API key); a throwaway CA, the "
        "credentials (mode 0600) and client configs are written under <state_dir>/secure.",
    )
    elasticsearch_heap: str | None = Field(
        None,
        description="Heap (-Xms/-Xmx) of each Elasticsearch node; unset = 1g for one node, "
        "512m each for several.",
    )
    kafka_heap: str | None = Field(
        None,
        description="Heap (-Xms/-Xmx) of each Kafka node; unset = 512m for one node, 384m each "
        "for several.",
    )
    alert_rules: Path | None = Field(
        None,
        description="Alert rules file Prometheus loads; unset = the rules packaged with logferry "
        "(the repository's dashboards/prometheus/alerts.yml).",
    )
    start_timeout_s: float = Field(
        180.0, description="How long `up` waits for each service to be healthy."
    )
    min_free_disk_mb: int = Field(
        2048, description="Refuse to start with less free disk than this."
    )

    @property
    def elasticsearch_node_heap(self) -> str:
        return self.elasticsearch_heap or ("1g" if self.es_nodes == 1 else "512m")

    @property
    def kafka_node_heap(self) -> str:
        return self.kafka_heap or ("512m" if self.kafka_brokers == 1 else "384m")

    @property
    def run_dir(self) -> Path:
        """Pid files of the processes `up` started."""
        return self.state_dir / "run"

    @property
    def log_dir(self) -> Path:
        """One log file per service."""
        return self.state_dir / "logs"

    def service_dir(self, name: str) -> Path:
        """Data and config of one service."""
        return self.state_dir / name
