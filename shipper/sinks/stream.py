"""`file:///path/out.ndjson` and `console`: NDJSON through the same acknowledgement path."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from shipper.sinks.base import OutgoingEvent, SinkError

__all__ = ["ConsoleSink", "FileSink"]

log = logging.getLogger("logferry.shipper")


class _StreamSink:
    """Writes one JSON line per event; a batch is acknowledged once written (and synced, for files)."""

    name = "stream"

    def __init__(self) -> None:
        self._stream: BinaryIO | None = None
        self._healthy = False
        # One batch written at a time, in the order published: batches written concurrently
        # (several are in flight) landed out of order, and a failed batch, cut back to where
        # it began, cut off a batch written after it and already acknowledged.
        self._writing = asyncio.Lock()

    def _open(self) -> BinaryIO:
        raise NotImplementedError

    def _sync(self, stream: BinaryIO) -> None:
        stream.flush()

    async def start(self) -> None:
        try:
            self._stream = self._open()
        except OSError as exc:
            raise SinkError(f"{self.name}: {exc}") from exc
        self._healthy = True

    async def publish(self, events: Sequence[OutgoingEvent]) -> None:
        payload = b"".join(event.value + b"\n" for event in events)
        async with self._writing:
            if self._stream is None:
                await self.start()
            assert self._stream is not None
            try:
                # Blocking writes (and fsync) off the event loop, so reading and metrics go on.
                await asyncio.to_thread(self._write, self._stream, payload)
            except OSError as exc:
                self._healthy = False
                raise SinkError(f"{self.name}: {exc}") from exc
        self._healthy = True

    def _write(self, stream: BinaryIO, payload: bytes) -> None:
        stream.write(payload)
        self._sync(stream)

    async def close(self) -> None:
        if self._stream is not None:
            self._sync(self._stream)
            self._close(self._stream)
            self._stream = None

    def _close(self, stream: BinaryIO) -> None:
        stream.close()

    @property
    def healthy(self) -> bool:
        return self._healthy


class FileSink(_StreamSink):
    """Appends NDJSON to a file; a batch counts as acknowledged once fsynced.

    The file holds whole lines only: a batch that cannot be written whole (a full disk, an I/O
    error, up to the fsync) is taken back by truncating the file to where the batch began, so
    the retry writes it once, whole. A file left ending in a partial line (the shipper killed
    mid-write) is cut back to its last complete line when opened: that batch was never
    acknowledged and is written again.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.name = f"file://{path}"
        self._take_back_to: int | None = None  # a failed batch's start, if truncating failed too

    def _open(self) -> BinaryIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Unbuffered: what a failed write leaves behind is on the file, where it can be cut off,
        # never in a buffer that a later flush would add after the retried batch.
        stream = self.path.open("a+b", buffering=0)  # read too: to find the last newline
        try:
            _cut_partial_line(stream.fileno(), self.path)
        except OSError:
            stream.close()
            raise
        return stream

    def _write(self, stream: BinaryIO, payload: bytes) -> None:
        fd = stream.fileno()
        if self._take_back_to is not None:
            os.ftruncate(fd, self._take_back_to)
            self._take_back_to = None
        start = os.fstat(fd).st_size  # O_APPEND: the batch goes here
        try:
            view = memoryview(payload)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, start)
            except OSError:
                self._take_back_to = start  # before anything else is written
            raise

    def _sync(self, stream: BinaryIO) -> None:
        os.fsync(stream.fileno())


def _cut_partial_line(fd: int, path: Path) -> None:
    """Truncate the file open at *fd* after its last newline (if it does not end with one)."""
    end = size = os.fstat(fd).st_size
    while end > 0:
        start = max(0, end - 65536)
        chunk = os.pread(fd, end - start, start)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            end = start + newline + 1
            break
        end = start
    if end != size:
        log.warning("%s ended in a partial line: cut back to its last complete line", path)
        os.ftruncate(fd, end)


class ConsoleSink(_StreamSink):
    """NDJSON on standard output, for debugging."""

    name = "console"

    def _open(self) -> BinaryIO:
        return sys.stdout.buffer

    def _close(self, stream: BinaryIO) -> None:
        stream.flush()  # never close the process's stdout
