"""A file source under test: fast settings, a collecting ``emit``, a racing writer."""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest

from pipelines.types import RawLine
from shipper.checkpoint import FileCheckpoint
from shipper.sources import FileSource, FileSourceConfig

NUMBERED = re.compile(rb"^line (\d{8})\b")


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        await asyncio.sleep(0.005)


class Harness:
    """Runs a :class:`FileSource` in a task; ``emit`` collects lines and (by default) acks them."""

    def __init__(self, source: FileSource, *, auto_ack: bool = True) -> None:
        self.source = source
        self.auto_ack = auto_ack
        self.lines: list[RawLine] = []
        self.batches: list[list[RawLine]] = []
        self.gate: asyncio.Event | None = None
        self.task: asyncio.Task[None] | None = None
        self._numbers: list[int] = []

    async def emit(self, batch: list[RawLine]) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.batches.append(batch)
        self.lines.extend(batch)
        if self.auto_ack:
            self.source.acknowledge({line.file_id: line.end_offset for line in batch})

    async def __aenter__(self) -> Harness:
        self.task = asyncio.create_task(self.source.run(self.emit))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def stop(self) -> None:
        self.source.stop()
        if self.gate is not None:
            self.gate.set()
        if self.task is not None:
            await asyncio.wait_for(self.task, 10)

    async def wait_for_lines(self, count: int, timeout: float = 10.0) -> None:
        await wait_until(lambda: len(self.lines) >= count, timeout)

    async def wait_for_numbers(self, count: int, timeout: float = 20.0) -> None:
        await wait_until(lambda: len(self.numbers()) >= count, timeout)

    def numbers(self) -> list[int]:
        """The numbers of the ``line NNNNNNNN`` lines collected so far (parsed once each)."""
        for line in self.lines[len(self._numbers) :]:
            match = NUMBERED.match(line.data)
            assert match, f"not a numbered line: {line!r}"
            self._numbers.append(int(match.group(1)))
        return list(self._numbers)

    def assert_each_once(self, count: int) -> None:
        numbers = self.numbers()
        duplicates = [n for n, c in Counter(numbers).items() if c > 1]
        missing = sorted(set(range(count)) - set(numbers))
        assert not duplicates, f"read twice: {duplicates[:20]}"
        assert not missing, f"lost: {missing[:20]} ({len(missing)} in all)"
        assert len(numbers) == count

    def assert_in_file_order(self) -> None:
        """Per file_id, lines are contiguous and in order (offset == previous end_offset)."""
        last_end: dict[str, int] = {}
        for line in self.lines:
            if line.file_id in last_end:
                assert line.offset == last_end[line.file_id], line
            last_end[line.file_id] = line.end_offset


class Writer(threading.Thread):
    """Appends ``line NNNNNNNN ...`` lines like an app: O_APPEND, one write each, reopening the
    path when told to (as python's WatchedFileHandler or a SIGHUP-aware app does)."""

    def __init__(self, path: Path, count: int, *, pause_every: int = 200) -> None:
        super().__init__(daemon=True)
        self.path = path
        self.count = count
        self.pause_every = pause_every
        self.lock = threading.Lock()  # held by a rotation that must not race a write
        self.reopen = threading.Event()
        self.written = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            handle = open(self.path, "ab", buffering=0)  # noqa: SIM115
            try:
                for number in range(self.count):
                    with self.lock:
                        if self.reopen.is_set():
                            handle.close()
                            handle = open(self.path, "ab", buffering=0)  # noqa: SIM115
                            self.reopen.clear()
                        handle.write(b"line %08d payload-%s\n" % (number, b"x" * (number % 37)))
                        self.written = number + 1
                    if number % self.pause_every == 0:
                        time.sleep(0.002)
            finally:
                handle.close()
        except BaseException as exc:  # surfaced by the test
            self.error = exc

    def wait_written(self, count: int, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while self.written < count:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, "writer too slow"
            time.sleep(0.001)


@pytest.fixture
def logs(tmp_path: Path) -> Path:
    directory = tmp_path / "logs"
    directory.mkdir()
    return directory


@pytest.fixture
def make_config(logs: Path) -> Callable[..., FileSourceConfig]:
    """Fast settings: tests poll with timeouts instead of sleeping."""

    def make(**overrides: Any) -> FileSourceConfig:
        settings: dict[str, Any] = {
            "paths": [str(logs / "app.log")],
            "scan_interval_s": 0.05,
            "poll_interval_s": 0.005,
            "partial_timeout_s": 0.3,
            "close_rotated_after_s": 0.1,
        }
        settings.update(overrides)
        return FileSourceConfig(**settings)

    return make


@pytest.fixture
def make_harness() -> Callable[..., Harness]:
    def make(
        config: FileSourceConfig,
        checkpoints: Mapping[str, FileCheckpoint] | None = None,
        *,
        auto_ack: bool = True,
    ) -> Harness:
        return Harness(FileSource(config, checkpoints or {}), auto_ack=auto_ack)

    return make


@pytest.fixture
def make_writer() -> Iterator[Callable[..., Writer]]:
    writers: list[Writer] = []

    def make(path: Path, count: int, **options: Any) -> Writer:
        writer = Writer(path, count, **options)
        writers.append(writer)
        return writer

    yield make
    for writer in writers:
        writer.join(timeout=30)


@pytest.fixture
def until() -> Callable[..., Awaitable[None]]:
    """``await until(predicate, timeout)``."""
    return wait_until
