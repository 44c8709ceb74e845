"""Where the transforms run: in the main process, or in worker processes beside it.

The transforms are pure Python and take most of the CPU of a shipper. One process uses one core;
`transform_workers: N` moves the per-event work into N processes:

* with the Kafka output, a worker encodes a batch **and publishes it** with its own idempotent
  producer, then returns only the tallies for the metrics. The main process reads, hands batches
  out and advances the checkpoint; no event crosses back to it, so it stays far from saturated
  and the workers scale with the cores;
* with the file or console output (one writer), a worker encodes and the main process writes.

Batches cross the process boundary as columns of plain values (lists of bytes, str and int),
which pickle about ten times faster than lists of dataclasses.

Delivery and order with publishing workers. A batch counts as delivered when its worker's
producer has every record acknowledged (acks=all); the runner settles batches in the order they
were read, so the checkpoint still only passes lines whose batch and every batch before it are
acknowledged. A key's events stay in one partition and in order within a batch; two batches in
flight in two workers at once may interleave in a partition (every event carries its file offset
and its own time). With `transform_workers: 0` the order is the file's order, per key.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.queues import SimpleQueue
from typing import Protocol

from pipelines.types import RawLine
from shipper.config import ShipperConfig
from shipper.pipeline import EncodedBatch, EncoderSettings, EventEncoder
from shipper.sinks import OutgoingEvent
from shipper.transform_worker import (
    PUBLISHING_PER_WORKER,
    Failed,
    Report,
    WorkerSettings,
    columns_of,
    encode_and_publish,
    encode_columns,
    init_worker,
)

__all__ = [
    "InlineTransformer",
    "ProcessTransformer",
    "PublishingWorkers",
    "Transformer",
    "build_transformer",
]


FailureReport = Callable[[int], None]
"""Called with the size of a publish attempt that failed (in a worker), as it happens."""


class Transformer(Protocol):
    """Encodes batches; `parallelism` batches may be encoding at once."""

    parallelism: int

    async def encode(self, batch: list[RawLine]) -> EncodedBatch:
        """The batch transformed and serialised (and published, where `delivered` is set)."""
        ...

    def close(self) -> None:
        """Release workers, if any."""


class InlineTransformer:
    """Encodes in the main process (the default: right for a sidecar limited to one core)."""

    parallelism = 1

    def __init__(self, config: ShipperConfig) -> None:
        self._encoder = EventEncoder(EncoderSettings.of(config))

    async def encode(self, batch: list[RawLine]) -> EncodedBatch:
        return self._encoder.encode(batch)

    def close(self) -> None:
        return None


# -- the main side -----------------------------------------------------------------------------


class ProcessTransformer:
    """Encodes in `workers` processes; results come back in the order batches were given."""

    def __init__(self, config: ShipperConfig, workers: int) -> None:
        # One batch more than workers: each worker has the next batch queued while the main
        # process collects the one before, so no worker waits on the main process.
        self.parallelism = workers + 1
        self._executor = _pool(config, workers, None)

    async def encode(self, batch: list[RawLine]) -> EncodedBatch:
        loop = asyncio.get_running_loop()
        columns = columns_of(batch)
        events, encoded = await loop.run_in_executor(self._executor, encode_columns, columns)
        encoded.events = [OutgoingEvent(*event) for event in events]
        return encoded

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class PublishingWorkers:
    """Encodes and publishes in `workers` processes (Kafka output); see the module docstring.

    A worker returns a batch's tallies as soon as it is encoded, and reports the batch's
    acknowledgement later, through a queue that a thread of the main process reads: the batch's
    ``delivery`` future resolves then. Failed attempts come the same way while they happen, so an
    outage shows in the metrics and in /readyz.
    """

    def __init__(self, config: ShipperConfig, workers: int, on_failure: FailureReport) -> None:
        # Each worker encodes one batch while up to two of its own wait for acknowledgements.
        self.parallelism = workers * (1 + PUBLISHING_PER_WORKER)
        context = multiprocessing.get_context("spawn")
        self._reports: SimpleQueue[Report | None] = context.SimpleQueue()
        self._executor = _pool(config, workers, self._reports)
        self._on_failure = on_failure
        self._batch_ids = itertools.count()
        self._waiting: dict[int, asyncio.Future[tuple[int, float]]] = {}
        self._reader: threading.Thread | None = None

    def _read_reports(self, loop: asyncio.AbstractEventLoop) -> None:
        while (report := self._reports.get()) is not None:
            with contextlib.suppress(RuntimeError):  # the loop closed under us: stopping
                loop.call_soon_threadsafe(self._apply, report)

    def _apply(self, report: Report) -> None:
        if isinstance(report, Failed):
            self._on_failure(report.events)
            return
        waiting = self._waiting.pop(report.batch_id, None)
        if waiting is not None and not waiting.done():
            waiting.set_result((report.events, report.seconds))

    async def encode(self, batch: list[RawLine]) -> EncodedBatch:
        loop = asyncio.get_running_loop()
        if self._reader is None:  # reports go to the loop the batches come from
            self._reader = threading.Thread(
                target=self._read_reports, args=(loop,), name="worker-reports", daemon=True
            )
            self._reader.start()
        batch_id = next(self._batch_ids)
        delivery = self._waiting[batch_id] = loop.create_future()  # before the report can come
        try:
            encoded = await loop.run_in_executor(
                self._executor, encode_and_publish, batch_id, columns_of(batch)
            )
        except BaseException:
            del self._waiting[batch_id]
            raise
        encoded.delivery = delivery
        return encoded

    def close(self) -> None:
        """Stop the workers; the runner has waited for every delivery before (see run())."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._reports.put(None)
        for waiting in self._waiting.values():
            waiting.cancel()


def _pool(
    config: ShipperConfig, workers: int, reports: SimpleQueue[Report | None] | None
) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),  # no fork of a running event loop
        initializer=init_worker,
        initargs=(WorkerSettings.of(config), os.getpid(), reports),
    )


def build_transformer(config: ShipperConfig, on_failure: FailureReport) -> Transformer:
    """Inline without workers; with workers, publishing workers for the Kafka output (the
    file and console outputs have one writer: the main process)."""
    if config.transform_workers == 0:
        return InlineTransformer(config)
    if config.output.url.startswith("kafka://"):
        return PublishingWorkers(config, config.transform_workers, on_failure)
    return ProcessTransformer(config, config.transform_workers)
