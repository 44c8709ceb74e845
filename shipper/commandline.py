"""What every logferry command line shares (`shipper` and `loadtest` alike): the click group that
turns every logferry error into one clear line and an exit code, and click options generated from
a pydantic settings model, so flags, env vars and docs agree.

A public module: the `loadtest` command line is built on it (the import contract in
pyproject.toml says which of shipper's modules are public).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import click
from pydantic import BaseModel, ValidationError

from shipper.errors import ConfigError, LogferryError

__all__ = ["LogferryGroup", "model_from_options", "model_options"]

F = TypeVar("F", bound=Callable[..., Any])
M = TypeVar("M", bound=BaseModel)

_CLICK_TYPES: dict[Any, Any] = {
    int: int,
    float: float,
    str: str,
    bool: bool,
    Path: click.Path(path_type=Path),
}


def _click_type(annotation: Any) -> Any:
    """The click type of a field: `X | None` as X, a Literal as a choice, unknown ones as text."""
    if get_origin(annotation) is types.UnionType:
        arguments = [a for a in get_args(annotation) if a is not type(None)]
        annotation = arguments[0] if len(arguments) == 1 else str
    if get_origin(annotation) is Literal:
        return click.Choice([str(a) for a in get_args(annotation)])
    return _CLICK_TYPES.get(annotation, str)


class LogferryGroup(click.Group):
    """A click group whose entry point turns errors into one line and an exit code, whether run
    as a console script or driven by click's CliRunner."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Run the command line: 0 on success, the error's code otherwise (130 on Ctrl-C)."""
        kwargs["standalone_mode"] = False  # the exceptions come here, not to click's printer
        try:
            return super().main(*args, **kwargs)
        except LogferryError as exc:
            # A config with several mistakes: one line for each, so all are fixed in one go.
            for line in exc.problems if isinstance(exc, ConfigError) else (str(exc),):
                click.secho(f"error: {line}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)


def model_options(
    model: type[BaseModel], env_prefix: str, *, exclude: frozenset[str] = frozenset()
) -> Callable[[F], F]:
    """Add one `--field-name` option per field of *model* (but *exclude*), readable from
    `{env_prefix}FIELD_NAME`."""

    def decorate(func: F) -> F:
        for name, field in reversed(model.model_fields.items()):
            if name in exclude:
                continue
            option = click.option(
                f"--{name.replace('_', '-')}",
                name,
                type=_click_type(field.annotation),
                default=None,
                envvar=f"{env_prefix}{name.upper()}",
                show_envvar=True,
                help=(field.description or "")
                + ("" if field.default is None else f" [default: {field.default}]"),
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
