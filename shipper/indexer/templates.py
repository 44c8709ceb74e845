"""The Elasticsearch objects `shipper setup` installs, rendered from ``index-templates/*.json``.

The files are package data (:data:`shipper.resources.INDEX_TEMPLATES`); ``index.templates_dir``
names a directory of the operator's own copies instead.

Pure: files + config + what the cluster lacks -> request bodies. The JSON files hold the static
parts; ``"{name}"`` placeholders take config values (a string that is exactly one placeholder
takes the value's own type, so ``"{number_of_shards}"`` becomes ``1``, not ``"1"``).

What a cluster lacks changes the bodies: types it has no mapper for fall back
(:data:`TYPE_FALLBACKS`; the minimal distribution has no ``wildcard``, ``constant_keyword``,
``match_only_text`` or ``scaled_float``), and without ILM no ``index.lifecycle.*`` setting is
set (the retention sweeper does the deleting).

Each body carries ``_meta.logferry_checksum``, a hash of the rest: `setup` compares it with what
is installed, so a second run changes nothing and can say so without comparing Elasticsearch's
normalised echo of a template.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources.abc import Traversable
from typing import Any, Final

import orjson

from shipper.errors import ConfigError
from shipper.indexer.config import IndexConfig, RetentionConfig
from shipper.resources import INDEX_TEMPLATES

__all__ = [
    "CHECKSUM_KEY",
    "OPTIONAL_TYPES",
    "TYPE_FALLBACKS",
    "ClusterFeatures",
    "Installable",
    "checksum",
    "describe_fallbacks",
    "fill",
    "parses_origination_date",
    "render_all",
    "templates_dir",
    "with_fallbacks",
]

CHECKSUM_KEY: Final = "logferry_checksum"

TYPE_FALLBACKS: Final[dict[str, dict[str, Any]]] = {
    "wildcard": {"type": "keyword"},
    "match_only_text": {"type": "text"},
    "constant_keyword": {"type": "keyword"},
    "scaled_float": {"type": "float"},
    "flattened": {"type": "object", "enabled": False},
}
"""Mapping types that only some distributions have, and what to use where they are missing."""

OPTIONAL_TYPES: Final = tuple(TYPE_FALLBACKS)

# Parameters that belong to a type and must go when the type is replaced.
_TYPE_PARAMETERS: Final = {
    "scaled_float": {"scaling_factor"},
    "flattened": {"depth_limit", "ignore_above", "split_queries_on_whitespace"},
    "constant_keyword": {"value"},
    "wildcard": {"null_value"},
}
_PLACEHOLDER: Final = re.compile(r"\{([a-z_]+)\}")


@dataclass(frozen=True)
class Installable:
    """One object to install: what kind, its name, and the request body."""

    kind: str
    """``component template``, ``index template`` or ``ILM policy``."""
    name: str
    body: dict[str, Any]

    @property
    def checksum(self) -> str:
        meta = self.body["policy"]["_meta"] if self.kind == "ILM policy" else self.body["_meta"]
        value: str = meta[CHECKSUM_KEY]
        return value


@dataclass(frozen=True)
class ClusterFeatures:
    """What the cluster offers that the templates use."""

    ilm: bool = True
    missing_types: frozenset[str] = field(default_factory=frozenset)
    data_nodes: int | None = 1
    """None: not known (credentials without `monitor`)."""


def templates_dir(index: IndexConfig) -> Traversable:
    """Where the template files are: ``index.templates_dir``, else the packaged ones."""
    return index.templates_dir if index.templates_dir is not None else INDEX_TEMPLATES


def load(name: str, directory: Traversable) -> dict[str, Any]:
    """One JSON file of a templates directory."""
    path = directory / name
    try:
        loaded: dict[str, Any] = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"index template file {path}: {exc.strerror}") from exc
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"index template file {path}: not valid JSON: {exc}") from exc
    return loaded


def fill(value: Any, values: Mapping[str, Any]) -> Any:
    """Replace ``{name}`` placeholders in every string of *value* (a JSON tree)."""
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole and whole.group(1) in values:
            return values[whole.group(1)]

        def substitute(match: re.Match[str]) -> str:
            key = match.group(1)
            if key not in values:
                raise ConfigError(f"index templates: unknown placeholder {{{key}}}")
            return str(values[key])

        return _PLACEHOLDER.sub(substitute, value)
    if isinstance(value, dict):
        return {k: fill(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, values) for v in value]
    return value


def with_fallbacks(value: Any, missing: frozenset[str], ignore_above: int) -> Any:
    """*value* (a JSON tree) with every mapping of a *missing* type replaced by its fallback."""
    if isinstance(value, list):
        return [with_fallbacks(v, missing, ignore_above) for v in value]
    if not isinstance(value, dict):
        return value
    result = {k: with_fallbacks(v, missing, ignore_above) for k, v in value.items()}
    es_type = result.get("type")
    if isinstance(es_type, str) and es_type in missing:
        dropped = _TYPE_PARAMETERS.get(es_type, set())
        result = {k: v for k, v in result.items() if k not in dropped and k != "type"}
        result.update(TYPE_FALLBACKS[es_type])
        if result["type"] == "keyword":
            result["ignore_above"] = ignore_above
    return result


def _set_ignore_above(value: Any, ignore_above: int) -> Any:
    if isinstance(value, list):
        return [_set_ignore_above(v, ignore_above) for v in value]
    if isinstance(value, dict):
        return {
            k: ignore_above if k == "ignore_above" else _set_ignore_above(v, ignore_above)
            for k, v in value.items()
        }
    return value


def checksum(body: Mapping[str, Any]) -> str:
    """Hash of a body without its checksum (stable: keys sorted)."""
    data = orjson.dumps(_without_checksum(body), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(data).hexdigest()[:16]


def _without_checksum(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_checksum(v) for k, v in value.items() if k != CHECKSUM_KEY}
    return value


def _stamp(kind: str, name: str, body: dict[str, Any]) -> Installable:
    meta = (
        body["policy"].setdefault("_meta", {})
        if kind == "ILM policy"
        else body.setdefault("_meta", {})
    )
    meta["managed_by"] = "logferry"
    meta[CHECKSUM_KEY] = checksum(body)
    return Installable(kind, name, body)


def _refresh_interval(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def parses_origination_date(index: IndexConfig) -> bool:
    """Whether ILM can read the day from our index names (``…-yyyy.MM.dd``).

    ``index.lifecycle.parse_origination_date`` makes ILM count age from the day in the name (as
    the sweeper does) — but an index whose name does not end that way is then refused at
    creation, so it is set only for patterns that end with ``-{date}`` formatted ``%Y.%m.%d``.
    """
    return index.date_format == "%Y.%m.%d" and index.index_pattern.endswith("-{date}")


def replicas(index: IndexConfig, features: ClusterFeatures) -> int:
    """``index.number_of_replicas``, else 1 where a second data node can hold the copy (and
    where the count is unknown: Elasticsearch's own default), 0 on a lone node."""
    if index.number_of_replicas is not None:
        return index.number_of_replicas
    return 0 if features.data_nodes == 1 else 1


def render_all(
    index: IndexConfig,
    retention: RetentionConfig,
    features: ClusterFeatures,
) -> list[Installable]:
    """Every object `setup` installs, in installation order (policies, components, templates),
    from the files of :func:`templates_dir`."""
    directory = templates_dir(index)
    name = index.template_name
    values: dict[str, Any] = {
        "template_name": name,
        "index_glob": index.route_glob(),
        "deadletter_glob": index.deadletter_index_glob(),
        "number_of_shards": index.number_of_shards,
        "number_of_replicas": replicas(index, features),
        "refresh_interval": _refresh_interval(index.refresh_interval_s),
        "total_fields_limit": index.total_fields_limit,
    }
    missing = features.missing_types

    def rendered(file: str, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        body = fill(load(file, directory), {**values, **(extra or {})})
        body = _set_ignore_above(body, index.ignore_above)
        result: dict[str, Any] = with_fallbacks(body, missing, index.ignore_above)
        return result

    settings = rendered("settings.json")
    deadletter = rendered("deadletter-template.json")
    installables: list[Installable] = []
    if features.ilm:
        for policy_name, days, target in (
            (name, retention.days, settings["template"]["settings"]["index"]),
            (
                f"{name}-deadletter",
                retention.effective_deadletter_days,
                deadletter["template"]["settings"]["index"],
            ),
        ):
            policy = rendered("ilm-policy.json", {"retention_days": days})
            installables.append(_stamp("ILM policy", policy_name, policy))
            lifecycle: dict[str, Any] = {"name": policy_name}
            if parses_origination_date(index):
                lifecycle["parse_origination_date"] = True
            target["lifecycle"] = lifecycle
    installables += [
        _stamp("component template", f"{name}@settings", settings),
        _stamp("component template", f"{name}@ecs-mappings", rendered("ecs-mappings.json")),
        _stamp("index template", name, rendered("index-template.json")),
        _stamp("index template", f"{name}-deadletter", deadletter),
    ]
    return installables


def describe_fallbacks(missing: frozenset[str]) -> list[str]:
    """One line per missing type: what is used instead."""
    return [
        f"no `{t}` mapping type: mapped as `{TYPE_FALLBACKS[t]['type']}`"
        + (" (not indexed)" if TYPE_FALLBACKS[t].get("enabled") is False else "")
        for t in sorted(missing)
    ]
