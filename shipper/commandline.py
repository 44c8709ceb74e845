"""What every logferry command line shares (`shipper` and `loadtest` alike): the click group that
turns every logferry error into one clear line and an exit code, and click options generated from
a pydantic settings model, so flags, env vars and docs agree.

A public module: the `loadtest` command line is built on it (the import contract in
pyproject.toml says which of shipper's modules are public).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin

import click
from click.core import ParameterSource
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from shipper.errors import ConfigError, LogferryError
from shipper.masking import mask_urls
from shipper.settings import YAML_ONLY, env_names, leaf_fields, load_model

__all__ = [
    "Flag",
    "LazyGroup",
    "LogferryGroup",
    "SettingOption",
    "env_epilog",
    "flag",
    "given_settings",
    "model_from_options",
    "model_options",
]

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
                click.secho(f"error: {mask_urls(line)}", fg="red", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:
            click.echo("aborted", err=True)
            sys.exit(130)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.exceptions.Exit as exc:
            sys.exit(exc.exit_code)


class LazyGroup(LogferryGroup):
    """A group whose subcommands are imported when they run (or when help lists them): a
    sidecar's `shipper run` does not pay at every start for the Elasticsearch client and the
    stack's modules that other commands need. *lazy* maps a name to ``"module:attribute"``."""

    def __init__(self, *args: Any, lazy: Mapping[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self._lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self._lazy and cmd_name not in self.commands:
            module_name, _, attribute = self._lazy[cmd_name].partition(":")
            command = getattr(importlib.import_module(module_name), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self._lazy[cmd_name]} is not a click command")
            self.add_command(command, cmd_name)
        return super().get_command(ctx, cmd_name)


@dataclass(frozen=True)
class Flag:
    """The flag of one setting: its dotted key in the model, its name (default: ``--`` and the
    last part of the key in kebab-case) and any other click option arguments (``metavar``,
    ``type``, ``help``…)."""

    key: str
    name: str | None = None
    click_options: Mapping[str, Any] = field(default_factory=dict)


def flag(key: str, name: str | None = None, **click_options: Any) -> Flag:
    """A :class:`Flag` for the setting *key*, e.g. ``flag("output.url", "--output")``."""
    return Flag(key, name, click_options)


class SettingOption(click.Option):
    """A flag that sets one setting of a model. Its help shows the setting's environment variable
    and default, both from the model; the value of the variable is read by the settings layer
    (:func:`shipper.settings.load_model`), with the file, not by click."""

    def __init__(
        self, *args: Any, setting_key: tuple[str, ...], env_prefix: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.setting_key = setting_key
        self.env_prefix = env_prefix

    def value_from_envvar(self, ctx: click.Context) -> Any:
        return None  # the settings layer reads it, below the flags and above the file


def _field(model: type[BaseModel], key: tuple[str, ...]) -> FieldInfo:
    fields = dict(leaf_fields(model))
    if key not in fields:
        raise KeyError(f"{model.__name__} has no setting {'.'.join(key)}")
    return fields[key]


def _setting_option(model: type[BaseModel], env_prefix: str, spec: Flag) -> Callable[[F], F]:
    key = tuple(spec.key.split("."))
    info = _field(model, key)
    annotation = info.annotation
    many = get_origin(annotation) in (list, tuple)
    options: dict[str, Any] = {
        "type": _click_type(get_args(annotation)[0] if many else annotation),
        "multiple": many,
        "help": info.description or "",
        "show_envvar": True,
        "envvar": env_prefix + "_".join(key).upper() if key[0] not in YAML_ONLY else None,
    }
    default = info.get_default(call_default_factory=True)
    if default is not None and default is not PydanticUndefined:
        options["default"] = list(default) if many else default
        options["show_default"] = True
    options.update(spec.click_options)
    name = spec.name or f"--{key[-1].replace('_', '-')}"
    if (
        annotation is bool
        and "/" not in name
        and not {"type", "is_flag"} & spec.click_options.keys()
    ):
        name = f"{name}/--no-{name.removeprefix('--')}"  # a switch: `--secure`, not `--secure true`
    return click.option(
        name,
        "__".join(key),
        cls=SettingOption,
        setting_key=key,
        env_prefix=env_prefix,
        **options,
    )


def model_options(
    model: type[BaseModel],
    env_prefix: str,
    *,
    flags: Iterable[str | Flag] | None = None,
    exclude: frozenset[str] = frozenset(),
    config_envvar: str | None = None,
) -> Callable[[F], F]:
    """Add one flag per setting of *model* named in *flags* (dotted keys, or :func:`flag`), or,
    without *flags*, one ``--field-name`` per top-level field but *exclude*. With
    *config_envvar*, also ``--config FILE``, read from that variable too.

    The flags, the ``{env_prefix}KEY_PATH`` variables and the file are layered by
    :func:`model_from_options`.
    """
    if flags is None:
        specs = [Flag(name) for name in model.model_fields if name not in exclude]
    else:
        specs = [spec if isinstance(spec, Flag) else Flag(spec) for spec in flags]
    decorators = [_setting_option(model, env_prefix, spec) for spec in specs]
    if config_envvar is not None:
        decorators.insert(
            0,
            click.option(
                "--config",
                "config_path",
                type=click.Path(path_type=Path, dir_okay=False),
                envvar=config_envvar,
                show_envvar=True,
                help="YAML config file (${VAR} and ${VAR:-default} are interpolated).",
            ),
        )

    def decorate(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return decorate


def given_settings(values: Mapping[str, Any]) -> dict[str, Any]:
    """The settings given as flags on this command line, as a nested mapping (flags left out
    are not in it: the environment or the file give those, or the model's default)."""
    ctx = click.get_current_context()
    given: dict[str, Any] = {}
    for param in ctx.command.params:
        if not isinstance(param, SettingOption) or param.name is None:
            continue
        if ctx.get_parameter_source(param.name) is not ParameterSource.COMMANDLINE:
            continue
        tree = given
        for part in param.setting_key[:-1]:
            tree = tree.setdefault(part, {})
        tree[param.setting_key[-1]] = values[param.name]
    return given


def model_from_options(
    model: type[M], values: Mapping[str, Any], *, extra: Mapping[str, Any] | None = None
) -> M:
    """*model* from the file of ``--config`` (if the command has it), then the environment, then
    the flags given and *extra* (dotted keys, e.g. ``{"retention.days": 7}``)."""
    ctx = click.get_current_context()
    prefixes = {p.env_prefix for p in ctx.command.params if isinstance(p, SettingOption)}
    overrides = given_settings(values)
    for dotted, value in (extra or {}).items():
        tree = overrides
        *parents, last = dotted.split(".")
        for part in parents:
            tree = tree.setdefault(part, {})
        tree[last] = value
    return load_model(
        model, values.get("config_path"), overrides, env_prefix=prefixes.pop() if prefixes else ""
    )


def env_epilog(model: type[BaseModel], env_prefix: str, settings: Iterable[str] = ()) -> str:
    """The help epilog naming the environment variables of *model*: all of them, or those of the
    *settings* the command reads (dotted keys or sections, e.g. ``"elasticsearch"``)."""
    wanted = tuple(settings)

    def read(key: tuple[str, ...]) -> bool:
        dotted = ".".join(key)
        return not wanted or any(dotted == w or dotted.startswith(f"{w}.") for w in wanted)

    names = sorted(name for name, key in env_names(model, env_prefix).items() if read(key))
    return (
        "Every setting can also be set in the YAML file or by an environment variable: "
        + ", ".join(names)
        + ". Flags override environment variables, which override the file."
    )
