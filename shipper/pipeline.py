"""The bridge between the pure transforms and the runtime: run them over a batch, serialise,
and tally what the metrics need. A stage that fails on a line is a bug, not a reason to lose
the line: the raw line is shipped tagged `_pipelineerror` instead.

Encoding returns plain data (:class:`EncodedBatch`) instead of touching the metrics, so the same
code runs in the main process or in a transform worker (:mod:`shipper.workers`), and the main
process applies the tallies with :func:`record`.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson

from pipelines.metrics import MetricsExtractor, MetricsTally
from pipelines.parse import event_id
from pipelines.pipeline import Pipeline
from pipelines.types import DropEvent, Event, RawLine
from shipper.serialise import dumps_kept
from shipper.sinks import OutgoingEvent
from shipper.sinks.headers import route_headers
from shipper.transforms import build_transforms

if TYPE_CHECKING:  # a transform worker imports this module without the config and metrics
    from shipper.config import ShipperConfig
    from shipper.metrics import ShipperMetrics

__all__ = [
    "PIPELINE_ERROR_TAG",
    "EncodedBatch",
    "EncoderSettings",
    "EventEncoder",
    "build_pipeline",
    "record",
]

log = logging.getLogger("logferry.pipeline")

PIPELINE_ERROR_TAG = "_pipelineerror"
_TRUNCATED_TAG = "_truncated"


class EncoderSettings(NamedTuple):
    """What encoding needs of the config, as plain data: a transform worker is handed this, not
    the config, whose model would import the whole config machinery into every worker."""

    pipeline: list[dict[str, Any]] | None
    service_name: str
    service_environment: str | None
    max_event_bytes: int

    @classmethod
    def of(cls, config: ShipperConfig) -> EncoderSettings:
        return cls(
            config.pipeline,
            config.service.name,
            config.service.environment,
            config.output.max_event_bytes,
        )

    def build_pipeline(self) -> Pipeline:
        """The configured transform chain (the defaults when `pipeline` is not set)."""
        return build_transforms(
            self.pipeline,
            service_name=self.service_name,
            service_environment=self.service_environment,
        )


def build_pipeline(config: ShipperConfig) -> Pipeline:
    """The configured transform chain (the defaults when `pipeline` is not set)."""
    return EncoderSettings.of(config).build_pipeline()


@dataclass
class EncodedBatch:
    """One batch, transformed and serialised, with the tallies for the metrics."""

    events: list[OutgoingEvent] = field(default_factory=list)
    filtered: Counter[str] = field(default_factory=Counter)
    tags: Counter[str] = field(default_factory=Counter)
    app: MetricsTally = field(default_factory=MetricsTally)
    failure: str | None = None
    """The first pipeline failure of the batch (where and the traceback), to log once."""
    lines: int = 0
    """Lines the chain ran over (events, filtered lines and failures alike)."""
    encoded_in: str = "main"
    """The process that ran the chain: ``main``, or ``worker`` (set on the main side)."""
    delivery: asyncio.Future[tuple[int, float]] | None = None
    """When a worker publishes the batch itself: resolves to (events, seconds of the attempt
    that succeeded) once every event is acknowledged (set in the main process)."""


class EventEncoder:
    """Batch of raw lines -> events ready for the sink, plus what the metrics need."""

    def __init__(self, settings: EncoderSettings) -> None:
        self._pipeline = settings.build_pipeline()
        self._labels = MetricsExtractor(default_service=settings.service_name).labels
        self._max_event_bytes = settings.max_event_bytes

    def encode(self, batch: list[RawLine]) -> EncodedBatch:
        """Transform and serialise *batch*; filtered lines are tallied and left out."""
        result = EncodedBatch(lines=len(batch))
        pipeline, labels, events = self._pipeline, self._labels, result.events
        count = result.app.count
        for raw in batch:
            try:
                event = pipeline(raw)
            except DropEvent as drop:
                result.filtered[drop.reason] += 1
                continue
            except Exception as exc:  # a bug in a stage must not lose the line
                if result.failure is None:  # once per batch: a broken stage must not flood the log
                    result.failure = f"{raw.path}@{raw.offset}: {traceback.format_exc()}"
                event = _raw_event(raw, exc)
            event_tags = event.get("tags")
            if event_tags:
                result.tags.update(event_tags)
            count(labels(event))
            events.append(self._serialise(event, raw))
        return result

    def _serialise(self, event: Event, raw: RawLine) -> OutgoingEvent:
        value = dumps_kept(event, default=str)  # held until the broker acknowledges the batch
        if len(value) > self._max_event_bytes:
            value = self._shrink(event)
        event_id = str(event.get("event", {}).get("id", ""))
        trace = event.get("trace")
        trace_id = trace.get("id") if isinstance(trace, dict) else None
        key = str(trace_id).encode() if trace_id else raw.file_id.encode()
        return OutgoingEvent(value, key, event_id, tuple(route_headers(event)))

    def _shrink(self, event: Event) -> bytes:
        """Cut `message` so the serialised event fits; tag it. Other fields are kept whole."""
        message = str(event.get("message", ""))
        event["tags"] = sorted({*event.get("tags", []), _TRUNCATED_TAG})
        event["message"] = ""
        room = max(0, self._max_event_bytes - len(orjson.dumps(event, default=str)) - 16)
        event["message"] = message.encode()[:room].decode(errors="ignore")
        value = dumps_kept(event, default=str)
        if len(value) > self._max_event_bytes:
            # The other fields alone are too big: keep the essentials.
            kept = ("@timestamp", "event", "log", "service", "tags")
            essentials: dict[str, Any] = {k: event[k] for k in kept if k in event}
            essentials["message"] = event["message"][: room // 2]
            value = dumps_kept(essentials, default=str)
        return value


def record(batch: EncodedBatch, metrics: ShipperMetrics) -> None:
    """Apply a batch's tallies to the metrics, and log its pipeline failure if any.

    Counted per batch, not per event: prometheus-client's locking costs microseconds a call.
    """
    metrics.lines_transformed.labels(batch.encoded_in).inc(batch.lines)
    for reason, count in batch.filtered.items():
        metrics.events_filtered.labels(reason).inc(count)
    for tag, count in batch.tags.items():
        metrics.parse_problems.labels(tag).inc(count)
    for (service, level), count in batch.app.levels.items():
        metrics.app_log_events.labels(service, level).inc(count)
    for labels, count in batch.app.requests.items():
        metrics.app_requests.labels(*labels).inc(count)
    for labels, buckets in batch.app.durations.items():
        histogram = metrics.app_request_duration.labels(*labels)
        histogram.observe_counts(buckets.counts, buckets.total)
    if batch.failure is not None:
        log.error(
            "pipeline failed on %d line(s), shipped raw and tagged %s; first: %s",
            batch.tags[PIPELINE_ERROR_TAG],
            PIPELINE_ERROR_TAG,
            batch.failure,
        )


def _raw_event(raw: RawLine, exc: Exception) -> dict[str, Any]:
    return {
        "message": raw.data.decode(errors="replace"),
        "tags": [*raw.tags, PIPELINE_ERROR_TAG],
        "error": {"type": type(exc).__name__, "message": str(exc)},
        "log": {"file": {"path": raw.path}, "offset": raw.offset},
        "event": {"id": event_id(raw.file_id, raw.offset)},
    }
