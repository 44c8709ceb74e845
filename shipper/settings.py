"""How every logferry config model is loaded: a YAML file, then environment variables, then flags.

One layering for all of them (`shipper run`, the indexer-side commands, `shipper stack`, the
`loadtest` commands), built on pydantic-settings: each source gives a nested mapping, the
library merges them (flags over env over file) and validates the model once.

- **file**: YAML, with ``${VAR}`` and ``${VAR:-default}`` interpolated from the environment;
- **env**: one variable per leaf setting, the prefix then the key path joined by ``_`` and
  upper-cased (``SHIPPER_OUTPUT_KAFKA_LINGER_MS`` sets ``output.kafka.linger_ms``; see
  :func:`env_names`). A list or mapping setting takes JSON; a list also takes comma-separated
  items. Nested names are looked up in the model tree, so underscores in field names are never
  ambiguous;
- **flags**: the keyword arguments (a nested mapping, as the YAML would hold it).

A file with mistakes is reported whole: :class:`ConfigError` carries one line per problem, each
naming its key path, with "did you mean …?" for a misspelt key.
"""

from __future__ import annotations

import difflib
import os
import re
import types
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from shipper.errors import ConfigError

__all__ = ["env_names", "leaf_fields", "load_model", "problems_of"]

M = TypeVar("M", bound=BaseModel)

_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
YAML_ONLY = frozenset({"pipeline"})
"""Top-level keys that have no environment variable (too structured for one)."""


def _nested_model(field: FieldInfo) -> type[BaseModel] | None:
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def leaf_fields(
    model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], FieldInfo]]:
    """Every setting of *model* that is not itself a model, with its key path."""
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        nested = _nested_model(field)
        if nested is not None:
            yield from leaf_fields(nested, path)
        else:
            yield path, field


def env_names(model: type[BaseModel], env_prefix: str) -> dict[str, tuple[str, ...]]:
    """Every environment variable of *model* and the key path it sets (YAML-only keys have none)."""
    return {
        env_prefix + "_".join(path).upper(): path
        for path, _ in leaf_fields(model)
        if path[0] not in YAML_ONLY
    }


def _set(tree: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        tree = tree.setdefault(key, {})
    tree[path[-1]] = value


class EnvSource(PydanticBaseSettingsSource):
    """The settings given by environment variables, named as :func:`env_names` says."""

    def __init__(
        self,
        settings_cls: type[BaseSettings],
        model: type[BaseModel],
        environ: Mapping[str, str],
        env_prefix: str,
    ) -> None:
        super().__init__(settings_cls)
        self._model, self._environ, self._prefix = model, environ, env_prefix

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # __call__ reads the whole tree at once

    def __call__(self) -> dict[str, Any]:
        fields = dict(leaf_fields(self._model))
        data: dict[str, Any] = {}
        for name, path in env_names(self._model, self._prefix).items():
            if name in self._environ:
                _set(data, path, self._decode(name, fields[path], self._environ[name]))
        return data

    def _decode(self, name: str, field: FieldInfo, raw: str) -> Any:
        """A list or mapping setting from JSON, or a list from comma-separated items; the rest
        as the string it is (pydantic parses numbers, booleans, paths)."""
        if not self.field_is_complex(field):
            return raw
        text = raw.strip()
        if text.startswith(("[", "{")):
            try:
                return self.decode_complex_value(name, field, text)
            except ValueError as exc:
                raise ConfigError(f"{name}: not valid JSON: {exc}") from exc
        return [item.strip() for item in text.split(",") if item.strip()]


def _interpolate(value: Any, environ: Mapping[str, str], where: str, unset: list[str]) -> Any:
    """*value* with ${VAR} and ${VAR:-default} substituted; what is unset is added to *unset*."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            unset.append(
                f"{where}: ${{{name}}} is not set (give a default with ${{{name}:-value}})"
            )
            return match.group(0)

        return _INTERPOLATION.sub(substitute, value)
    if isinstance(value, dict):
        return {
            k: _interpolate(v, environ, f"{where}.{k}" if where else str(k), unset)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_interpolate(v, environ, f"{where}[{i}]", unset) for i, v in enumerate(value)]
    return value


def read_yaml(path: Path, environ: Mapping[str, str]) -> dict[str, Any]:
    """The settings of a YAML file, ``${VAR}`` and ``${VAR:-default}`` interpolated."""
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
    unset: list[str] = []
    result: dict[str, Any] = _interpolate(loaded, environ, "", unset)
    if unset:
        raise ConfigError(*(f"{line} (in {path})" for line in unset))
    return result


class YamlSource(InitSettingsSource):
    """The settings of the YAML file (see :func:`read_yaml`)."""

    def __init__(
        self, settings_cls: type[BaseSettings], path: Path, environ: Mapping[str, str]
    ) -> None:
        super().__init__(settings_cls, read_yaml(path, environ))


def _layered(
    model: type[M], path: Path | None, environ: Mapping[str, str], env_prefix: str
) -> type[BaseSettings]:
    """*model* as pydantic settings whose sources are the flags, the env vars and the file."""

    def customise(
        cls: type[BaseSettings],
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [
            init_settings,
            EnvSource(settings_cls, model, environ, env_prefix),
        ]
        if path is not None:
            sources.append(YamlSource(settings_cls, path, environ))
        return tuple(sources)

    def body(namespace: dict[str, Any]) -> None:
        namespace["model_config"] = SettingsConfigDict(extra="forbid", validate_default=False)
        namespace["settings_customise_sources"] = classmethod(customise)

    return types.new_class(model.__name__, (model, BaseSettings), exec_body=body)


def _key(loc: tuple[int | str, ...]) -> str:
    key = ""
    for part in loc:
        key += f"[{part}]" if isinstance(part, int) else (f".{part}" if key else str(part))
    return key or "config"


def _did_you_mean(model: type[BaseModel], loc: tuple[int | str, ...]) -> str:
    """ " (did you mean X?)" for a misspelt key at *loc*, from the field names at that level."""
    for part in loc[:-1]:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        nested = _nested_model(field) if field is not None else None
        if nested is None:
            return ""
        model = nested
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def problems_of(model: type[BaseModel], exc: ValidationError) -> list[str]:
    """One line per error of *exc*: the key path, what is wrong, and a close key name if any."""
    lines = []
    for error in exc.errors():
        lines.append(_problem(model, error))
    return lines


def _problem(model: type[BaseModel], error: ErrorDetails) -> str:
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message += _did_you_mean(model, tuple(error["loc"]))
    return f"{_key(tuple(error['loc']))}: {message}"


def load_model(
    model: type[M],
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    env_prefix: str = "",
) -> M:
    """*model* from a YAML file (``${VAR}`` interpolated), then *env_prefix* env vars, then
    *overrides* (flags). Raises :class:`ConfigError` listing every problem, each with its key."""
    environ = os.environ if environ is None else environ
    settings = _layered(model, path, environ, env_prefix)
    try:
        layered = settings(**dict(overrides or {}))
    except ValidationError as exc:
        where = f" (in {path})" if path else ""
        raise ConfigError(*(line + where for line in problems_of(model, exc))) from exc
    values = {name: getattr(layered, name) for name in model.model_fields}
    return model.model_construct(_fields_set=layered.model_fields_set, **values)
