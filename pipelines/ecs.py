"""``ecs``: the line's well-known keys move to their Elastic Common Schema fields.

Three sources of mapping, later ones overriding earlier ones: keys that already are ECS field
names (``"log.level"``, as ecs-logging writes them), :data:`DEFAULT_MAPPING` (python-json-logger's
record attributes and the usual aliases), and the user's ``mapping``. Values are converted to
the field's Elasticsearch type (``"200"`` → ``200`` for ``http.response.status_code``); a value
that does not fit (an object for a keyword, ``"abc"`` for a long) stays under the app namespace.

A field is never overwritten: the operator's settings (service, environment, host, set first)
win over the line, and of two keys for one field (``level`` and ``levelname``) the first in the
line wins. The loser stays under the app namespace — nothing is dropped.

This stage also writes the bookkeeping fields ``agent.*``, ``ecs.version``, and the configured
``service.name``, ``service.environment`` and ``host.name``.

Cost: the mapping of a key set is worked out once (:class:`KeyPlan`). Compiled for a key set
(:meth:`Ecs.compile`) that comes back, the plan's moves are also unrolled into one generated
function (:meth:`Ecs._unrolled`): the same converters, the same parents created in the same
order, without the loop's per-key bookkeeping — for the lines whose every value converts and
where nothing is in the way (known in advance from the plan, the constants and the fields the
event holds); anything else goes through :meth:`Ecs.move`, the loop.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from collections.abc import Callable, Mapping
from typing import Any, Final, Literal, NamedTuple

from pydantic import Field, field_validator

from pipelines import tags as T
from pipelines._ecs_fields import ECS_FIELD_TYPES, ECS_VERSION
from pipelines._model import StageModel
from pipelines._paths import add_tag, set_path, split_path
from pipelines.context import PipelineContext
from pipelines.errors import PipelineConfigError
from pipelines.levels import LevelNormaliser
from pipelines.types import Compiled, Event

__all__ = ["AGENT_TYPE", "DEFAULT_MAPPING", "Ecs", "EcsConfig", "KeyPlan", "split_exception"]

AGENT_TYPE: Final = "logferry"

DEFAULT_MAPPING: Final[Mapping[str, str]] = {
    # python-json-logger: the logging.LogRecord attributes it can emit
    "levelname": "log.level",
    "name": "log.logger",
    "message": "message",
    "exc_info": "error.stack_trace",
    "exc_text": "error.stack_trace",
    "filename": "log.origin.file.name",
    "funcName": "log.origin.function",
    "lineno": "log.origin.file.line",
    "process": "process.pid",
    "processName": "process.name",
    "thread": "process.thread.id",
    "threadName": "process.thread.name",
    "taskName": "labels.task_name",  # asyncio task; ECS has no field for it, labels are keywords
    # the usual aliases
    "level": "log.level",
    "severity": "log.level",
    "lvl": "log.level",
    "loglevel": "log.level",
    "log_level": "log.level",
    "msg": "message",
    "logger": "log.logger",
    "logger_name": "log.logger",
    "loggerName": "log.logger",
    "method": "http.request.method",
    "http_method": "http.request.method",
    "request_method": "http.request.method",
    "path": "url.path",
    "route": "url.path",
    "request_path": "url.path",
    "url": "url.original",  # may be a full URL, so not url.path
    "status": "http.response.status_code",
    "status_code": "http.response.status_code",
    "statusCode": "http.response.status_code",
    "http_status": "http.response.status_code",
    "response_status": "http.response.status_code",
    "user_id": "user.id",
    "userId": "user.id",
    "user": "user.id",
    "username": "user.name",
    "user_name": "user.name",
    "service": "service.name",
    "service_name": "service.name",
    "env": "service.environment",
    "environment": "service.environment",
    "host": "host.name",
    "hostname": "host.name",
    "exc_type": "error.type",
    "error_type": "error.type",
    "exception_type": "error.type",
    "error": "error.message",
    "err": "error.message",
    "error_message": "error.message",
    "exc_message": "error.message",
    "exception": "error.stack_trace",
    "stack_trace": "error.stack_trace",
    "stacktrace": "error.stack_trace",
    "traceback": "error.stack_trace",
    "client_ip": "client.address",  # .address is a keyword: an invalid IP cannot break indexing
    "remote_addr": "client.address",
    "user_agent": "user_agent.original",
    "userAgent": "user_agent.original",
    "referer": "http.request.referrer",
    "referrer": "http.request.referrer",
}
"""Line key → ECS field. Time keys belong to ``timestamp``, IDs to ``correlate``, durations to
``derive``; ``error.stack_trace`` also fills ``error.type`` and ``error.message`` from the
trace's exception line when the line did not give them."""

