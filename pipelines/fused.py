"""The default chain in one go per line: ``parse``, ``timestamp``, ``redact``, ``ecs``,
``correlate`` and ``derive`` (then any stages configured after them, as usual), for the usual
line, with each stage's own code.

Why: run one after the other, each stage looks the line's keys up again, walks the event's top
level again, builds and empties the app object again; on a typical line that bookkeeping costs
about as much as the work. Here whatever the stages decide from the line's key set alone (which
key holds the time, which go to ECS fields, which are IDs or the duration, what stays under the
app namespace) is worked out once per key set, and a line only runs what depends on its values.

The usual line is a JSON object whose time field (if any) parses, with nothing to redact, every
mapped value of its field's kind, valid IDs and duration. Any other line, and any key set the
plan does not cover, goes through the stages one by one (parsed again, with the same read time,
if it was already part-way): the event is the same either way, key order included, which
``tests/unit/pipelines/test_fused_chain.py`` checks on generated and random lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, NamedTuple

from pipelines import tags as T
from pipelines.context import PipelineContext
from pipelines.correlate import ID_PATHS, Correlate, place_id
from pipelines.derive import Derive, DurationUnit, duration_ns, set_duration
from pipelines.ecs import Ecs, KeyPlan
from pipelines.parse import Parse
from pipelines.redact import Redact
from pipelines.timestamps import Timestamp
from pipelines.types import Event, Processor, RawLine

__all__ = ["FusedChain"]

_PLANS_MAX: Final = 1024


class _LinePlan(NamedTuple):
    """What the stages do with the keys of one key set, when every value is usual."""

    time_key: str | None
    """The key ``timestamp`` takes (the first candidate present); ``None``: there is none."""
    mapping: KeyPlan
    """``ecs``'s plan for the keys left after ``timestamp``."""
    ids: tuple[tuple[str, int], ...]
    """The keys ``correlate`` takes, with the ID field each fills."""
    duration: tuple[str, DurationUnit, float] | None
    """The key ``derive`` takes for ``event.duration``, its unit and nanoseconds per unit."""
    kept: tuple[str, ...]
    """What stays under the app namespace in the end."""


