"""The one config model of `loadtest run`."""

from __future__ import annotations

from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shipper.resources import ALERT_RULES, ALERTMANAGER_CONFIG

__all__ = ["RunConfig"]


class RunConfig(BaseModel):
    """Which scenario, how much load, and which parts to start or to use as given."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    scenario: str = Field(description="Scenario name (`loadtest scenarios` lists them).")
    duration_s: float | None = Field(
        None, gt=0, description="Length of the load; the scenario's phases are scaled to it."
    )
    users: int | None = Field(None, gt=0, description="Peak simulated users.")
    spawn_rate: float | None = Field(None, gt=0, description="Users started per second.")
    host: str | None = Field(
        None, description="URL of a running demo app to drive; unset = start one."
    )
    app_log: Path | None = Field(
        None,
        description="Log file of the app given by --host, for the shipper the harness starts "
        "(with --shipper, that shipper's own config says).",
    )
    shipper: str | None = Field(
        None, description="HOST:PORT of a running shipper's /metrics; unset = start one."
    )
    indexer: str | None = Field(
        None, description="HOST:PORT of a running indexer's /metrics; unset = start one."
    )
    prometheus: str | None = Field(
        None,
        description="URL of a Prometheus that already evaluates the rules and scrapes the "
        "shipper and indexer; unset = start a private one with the rules.",
    )
    alertmanager: str | None = Field(
        None,
        description="URL of the Alertmanager that Prometheus sends to; unset = start a private "
        "one that delivers to the harness's webhook receiver.",
    )
    kafka: str = Field("127.0.0.1:9092", description="Kafka for a shipper and indexer it starts.")
    elasticsearch: str = Field(
        "http://127.0.0.1:9200", description="Elasticsearch where request lines are looked up."
    )
    client_config: Path | None = Field(
        None,
        description="An indexer config file (such as the indexer.yml `shipper stack up --secure` "
        "writes) whose kafka TLS/SASL settings and elasticsearch credentials and CA the run uses, "
        "in the shipper and indexer it starts and in its own checks; addresses stay --kafka and "
        "--elasticsearch.",
    )
    index: str = Field("app-logs-*", description="Indices searched for the request lines.")
    node_exporter: str = Field(
        "127.0.0.1:9100",
        description="HOST:PORT of the node exporter watching this host (the local stack's), "
        "scraped as job `node` in the scenarios about the host (disk-fill, cpu-burn).",
    )
    profile: Literal["fast", "real"] = Field(
        "fast",
        description="`fast`: a private Prometheus evaluates the rules with windows and `for:` "
        "divided by --fast-factor (thresholds unchanged); `real`: the rules as written.",
    )
    fast_factor: float = Field(15.0, gt=0, description="Divisor of windows and `for:` in `fast`.")
    rules: Path | None = Field(
        None,
        description="The alert rules file; unset = the rules packaged with logferry (the "
        "repository's dashboards/prometheus/alerts.yml).",
    )
    alertmanager_config: Path | None = Field(
        None,
        description="The Alertmanager config whose routing a private Alertmanager uses; unset = "
        "the one packaged with logferry (the repository's dashboards/alertmanager/alertmanager.yml).",
    )
    report: Path | None = Field(
        None, description="Report directory; unset = loadtest-reports/<scenario>-<time>."
    )
    work_dir: Path = Field(
        Path(".loadtest"), description="Logs, configs and state of the processes it starts."
    )
    expect_firing: tuple[str, ...] = Field(
        (), description="More alerts that must fire, on top of the scenario's."
    )
    expect_quiet: tuple[str, ...] = Field(
        (), description="More alerts that must stay quiet, on top of the scenario's."
    )
    drain_timeout_s: float = Field(
        120.0, gt=0, description="How long to wait for the last request lines to be searchable."
    )
    delivery_grace_s: float = Field(
        20.0, ge=0, description="After the load, how long to wait for fired alerts to be delivered."
    )

    @property
    def rules_file(self) -> Traversable:
        """The alert rules to evaluate."""
        return self.rules or ALERT_RULES

    @property
    def alertmanager_file(self) -> Traversable:
        """The Alertmanager config to route with."""
        return self.alertmanager_config or ALERTMANAGER_CONFIG

    @field_validator("scenario")
    @classmethod
    def _known_scenario(cls, value: str) -> str:
        from loadtest.scenarios.catalog import SCENARIOS

        if value not in SCENARIOS:
            raise ValueError(f"no scenario {value!r}; known: {', '.join(SCENARIOS)}")
        return value

    @field_validator("duration_s", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> Any:
        """`90`, `90s`, `2m`, `1m30s` → seconds (a flag or an environment variable)."""
        if not isinstance(value, str):
            return value
        from loadtest.harness.rules import parse_duration

        text = value.strip()
        try:
            return float(text) if text.replace(".", "", 1).isdigit() else parse_duration(text)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a duration (e.g. 90s, 2m)") from exc

    @model_validator(mode="after")
    def _given_parts_fit_together(self) -> RunConfig:
        # What the harness starts must be wired to what it is given; these it cannot guess.
        if self.host and not self.shipper and not self.app_log:
            raise ValueError("--host needs --app-log (the file its shipper tails) or --shipper")
        if self.shipper and not self.indexer:
            raise ValueError("--shipper needs --indexer: the harness cannot know its topic")
        if self.prometheus and not self.alertmanager:
            raise ValueError("--prometheus needs --alertmanager: the one it sends alerts to")
        return self
