"""Queries behind `shipper search` and `shipper trace`, and how a hit becomes a table row. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final

from pipelines.route import sanitize_index_part
from shipper.errors import ConfigError
from shipper.indexer.config import IndexConfig

__all__ = [
    "CORRELATION_FIELDS",
    "Row",
    "SearchRequest",
    "parse_since",
    "row_of",
    "search_request",
    "trace_request",
]

CORRELATION_FIELDS: Final = ("trace.id", "transaction.id", "http.request.id")
_SINCE: Final = re.compile(r"^(\d+)([smhdw])$")


@dataclass(frozen=True)
class SearchRequest:
    """Where to search and the request body."""

    index: str
    body: dict[str, Any]


def parse_since(since: str | None) -> str | None:
    """``15m`` -> ``now-15m`` (units s m h d w); ``None``/``all`` -> no time bound."""
    if since is None or since in ("", "all"):
        return None
    match = _SINCE.fullmatch(since.strip())
    if match is None:
        raise ConfigError(f"--since: {since!r} is not a duration like 30s, 15m, 2h, 7d or 1w")
    return f"now-{match.group(1)}{match.group(2)}"


def _indices(index: IndexConfig, service: str | None) -> str:
    """The daily indices to search (one service's, or all), never the dead letters."""
    if service is not None:
        pattern = index.index_pattern.format(
            service=sanitize_index_part(service, index.default_service), date="*"
        )
    else:
        pattern = index.route_glob()
    return f"{pattern},-{index.deadletter_index_glob()}"


def _time_filter(since: str | None) -> list[dict[str, Any]]:
    bound = parse_since(since)
    return [{"range": {"@timestamp": {"gte": bound}}}] if bound else []


def search_request(
    query: str, index: IndexConfig, *, since: str | None, service: str | None, limit: int
) -> SearchRequest:
    """A Lucene query string over the daily indices, newest first."""
    text = query.strip()
    must: list[dict[str, Any]] = (
        [{"query_string": {"query": text, "default_operator": "AND"}}]
        if text and text != "*"
        else [{"match_all": {}}]
    )
    body = {
        "query": {"bool": {"must": must, "filter": _time_filter(since)}},
        "sort": [{"@timestamp": {"order": "desc", "unmapped_type": "date"}}],
        "size": limit,
        "track_total_hits": True,
    }
    return SearchRequest(_indices(index, service), body)


def trace_request(
    correlation_id: str, index: IndexConfig, *, since: str | None, limit: int
) -> SearchRequest:
    """Every event carrying *correlation_id* as a trace, transaction or request id, oldest first."""
    should = [{"term": {field: correlation_id}} for field in CORRELATION_FIELDS]
    body = {
        "query": {
            "bool": {"should": should, "minimum_should_match": 1, "filter": _time_filter(since)}
        },
        "sort": [
            {"@timestamp": {"order": "asc", "unmapped_type": "date"}},
            {"log.offset": {"order": "asc", "unmapped_type": "long"}},
        ],
        "size": limit,
        "track_total_hits": True,
    }
    return SearchRequest(_indices(index, None), body)


@dataclass(frozen=True)
class Row:
    """The columns of a hit in the table."""

    time: str
    level: str
    service: str
    trace_id: str
    message: str
    stack_trace: str = ""
    """``error.stack_trace`` of a failed request's line (empty when it has none)."""


def _get(source: dict[str, Any], dotted: str) -> Any:
    """A dotted field from a source that may nest it, flatten it, or mix both."""
    if dotted in source:
        return source[dotted]
    head, _, rest = dotted.partition(".")
    value = source.get(head)
    if rest and isinstance(value, dict):
        return _get(value, rest)
    return None


def row_of(source: dict[str, Any], *, max_message_chars: int = 300) -> Row:
    """The table row of one hit's source."""
    trace = next(
        (str(v) for field in CORRELATION_FIELDS if (v := _get(source, field)) is not None), ""
    )
    message = str(_get(source, "message") or "")
    first_line = message.splitlines()[0] if message else ""
    if len(first_line) > max_message_chars or first_line != message:
        first_line = first_line[:max_message_chars] + " …"
    return Row(
        time=str(_get(source, "@timestamp") or ""),
        level=str(_get(source, "log.level") or ""),
        service=str(_get(source, "service.name") or ""),
        trace_id=trace,
        message=first_line,
        stack_trace=str(_get(source, "error.stack_trace") or ""),
    )
