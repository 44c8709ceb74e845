"""The file output keeps whole lines only (issue 11, item 3) and writes the batches in flight one
at a time, in order; the full disk itself is in tests/integration/sinks/test_file_sink_full_disk.py."""

from __future__ import annotations

import asyncio
import errno
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from shipper.sinks import OutgoingEvent, SinkError
from shipper.sinks.stream import FileSink


def _publish(sink: FileSink, *values: bytes) -> None:
    async def go() -> None:
        await sink.publish([OutgoingEvent(value, b"", str(i)) for i, value in enumerate(values)])
        await sink.close()

    asyncio.run(go())


def test_issue11_item3_a_partial_last_line_left_by_a_crash_is_cut_before_appending(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.ndjson"
    out.write_bytes(b'{"n": 1}\n{"n": 2}\n{"n": 3, "mess')  # killed mid-write: never acknowledged
    _publish(FileSink(out), b'{"n": 3}', b'{"n": 4}')
    assert out.read_bytes() == b'{"n": 1}\n{"n": 2}\n{"n": 3}\n{"n": 4}\n'


def test_a_file_of_whole_lines_is_appended_to_as_it_is(tmp_path: Path) -> None:
    out = tmp_path / "out.ndjson"
    out.write_bytes(b'{"n": 1}\n')
    _publish(FileSink(out), b'{"n": 2}')
    assert out.read_bytes() == b'{"n": 1}\n{"n": 2}\n'


def _batch(name: str, lines: int = 3) -> list[OutgoingEvent]:
    return [OutgoingEvent(f'{{"{name}": {n}}}'.encode(), b"", f"{name}{n}") for n in range(lines)]


def test_a_batch_that_fails_never_cuts_off_one_acknowledged_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batch A's fsync fails (a full disk) while batch B is in flight too: taking A back must not
    take B, which was acknowledged, with it; A's retry then writes it once."""
    out = tmp_path / "out.ndjson"
    sink = FileSink(out)
    b_synced = threading.Event()
    real_fsync = os.fsync
    fsyncs = 0

    def fsync(fd: int) -> None:
        nonlocal fsyncs
        fsyncs += 1
        if fsyncs == 1:  # A's: give B the time to be written meanwhile, if it can be
            b_synced.wait(timeout=1.0)
            raise OSError(errno.ENOSPC, "No space left on device")
        real_fsync(fd)
        b_synced.set()

    async def go() -> None:
        await sink.start()
        monkeypatch.setattr(os, "fsync", fsync)
        a = asyncio.create_task(sink.publish(_batch("a")))
        b = asyncio.create_task(sink.publish(_batch("b")))
        with pytest.raises(SinkError, match="No space left"):
            await a
        await b  # acknowledged
        await sink.publish(_batch("a"))  # the retry
        monkeypatch.undo()
        await sink.close()

    asyncio.run(go())
    lines = out.read_bytes().splitlines()
    assert sorted(lines) == sorted(e.value for e in _batch("a") + _batch("b"))


def test_batches_in_flight_together_are_written_in_the_order_published(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.ndjson"
    sink = FileSink(out)
    real_write = os.write
    slow: list[int] = []

    def write(fd: int, data: Any) -> int:
        if fd in slow:  # the first batch's write is slow: the others must wait for it
            slow.clear()
            time.sleep(0.2)
        return real_write(fd, data)

    async def go() -> None:
        await sink.start()
        assert sink._stream is not None
        slow.append(sink._stream.fileno())
        monkeypatch.setattr(os, "write", write)
        await asyncio.gather(*(sink.publish(_batch(f"b{n}")) for n in range(5)))
        monkeypatch.undo()
        await sink.close()

    asyncio.run(go())
    expected = [e.value for n in range(5) for e in _batch(f"b{n}")]
    assert out.read_bytes().splitlines() == expected
