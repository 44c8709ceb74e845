"""The pipeline's configuration: an ordered list of stages, each a typed model chosen by ``type``.

YAML shape (the value of the shipper config's ``pipeline:`` key)::

    pipeline:
      - type: parse
      - type: timestamp
        timezone: Europe/Berlin
      - type: redact
        extra_patterns: {iban: '\\b[A-Z]{2}\\d{2}[A-Z0-9]{11,30}\\b'}
      - type: ecs
        mapping: {customer: user.id}
      - type: correlate
      - type: derive
      - type: drop
        levels: [debug]
      - type: route
        index_pattern: app-logs-{service}-{date}

No list (``None``) means :data:`DEFAULT_STAGES`. An explicit list is taken as written, except
that ``parse`` is added in front when missing and the default ``route`` when there is none.
Errors become :class:`~pipelines.errors.PipelineConfigError` naming the key:
``pipeline[2].window_s: …``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Final

import yaml
from pydantic import Field, TypeAdapter, ValidationError

from pipelines.correlate import CorrelateConfig
from pipelines.derive import DeriveConfig
from pipelines.drop import DropConfig
from pipelines.ecs import EcsConfig
from pipelines.errors import PipelineConfigError
from pipelines.parse import ParseConfig
from pipelines.redact import RedactConfig
from pipelines.route import RouteConfig
from pipelines.timestamps import TimestampConfig

__all__ = [
    "DEFAULT_STAGES",
    "STAGE_TYPES",
    "StageConfig",
    "load_stage_configs",
    "load_stage_configs_yaml",
]

StageConfig = Annotated[
    ParseConfig
    | TimestampConfig
    | EcsConfig
    | CorrelateConfig
    | RedactConfig
    | DeriveConfig
    | DropConfig
    | RouteConfig,
    Field(discriminator="type"),
]
"""One entry of the ``pipeline`` list; ``type`` picks the model."""

STAGE_TYPES: Final = (
    ParseConfig,
    TimestampConfig,
    EcsConfig,
    CorrelateConfig,
    RedactConfig,
    DeriveConfig,
    DropConfig,
    RouteConfig,
)

DEFAULT_STAGES: Final[tuple[StageConfig, ...]] = (
    ParseConfig(),
    TimestampConfig(),
    RedactConfig(),
    EcsConfig(),
    CorrelateConfig(),
    DeriveConfig(),
    RouteConfig(),
)
"""The chain used without configuration: right for python-json-logger output. Redaction comes
early, while the line's keys are still together (cheapest to scan), so every later stage — the
error grouping key included — works on redacted values."""

_ADAPTER: Final[TypeAdapter[StageConfig]] = TypeAdapter(StageConfig)
_TAGS: Final = frozenset(model.model_fields["type"].default for model in STAGE_TYPES)


def load_stage_configs(
    stages: Sequence[Mapping[str, Any] | StageConfig] | None, *, key: str = "pipeline"
) -> list[StageConfig]:
    """Validate a list of stage settings (dicts or models); ``None`` gives the defaults.

    Raises :class:`~pipelines.errors.PipelineConfigError` naming the failing entry and key,
    e.g. ``pipeline[2].window_s``.
    """
    if stages is None:
        return list(DEFAULT_STAGES)
    if isinstance(stages, str | bytes | Mapping) or not isinstance(stages, Sequence):
        raise PipelineConfigError(f"{key}: expected a list of stages, got {type(stages).__name__}")
    configs: list[StageConfig] = []
    for index, stage in enumerate(stages):
        where = f"{key}[{index}]"
        if isinstance(stage, STAGE_TYPES):
            configs.append(stage)
            continue
        if not isinstance(stage, Mapping):
            raise PipelineConfigError(f"{where}: expected a mapping with a 'type' key")
        try:
            configs.append(_ADAPTER.validate_python(stage))
        except ValidationError as exc:
            raise PipelineConfigError(_describe(where, exc)) from exc
    _check_order(configs, key)
    return configs


def load_stage_configs_yaml(text: str, *, key: str = "pipeline") -> list[StageConfig]:
    """Like :func:`load_stage_configs`, from YAML text: a list, or a mapping with ``key``."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise PipelineConfigError(f"{key}: not valid YAML: {exc}") from exc
    if isinstance(data, Mapping):
        data = data.get(key)
    return load_stage_configs(data, key=key)


def _check_order(configs: list[StageConfig], key: str) -> None:
    for kind in (ParseConfig, RouteConfig):
        positions = [index for index, config in enumerate(configs) if isinstance(config, kind)]
        if len(positions) > 1:
            raise PipelineConfigError(
                f"{key}[{positions[1]}].type: only one {kind.model_fields['type'].default!r} stage"
            )
    parse_at = [index for index, config in enumerate(configs) if isinstance(config, ParseConfig)]
    if parse_at and parse_at[0] != 0:
        raise PipelineConfigError(f"{key}[{parse_at[0]}].type: 'parse' must be the first stage")


def _describe(where: str, exc: ValidationError) -> str:
    """``pipeline[2].inherit_window_s: Input should be greater than 0`` (all errors, joined)."""
    messages = []
    for error in exc.errors():
        loc = list(error["loc"])
        if loc and loc[0] in _TAGS:
            loc = loc[1:]  # the union's branch name, not a key the user wrote
        if error["type"] in ("union_tag_not_found", "union_tag_invalid"):
            loc = ["type"]
        path = where + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "union_tag_invalid":
            message = f"unknown stage type; expected one of {', '.join(sorted(_TAGS))}"
        elif error["type"] == "union_tag_not_found":
            message = f"missing; one of {', '.join(sorted(_TAGS))}"
        messages.append(f"{path}: {message}")
    return "; ".join(messages)