# How a value is converted for its target field.
_STR, _INT, _FLOAT, _BOOL, _IP, _LEVEL, _STACK, _URL_PATH, _SCALAR = range(9)
_KIND_OF_ECS_TYPE: Final = {
    "keyword": _STR,
    "constant_keyword": _STR,
    "wildcard": _STR,
    "match_only_text": _STR,
    "text": _STR,
    "date": _STR,  # Elasticsearch parses the string; a number would be read as epoch millis
    "long": _INT,
    "integer": _INT,
    "float": _FLOAT,
    "double": _FLOAT,
    "scaled_float": _FLOAT,
    "boolean": _BOOL,
    "ip": _IP,
}
_SPECIAL_KINDS: Final = {
    "log.level": _LEVEL,
    "error.stack_trace": _STACK,
    "url.path": _URL_PATH,
}
_INVALID_TAGS: Final = {"http.response.status_code": T.STATUS_INVALID}
# Our own fields: a line may not set them through a mapping (the stages that own them would be
# bypassed, or the value would be overwritten).
_FORBIDDEN_TARGETS: Final = frozenset({"@timestamp", "tags"})
_OBJECT_PATHS: Final = frozenset(
    name.rsplit(".", i)[0] for name in ECS_FIELD_TYPES for i in range(1, name.count(".") + 1)
) | {name for name, type_ in ECS_FIELD_TYPES.items() if type_ in ("object", "nested")}

_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_BOOLEAN_WORDS: Final = {"true": True, "false": False}

# "ZeroDivisionError: division by zero", "pkg.mod.CustomError", "java.io.IOException: msg"
_EXCEPTION_LINE: Final = re.compile(r"([A-Za-z_][\w.$]*)(?::\s?(.*))?")
# A single line is only taken for "Type: message" when the type looks like an exception class.
_EXCEPTION_NAME: Final = re.compile(r".*(?:Error|Exception|Exit|Interrupt|Warning|Fault)")

_Target = tuple[int, str, int, str | None]  # parent index, leaf, kind, tag if the value is bad
_SCALARS: Final = frozenset({str, int, float, bool})


class EcsConfig(StageModel):
    """Map the line's keys to ECS fields; unknown keys stay under the app namespace."""

    type: Literal["ecs"] = "ecs"
    mapping: dict[str, str | None] = Field(
        default_factory=dict,
        description=(
            "Line key → ECS dotted field (e.g. `customer: user.id`), over the defaults; `null` "
            "un-maps a default, so the key stays under the app namespace."
        ),
    )
    default_mapping: bool = Field(
        True, description="Start from the built-in mapping (python-json-logger and common aliases)."
    )
    ecs_named_keys: bool = Field(
        True,
        description="Keys that already are ECS field names (`log.level`, `trace.id`) go there.",
    )
    level_aliases: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Extra level spellings (lower-case) → level, over the built-in ones (`warn` → "
            "`warning`, `err` → `error`, `crit`/`fatal` → `critical`, …)."
        ),
    )

    @field_validator("mapping")
    @classmethod
    def _valid_targets(cls, mapping: dict[str, str | None]) -> dict[str, str | None]:
        for key, target in mapping.items():
            if not key:
                raise ValueError("a source key must not be empty")
            if target is None:
                continue
            try:
                split_path(target)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from exc
            if target in _FORBIDDEN_TARGETS:
                raise ValueError(f"{key}: {target} is set by its own stage, not by a mapping")
            if target in _OBJECT_PATHS or ECS_FIELD_TYPES.get(target) in ("flattened", "geo_point"):
                raise ValueError(f"{key}: {target} is an ECS object, not a field")
        return mapping


