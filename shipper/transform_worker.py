"""What runs inside a transform worker process (the main side is :mod:`shipper.workers`).

Workers are started with multiprocessing's "spawn", so each imports afresh whatever its entry
points pull in. They need the transforms, the serialiser and, when they publish, the Kafka sink;
this module imports only those and takes its settings as plain data (:class:`WorkerSettings`),
so no worker holds the CLI, the config machinery, the metrics registry, the file source or the
status server (a worker used to hold ~65 MB, a third of it for modules it never ran).
tests/unit/shipper/test_worker_imports.py keeps it so.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from multiprocessing.queues import SimpleQueue
from typing import TYPE_CHECKING, NamedTuple

from pipelines.types import RawLine
from shipper.delivery import deliver
from shipper.logs import configure_logging
from shipper.pipeline import EncodedBatch, EncoderSettings, EventEncoder
from shipper.sinks import KafkaSinkConfig, OutgoingEvent, build_sink
from shipper.startup import prepare_garbage_collector

if TYPE_CHECKING:
    from shipper.config import ShipperConfig

__all__ = [
    "Columns",
    "Delivered",
    "Failed",
    "Report",
    "WorkerSettings",
    "columns_of",
    "encode_and_publish",
    "encode_columns",
    "init_worker",
]

Columns = tuple[list[bytes], list[str], list[str], list[int], list[int], list[tuple[str, ...]]]
"""A batch as columns of plain values: they pickle about ten times faster than RawLines."""

PUBLISHING_PER_WORKER = 2
"""Batches a worker has published and not yet seen acknowledged, at most."""


class WorkerSettings(NamedTuple):
    """What a worker needs of the config, as plain data."""

    encoder: EncoderSettings
    log_level: str
    output_url: str
    kafka: KafkaSinkConfig
    retry_backoff_max_s: float

    @classmethod
    def of(cls, config: ShipperConfig) -> WorkerSettings:
        return cls(
            EncoderSettings.of(config),
            config.log_level,
            config.output.url,
            config.output.kafka,
            config.retry_backoff_max_s,
        )


def columns_of(batch: list[RawLine]) -> Columns:
    return (
        [line.data for line in batch],
        [line.path for line in batch],
        [line.file_id for line in batch],
        [line.offset for line in batch],
        [line.end_offset for line in batch],
        [line.tags for line in batch],
    )


def _lines(columns: Columns) -> list[RawLine]:
    data, paths, file_ids, offsets, ends, tags = columns
    return [
        RawLine(data=d, path=p, file_id=f, offset=o, end_offset=e, tags=t)
        for d, p, f, o, e, t in zip(data, paths, file_ids, offsets, ends, tags, strict=True)
    ]


class Delivered(NamedTuple):
    """A worker's report: its batch *batch_id* is acknowledged."""

    batch_id: int
    events: int
    seconds: float
    """Duration of the publish attempt that succeeded."""


class Failed(NamedTuple):
    """A worker's report: a publish attempt of *events* failed (it is being retried)."""

    events: int


Report = Delivered | Failed


class _Publisher:
    """A worker's sink, on an event loop of its own thread: the worker encodes its next batch
    while this one waits for its acknowledgements."""

    def __init__(self, settings: WorkerSettings, reports: SimpleQueue[Report | None]) -> None:
        self._sink = build_sink(settings.output_url, settings.kafka)
        self._backoff_max_s = settings.retry_backoff_max_s
        self._reports = reports
        self._loop = asyncio.new_event_loop()
        # Batches published and not yet acknowledged, at most: the next waits to be handed over.
        self._publishing = threading.BoundedSemaphore(PUBLISHING_PER_WORKER)
        threading.Thread(target=self._loop.run_forever, name="publisher", daemon=True).start()

    def publish(self, batch_id: int, events: list[OutgoingEvent]) -> None:
        """Publish on the loop's thread; reports :class:`Delivered` when acknowledged."""
        self._publishing.acquire()
        asyncio.run_coroutine_threadsafe(self._publish(batch_id, events), self._loop)

    async def _publish(self, batch_id: int, events: list[OutgoingEvent]) -> None:
        try:
            seconds = await deliver(self._sink, events, self._backoff_max_s, self._failed)
            self._reports.put(Delivered(batch_id, len(events), seconds))
        finally:
            self._publishing.release()

    def _failed(self, events: int) -> None:
        self._reports.put(Failed(events))


class _Worker(NamedTuple):
    """What one worker process keeps between batches."""

    encoder: EventEncoder
    publisher: _Publisher | None
    """Only in publishing workers."""


_worker: _Worker | None = None


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a shipper killed with -9: exit once it is orphaned.

    *parent* comes from the shipper, not from getppid(): a worker still starting up when the
    shipper dies would otherwise take its new parent (init) for the shipper.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def init_worker(
    settings: WorkerSettings, parent: int, reports: SimpleQueue[Report | None] | None
) -> None:
    """The pool's initializer, in each worker process."""
    global _worker
    _die_with_parent(parent)
    # Ctrl-C reaches the whole process group; only the main process decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(settings.log_level)
    publisher = None if reports is None else _Publisher(settings, reports)
    _worker = _Worker(EventEncoder(settings.encoder), publisher)
    prepare_garbage_collector()


def encode_columns(
    columns: Columns,
) -> tuple[list[tuple[bytes, bytes, str, tuple[tuple[str, bytes], ...]]], EncodedBatch]:
    """Encode and return the events (the main process writes them) and the tallies."""
    assert _worker is not None, "worker not initialised"
    encoded = _worker.encoder.encode(_lines(columns))
    events = [(e.value, e.key, e.event_id, e.headers) for e in encoded.events]
    encoded.events = []
    return events, encoded


def encode_and_publish(batch_id: int, columns: Columns) -> EncodedBatch:
    """Encode, start publishing, and return the tallies (the acknowledgement is reported)."""
    worker = _worker
    assert worker is not None and worker.publisher is not None, "not a publishing worker"
    encoded = worker.encoder.encode(_lines(columns))
    worker.publisher.publish(batch_id, encoded.events)
    encoded.events = []
    return encoded
