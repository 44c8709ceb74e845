"""Where the transforms run: in the main process, or in worker processes beside it.

The transforms are pure Python and take most of the CPU of a shipper. One process uses one core;
`transform_workers: N` moves encoding into N processes, so reading and Kafka keep the main one.
Batches cross the process boundary as columns of plain values (lists of bytes, str and int),
which pickle about ten times faster than lists of dataclasses.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Protocol

from pipelines.types import RawLine
from shipper.config import ShipperConfig
from shipper.pipeline import EncodedBatch, EventEncoder
from shipper.sinks import OutgoingEvent

__all__ = ["InlineTransformer", "ProcessTransformer", "Transformer", "build_transformer"]

Columns = tuple[list[bytes], list[str], list[str], list[int], list[int], list[tuple[str, ...]]]


class Transformer(Protocol):
    """Encodes batches; `parallelism` batches may be encoding at once."""

    parallelism: int

    async def encode(self, batch: list[RawLine]) -> EncodedBatch:
        """The batch transformed and serialised."""
        ...

    def close(self) -> None:
        """Release workers, if any."""


class InlineTransformer:
    """Encodes in the main process (the default: right for a sidecar limited to one core)."""

    parallelism = 1

    def __init__(self, config: ShipperConfig) -> None:
        self._encoder = EventEncoder(config)

    async def encode(self, batch: list[RawLine]) -> EncodedBatch:
        return self._encoder.encode(batch)

    def close(self) -> None:
        return None


_worker_encoder: EventEncoder | None = None


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


def _init_worker(config: ShipperConfig, parent: int) -> None:
    global _worker_encoder
    _die_with_parent(parent)
    # Ctrl-C reaches the whole process group; only the main process decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _worker_encoder = EventEncoder(config)


def _encode_columns(columns: Columns) -> tuple[list[tuple[bytes, bytes, str]], EncodedBatch]:
    assert _worker_encoder is not None, "worker not initialised"
    data, paths, file_ids, offsets, ends, tags = columns
    batch = [
        RawLine(data=d, path=p, file_id=f, offset=o, end_offset=e, tags=t)
        for d, p, f, o, e, t in zip(data, paths, file_ids, offsets, ends, tags, strict=True)
    ]
    encoded = _worker_encoder.encode(batch)
    events = [(e.value, e.key, e.event_id) for e in encoded.events]
    encoded.events = []
    return events, encoded


class ProcessTransformer:
    """Encodes in `workers` processes; results come back in the order batches were given."""

    def __init__(self, config: ShipperConfig, workers: int) -> None:
        # One batch more than workers: each worker has the next batch queued while the main
        # process collects the one before, so no worker waits on the main process.
        self.parallelism = workers + 1
        self._executor = ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),  # no fork of a running event loop
            initializer=_init_worker,
            initargs=(config, os.getpid()),
        )

    async def encode(self, batch: list[RawLine]) -> EncodedBatch:
        columns: Columns = (
            [line.data for line in batch],
            [line.path for line in batch],
            [line.file_id for line in batch],
            [line.offset for line in batch],
            [line.end_offset for line in batch],
            [line.tags for line in batch],
        )
        loop = asyncio.get_running_loop()
        events, encoded = await loop.run_in_executor(self._executor, _encode_columns, columns)
        encoded.events = [OutgoingEvent(value=v, key=k, event_id=i) for v, k, i in events]
        return encoded

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


def build_transformer(config: ShipperConfig) -> Transformer:
    """Inline without workers, else a process pool of `transform_workers`."""
    if config.transform_workers == 0:
        return InlineTransformer(config)
    return ProcessTransformer(config, config.transform_workers)
