"""What runs inside a transform worker process (the main side is :mod:`shipper.workers`).

A worker is a plain child process running :func:`main` (:data:`WORKER_COMMAND`), that speaks
length-prefixed pickle frames (:func:`write_frame`, :func:`read_frame`) over its stdin and stdout:
its settings first, then batches in; tallies, events (when the main process writes them) and
delivery reports out. No multiprocessing: no resource tracker process, no feeder threads, and
nothing of the parent's main script re-imported (a multiprocessing "spawn" worker held ~58 MB).

A worker needs the transforms, the serialiser and, when it publishes, the Kafka sink; this module
imports only those and takes its settings as plain data (:class:`WorkerSettings`), so no worker
holds the CLI, the config machinery, the metrics registry, the file source or the status server.
tests/unit/shipper/test_worker_imports.py keeps it so.

It ends when its stdin closes (the main process stopped, or died: the pipe closes with it), when
the main process is gone (:func:`_die_with_parent`, for a worker busy elsewhere), or on SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import pickle
import signal
import struct
import sys
import threading
import time
from typing import IO, TYPE_CHECKING, Any, NamedTuple

from pipelines.types import RawLine, raw_lines
from shipper.delivery import deliver
from shipper.logs import configure_logging
from shipper.pipeline import EncodedBatch, EncoderSettings, EventEncoder
from shipper.sinks import KafkaSinkConfig, OutgoingEvent, build_sink
from shipper.startup import prepare_garbage_collector

if TYPE_CHECKING:
    from shipper.config import ShipperConfig

__all__ = [
    "PIPE_BYTES",
    "PUBLISHING_PER_WORKER",
    "WORKER_COMMAND",
    "Batch",
    "Columns",
    "Delivered",
    "Encoded",
    "Failed",
    "Report",
    "Start",
    "WorkerSettings",
    "columns_of",
    "read_frame",
    "write_frame",
]

Columns = tuple[list[bytes], list[str], list[str], list[int], list[int], list[tuple[str, ...]]]
"""A batch as columns of plain values: they pickle about ten times faster than RawLines."""

PUBLISHING_PER_WORKER = 2
"""Batches a worker has published and not yet seen acknowledged, at most."""

WORKER_COMMAND = ("-c", "from shipper.transform_worker import main; main()")
"""A worker's arguments to the interpreter (not ``-m``: the frames' classes must unpickle as this
module's, not a second copy's named ``__main__``)."""

PIPE_BYTES = 1 << 20
"""The capacity asked for a worker's pipes (Linux' default limit for a user): a whole batch fits,
so it crosses in one write instead of waiting in the writer's memory for the reader."""

_HEADER = struct.Struct(">I")  # a frame's length; a batch is well under 4 GiB


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


# -- the frames ---------------------------------------------------------------------------------


class Start(NamedTuple):
    """The first frame to a worker."""

    settings: WorkerSettings
    parent: int
    """The shipper's pid (see :func:`_die_with_parent`)."""
    publishing: bool
    """Publish each batch (Kafka output), or send its events back (file and console outputs)."""


class Batch(NamedTuple):
    """A batch to encode (and publish)."""

    batch_id: int
    columns: Columns


EventTuple = tuple[bytes, bytes, str, tuple[tuple[str, bytes], ...]]


class Encoded(NamedTuple):
    """A worker's answer to :class:`Batch`: the tallies (``batch.events`` is empty), and the
    events as tuples when the main process writes them."""

    batch_id: int
    batch: EncodedBatch
    events: list[EventTuple] | None


class Delivered(NamedTuple):
    """A worker's report: its batch *batch_id* is acknowledged."""

    batch_id: int
    events: int
    seconds: float
    """Duration of the publish attempt that succeeded."""


class Failed(NamedTuple):
    """A worker's report: a publish attempt of *events* failed (it is being retried)."""

    events: int


Report = Encoded | Delivered | Failed


def write_frame(stream: IO[bytes], message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def read_frame(stream: IO[bytes]) -> Any:
    """The next message, or None at the end of the stream."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    return pickle.loads(data)


def frame_size(header: bytes) -> int:
    """The length a frame's header announces."""
    size: int = _HEADER.unpack(header)[0]
    return size


FRAME_HEADER_BYTES = _HEADER.size


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
    return raw_lines(data, paths, file_ids, offsets, tags, ends)


# -- the worker ---------------------------------------------------------------------------------


class _Replies:
    """The worker's stdout: frames from the encoding thread and the publisher's, never mixed."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def send(self, message: Report) -> None:
        with self._lock:
            write_frame(self._stream, message)


class _Publisher:
    """A worker's sink, on an event loop of its own thread: the worker encodes its next batch
    while this one waits for its acknowledgements."""

    def __init__(self, settings: WorkerSettings, replies: _Replies) -> None:
        self._sink = build_sink(settings.output_url, settings.kafka)
        self._backoff_max_s = settings.retry_backoff_max_s
        self._replies = replies
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
            self._replies.send(Delivered(batch_id, len(events), seconds))
        finally:
            self._publishing.release()

    def _failed(self, events: int) -> None:
        self._replies.send(Failed(events))


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a shipper killed with -9: exit once it is orphaned (its stdin
    closes then too, but a worker waiting for acknowledgements is not reading it).

    *parent* comes from the shipper, not from getppid(): a worker still starting up when the
    shipper dies would otherwise take its new parent (init) for the shipper.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def serve(requests: IO[bytes], replies: IO[bytes]) -> None:
    """Read the :class:`Start` frame, then encode (and publish) batches until the end of input."""
    start: Start | None = read_frame(requests)
    if start is None:
        return
    _die_with_parent(start.parent)
    configure_logging(start.settings.log_level)
    out = _Replies(replies)
    publisher = _Publisher(start.settings, out) if start.publishing else None
    encoder = EventEncoder(start.settings.encoder)
    prepare_garbage_collector()
    while (batch := read_frame(requests)) is not None:
        encoded = encoder.encode(_lines(batch.columns))
        events = encoded.events
        encoded.events = []
        if publisher is None:
            tuples = [(e.value, e.key, e.event_id, e.headers) for e in events]
            out.send(Encoded(batch.batch_id, encoded, tuples))
        else:
            out.send(Encoded(batch.batch_id, encoded, None))
            publisher.publish(batch.batch_id, events)


def main() -> None:
    # Ctrl-C reaches the whole process group; only the main process decides when to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # The frames get stdout to themselves: whatever else prints goes to stderr with the logs.
    replies = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    with contextlib.suppress(OSError):  # a batch's events back in one write (a smaller pipe: more)
        fcntl.fcntl(replies.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    serve(sys.stdin.buffer, replies)
    # Publisher threads may still hold unacknowledged batches: the main process re-reads them.
    os._exit(0)
