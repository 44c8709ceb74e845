"""Pure transforms: a raw log line in, an ECS event out. No I/O here.

What the runtime uses::

    from pipelines import MetricsExtractor, Pipeline, PipelineContext

    pipeline = Pipeline.from_config(config.pipeline, PipelineContext(service_name="checkout"))
    event = pipeline(raw_line)            # raises DropEvent for filtered lines
    index = pipeline.index_for(event)     # app-logs-checkout-2024.05.01
    observation = MetricsExtractor()(event)

Stages (one module each): ``parse``, ``timestamp`` (:mod:`pipelines.timestamps`), ``ecs``,
``correlate``, ``redact``, ``derive``, ``drop``, ``route``; tags are listed in
:mod:`pipelines.tags`. One contract (:mod:`pipelines.types`): a stage is a callable
``event -> event``; it may also offer ``compile(keys, fields)``, the same stage specialised for
the lines whose app object has those keys, sharing the stage's own helpers (one copy of each
decision). The runner (:class:`Pipeline`) caches the compiled chain per key set, so what depends
only on a line's key set is decided once, and a line runs only what depends on its values.

The bottom layer: it imports nothing of logferry's. A setting it cannot work with raises
:class:`PipelineConfigError` (a ``ValueError``); the runtime translates it into its own error.
"""

from pipelines.config import (
    DEFAULT_STAGES,
    StageConfig,
    load_stage_configs,
    load_stage_configs_yaml,
)
from pipelines.context import PipelineContext
from pipelines.errors import PipelineConfigError
from pipelines.metrics import (
    HTTP_DURATION_BUCKETS_S,
    METRICS,
    HttpObservation,
    MetricsExtractor,
    MetricSpec,
    Observation,
)
from pipelines.parse import event_id
from pipelines.pipeline import Pipeline
from pipelines.route import RouteConfig, Router
from pipelines.types import Compiled, DropEvent, Event, Parser, Processor, RawLine, Step

__all__ = [
    "DEFAULT_STAGES",
    "HTTP_DURATION_BUCKETS_S",
    "METRICS",
    "Compiled",
    "DropEvent",
    "Event",
    "HttpObservation",
    "MetricSpec",
    "MetricsExtractor",
    "Observation",
    "Parser",
    "Pipeline",
    "PipelineConfigError",
    "PipelineContext",
    "Processor",
    "RawLine",
    "RouteConfig",
    "Router",
    "StageConfig",
    "Step",
    "event_id",
    "load_stage_configs",
    "load_stage_configs_yaml",
]
