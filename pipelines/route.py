"""``route``: the Elasticsearch index an event belongs in, from its service and UTC day.

Routing is a pure function of the event (``service.name`` and ``@timestamp``), not a field of
it: Elasticsearch would reject an unknown ``_index``-like field, and the indexer (a different
process, reading from Kafka) must reach the same answer for a replayed event. So the ``route``
entry of a pipeline declares the pattern, and the runtime calls
:meth:`Router.index_for` (or ``Pipeline.index_for``) where it needs the name.

The default pattern is ``app-logs-{service}-{date}`` with ``date`` as ``YYYY.MM.DD``. Patterns
whose names would match a template a full Elasticsearch reserves for data streams
(``logs-*-*``, ``metrics-*-*``, ``traces-*-*``, ``synthetics-*-*``) are refused, as are names
Elasticsearch itself refuses (upper case, ``\\ / * ? " < > | , # :``, spaces, a leading
``- _ + .``).
"""

from __future__ import annotations

import fnmatch
import functools
import re
import string
import time
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final, Literal

from pydantic import Field, field_validator

from pipelines._model import StageModel
from pipelines._time import utc_iso_to_epoch_us

__all__ = [
    "RESERVED_INDEX_PATTERNS",
    "RouteConfig",
    "Router",
    "event_day",
    "sanitize_index_part",
]

RESERVED_INDEX_PATTERNS: Final = ("logs-*-*", "metrics-*-*", "traces-*-*", "synthetics-*-*")
"""Index patterns of the built-in data-stream templates of a full Elasticsearch."""

_INVALID_CHARS: Final = re.compile(r'[\\/*?"<>|,#:\s]+')
_DATE_DIRECTIVES: Final = {"%Y": r"\d{4}", "%m": r"\d{2}", "%d": r"\d{2}"}
_MAX_INDEX_BYTES: Final = 255
_MAX_SERVICE_CHARS: Final = 100
_CACHE_MAX: Final = 4096


def sanitize_index_part(name: str, default: str = "unknown") -> str:
    """A service name made safe inside an index name: ``"My Svc/API"`` → ``"my-svc-api"``."""
    cleaned = _INVALID_CHARS.sub("-", name.strip().lower()).strip("-_+.")
    cleaned = cleaned[:_MAX_SERVICE_CHARS].rstrip("-_+.")
    return cleaned or default


class RouteConfig(StageModel):
    """Name the daily index each event is written to."""

    type: Literal["route"] = "route"
    index_pattern: str = Field(
        "app-logs-{service}-{date}",
        description=(
            "Index name with `{service}` (sanitised `service.name`) and `{date}` (the event's "
            "UTC day); must not match `logs-*-*` and the like (data-stream templates)."
        ),
    )
    date_format: str = Field(
        "%Y.%m.%d",
        description="Format of `{date}`: `%Y`, `%m`, `%d` and the separators `.`, `-`, `_`.",
    )
    default_service: str = Field(
        "unknown", min_length=1, description="`{service}` for events without `service.name`."
    )

    @field_validator("date_format")
    @classmethod
    def _date_format(cls, value: str) -> str:
        rest = value
        for directive in _DATE_DIRECTIVES:
            if directive not in rest:
                raise ValueError(f"needs {directive}; retention reads the day from index names")
            rest = rest.replace(directive, "")
        if rest.strip(".-_"):
            raise ValueError("only %Y, %m, %d and the separators . - _ are allowed")
        return value

    @field_validator("default_service")
    @classmethod
    def _default_service(cls, value: str) -> str:
        if sanitize_index_part(value, "") != value:
            raise ValueError(f"{value!r} is not valid in an index name")
        return value

    @field_validator("index_pattern")
    @classmethod
    def _pattern_fields(cls, pattern: str) -> str:
        try:
            fields = {
                name for _, name, _, _ in string.Formatter().parse(pattern) if name is not None
            }
        except ValueError as exc:
            raise ValueError(f"not a valid pattern: {exc}") from exc
        if fields - {"service", "date"}:
            raise ValueError(f"unknown placeholder(s) {sorted(fields - {'service', 'date'})}")
        if "date" not in fields:
            raise ValueError("needs {date}: indices are daily and retention reads the day")
        literal = pattern.replace("{service}", "").replace("{date}", "")
        if literal != literal.lower() or _INVALID_CHARS.search(literal):
            raise ValueError('must be lower case, without spaces or \\ / * ? " < > | , # :')
        if pattern[:1] in "-_+." or pattern.startswith("{service}"):
            raise ValueError("must start with a letter or digit (and not with {service})")
        # Render with the worst case (a service and a date containing dashes): if that name
        # matches a reserved pattern, some real one will.
        for service in ("x", "x-y"):
            for day in ("2024.01.01", "2024-01-01"):
                name = pattern.format(service=service, date=day)
                for reserved in RESERVED_INDEX_PATTERNS:
                    if fnmatch.fnmatchcase(name, reserved):
                        raise ValueError(
                            f"names like {name!r} match {reserved!r}, which a full "
                            "Elasticsearch reserves for data streams"
                        )
        return pattern


