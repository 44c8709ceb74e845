"""The one config model of `loadtest demo`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["DemoConfig"]


class DemoConfig(BaseModel):
    """Where the stack is and where the demo's app, shipper and indexer listen."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str = Field("error-spike", description="Scenario `loadtest run` drives.")
    state_dir: Path = Field(
        Path(".stack"), description="The local stack's state dir; the demo lives under demo/."
    )
    kafka: str = Field("127.0.0.1:9092", description="Kafka bootstrap address.")
    elasticsearch: str = Field("http://127.0.0.1:9200", description="Elasticsearch URL.")
    prometheus: str = Field(
        "http://127.0.0.1:9090", description="The stack's Prometheus (shown in the summary)."
    )
    alertmanager: str = Field(
        "http://127.0.0.1:9093", description="The stack's Alertmanager (shown in the summary)."
    )
    kibana: str | None = Field(None, description="Kibana URL: import the saved objects there.")
    app_port: int = Field(8080, description="Port of the demo app.")
    shipper_port: int = Field(
        9108, description="Metrics port of the shipper (the stack's Prometheus scrapes it)."
    )
    indexer_port: int = Field(
        9109, description="Metrics port of the indexer (the stack's Prometheus scrapes it)."
    )
    replace: bool = Field(
        False,
        description="Stop a demo that is still running (another `loadtest demo`) and start "
        "anew; without it, that is an error. A finished demo's app, shipper and indexer are "
        "always replaced.",
    )
    app_rotate_bytes: int = Field(
        1024 * 1024,
        gt=0,
        description="The demo app rotates its log past this size: a run writes about 4 MB, so "
        "it rotates a few times while being shipped (rotated files are kept, none deleted).",
    )
    drain_timeout_s: float = Field(
        120.0, gt=0, description="How long to wait for Kafka and Elasticsearch to hold every line."
    )

    @property
    def demo_dir(self) -> Path:
        """Logs, configs, state and reports of the demo runs."""
        return self.state_dir / "demo"

    @property
    def pid_file(self) -> Path:
        """Records the `loadtest demo` under way (beside its processes' pid files)."""
        return self.state_dir / "run" / "demo.pid"
