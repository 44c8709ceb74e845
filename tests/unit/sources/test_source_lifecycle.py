"""Descriptors, idle files, statistics and stopping."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from pathlib import Path

from shipper.sources import FileSource


def numbered(start: int, stop: int) -> bytes:
    return b"".join(b"line %08d\n" % i for i in range(start, stop))


async def test_max_open_files_makes_new_files_wait_for_a_slot(
    logs: Path, make_config, make_harness, caplog
):
    for i in range(4):
        (logs / f"{i}.log").write_bytes(numbered(i * 10, i * 10 + 10))
    config = make_config(paths=[str(logs / "*.log")], max_open_files=2, close_inactive_s=0.1)
    async with make_harness(config) as h:
        await asyncio.sleep(0.05)
        assert h.source.stats().open_files <= 2
        await h.wait_for_lines(40)
        assert h.source.stats().open_files <= 2
    h.assert_each_once(40)
    assert caplog.text.count("max_open_files (2) reached") >= 1


async def test_an_idle_file_is_released_and_reopened_where_it_was(
    logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(numbered(0, 10))
    async with make_harness(make_config(close_inactive_s=0.1)) as h:
        await h.wait_for_lines(10)
        await asyncio.sleep(0.3)
        stats = h.source.stats()
        assert stats.open_files == 0 and len(stats.files) == 1  # released, still followed
        with app.open("ab") as f:
            f.write(numbered(10, 15))
        await h.wait_for_lines(15)
        await asyncio.sleep(0.05)
    h.assert_each_once(15)
    h.assert_in_file_order()


async def test_a_released_file_truncated_meanwhile_is_read_from_0(
    logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(numbered(0, 10))
    async with make_harness(make_config(close_inactive_s=0.1)) as h:
        await h.wait_for_lines(10)
        await asyncio.sleep(0.3)
        assert h.source.stats().open_files == 0
        app.write_bytes(numbered(10, 30))  # truncated and rewritten past the old position
        await h.wait_for_lines(30)
        await asyncio.sleep(0.05)
    h.assert_each_once(30)
    assert h.lines[10].offset == 0 and h.lines[10].file_id != h.lines[0].file_id


async def test_stats_report_lag_and_counters(logs: Path, make_config, make_harness):
    app = logs / "app.log"
    app.write_bytes(numbered(0, 10) + b"x" * 50 + b"\n")
    h = make_harness(make_config(max_line_bytes=20), auto_ack=False)
    async with h:
        await h.wait_for_lines(11)
        stats = h.source.stats()
        size = app.stat().st_size
        assert stats.lag_bytes_total == size == stats.lag_bytes_max
        (file_stats,) = stats.files
        assert file_stats.path == str(app) and file_stats.open
        assert file_stats.read_offset == size and file_stats.acked_offset == 0
        assert stats.lines_read_total == 11 and stats.bytes_read_total == size
        assert stats.truncated_lines_total == 1 and stats.open_files == 1
        last = h.lines[-1]
        h.source.acknowledge({last.file_id: last.end_offset})
        assert h.source.stats().lag_bytes_total == 0
        checkpoint = h.source.checkpoints()[last.file_id]
        assert (checkpoint.path, checkpoint.offset) == (str(app), size)
        assert (checkpoint.dev, checkpoint.inode) == (app.stat().st_dev, app.stat().st_ino)


async def test_stop_from_another_thread(logs: Path, make_config):
    (logs / "app.log").write_bytes(b"a\n")
    source = FileSource(make_config(poll_interval_s=5, scan_interval_s=5), {})

    async def emit(batch: list) -> None:
        threading.Thread(target=source.stop).start()

    await asyncio.wait_for(source.run(emit), 2)


async def test_acknowledgements_never_go_backwards(logs: Path, make_config, make_harness):
    (logs / "app.log").write_bytes(numbered(0, 3))
    h = make_harness(make_config(), auto_ack=False)
    async with h:
        await h.wait_for_lines(3)
        file_id = h.lines[0].file_id
        h.source.acknowledge({file_id: h.lines[2].end_offset})
        h.source.acknowledge({file_id: h.lines[0].end_offset, "unknown": 5})
        assert h.source.checkpoints()[file_id].offset == h.lines[2].end_offset


async def test_descriptors_are_closed_when_run_returns(logs: Path, make_config, make_harness):
    for i in range(3):
        (logs / f"{i}.log").write_bytes(b"file %d\n" % i)
    before = len(os.listdir("/proc/self/fd"))
    async with make_harness(make_config(paths=[str(logs / "*.log")])) as h:
        await h.wait_for_lines(3)
        assert h.source.stats().open_files == 3
    assert len(os.listdir("/proc/self/fd")) <= before
    assert h.source.stats().open_files == 0
    assert len(h.source.checkpoints()) == 3  # the state outlives run(), for the final save


async def test_rotated_file_deleted_before_ack_is_kept_until_acked(
    logs: Path, make_config, make_harness, caplog
):
    caplog.set_level(logging.DEBUG, logger="shipper.sources")
    app = logs / "app.log"
    app.write_bytes(numbered(0, 5))
    h = make_harness(make_config(), auto_ack=False)
    async with h:
        await h.wait_for_lines(5)
        app.unlink()
        await asyncio.sleep(0.3)
        assert h.source.stats().open_files == 1  # not acknowledged: kept open
        last = h.lines[-1]
        h.source.acknowledge({last.file_id: last.end_offset})
        await asyncio.sleep(0.3)
        assert h.source.stats().open_files == 0
        assert h.source.checkpoints() == {}


def test_the_public_api_is_what_it_claims() -> None:
    import shipper.sources as sources

    assert sorted(sources.__all__) == [
        "Emit",
        "FileSource",
        "FileSourceConfig",
        "FileStats",
        "SourceStats",
        "TAG_PARTIAL",
        "TAG_TRUNCATED",
    ]
    assert all(getattr(sources, name) is not None for name in sources.__all__)
    assert (sources.TAG_PARTIAL, sources.TAG_TRUNCATED) == ("_partial", "_truncated")