def _kind(dotted: str) -> int:
    kind = _SPECIAL_KINDS.get(dotted)
    if kind is not None:
        return kind
    ecs_type = ECS_FIELD_TYPES.get(dotted)
    if ecs_type is not None:
        return _KIND_OF_ECS_TYPE.get(ecs_type, _SCALAR)
    if dotted.startswith("labels."):
        return _STR  # labels are keywords
    return _SCALAR  # not ECS (a custom field): any scalar, objects stay put


def build_mapping(config: EcsConfig) -> tuple[dict[str, _Target], tuple[tuple[str, ...], ...]]:
    """The tables the stage runs on.

    Returns ``line key → (parent index, leaf, kind, tag if the value is invalid)`` and the parent
    paths by index: fields sharing a parent (``process.pid``, ``process.name``) share its index,
    so each event resolves every parent object once.
    """
    dotted: dict[str, str | None] = {}
    if config.ecs_named_keys:
        dotted.update(
            (name, name)
            for name, type_ in ECS_FIELD_TYPES.items()
            if name not in _FORBIDDEN_TARGETS and type_ in _KIND_OF_ECS_TYPE
        )
    if config.default_mapping:
        dotted.update(DEFAULT_MAPPING)
    dotted.update(config.mapping)
    parents: dict[tuple[str, ...], int] = {(): 0}  # index 0 is the event itself
    table: dict[str, _Target] = {}
    for key, target in dotted.items():
        if target is None:
            continue
        *parent, leaf = split_path(target)
        for depth in range(1, len(parent) + 1):  # ancestors first: each refers to a lower index
            parents.setdefault(tuple(parent[:depth]), len(parents))
        table[key] = (parents[tuple(parent)], leaf, _kind(target), _INVALID_TAGS.get(target))
    return table, tuple(parents)


class KeyPlan(NamedTuple):
    """How one key set (the line's keys, in order) is mapped: worked out once per key set."""

    moves: tuple[tuple[str, int, str, type | None, int, str | None], ...]
    """``(key, parent slot, leaf, as-is type, kind, tag if the value is bad)`` per key with an
    ECS home, in line order (so parents are created, and tags added, in the order one pass
    would). A value of the as-is type needs no conversion (``str`` for a keyword)."""
    kept: tuple[str, ...]
    """Keys without an ECS home, in line order: they stay under the app namespace."""
    steps: tuple[tuple[int, str], ...]
    """Parent slot ``i`` is child ``steps[i][1]`` of slot ``steps[i][0]``; slot 0 is the event.
    Only the parents this key set needs get a slot, so an event resolves them in a short list."""
    targets: tuple[tuple[str, ...], ...]
    """The field each move writes, as a path (``("log", "level")``), in the order of ``moves``."""


_PLANS_MAX: Final = 1024
_UNROLL_AFTER: Final = 8  # lines of a key set before its moves are unrolled (exec is not free)
_UNROLL_MAX_MOVES: Final = 64  # a line with a flood of ECS-named keys keeps the loop
# Kind → the value type that is already right for it; other kinds always go through _convert.
_AS_IS: Final[dict[int, type]] = {_STR: str, _INT: int}
_PLACED: Final = object()  # what _convert says when the value was placed itself (stack traces)


