"""The file output keeps whole lines only (issue 11, item 3); the full disk itself is in
tests/integration/sinks/test_file_sink_full_disk.py."""

from __future__ import annotations

import asyncio
from pathlib import Path

from shipper.sinks import OutgoingEvent
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
