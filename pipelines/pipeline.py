"""The runner: ``parse`` then every stage in order, each a plain callable (no pydantic here).

Per line that is all there is to it (structlog's loop). What makes it cheap is that most lines of
an application share a handful of key sets: a stage that offers ``compile(keys, fields)``
(:class:`~pipelines.types.Compiled`) decides once per key set what it takes from such a line,
and the runner remembers the compiled chain per key set (bounded, least recently used out).
A line with a key set seen before then runs only the compiled steps, which do what depends on
its values. A step that meets a value the plan did not foresee still does its stage's work
exactly, and hands the rest of the line to the later stages' generic ``__call__``; a stage
without ``compile`` (or one that declines a key set) runs generically with everything after it.
Either way the event is the one the stages make one by one, key order included
(``tests/unit/pipelines/test_compiled_chain.py``).

Only parse's usual event is compiled for (a non-empty JSON object without source tags, and no
``keep_original``): it holds ``Parse.usual_fields`` besides the app object. Each compiled stage
passes on the app's keys and the fields the event may hold after it (``None``: it does not
say), so a later stage can decide from them too: ``redact`` that its walk is the app object's
values alone, ``ecs`` which parent objects exist already.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from pipelines.config import StageConfig, load_stage_configs
from pipelines.context import PipelineContext
from pipelines.correlate import Correlate, CorrelateConfig
from pipelines.derive import Derive, DeriveConfig
from pipelines.drop import Drop, DropConfig
from pipelines.ecs import Ecs, EcsConfig
from pipelines.errors import PipelineConfigError
from pipelines.parse import Parse, ParseConfig
from pipelines.redact import Redact, RedactConfig
from pipelines.route import RouteConfig, Router
from pipelines.timestamps import Timestamp, TimestampConfig
from pipelines.types import Compiled, Event, Parser, Processor, RawLine, Step

__all__ = ["Pipeline"]

_PROCESSORS: dict[type[Any], Callable[[Any, PipelineContext], Processor]] = {
    TimestampConfig: Timestamp,
    EcsConfig: Ecs,
    CorrelateConfig: Correlate,
    RedactConfig: Redact,
    DeriveConfig: Derive,
    DropConfig: Drop,
}

_CHAINS_MAX: Final = 1024
"""Key sets remembered: they come from the lines, so a line with random keys must not grow us."""

# A compiled chain: each step with the stages to run generically if it says the plan no longer
# holds, then the stages that run generically anyway (from the first one that did not compile).
_Chain = tuple[tuple[tuple[Step, tuple[Processor, ...]], ...], tuple[Processor, ...]]


class Pipeline:
    """A configured chain: ``pipeline(raw_line) -> event`` (or :class:`DropEvent`).

    The index an event goes to is not part of the event; ask :meth:`index_for`.
    """

    __slots__ = ("_chain", "_fields", "_namespace", "_parse", "_stages", "context", "router")

    def __init__(
        self,
        parse: Parser,
        stages: Sequence[Processor],
        router: Router | None = None,
        context: PipelineContext | None = None,
        *,
        compiled: bool = True,
    ) -> None:
        self.context = context or PipelineContext()
        self._parse = parse
        self._stages = tuple(stages)
        self.router = router or Router(now=self.context.now)  # also usable alone (indexer)
        self._namespace = self.context.namespace
        # What parse's usual event holds besides the app object (None: a parser that does not
        # say, or whose events are not all alike; then every line runs generically).
        self._fields: frozenset[str] | None = getattr(parse, "usual_fields", None)
        self._chain: Callable[[tuple[str, ...]], _Chain] | None = None
        if compiled and self._fields is not None:
            self._chain = functools.lru_cache(maxsize=_CHAINS_MAX)(self._compile)

    @classmethod
    def from_config(
        cls,
        stages: Sequence[Mapping[str, Any] | StageConfig] | None = None,
        context: PipelineContext | None = None,
        *,
        compiled: bool = True,
    ) -> Pipeline:
        """Build from the YAML-shaped list (dicts or models); ``None`` = the default chain.

        ``compiled=False`` runs every line through the stages' generic ``__call__`` (the same
        events, slower: for comparisons). Raises :class:`~pipelines.errors.PipelineConfigError`
        naming the failing key.
        """
        context = context or PipelineContext()
        configs = load_stage_configs(stages)
        parse_config = next((c for c in configs if isinstance(c, ParseConfig)), ParseConfig())
        route_config = next((c for c in configs if isinstance(c, RouteConfig)), RouteConfig())
        processors = []
        for index, config in enumerate(configs):
            if isinstance(config, ParseConfig | RouteConfig):
                continue
            try:
                processors.append(_PROCESSORS[type(config)](config, context))
            except PipelineConfigError as exc:  # a check that needs the context: name the entry too
                raise PipelineConfigError(f"pipeline[{index}].{exc}") from exc
        parse = Parse(parse_config, context)
        router = Router(route_config, now=context.now)
        return cls(parse, processors, router, context, compiled=compiled)

    def __call__(self, raw: RawLine) -> Event:
        """The event for ``raw``; raises :class:`~pipelines.types.DropEvent` for filtered ones."""
        event = self._parse(raw)
        chain = self._chain
        if chain is not None:
            app = event.get(self._namespace)
            # parse's usual event: the read time, the app object, log and event (no tags)
            if type(app) is dict and len(event) == 4:
                steps, tail = chain(tuple(app))
                for step, rest in steps:
                    app = step(event, app)
                    if app is None:  # the plan no longer holds: the rest, generically
                        tail = rest
                        break
                for stage in tail:
                    event = stage(event)
                return event
        for stage in self._stages:
            event = stage(event)
        return event

    def _compile(self, keys: tuple[str, ...]) -> _Chain:
        """The chain for lines whose app object has ``keys``: as long as the stages compile."""
        fields = self._fields
        stages = self._stages
        steps: list[tuple[Step, tuple[Processor, ...]]] = []
        for index, stage in enumerate(stages):
            compile_for: Callable[..., Compiled | None] | None = getattr(stage, "compile", None)
            compiled = compile_for(keys, fields) if compile_for is not None else None
            if compiled is None:
                return tuple(steps), stages[index:]
            steps.append((compiled.step, stages[index + 1 :]))
            keys, fields = compiled.keys, compiled.fields
        return tuple(steps), ()

    def index_for(self, event: Mapping[str, Any]) -> str:
        """The Elasticsearch index ``event`` belongs in (from ``service.name`` and its UTC day)."""
        return self.router.index_for(event)
