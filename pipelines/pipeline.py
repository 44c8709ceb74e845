"""The runner: ``parse`` then every stage in order, each a plain callable (no pydantic here)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pipelines.config import StageConfig, load_stage_configs
from pipelines.context import PipelineContext
from pipelines.correlate import Correlate, CorrelateConfig
from pipelines.derive import Derive, DeriveConfig
from pipelines.drop import Drop, DropConfig
from pipelines.ecs import Ecs, EcsConfig
from pipelines.errors import PipelineConfigError
from pipelines.fused import FusedChain
from pipelines.parse import Parse, ParseConfig
from pipelines.redact import Redact, RedactConfig
from pipelines.route import RouteConfig, Router
from pipelines.timestamps import Timestamp, TimestampConfig
from pipelines.types import Event, Parser, Processor, RawLine

__all__ = ["Pipeline"]

_PROCESSORS: dict[type[Any], Callable[[Any, PipelineContext], Processor]] = {
    TimestampConfig: Timestamp,
    EcsConfig: Ecs,
    CorrelateConfig: Correlate,
    RedactConfig: Redact,
    DeriveConfig: Derive,
    DropConfig: Drop,
}


class Pipeline:
    """A configured chain: ``pipeline(raw_line) -> event`` (or :class:`DropEvent`).

    The index an event goes to is not part of the event; ask :meth:`index_for`.
    """

    __slots__ = ("_fused", "_parse", "_stages", "context", "router")

    def __init__(
        self,
        parse: Parser,
        stages: Sequence[Processor],
        router: Router | None = None,
        context: PipelineContext | None = None,
    ) -> None:
        self.context = context or PipelineContext()
        self._parse = parse
        self._stages = tuple(stages)
        self.router = router or Router(now=self.context.now)  # also usable alone (indexer)
        self._fused: FusedChain | None = None

    @classmethod
    def from_config(
        cls,
        stages: Sequence[Mapping[str, Any] | StageConfig] | None = None,
        context: PipelineContext | None = None,
        *,
        fused: bool = True,
    ) -> Pipeline:
        """Build from the YAML-shaped list (dicts or models); ``None`` = the default chain.

        The default chain runs fused (:mod:`pipelines.fused`: the same events, about a third
        less work); ``fused=False`` runs the stages one by one all the same (for comparisons).
        Raises :class:`~pipelines.errors.PipelineConfigError` naming the failing key.
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
        pipeline = cls(parse, processors, Router(route_config, now=context.now), context)
        if fused:
            pipeline._fused = FusedChain.build(parse, processors, context)
        return pipeline

    def __call__(self, raw: RawLine) -> Event:
        """The event for ``raw``; raises :class:`~pipelines.types.DropEvent` for filtered ones."""
        if self._fused is not None:
            return self._fused(raw)
        event = self._parse(raw)
        for stage in self._stages:
            event = stage(event)
        return event

    def index_for(self, event: Mapping[str, Any]) -> str:
        """The Elasticsearch index ``event`` belongs in (from ``service.name`` and its UTC day)."""
        return self.router.index_for(event)