class Ecs:
    """The ``ecs`` stage."""

    __slots__ = ("_constants", "_level", "_namespace", "_steps", "_table", "plan")

    def __init__(self, config: EcsConfig | None = None, context: PipelineContext | None = None):
        config = config or EcsConfig()
        context = context or PipelineContext()
        self._table, parents = build_mapping(config)
        namespace = (context.namespace,)
        inside = sorted(
            key for key, (index, *_) in self._table.items() if parents[index][:1] == namespace
        )
        if inside:  # the stage iterates that object while it maps: it cannot also write into it
            raise PipelineConfigError(
                f"mapping: {inside[0]!r} points into the app namespace {context.namespace!r}"
            )
        index_of = {path: index for index, path in enumerate(parents)}
        # Parent object i is found as child steps[i][1] of parent object steps[i][0].
        self._steps = tuple(
            (index_of[path[:-1]], path[-1]) if path else (0, "") for path in parents
        )
        # Key sets come from the lines: remembered, within bounds.
        self.plan: Callable[[tuple[str, ...]], KeyPlan] = functools.lru_cache(maxsize=_PLANS_MAX)(
            self._plan
        )
        """The mapping of an app object with these keys (in this order), remembered."""
        self._level = LevelNormaliser(config.level_aliases)
        self._namespace = context.namespace
        constants: dict[str, dict[str, Any]] = {
            "agent": {
                "type": AGENT_TYPE,
                "version": context.agent_version,
                "name": context.agent_name or context.host_name or AGENT_TYPE,
            },
            "ecs": {"version": ECS_VERSION},
        }
        service = {
            key: value
            for key, value in (
                ("name", context.service_name),
                ("environment", context.service_environment),
            )
            if value
        }
        if service:
            constants["service"] = service
        if context.host_name:
            constants["host"] = {"name": context.host_name}
        self._constants = tuple(constants.items())

    def __call__(self, event: Event) -> Event:
        """Write the bookkeeping fields, then map the line's keys."""
        self.add_constants(event)
        app = event.get(self._namespace)
        if type(app) is not dict or not app:
            return event
        plan = self.plan(tuple(app))
        self._stay(event, app, plan, self.move(event, app, plan))
        return event

    def _stay(
        self, event: Event, app: dict[str, Any], plan: KeyPlan, failed: list[str] | None
    ) -> dict[str, Any]:
        """What stays under the app namespace once :meth:`move` is done (gone if nothing)."""
        kept = plan.kept
        if failed:  # rare: the keys that stay are not the plan's; keep them in line order
            stays = {*kept, *failed}
            rest = {key: value for key, value in app.items() if key in stays}
        else:
            rest = {key: app[key] for key in kept}
        if rest:
            event[self._namespace] = rest
        else:
            del event[self._namespace]
        return rest

    def compile(self, keys: tuple[str, ...], fields: frozenset[str] | None) -> Compiled:
        """This stage for app objects with ``keys``: their :class:`KeyPlan`, worked out once;
        the step only moves the values (a value that does not fit stays, as in
        :meth:`__call__`, and the later stages then run generically)."""
        add_constants = self.add_constants
        if not keys:  # the app object is gone already: only the bookkeeping fields

            def constants(event: Event, app: dict[str, Any]) -> dict[str, Any]:
                add_constants(event)
                return app

            return Compiled(constants, keys, None)
        plan = self.plan(keys)
        move = self.move
        stay = self._stay
        unrolled: Callable[[Event, dict[str, Any]], dict[str, Any] | None] | None = None
        lines = 0

        def step(event: Event, app: dict[str, Any]) -> dict[str, Any] | None:
            nonlocal unrolled, lines
            if unrolled is not None:
                rest = unrolled(event, app)
                if rest is not None:
                    return rest
            elif lines < _UNROLL_AFTER:  # a key set seen once or twice is not worth the exec
                lines += 1
                if lines == _UNROLL_AFTER:
                    unrolled = self._unrolled(plan, fields)
            add_constants(event)  # a value that is not its field's usual kind: the loop decides
            failed = move(event, app, plan)
            rest = stay(event, app, plan, failed)
            return None if failed else rest

        return Compiled(step, plan.kept, None)

    def _unrolled(
        self, plan: KeyPlan, fields: frozenset[str] | None
    ) -> Callable[[Event, dict[str, Any]], dict[str, Any] | None] | None:
        """:meth:`add_constants`, :meth:`move` of ``plan`` and :meth:`_stay`, unrolled into one
        function for an event holding ``fields``, for the case where every value converts: it
        returns what stays under the app namespace, or ``None`` (having changed nothing) as
        soon as a value does not convert.

        Each value goes through its kind's converter (:func:`_keyword`, :func:`_long`, the
        level cache…); where the loop would find a field taken or a parent in the way (which
        ``fields``, the constants and the plan tell in advance), or for a stack trace (which
        places itself), there is no such function and the loop runs every time.
        """
        if fields is None or len(plan.moves) > _UNROLL_MAX_MOVES:
            return None
        constants = dict(self._constants)
        taken = {split_path(field) for field in fields}
        taken |= {(key, name) for key, values in constants.items() for name in values}
        parents = {path[:depth] for path in taken for depth in range(1, len(path))}
        targets = plan.targets
        for target in targets:
            if (
                target in taken  # a field set already
                or target in parents  # an object of ours
                or any(target[:depth] in taken for depth in range(1, len(target)))  # in the way
                or any(other[: len(target)] == target for other in targets if other != target)
            ):
                return None
        if len(set(targets)) != len(targets):  # two keys for one field: the first wins
            return None
        names: dict[str, Any] = {
            "_keyword": _keyword,
            "_long": _long,
            "_double": _double,
            "_boolean": _boolean,
            "_ip": _ip,
            "_SCALARS": _SCALARS,
            "_level": self._level.known,
        }
        # Per kind: the lines that leave c{i} converted, or return None if it does not convert.
        converts = {
            _STR: [  # _keyword() for what is not a string already
                "if type({v}) is not str:",
                "    {v} = _keyword({v})",
                "    if {v} is None: return None",
            ],
            _INT: [
                "if type({v}) is not int:",
                "    {v} = _long({v})",
                "    if {v} is None: return None",
            ],
            _FLOAT: ["{v} = _double({v})", "if {v} is None: return None"],
            _BOOL: ["{v} = _boolean({v})", "if {v} is None: return None"],
            _IP: ["{v} = _ip({v})", "if {v} is None: return None"],
            _SCALAR: ["if type({v}) not in _SCALARS: return None"],
            _LEVEL: [
                "{v} = _level({v}) if type({v}) is str else None",
                "if {v} is None: return None",
            ],
            _URL_PATH: ["if type({v}) is not str or '?' in {v}: return None"],  # no query
        }
        code = ["def unrolled(event, app):"]
        for index, (key, _slot, _leaf, _as_is, kind, _tag) in enumerate(plan.moves):
            convert = converts.get(kind)
            if convert is None:  # a stack trace
                return None
            code.append(f"    c{index} = app[{key!r}]")
            code += [f"    {line.format(v=f'c{index}')}" for line in convert]
        tops = {field.split(".", 1)[0] for field in fields}
        for index, (key, values) in enumerate(constants.items()):  # add_constants(), unrolled
            if key in tops:  # (parse's usual event has none of them: only then is this usual)
                return None
            names[f"k{index}"] = values
            code.append(f"    event[{key!r}] = k{index}.copy()")
        made = {0}
        steps = plan.steps
        paths: dict[int, tuple[str, ...]] = {0: ()}
        for index, (_key, slot, leaf, *_) in enumerate(plan.moves):
            chain = []
            up = slot
            while up not in made:  # the parents this field is the first to need, top down
                chain.append(up)
                up = steps[up][0]
            for parent in reversed(chain):
                above, name = steps[parent]
                node = "event" if above == 0 else f"s{above}"
                paths[parent] = (*paths[above], name)
                if paths[parent] in parents:  # there may be one already (_resolve())
                    code.append(f"    s{parent} = {node}.get({name!r})")
                    code.append(f"    if s{parent} is None: s{parent} = {node}[{name!r}] = {{}}")
                else:  # there is none: this field is the first in it
                    code.append(f"    s{parent} = {node}[{name!r}] = {{}}")
                made.add(parent)
            code.append(f"    {'event' if slot == 0 else f's{slot}'}[{leaf!r}] = c{index}")
        if plan.kept:  # _stay(), unrolled
            code.append(
                f"    rest = {{{', '.join(f'{key!r}: app[{key!r}]' for key in plan.kept)}}}"
            )
            code.append(f"    event[{self._namespace!r}] = rest")
            code.append("    return rest")
        else:
            code.append(f"    del event[{self._namespace!r}]")
            code.append("    return {}")
        exec("\n".join(code), names)  # our own text, made from the plan
        unrolled: Callable[[Event, dict[str, Any]], dict[str, Any] | None] = names["unrolled"]
        return unrolled

    def add_constants(self, event: Event) -> None:
        """The bookkeeping fields (``agent``, ``ecs``, the configured service and host)."""
        for key, fields in self._constants:
            current = event.get(key)
            if current is None:
                event[key] = fields.copy()  # every event owns its dicts: later stages mutate
            elif type(current) is dict:
                for name, value in fields.items():
                    current.setdefault(name, value)

    def _plan(self, keys: tuple[str, ...]) -> KeyPlan:
        table = self._table
        slot_of: dict[int, int] = {0: 0}  # parent index (build_mapping's) → slot in this plan
        steps: list[tuple[int, str]] = [(0, "")]
        paths: list[tuple[str, ...]] = [()]

        def slot(index: int) -> int:
            found = slot_of.get(index)
            if found is None:
                up, name = self._steps[index]
                up_slot = slot(up)  # ancestors first: each refers to a lower slot
                found = slot_of[index] = len(steps)
                steps.append((up_slot, name))
                paths.append((*paths[up_slot], name))
            return found

        moves = []
        kept = []
        targets = []
        for key in keys:
            spec = table.get(key)
            if spec is None:
                kept.append(key)
            else:
                index, leaf, kind, invalid_tag = spec
                parent = slot(index)
                moves.append((key, parent, leaf, _AS_IS.get(kind), kind, invalid_tag))
                targets.append((*paths[parent], leaf))
        return KeyPlan(tuple(moves), tuple(kept), tuple(steps), tuple(targets))

    def move(self, event: Event, app: dict[str, Any], plan: KeyPlan) -> list[str] | None:
        """Put each value of ``app`` with an ECS home there (``app`` itself is left alone);
        returns the keys whose value must stay, ``None`` if none (``plan.kept`` stay anyway)."""
        steps = plan.steps
        level_of = self._level.known
        nodes: list[Any] = [None] * len(steps)  # parent slot → its object in this event
        nodes[0] = event
        failed: list[str] | None = None
        for key, slot, leaf, as_is, kind, invalid_tag in plan.moves:
            value = app[key]
            # Most values already have the field's type: no call for them, nor for a path
            # without a query; one for a level written as text.
            if type(value) is as_is:
                converted = value
            elif value is None:
                converted = None
            elif kind == _LEVEL and type(value) is str:
                converted = level_of(value)
            elif kind == _URL_PATH and type(value) is str and "?" not in value:
                converted = value
            else:
                converted = self._convert(event, value, kind)
                if converted is _PLACED:
                    continue
            if converted is not None:
                node = nodes[slot]
                if node is None:  # first field under this parent in this event: find or make it
                    # _resolve(), inlined for the usual case of a parent already resolved
                    up, name = steps[slot]
                    above = nodes[up]
                    if above is None:
                        above = _resolve(nodes, steps, up)
                    if above is False:
                        node = False
                    else:
                        node = above.get(name)
                        if node is None:
                            node = above[name] = {}
                        elif type(node) is not dict:
                            node = False
                    nodes[slot] = node
                if node is not False and leaf not in node:
                    node[leaf] = converted
                    continue
            elif invalid_tag is not None and value is not None:
                add_tag(event, invalid_tag)
            if failed is None:
                failed = [key]
            else:
                failed.append(key)
        return failed

    def _convert(self, event: Event, value: Any, kind: int) -> Any:
        """``value`` (not ``None``) as the field's type; ``None`` if it does not fit, or
        :data:`_PLACED` if it found its home(s) itself."""
        value_type = type(value)
        if kind == _LEVEL:
            return self._level(value)
        if kind == _URL_PATH:
            return _url_path(event, value)
        if kind == _STR:
            return _keyword(value)
        if kind == _INT:
            return _long(value)
        if kind == _STACK:
            placed = value_type is str and value and _map_error_text(event, value)
            return _PLACED if placed else None
        if kind == _FLOAT:
            return _double(value)
        if kind == _BOOL:
            return _boolean(value)
        if kind == _IP:
            return _ip(value)
        return value if value_type in _SCALARS else None


