"""The bridge between the pure transforms and the runtime: run them over a batch, serialise,
count. A stage that fails on a line is a bug, not a reason to lose the line: the raw line is
shipped tagged `_pipelineerror` instead."""

from __future__ import annotations

import logging
import socket
from collections import Counter
from typing import Any

import orjson

from pipelines.context import PipelineContext
from pipelines.metrics import MetricsExtractor
from pipelines.pipeline import Pipeline
from pipelines.types import DropEvent, Event, RawLine
from shipper import __version__
from shipper.config import ShipperConfig
from shipper.metrics import ShipperMetrics
from shipper.sinks import OutgoingEvent

__all__ = ["PIPELINE_ERROR_TAG", "EventEncoder", "build_pipeline"]

log = logging.getLogger("logferry.pipeline")

PIPELINE_ERROR_TAG = "_pipelineerror"
_TRUNCATED_TAG = "_truncated"


def build_pipeline(config: ShipperConfig) -> Pipeline:
    """The configured transform chain (the defaults when `pipeline` is not set)."""
    context = PipelineContext(
        service_name=config.service.name,
        service_environment=config.service.environment,
        host_name=socket.gethostname(),
        agent_version=__version__,
    )
    return Pipeline.from_config(config.pipeline, context)


class EventEncoder:
    """Batch of raw lines -> events ready for the sink, feeding the metrics on the way."""

    def __init__(self, config: ShipperConfig, metrics: ShipperMetrics) -> None:
        self._pipeline = build_pipeline(config)
        self._observe = MetricsExtractor(default_service=config.service.name)
        self._metrics = metrics
        self._max_event_bytes = config.output.max_event_bytes

    def encode(self, batch: list[RawLine]) -> list[OutgoingEvent]:
        """Transform and serialise *batch*; filtered lines are counted and left out."""
        out: list[OutgoingEvent] = []
        filtered: Counter[str] = Counter()
        tags: Counter[str] = Counter()
        levels: Counter[tuple[str, str]] = Counter()
        requests: Counter[tuple[str, str, str]] = Counter()
        durations: list[tuple[tuple[str, str, str], float]] = []
        pipeline, observe = self._pipeline, self._observe
        first_failure: tuple[RawLine, Exception] | None = None
        for raw in batch:
            try:
                event = pipeline(raw)
            except DropEvent as drop:
                filtered[drop.reason] += 1
                continue
            except Exception as exc:  # a bug in a stage must not lose the line
                log.exception(
                    "pipeline failed on a line; shipping it raw", extra={"offset": raw.offset}
                )
                event = _raw_event(raw, exc)
            event_tags = event.get("tags")
            if event_tags:
                tags.update(event_tags)
            seen = observe(event)
            levels[seen.service, seen.level] += 1
            if seen.http is not None:
                labels = (seen.service, seen.http.method, seen.http.status_class)
                requests[labels] += 1
                if seen.http.duration_s is not None:
                    durations.append((labels, seen.http.duration_s))
            out.append(self._serialise(event, raw))
        self._record(filtered, tags, levels, requests, durations)
        if first_failure is not None:  # once per batch: a broken stage must not flood the log
            failed_line, error = first_failure
            log.error(
                "pipeline failed; lines shipped raw, tagged %s",
                PIPELINE_ERROR_TAG,
                exc_info=error,
                extra={
                    "path": failed_line.path,
                    "offset": failed_line.offset,
                    "failed_in_batch": tags[PIPELINE_ERROR_TAG],
                },
            )
        return out

    def _serialise(self, event: Event, raw: RawLine) -> OutgoingEvent:
        value = orjson.dumps(event, default=str)
        if len(value) > self._max_event_bytes:
            value = self._shrink(event)
        event_id = str(event.get("event", {}).get("id", ""))
        trace = event.get("trace")
        trace_id = trace.get("id") if isinstance(trace, dict) else None
        key = str(trace_id).encode() if trace_id else raw.file_id.encode()
        return OutgoingEvent(value=value, key=key, event_id=event_id)

    def _shrink(self, event: Event) -> bytes:
        """Cut `message` so the serialised event fits; tag it. Other fields are kept whole."""
        message = str(event.get("message", ""))
        event["tags"] = sorted({*event.get("tags", []), _TRUNCATED_TAG})
        event["message"] = ""
        room = max(0, self._max_event_bytes - len(orjson.dumps(event, default=str)) - 16)
        event["message"] = message.encode()[:room].decode(errors="ignore")
        value = orjson.dumps(event, default=str)
        if len(value) > self._max_event_bytes:
            # The other fields alone are too big: keep the essentials.
            kept = ("@timestamp", "event", "log", "service", "tags")
            essentials: dict[str, Any] = {k: event[k] for k in kept if k in event}
            essentials["message"] = event["message"][: room // 2]
            value = orjson.dumps(essentials, default=str)
        return value

    def _record(
        self,
        filtered: Counter[str],
        tags: Counter[str],
        levels: Counter[tuple[str, str]],
        requests: Counter[tuple[str, str, str]],
        durations: list[tuple[tuple[str, str, str], float]],
    ) -> None:
        # Counted per batch, not per event: prometheus-client's locking costs microseconds a call.
        m = self._metrics
        for reason, count in filtered.items():
            m.events_filtered.labels(reason).inc(count)
        for tag, count in tags.items():
            m.parse_problems.labels(tag).inc(count)
        for (service, level), count in levels.items():
            m.app_log_events.labels(service, level).inc(count)
        for labels, count in requests.items():
            m.app_requests.labels(*labels).inc(count)
        by_labels: dict[tuple[str, str, str], list[float]] = {}
        for labels, seconds in durations:
            by_labels.setdefault(labels, []).append(seconds)
        for labels, values in by_labels.items():
            histogram = m.app_request_duration.labels(*labels)
            for seconds in values:
                histogram.observe(seconds)


def _raw_event(raw: RawLine, exc: Exception) -> dict[str, Any]:
    return {
        "message": raw.data.decode(errors="replace"),
        "tags": [*raw.tags, PIPELINE_ERROR_TAG],
        "error": {"type": type(exc).__name__, "message": str(exc)},
        "log": {"file": {"path": raw.path}, "offset": raw.offset},
        "event": {"id": f"{raw.file_id}-{raw.offset}"},
    }
