"""`shipper run`'s one config model, and how it is loaded: YAML, then SHIPPER_* env vars, then flags."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)

from shipper import settings
from shipper.cores import usable_cores
from shipper.errors import ConfigError
from shipper.masking import MASK, mask_urls
from shipper.sinks import KafkaSinkConfig, build_sink
from shipper.sources import FileSourceConfig
from shipper.transforms import build_transforms

__all__ = [
    "ENV_PREFIX",
    "HostPort",
    "OutputConfig",
    "ServiceConfig",
    "ShipperConfig",
    "env_names",
    "load_config",
    "load_model",
    "masked",
]


def _host_port(value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError("must be HOST:PORT")
    return value


HostPort = Annotated[str, AfterValidator(_host_port)]
"""A listen address written ``HOST:PORT`` (the /metrics endpoints of the shipper and indexer)."""

ENV_PREFIX = "SHIPPER_"
M = TypeVar("M", bound=BaseModel)


class ServiceConfig(BaseModel):
    """Who is logging: becomes `service.*` of every event. The operator's setting wins over a
    `service` key in the line (which stays under the app namespace), so a line cannot route
    itself into another service's indices."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("app", description="service.name, and part of the index name.")
    environment: str | None = Field(None, description="service.environment (e.g. production).")


class OutputConfig(BaseModel):
    """Where events go."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(
        "kafka://127.0.0.1:9092/app-logs",
        description="kafka://HOST:PORT[,HOST:PORT]/TOPIC, file:///path/out.ndjson or console.",
    )
    kafka: KafkaSinkConfig = Field(
        default_factory=KafkaSinkConfig, description="Kafka producer settings."
    )
    max_event_bytes: int = Field(
        4 * 1024 * 1024,
        ge=64 * 1024,
        description="A larger serialised event has its message cut to fit and is tagged _truncated.",
    )

    @model_validator(mode="after")
    def _known_scheme(self) -> OutputConfig:
        try:
            build_sink(self.url, KafkaSinkConfig())
        except ConfigError as exc:  # its message names the key ("output: ..."): one problem
            raise ValueError(str(exc).removeprefix("output: ")) from exc
        return self


def _workers_for_the_cores(value: Any) -> Any:
    """`auto` -> one worker per usable core beyond the first (the main process encodes too)."""
    if isinstance(value, str) and not value.strip().isdigit():
        if value.strip().lower() != "auto":
            raise ValueError(f"{value!r} is neither a number of processes (0-64) nor auto")
        return min(64, usable_cores() - 1)
    return value


class ShipperConfig(BaseModel):
    """Everything `shipper run` needs; every field has a default, so no config at all works."""

    model_config = ConfigDict(extra="forbid")

    service: ServiceConfig = Field(
        default_factory=ServiceConfig, description="The application logging."
    )
    input: FileSourceConfig = Field(default_factory=FileSourceConfig, description="Files to tail.")
    output: OutputConfig = Field(default_factory=OutputConfig, description="Where events go.")
    pipeline: list[dict[str, Any]] | None = Field(
        None,
        description="Transform stages in order; none = the defaults (right for python-json-logger).",
    )
    state_dir: Path = Field(Path(".shipper-state"), description="Where checkpoints are kept.")
    metrics_addr: HostPort = Field(
        "127.0.0.1:9108", description="HOST:PORT of /metrics, /healthz, /readyz."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Own log level."
    )
    queue_batches: int = Field(
        4,
        ge=1,
        description="Batches read ahead of the output; bounds memory with input.batch_max_bytes.",
    )
    max_in_flight_batches: int = Field(
        4, ge=1, description="Batches sent and not yet acknowledged."
    )
    transform_workers: Annotated[int, BeforeValidator(_workers_for_the_cores)] = Field(
        0,
        ge=0,
        le=64,
        description="Processes that run the transforms besides the main process; 0 = in the main "
        "process only (one core in all, file order per key). With the Kafka output each worker "
        "also publishes what it encodes; while every worker is busy, the main process encodes "
        "and publishes the next batch itself, so N workers use up to N + 1 cores. `auto`: the "
        "cores this process may use (CPU affinity, capped by the container's CPU limit) minus "
        "one. A key's events keep their order within a batch.",
    )
    checkpoint_interval_s: float = Field(
        1.0, gt=0, description="How often a changed checkpoint is written."
    )
    checkpoint_unready_after_s: float = Field(
        60.0,
        gt=0,
        description="How long writing the checkpoint may keep failing (state dir full or "
        "read-only) before /readyz reports not ready; each failure is counted at once.",
    )
    drain_timeout_s: float = Field(
        15.0, ge=0, description="On SIGTERM, how long to wait for in-flight events."
    )
    retry_backoff_max_s: float = Field(
        10.0, gt=0, description="Longest wait between publish retries."
    )


def env_names(
    model: type[BaseModel] | None = None, env_prefix: str = ENV_PREFIX
) -> dict[str, tuple[str, ...]]:
    """Every SHIPPER_* (or *env_prefix*) variable and the config key it sets (the pipeline is set in YAML only)."""
    return settings.env_names(model or ShipperConfig, env_prefix)


def load_model(
    model: type[M],
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    env_prefix: str = ENV_PREFIX,
) -> M:
    """*model* from a YAML file (with ${VAR} interpolation), then *env_prefix* env vars, then *overrides* (flags)."""
    return settings.load_model(model, path, overrides, environ, env_prefix)


def load_config(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ShipperConfig:
    """YAML file (with ${VAR} interpolation), then SHIPPER_* env vars, then *overrides* (flags)."""
    config = load_model(ShipperConfig, path, overrides, environ, ENV_PREFIX)
    _validate_pipeline(config)
    return config


def _validate_pipeline(config: ShipperConfig) -> None:
    """Build the configured chain once: the pipeline names the failing stage itself."""
    build_transforms(
        config.pipeline,
        service_name=config.service.name,
        service_environment=config.service.environment,
    )


def masked(config: BaseModel) -> dict[str, Any]:
    """The effective config as plain data, secrets shown as ********, and so are the
    credentials of any URL in it."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return MASK
        if isinstance(value, str):
            return mask_urls(value)
        if isinstance(value, BaseModel):
            return {name: walk(getattr(value, name)) for name in type(value).model_fields}
        if isinstance(value, dict):
            return {k: walk(v) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v) for v in value]
        if isinstance(value, Path):
            return str(value)
        return value

    result: dict[str, Any] = walk(config)
    return result