class FusedChain:
    """``parse`` + the default stages, in one call per line (see the module's docstring)."""

    __slots__ = (
        "_correlate",
        "_derive",
        "_ecs",
        "_namespace",
        "_parse",
        "_plans",
        "_redact",
        "_stages",
        "_tail",
        "_timestamp",
    )

    def __init__(
        self,
        parse: Parse,
        head: tuple[Timestamp, Redact, Ecs, Correlate, Derive],
        tail: Sequence[Processor],
        context: PipelineContext,
    ) -> None:
        self._parse = parse
        self._timestamp, self._redact, self._ecs, self._correlate, self._derive = head
        self._tail = tuple(tail)  # stages after the default ones (a drop filter, say): as usual
        self._stages: tuple[Processor, ...] = (*head, *self._tail)
        self._namespace = context.namespace
        self._plans: dict[tuple[str, ...], _LinePlan | None] = {}

    @classmethod
    def build(
        cls, parse: Parse, stages: Sequence[Processor], context: PipelineContext
    ) -> FusedChain | None:
        """The fused chain for ``stages`` (built with ``context``), or ``None`` unless they
        start with the default chain's, in its order, with settings this covers."""
        if len(stages) < 5:
            return None
        timestamp, redact, ecs, correlate, derive = stages[:5]
        if not (
            type(timestamp) is Timestamp
            and type(redact) is Redact
            and type(ecs) is Ecs
            and type(correlate) is Correlate
            and type(derive) is Derive
        ):
            return None
        # The fields parse and timestamp write must all be skipped by redact (so it only walks
        # the app object); correlate must need nothing but the line's keys.
        usual: Event = {
            "@timestamp": "",
            context.namespace: {},
            "log": {"file": {"path": ""}, "offset": 0},
            "event": {"id": "", "created": ""},
            "tags": [],
        }
        if (
            parse.keeps_original
            or redact.scans_every_string
            or not redact.only_walks(usual, context.namespace)
            or not correlate.keys_only
        ):
            return None
        return cls(parse, (timestamp, redact, ecs, correlate, derive), stages[5:], context)

    def __call__(self, raw: RawLine) -> Event:
        """The event for ``raw``, exactly as the stages one by one would make it."""
        parse = self._parse
        created = parse.read_time()
        event = parse.parse_at(raw, created)
        app = event.get(self._namespace)
        if type(app) is not dict or len(event) != 4:  # not the usual line: no app, or tags
            return self._one_by_one(event)
        keys = tuple(app)
        try:
            plan = self._plans[keys]
        except KeyError:
            plan = self._plan(keys)
        if plan is None:
            return self._one_by_one(event)
        # timestamp
        time_key = plan.time_key
        if time_key is not None:
            value = app[time_key]
            text = None if value is None else self._timestamp.normalise(value)
            if text is None:  # nothing changed yet: the stages take over this very event
                return self._one_by_one(event)
            event["@timestamp"] = text
            del app[time_key]
        else:
            event["tags"] = [T.TIMESTAMP_MISSING]
        # From here on the event is changed: if a value is unusual, the line starts over.
        if not self._redact.untouched(app):
            return self._again(raw, created)
        ecs = self._ecs
        ecs.add_constants(event)
        if ecs.move(event, app, plan.mapping):
            return self._again(raw, created)
        for key, field in plan.ids:
            if not place_id(event, field, app[key]):
                return self._again(raw, created)
        duration = plan.duration
        if duration is not None:
            key, unit, ns_per_unit = duration
            nanos = duration_ns(app[key], unit, ns_per_unit)
            if nanos is None or not set_duration(event, nanos):
                return self._again(raw, created)
        if plan.kept:
            event[self._namespace] = {key: app[key] for key in plan.kept}
        else:
            del event[self._namespace]
        self._derive.finish(event)
        for stage in self._tail:
            event = stage(event)
        return event

    def _one_by_one(self, event: Event) -> Event:
        for stage in self._stages:
            event = stage(event)
        return event

    def _again(self, raw: RawLine, created: str) -> Event:
        return self._one_by_one(self._parse.parse_at(raw, created))

    def _plan(self, keys: tuple[str, ...]) -> _LinePlan | None:
        """What each stage would take from ``keys``, or ``None`` where that depends on more
        than the values being usual (the stages then decide, one by one)."""
        plan = self._decide(keys)
        if len(self._plans) >= _PLANS_MAX:  # key sets come from the lines: stay bounded
            self._plans.clear()
        self._plans[keys] = plan
        return plan

    def _decide(self, keys: tuple[str, ...]) -> _LinePlan | None:
        time_key = next((key for key in self._timestamp.fields if key in keys), None)
        rest = tuple(key for key in keys if key != time_key)
        if not rest or self._redact.any_sensitive(rest):
            return None  # the app object would be gone, or a value redacted
        mapping = self._ecs.plan(rest)
        # A line key ecs puts into ``event`` (parse's ``event.id``, derive's ``event.duration``)
        # or where correlate writes (``trace.id``): a stage finds the field taken, and every
        # such line would start over. Better go one by one at once.
        for target in mapping.targets:
            if target[0] == "event":
                return None
            for path in ID_PATHS:
                if target[: len(path)] == path[: len(target)]:
                    return None
        ids = self._correlate.id_fields(mapping.kept)
        if ids is None:
            return None  # a traceparent: correlate's own way
        taken = {key for key, _ in ids}
        left = [key for key in mapping.kept if key not in taken]
        duration = self._derive.duration_key(left)
        kept = tuple(key for key in left if duration is None or key != duration[0])
        return _LinePlan(time_key, mapping, tuple(ids), duration, kept)
