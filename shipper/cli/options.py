"""Click options generated from a pydantic settings model, so flags, env vars and docs agree."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import BaseModel, ValidationError

from shipper.errors import ConfigError

__all__ = ["model_from_options", "model_options"]

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)

_CLICK_TYPES: dict[Any, Any] = {
    int: int,
    float: float,
    str: str,
    bool: bool,
    Path: click.Path(path_type=Path),
}


def model_options(model: type[BaseModel], env_prefix: str) -> Callable[[F], F]:
    """Add one `--field-name` option per field of *model*, readable from `{env_prefix}FIELD_NAME`."""

    def decorate(func: F) -> F:
        for name, field in reversed(model.model_fields.items()):
            option = click.option(
                f"--{name.replace('_', '-')}",
                name,
                type=_CLICK_TYPES.get(field.annotation, str),
                default=None,
                envvar=f"{env_prefix}{name.upper()}",
                show_envvar=True,
                help=f"{field.description} [default: {field.default}]",
            )
            func = option(func)
        return func

    return decorate


def model_from_options(model: type[M], values: dict[str, Any]) -> M:
    """Build *model* from the options given (unset ones keep the model's defaults)."""
    given = {
        key: value
        for key, value in values.items()
        if key in model.model_fields and value is not None
    }
    try:
        return model(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        key = ".".join(str(part) for part in first["loc"])
        raise ConfigError(f"{key}: {first['msg']}") from exc
