"""`file:///path/out.ndjson` and `console`: NDJSON through the same acknowledgement path."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from shipper.sinks.base import OutgoingEvent, SinkError

__all__ = ["ConsoleSink", "FileSink"]


class _StreamSink:
    """Writes one JSON line per event; a batch is acknowledged once written (and synced, for files)."""

    name = "stream"

    def __init__(self) -> None:
        self._stream: BinaryIO | None = None
        self._healthy = False

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
        if self._stream is None:
            await self.start()
        assert self._stream is not None
        payload = b"".join(event.value + b"\n" for event in events)
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
    """Appends NDJSON to a file; a batch counts as acknowledged once fsynced."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.path = path
        self.name = f"file://{path}"

    def _open(self) -> BinaryIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return self.path.open("ab")

    def _sync(self, stream: BinaryIO) -> None:
        stream.flush()
        os.fsync(stream.fileno())


class ConsoleSink(_StreamSink):
    """NDJSON on standard output, for debugging."""

    name = "console"

    def _open(self) -> BinaryIO:
        return sys.stdout.buffer

    def _close(self, stream: BinaryIO) -> None:
        stream.flush()  # never close the process's stdout
