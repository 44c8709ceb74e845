"""Where the transforms run: in the main process, or in worker processes beside it.

The transforms are pure Python and take most of the CPU of a shipper. One process uses one core;
`transform_workers: N` moves the per-event work into N processes:

* with the Kafka output, a worker encodes a batch **and publishes it** with its own idempotent
  producer, then returns only the tallies for the metrics. The main process reads, hands batches
  out and advances the checkpoint; no event crosses back to it, so the workers scale with the
  cores and most of the main process's own core stays free (for what, see below);
* with the file or console output (one writer), a worker encodes and the main process writes.

When every worker already holds as many batches as it takes (the one it encodes and the next),
the main process encodes the next batch itself (and, with the Kafka output, publishes it with its
own producer) instead of waiting: reading and handing out batches leave most of its core idle.
So `transform_workers: 1` runs two encoders in two processes, the worker and the main process;
a one-core sidecar keeps `transform_workers: 0` and pays for none of this.

A worker is a plain child process (:func:`shipper.transform_worker.main`) fed over a pipe:
batches go to its stdin, its answers come back on its stdout, as length-prefixed pickle frames
(:mod:`shipper.transform_worker`). Batches cross as columns of plain values (lists of bytes, str
and int), which pickle about ten times faster than lists of dataclasses. A worker that exits
fails what it held and every later batch, so the shipper stops with exit 1 and resumes from its
checkpoint; a shipper that dies closes the pipes, and its workers exit.

Delivery and order with publishing workers. A batch counts as delivered when its worker's
producer has every record acknowledged (acks=all); the runner settles batches in the order they
were read, so the checkpoint still only passes lines whose batch and every batch before it are
acknowledged. A key's events stay in one partition and in order within a batch; two batches in
flight in two processes at once (two workers, or a worker and the main process) may interleave
in a partition (every event carries its file offset and its own time). With
`transform_workers: 0` the order is the file's order, per key.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import itertools
import os
import pickle
import sys
from collections.abc import Callable
from typing import Any, Protocol

from pipelines.types import RawLine
from shipper.config import ShipperConfig
from shipper.errors import LogferryError
from shipper.pipeline import EncodedBatch, EncoderSettings, EventEncoder
from shipper.sinks import OutgoingEvent
from shipper.transform_worker import (
    FRAME_HEADER_BYTES,
    PIPE_BYTES,
    PUBLISHING_PER_WORKER,
    WORKER_COMMAND,
    Batch,
    Columns,
    Delivered,
    Encoded,
    Failed,
    Start,
    WorkerSettings,
    columns_of,
    frame_size,
)

__all__ = [
    "InlineTransformer",
    "ProcessTransformer",
    "PublishingWorkers",
    "Transformer",
    "WorkerDied",
    "build_transformer",
]


FailureReport = Callable[[int], None]
"""Called with the size of a publish attempt that failed (in a worker), as it happens."""

LossReport = Callable[[Exception], None]
"""Called once when a worker exits under us: the shipper stops (exit 1) and resumes from its
checkpoint on the next start, rather than wait for a batch the worker will never answer."""

_QUEUED_PER_WORKER = 2
"""Batches sent to a worker and not yet answered, at most: the one it encodes and the next, so
it never waits for us. The others wait here as the lines they are (a batch pickled and parked in
a pipe's buffer was a second copy of it: ~7 MB more in the main process with two workers)."""

_STOP_WAIT_S = 5.0
"""How long a worker has to exit once told to, before it is killed."""


class WorkerDied(LogferryError):
    """A transform worker exited while the shipper ran: what it held is not acknowledged."""


class Transformer(Protocol):
    """Encodes batches; `parallelism` batches may be encoding at once."""

    parallelism: int

    async def encode(self, batch: list[RawLine]) -> EncodedBatch:
        """The batch transformed and serialised (and published, where `delivery` is set)."""
        ...

    async def close(self) -> None:
        """Stop the workers, if any."""


class InlineTransformer:
    """Encodes in the main process (the default: right for a sidecar limited to one core)."""

    parallelism = 1

    def __init__(self, config: ShipperConfig) -> None:
        self._encoder = EventEncoder(EncoderSettings.of(config))

    async def encode(self, batch: list[RawLine]) -> EncodedBatch:
        return self._encoder.encode(batch)

    async def close(self) -> None:
        return None


# -- the main side -----------------------------------------------------------------------------


class _Worker:
    """One worker process and the batches it holds (sent, and not yet answered or delivered)."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.holding: set[int] = set()
        """Batches sent and not yet answered, or (publishing) not yet acknowledged."""
        self.unanswered = 0
        self.reader: asyncio.Task[None] | None = None
        stdin = process.stdin
        assert stdin is not None
        with contextlib.suppress(OSError):  # a smaller pipe only costs more writes
            fcntl.fcntl(stdin.get_extra_info("pipe").fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)

    async def send(self, message: Start | Batch) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        stdin.write(len(data).to_bytes(FRAME_HEADER_BYTES, "big"))
        stdin.write(data)  # what the pipe does not take now, the transport copies
        del data
        await stdin.drain()  # a worker busy with its last batches pauses us, not the loop


class _Workers:
    """N worker processes: a batch goes to the one with fewest unanswered (at most
    :data:`_QUEUED_PER_WORKER` each); their answers and reports resolve futures."""

    def __init__(
        self,
        config: ShipperConfig,
        workers: int,
        on_lost: LossReport,
        on_failure: FailureReport | None,
    ) -> None:
        self._count = workers
        self._start = Start(WorkerSettings.of(config), os.getpid(), on_failure is not None)
        self._on_lost = on_lost
        self._on_failure = on_failure
        self._workers: list[_Worker] = []
        self._starting: asyncio.Lock | None = None
        self._batch_ids = itertools.count()
        self._encoding: dict[int, asyncio.Future[Encoded]] = {}
        self._delivering: dict[int, asyncio.Future[tuple[int, float]]] = {}
        self._died: WorkerDied | None = None
        self._closing = False
        self._room = asyncio.Event()
        """Set when a worker answered (or one was lost): a batch waiting for room looks again."""

    async def submit(
        self, columns: Columns
    ) -> tuple[Encoded, asyncio.Future[tuple[int, float]] | None]:
        """Hand a batch to a worker; its answer, and with publishing workers the future of
        its acknowledgement."""
        await self._started()
        while not self._free():
            self._room.clear()
            await self._room.wait()
        if self._died is not None:
            raise self._died
        if self._closing:
            raise WorkerDied("the transform workers are stopping")
        loop = asyncio.get_running_loop()
        worker = min(self._workers, key=lambda each: (each.unanswered, len(each.holding)))
        batch_id = next(self._batch_ids)
        encoded = self._encoding[batch_id] = loop.create_future()
        delivery = None
        if self._on_failure is not None:
            delivery = self._delivering[batch_id] = loop.create_future()
        worker.holding.add(batch_id)  # before its answer can come
        worker.unanswered += 1
        try:
            await worker.send(Batch(batch_id, columns))
            del columns
            answer = await encoded
            answer.batch.encoded_in = "worker"  # the metrics' process label
            return answer, delivery
        except (ConnectionError, BrokenPipeError):
            raise self._died or WorkerDied("a transform worker closed its input") from None
        except BaseException:
            self._encoding.pop(batch_id, None)
            raise

    def _free(self) -> bool:
        """Whether a worker can take a batch now (or there is an error to raise)."""
        if self._died is not None or self._closing:
            return True
        return any(worker.unanswered < _QUEUED_PER_WORKER for worker in self._workers)

    def busy(self) -> bool:
        """Whether every worker is running and holds all the batches it takes: a batch handed
        over now would wait (before they start, or once one died, :meth:`submit` decides)."""
        return len(self._workers) == self._count and not self._free()

    async def _started(self) -> None:
        if self._starting is None:
            self._starting = asyncio.Lock()
        async with self._starting:
            while len(self._workers) < self._count and not self._closing:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    *WORKER_COMMAND,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    limit=2**20,
                )
                worker = _Worker(process)
                self._workers.append(worker)
                worker.reader = asyncio.create_task(
                    self._read(worker), name=f"worker-{process.pid}"
                )
                await worker.send(self._start)

    async def _read(self, worker: _Worker) -> None:
        stdout = worker.process.stdout
        assert stdout is not None
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                size = frame_size(await stdout.readexactly(FRAME_HEADER_BYTES))
                self._apply(worker, pickle.loads(await stdout.readexactly(size)))
        code = await worker.process.wait()
        if not self._closing:
            self._lost(worker, code)

    def _apply(self, worker: _Worker, report: Encoded | Delivered | Failed) -> None:
        if isinstance(report, Failed):
            if self._on_failure is not None:
                self._on_failure(report.events)
            return
        if isinstance(report, Encoded):
            worker.unanswered -= 1
            self._room.set()
            if self._on_failure is None:  # the main process writes: the batch is done here
                worker.holding.discard(report.batch_id)
            settle: asyncio.Future[Encoded] | None = self._encoding.pop(report.batch_id, None)
            if settle is not None and not settle.done():
                settle.set_result(report)
            return
        worker.holding.discard(report.batch_id)
        delivered = self._delivering.pop(report.batch_id, None)
        if delivered is not None and not delivered.done():
            delivered.set_result((report.events, report.seconds))

    def _lost(self, worker: _Worker, code: int) -> None:
        """A worker exited: fail what it held and every batch after, and tell the runner."""
        first = self._died is None
        self._died = WorkerDied(
            f"transform worker {worker.process.pid} exited with code {code}; "
            "its unacknowledged lines are read again on the next start"
        )
        for batch_id in worker.holding:
            for futures in self._futures():
                waiting = futures.pop(batch_id, None)
                if waiting is not None and not waiting.done():
                    waiting.set_exception(self._died)
                    waiting.exception()  # retrieved: the runner stops through on_lost
        worker.holding.clear()
        self._room.set()
        if first:
            self._on_lost(self._died)

    async def close(self) -> None:
        """Close the workers' input (they exit), kill any that does not; cancel what waits."""
        self._closing = True
        self._room.set()
        for worker in self._workers:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
            if worker.holding and worker.process.returncode is None:
                # Abandoned batches (a drain that timed out): a worker waiting for their
                # acknowledgements would not read its input; they are re-read on the next start.
                with contextlib.suppress(ProcessLookupError):
                    worker.process.terminate()
        for worker in self._workers:
            try:
                await asyncio.wait_for(worker.process.wait(), _STOP_WAIT_S)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await worker.process.wait()
            if worker.reader is not None:
                worker.reader.cancel()
                await asyncio.gather(worker.reader, return_exceptions=True)
        for futures in self._futures():
            for waiting in futures.values():
                waiting.cancel()
            futures.clear()

    def _futures(self) -> tuple[dict[int, asyncio.Future[Any]], ...]:
        """What waits for the workers: answers, and acknowledgements."""
        return self._encoding, self._delivering


class ProcessTransformer:
    """Encodes in `workers` processes, and in the main process while they are all busy; results
    come back in the order batches were given."""

    def __init__(self, config: ShipperConfig, workers: int, on_lost: LossReport) -> None:
        # Each worker has the next batch queued while the main process collects the one before,
        # so no worker waits on the main process; one more the main process encodes itself.
        self.parallelism = workers * _QUEUED_PER_WORKER + 1
        self._workers = _Workers(config, workers, on_lost, None)
        self._inline = InlineTransformer(config)

    async def encode(self, batch: list[RawLine]) -> EncodedBatch:
        if self._workers.busy():
            return await self._inline.encode(batch)
        columns = columns_of(batch)
        del batch  # while it waits for a worker: its lines' bytes, in the columns, not RawLines
        answer, _ = await self._workers.submit(columns)
        encoded = answer.batch
        encoded.events = [OutgoingEvent(*event) for event in answer.events or ()]
        return encoded

    async def close(self) -> None:
        await self._workers.close()


class PublishingWorkers:
    """Encodes and publishes in `workers` processes (Kafka output); see the module docstring.

    A worker answers a batch with its tallies as soon as it is encoded, and reports the batch's
    acknowledgement later: the batch's ``delivery`` future resolves then. Failed attempts come
    the same way while they happen, so an outage shows in the metrics and in /readyz.
    """

    def __init__(
        self, config: ShipperConfig, workers: int, on_lost: LossReport, on_failure: FailureReport
    ) -> None:
        # Each worker encodes one batch while up to two of its own wait for acknowledgements;
        # one more the main process encodes itself (the runner's sink publishes it).
        self.parallelism = workers * (1 + PUBLISHING_PER_WORKER) + 1
        self._workers = _Workers(config, workers, on_lost, on_failure)
        self._inline = InlineTransformer(config)

    async def encode(self, batch: list[RawLine]) -> EncodedBatch:
        if self._workers.busy():
            return await self._inline.encode(batch)
        columns = columns_of(batch)
        del batch  # while it waits for a worker: its lines' bytes, in the columns, not RawLines
        answer, delivery = await self._workers.submit(columns)
        encoded = answer.batch
        encoded.delivery = delivery
        return encoded

    async def close(self) -> None:
        """Stop the workers; the runner has waited for every delivery before (see run())."""
        await self._workers.close()


def build_transformer(
    config: ShipperConfig, on_lost: LossReport, on_failure: FailureReport
) -> Transformer:
    """Inline without workers; with workers, publishing workers for the Kafka output (the
    file and console outputs have one writer: the main process)."""
    if config.transform_workers == 0:
        return InlineTransformer(config)
    if config.output.url.startswith("kafka://"):
        return PublishingWorkers(config, config.transform_workers, on_lost, on_failure)
    return ProcessTransformer(config, config.transform_workers, on_lost)
