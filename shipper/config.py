"""`shipper run`'s one config model, and how it is loaded: YAML, then SHIPPER_* env vars, then flags."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import orjson
import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from shipper.errors import ConfigError
from shipper.sinks import KafkaSinkConfig, build_sink
from shipper.sources import FileSourceConfig
from shipper.transforms import build_transforms

__all__ = [
    "ENV_PREFIX",
    "HostPort",
    "OutputConfig",
    "ServiceConfig",
    "ShipperConfig",
    "env_overrides",
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
_YAML_ONLY = frozenset({"pipeline"})
"""Top-level keys that have no environment variable (too structured for one)."""
M = TypeVar("M", bound=BaseModel)
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


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

    @field_validator("url")
    @classmethod
    def _known_scheme(cls, url: str) -> str:
        build_sink(url, KafkaSinkConfig())  # raises ConfigError naming what is wrong
        return url


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
    transform_workers: int = Field(
        0,
        ge=0,
        le=64,
        description="Processes that run the transforms; 0 = in the main process (one core in all, "
        "file order per key). With the Kafka output each worker also publishes what it encodes, "
        "so the main process only reads and checkpoints; a key's events keep their order within "
        "a batch. Each worker uses up to one more core.",
    )
    checkpoint_interval_s: float = Field(
        1.0, gt=0, description="How often a changed checkpoint is written."
    )
    drain_timeout_s: float = Field(
        15.0, ge=0, description="On SIGTERM, how long to wait for in-flight events."
    )
    retry_backoff_max_s: float = Field(
        10.0, gt=0, description="Longest wait between publish retries."
    )


def _leaf_fields(
    model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield from _leaf_fields(annotation, path)
        else:
            yield path, annotation


def env_names(
    model: type[BaseModel] | None = None, env_prefix: str = ENV_PREFIX
) -> dict[str, tuple[str, ...]]:
    """Every SHIPPER_* (or *env_prefix*) variable and the config key it sets (the pipeline is set in YAML only)."""
    return {
        env_prefix + "_".join(path).upper(): path
        for path, _ in _leaf_fields(model or ShipperConfig)
        if path[0] not in _YAML_ONLY
    }


def _parse_env_value(raw: str, annotation: Any) -> Any:
    if "list" in str(annotation):
        stripped = raw.strip()
        if stripped.startswith("["):
            return orjson.loads(stripped)
        return [item.strip() for item in stripped.split(",") if item.strip()]
    return raw  # pydantic coerces strings to numbers, booleans and paths


def env_overrides(
    environ: Mapping[str, str], model: type[BaseModel] | None = None, env_prefix: str = ENV_PREFIX
) -> dict[str, Any]:
    """The nested overrides that SHIPPER_* (or *env_prefix*) variables give."""
    model = model or ShipperConfig
    annotations = dict(_leaf_fields(model))
    result: dict[str, Any] = {}
    for name, path in env_names(model, env_prefix).items():
        if name in environ:
            _set(result, path, _parse_env_value(environ[name], annotations[path]))
    return result


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _interpolate(value: Any, environ: Mapping[str, str], where: str) -> Any:
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise ConfigError(
                f"{where}: ${{{name}}} is not set (give a default with ${{{name}:-value}})"
            )

        return _INTERPOLATION.sub(substitute, value)
    if isinstance(value, dict):
        return {
            k: _interpolate(v, environ, f"{where}.{k}" if where else str(k))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, environ, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"config file {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path}: not valid YAML: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path}: the top level must be a mapping of settings")
    return loaded


def load_model(
    model: type[M],
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    env_prefix: str = ENV_PREFIX,
) -> M:
    """*model* from a YAML file (with ${VAR} interpolation), then *env_prefix* env vars, then *overrides* (flags)."""
    environ = os.environ if environ is None else environ
    data = _interpolate(_read_yaml(path), environ, "") if path else {}
    data = _merge(data, env_overrides(environ, model, env_prefix))
    data = _merge(data, dict(overrides or {}))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        key = ".".join(str(part) for part in error["loc"]) or "config"
        message = error["msg"].removeprefix("Value error, ")
        raise ConfigError(f"{key}: {message}" + (f" (in {path})" if path else "")) from exc


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
    """The effective config as plain data, secrets shown as ********."""

    def walk(value: Any) -> Any:
        if isinstance(value, SecretStr):
            return "********"
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