def _resolve(nodes: list[Any], steps: tuple[tuple[int, str], ...], slot: int) -> Any:
    """Parent object ``slot`` (and its ancestors), created where missing, remembered in
    ``nodes``; ``False`` if a non-object is in the way (the value then stays put)."""
    up, name = steps[slot]
    above = nodes[up]
    if above is None:
        above = _resolve(nodes, steps, up)
    node: Any
    if above is False:
        node = False
    else:
        node = above.get(name)
        if node is None:
            node = above[name] = {}
        elif type(node) is not dict:
            node = False
    nodes[slot] = node
    return node


def _keyword(value: Any) -> str | None:
    kind = type(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is int or kind is float:
        return str(value)
    return None


def _long(value: Any) -> int | None:
    kind = type(value)
    if kind is int:
        number = value
    elif kind is float and value.is_integer():
        number = int(value)
    elif kind is str:
        try:
            number = int(value)
        except ValueError:
            return None
    else:
        return None
    return number if _LONG_MIN <= number <= _LONG_MAX else None


def _double(value: Any) -> float | None:
    kind = type(value)
    if kind is int or kind is float:
        return float(value)
    if kind is str:
        try:
            number = float(value)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _boolean(value: Any) -> bool | None:
    if type(value) is bool:
        return bool(value)
    if type(value) is str:
        return _BOOLEAN_WORDS.get(value.strip().lower())
    return None


def _ip(value: Any) -> str | None:
    if type(value) is not str:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def _url_path(event: Event, value: Any) -> str | None:
    """A path with a query string is split into ``url.path`` and ``url.query``."""
    if type(value) is not str:
        return _keyword(value)
    path: str = value
    if "?" in path:
        path, _, query = path.partition("?")
        set_path(event, ("url", "query"), query)
    return path


def split_exception(text: str) -> tuple[str | None, str | None]:
    """``(error.type, error.message)`` of a stack trace or an exception line, where recognisable.

    Python puts the exception last (after ``Traceback (most recent call last):``), Java and most
    others first.
    """
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return None, None
    line = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    match = _EXCEPTION_LINE.fullmatch(line.strip())
    if match is None:
        return None, None
    return match[1], match[2]


def _map_error_text(event: Event, text: str) -> bool:
    """A multi-line value is a stack trace; a single line is an error message (maybe typed).

    Returns whether the value found a home (so it can leave the app namespace).
    """
    error_type, message = split_exception(text)
    if "\n" in text:
        placed = set_path(event, ("error", "stack_trace"), text)
        if placed:
            if error_type:
                set_path(event, ("error", "type"), error_type)
            if message:
                set_path(event, ("error", "message"), message)
        return placed
    if error_type and message is not None and _EXCEPTION_NAME.fullmatch(error_type):
        placed = set_path(event, ("error", "message"), message)
        if placed:
            set_path(event, ("error", "type"), error_type)
        return placed
    if error_type and message is None and _EXCEPTION_NAME.fullmatch(error_type):
        return set_path(event, ("error", "type"), error_type)
    return set_path(event, ("error", "message"), text)