class Router:
    """Computes index names; cheap enough to call per event (results are cached per day)."""

    __slots__ = (
        "_date_format",
        "_default_service",
        "_index_re",
        "_now",
        "_pattern",
        "index_for_day",
    )

    def __init__(
        self, config: RouteConfig | None = None, now: Callable[[], float] = time.time
    ) -> None:
        config = config or RouteConfig()
        self._pattern = config.index_pattern
        self._date_format = config.date_format
        self._default_service = config.default_service
        self._now = now
        self.index_for_day: Callable[[str | None, str], str] = functools.lru_cache(
            maxsize=_CACHE_MAX
        )(self._render)
        """The index of an event of *service* (its ``service.name``) on the UTC *day*
        (``YYYY-MM-DD``), cached.

        What :meth:`index_for` reads from an event, given apart: the indexer takes both from Kafka
        headers the shipper computed with :func:`event_day`, without parsing the event.
        """
        regex = re.escape(self._pattern).replace(re.escape("{service}"), "(?P<service>.+?)")
        date_regex = re.escape(self._date_format)
        for directive, digits in _DATE_DIRECTIVES.items():
            date_regex = date_regex.replace(re.escape(directive), f"(?P<{directive[1]}>{digits})")
        self._index_re = re.compile(regex.replace(re.escape("{date}"), date_regex))

    @property
    def index_glob(self) -> str:
        """A wildcard matching every index of this pattern (``app-logs-*-*``), for retention."""
        return self._pattern.format(service="*", date="*")

    def index_for(self, event: Mapping[str, Any]) -> str:
        """The index ``event`` belongs in."""
        service_obj = event.get("service")
        service = service_obj.get("name") if type(service_obj) is dict else None
        if type(service) is not str:  # a list or dict would not even be a cache key
            service = None
        day = event_day(event)
        if day is None:  # neither @timestamp nor event.created is usable: now
            day = datetime.fromtimestamp(self._now(), UTC).date().isoformat()
        return self.index_for_day(service, day)

    def _render(self, service: str | None, day: str) -> str:
        safe = (
            sanitize_index_part(service, self._default_service)
            if service is not None
            else self._default_service
        )
        formatted = self._format_day(day)
        name = self._pattern.format(service=safe, date=formatted)
        while len(name.encode()) > _MAX_INDEX_BYTES:  # only a very long literal part gets here
            safe = safe[:-1]
            name = self._pattern.format(service=safe, date=formatted)
        return name

    def _format_day(self, day: str) -> str:
        year, month, dom = day.split("-")
        return self._date_format.replace("%Y", year).replace("%m", month).replace("%d", dom)

    def same_index_on(self, index: str, day: date) -> str | None:
        """The index of *index*'s service on another *day*; ``None`` if *index* is not of this
        pattern. (The service part is taken as it is in the name: already sanitised.)"""
        match = self._index_re.fullmatch(index)
        if match is None:
            return None
        service = match.groupdict().get("service")  # None when the pattern has no {service}
        return self._pattern.format(service=service, date=self._format_day(day.isoformat()))

    def date_of_index(self, index: str) -> date | None:
        """The day in an index name of this pattern (for retention), ``None`` if not ours."""
        match = self._index_re.fullmatch(index)
        if match is None:
            return None
        try:
            return date(int(match["Y"]), int(match["m"]), int(match["d"]))
        except ValueError:
            return None


def event_day(event: Mapping[str, Any]) -> str | None:
    """The UTC day (``YYYY-MM-DD``) an event is routed by: its ``@timestamp``'s, else its
    ``event.created``'s (the read time); ``None`` when neither is usable."""
    day = _utc_day(event.get("@timestamp"))
    if day is None:
        meta = event.get("event")
        day = _utc_day(meta.get("created") if type(meta) is dict else None)
    return day


def _utc_day(timestamp: Any) -> str | None:
    """``YYYY-MM-DD`` of an ISO 8601 time (fast for ours: ``…Z`` is already UTC)."""
    if type(timestamp) is not str:
        return None
    if len(timestamp) >= 20 and timestamp[-1] == "Z" and timestamp[10] == "T":
        day = timestamp[:10]
        if day[4] == "-" and day[7] == "-" and day[:4].isdigit():
            return day
    us = utc_iso_to_epoch_us(timestamp)
    if us is None or us < 0:
        return None
    return datetime.fromtimestamp(us / 1_000_000, UTC).date().isoformat()
