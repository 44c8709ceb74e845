"""The shipper's Prometheus metrics: its own pipeline, and the application's, derived from the logs."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from pipelines.metrics import (
    APP_HTTP_REQUEST_DURATION,
    APP_HTTP_REQUESTS,
    APP_LOG_EVENTS,
    HTTP_DURATION_BUCKETS_S,
)

__all__ = ["BatchHistogram", "ShipperMetrics"]

# Publish latency spans the same 1 ms .. 30 s as request durations.
_LATENCY_BUCKETS = HTTP_DURATION_BUCKETS_S


class BatchHistogram(Histogram):
    """A histogram that also takes a batch's observations already counted per bucket.

    ``observe()`` per event costs about a microsecond (a lock and a loop over the bounds per
    call); :class:`~pipelines.metrics.BucketCounts` counts a batch in plain Python and this
    applies it with one increment per non-empty bucket. The exposition is prometheus-client's.
    """

    def observe_counts(self, counts: Sequence[int], total: float) -> None:
        """Add observations: ``counts[i]`` fell in bucket ``i`` (the last is +Inf); ``total``
        is their sum."""
        self._raise_if_not_observable()  # type: ignore[no-untyped-call]
        if len(counts) != len(self._buckets):
            raise ValueError(f"{len(counts)} bucket counts for {len(self._buckets)} buckets")
        self._sum.inc(total)
        for bucket, count in zip(self._buckets, counts, strict=True):
            if count:
                bucket.inc(count)


class ShipperMetrics:
    """Every metric of one shipper, in its own registry (tests may run several)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        p = "logferry_shipper_"
        self.lines_read = Counter(f"{p}lines_read", "Lines read from log files.", registry=r)
        self.bytes_read = Counter(
            f"{p}read_bytes", "Bytes of lines read from log files.", registry=r
        )
        self.events_published = Counter(
            f"{p}events_published", "Events the output acknowledged.", registry=r
        )
        self.events_failed = Counter(
            f"{p}events_failed",
            "Events in publish attempts that failed (they are retried).",
            registry=r,
        )
        self.events_filtered = Counter(
            f"{p}events_filtered",
            "Events dropped on purpose by a pipeline filter.",
            ["reason"],
            registry=r,
        )
        self.lines_transformed = Counter(
            f"{p}lines_transformed",
            "Lines run through the transform chain, by the process that ran them: main (inline,"
            " or while every transform worker was busy) or worker.",
            ["process"],
            registry=r,
        )
        self.parse_problems = Counter(
            f"{p}parse_problems", "Events shipped with a problem tag.", ["tag"], registry=r
        )
        self.publish_latency = Histogram(
            f"{p}publish_latency_seconds",
            "From handing a batch to the output to its acknowledgement.",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.file_lag = Gauge(
            f"{p}file_lag_bytes", "File size minus the acknowledged offset.", ["path"], registry=r
        )
        self.open_files = Gauge(f"{p}open_files", "Files being tailed.", registry=r)
        self.open_files_limit = Gauge(
            f"{p}open_files_limit",
            "Most files held open at once: input.max_open_files, or fewer if the open file "
            "limit less the rest of the process and input.reserved_descriptors is lower.",
            registry=r,
        )
        self.files_waiting = Gauge(
            f"{p}files_waiting",
            "Files matched that wait for a descriptor; they take turns with the open ones.",
            registry=r,
        )
        self.globs_unmatched = Gauge(
            f"{p}input_globs_unmatched",
            "Globs of input.paths that matched no file at the last scan (a wrong path, or an "
            "app that has not written yet).",
            registry=r,
        )
        self.checkpoint_age = Gauge(
            f"{p}checkpoint_age_seconds",
            "Seconds since the checkpoint was last written successfully.",
            registry=r,
        )
        self.checkpoint_resets = Counter(
            f"{p}checkpoint_resets",
            "Checkpoints that did not match the file at their path at startup (truncated, "
            "replaced or rewritten while the shipper was down): it is read from the start.",
            registry=r,
        )
        self.checkpoint_failures = Counter(
            f"{p}checkpoint_save_failures",
            "Attempts to write the checkpoint that failed (they are retried).",
            registry=r,
        )
        self.queue_batches = Gauge(
            f"{p}queue_batches", "Batches read and waiting for the output.", registry=r
        )
        self.output_up = Gauge(
            f"{p}output_up",
            "1 when the last attempt to reach the output succeeded.",
            ["output"],
            registry=r,
        )
        # The application's metrics: names, labels and buckets come from the pure extractor.
        self.app_requests = Counter(
            _base(APP_HTTP_REQUESTS.name),
            APP_HTTP_REQUESTS.help,
            APP_HTTP_REQUESTS.labels,
            registry=r,
        )
        self.app_request_duration = BatchHistogram(
            APP_HTTP_REQUEST_DURATION.name,
            APP_HTTP_REQUEST_DURATION.help,
            APP_HTTP_REQUEST_DURATION.labels,
            buckets=APP_HTTP_REQUEST_DURATION.buckets,
            registry=r,
        )
        self.app_log_events = Counter(
            _base(APP_LOG_EVENTS.name), APP_LOG_EVENTS.help, APP_LOG_EVENTS.labels, registry=r
        )


def _base(counter_name: str) -> str:
    # prometheus-client appends _total itself.
    return counter_name.removesuffix("_total")
