"""An idle source waits for its poll interval: a file it cannot identify yet costs no CPU."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from shipper.sources import FileSource


def _count_collects(source: FileSource) -> list[int]:
    calls = [0]
    collect = source._collect

    def counting(now: float) -> object:
        calls[0] += 1
        return collect(now)

    source._collect = counting  # type: ignore[method-assign]
    return calls


@pytest.mark.parametrize(
    "content",
    [b"", b'{"msg": "a first line without its newline yet'],
    ids=["empty", "first-line-incomplete"],
)
async def test_a_file_not_identified_yet_is_polled_not_spun(
    logs: Path, make_config, make_harness, content: bytes
):
    (logs / "app.log").write_bytes(content)
    # Polls every 50 ms, and the partial line stays unshipped for the whole test.
    config = make_config(poll_interval_s=0.05, scan_interval_s=0.05, partial_timeout_s=60)
    harness = make_harness(config)
    calls = _count_collects(harness.source)
    async with harness:
        await asyncio.sleep(0.6)
        assert harness.source.stats().open_files == 1  # it did find the file
    assert harness.lines == []
    # ~12 polls plus ~12 scans; a loop that never sleeps makes thousands of passes.
    assert calls[0] < 100, f"{calls[0]} passes over the files in 0.6 s"
