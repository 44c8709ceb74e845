"""Reading files: lines, partial and long lines, globs, start position, reconfiguration."""

from __future__ import annotations

import asyncio
import gc
import os
import tracemalloc
from pathlib import Path

import pytest

from shipper.sources import TAG_PARTIAL, TAG_TRUNCATED, FileSource, FileSourceConfig
from shipper.sources.config import MIB


async def test_reads_lines_with_offsets_path_and_file_id(logs: Path, make_config, make_harness):
    app = logs / "app.log"
    app.write_bytes(b'{"msg": "one"}\r\n\n{"msg": "three"}\n')
    async with make_harness(make_config()) as h:
        await h.wait_for_lines(3)
        with app.open("ab") as f:
            f.write(b"four\n")
        await h.wait_for_lines(4)
    assert [(ln.data, ln.offset, ln.end_offset, ln.tags) for ln in h.lines] == [
        (b'{"msg": "one"}', 0, 16, ()),
        (b"", 16, 17, ()),
        (b'{"msg": "three"}', 17, 34, ()),
        (b"four", 34, 39, ()),
    ]
    assert {ln.path for ln in h.lines} == {str(app)}
    assert len({ln.file_id for ln in h.lines}) == 1


async def test_a_file_created_later_is_read_from_the_beginning(
    logs: Path, make_config, make_harness
):
    async with make_harness(make_config(start_position="end")) as h:
        await asyncio.sleep(0.1)
        (logs / "app.log").write_bytes(b"a\nb\n")
        await h.wait_for_lines(2)
    assert [ln.data for ln in h.lines] == [b"a", b"b"]


async def test_start_position_end_skips_what_files_held_at_startup(
    logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(b"old 1\nold 2\nunfinish")
    async with make_harness(make_config(start_position="end")) as h:
        await asyncio.sleep(0.1)
        with app.open("ab") as f:
            f.write(b"ed\nnew\n")
        await h.wait_for_lines(2)
        await asyncio.sleep(0.05)
    # The line being written at startup is read whole.
    assert [ln.data for ln in h.lines] == [b"unfinished", b"new"]


async def test_partial_line_is_shipped_after_the_timeout(logs: Path, make_config, make_harness):
    app = logs / "app.log"
    app.write_bytes(b"complete\nhalf a li")
    config = make_config(partial_timeout_s=0.2)
    async with make_harness(config) as h:
        await h.wait_for_lines(1)
        await asyncio.sleep(0.05)
        assert len(h.lines) == 1  # held while it may still be completed
        await h.wait_for_lines(2)
        with app.open("ab") as f:
            f.write(b"ne\nnext\n")
        await h.wait_for_lines(4)
        await asyncio.sleep(0.05)
    assert [(ln.data, ln.offset, ln.end_offset, ln.tags) for ln in h.lines] == [
        (b"complete", 0, 9, ()),
        (b"half a li", 9, 18, (TAG_PARTIAL,)),
        (b"ne", 18, 21, (TAG_PARTIAL,)),
        (b"next", 21, 26, ()),
    ]
    assert h.source.stats().partial_lines_total == 1


async def test_short_file_without_newline_is_identified_and_shipped_after_the_timeout(
    logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(b"tiny")  # shorter than fingerprint_bytes, no newline: not identified yet
    async with make_harness(make_config(partial_timeout_s=0.2)) as h:
        await h.wait_for_lines(1)
        with app.open("ab") as f:
            f.write(b"\nmore\n")
        await h.wait_for_lines(2)
        await asyncio.sleep(0.1)
        checkpoint = next(iter(h.source.checkpoints().values()))
    assert [(ln.data, ln.tags) for ln in h.lines] == [(b"tiny", (TAG_PARTIAL,)), (b"more", ())]
    # The newline alone completed the partial line: no empty line, the ack steps over it.
    assert checkpoint.offset == 10
    assert checkpoint.fingerprint_len == 4  # identified by the 4 bytes it had


async def test_a_5_mib_line_is_truncated_in_bounded_memory(logs: Path, make_config, make_harness):
    app = logs / "app.log"
    with app.open("wb") as f:
        f.write(b"before\n")
        for _ in range(5):
            f.write(b"x" * MIB)
        f.write(b"\nafter\n")
    config = make_config(max_line_bytes=256 * 1024)
    gc.collect()
    tracemalloc.start()
    try:
        async with make_harness(config) as h:
            await h.wait_for_lines(3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(len(ln.data), ln.tags) for ln in h.lines] == [
        (6, ()),
        (256 * 1024, (TAG_TRUNCATED,)),
        (5, ()),
    ]
    assert h.lines[1].end_offset == 7 + 5 * MIB + 1
    assert h.lines[2].data == b"after"
    assert peak < 1.2 * MIB, f"peak {peak / MIB:.2f} MiB"
    assert h.source.stats().truncated_lines_total == 1


async def test_a_5_mib_line_with_the_default_limit(logs: Path, make_config, make_harness):
    app = logs / "app.log"
    with app.open("wb") as f:
        f.write(b"x" * (5 * MIB) + b"\nafter\n")
    gc.collect()
    tracemalloc.start()
    try:
        async with make_harness(make_config()) as h:
            await h.wait_for_lines(2)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(h.lines[0].data) == MIB and h.lines[0].tags == (TAG_TRUNCATED,)
    assert h.lines[1].data == b"after"
    # One kept line (1 MiB, also held by the test) plus a chunk and a copy: well under 5 MiB.
    assert peak < 3 * MIB, f"peak {peak / MIB:.2f} MiB"


async def test_globs_and_excludes(logs: Path, make_config, make_harness):
    (logs / "a.log").write_bytes(b"a\n")
    (logs / "b.log").write_bytes(b"b\n")
    (logs / "b.log.1.gz").write_bytes(b"gz\n")
    (logs / "skip.log").write_bytes(b"skip\n")
    (logs / "sub").mkdir()
    (logs / "sub" / "c.log").write_bytes(b"c\n")
    config = make_config(
        paths=[str(logs / "*.log*"), str(logs / "**" / "c.log")],
        exclude=["*.gz", "skip.*"],
    )
    async with make_harness(config) as h:
        await h.wait_for_lines(3)
        await asyncio.sleep(0.1)
    assert sorted(ln.data for ln in h.lines) == [b"a", b"b", b"c"]


async def test_reconfigure_adds_a_glob_without_repeating(logs: Path, make_config, make_harness):
    app, other = logs / "app.log", logs / "other.log"
    app.write_bytes(b"app 1\n")
    other.write_bytes(b"other 1\n")
    async with make_harness(make_config()) as h:
        await h.wait_for_lines(1)
        h.source.reconfigure(make_config(paths=[str(app), str(other)]))
        await h.wait_for_lines(2)
        with app.open("ab") as f:
            f.write(b"app 2\n")
        with other.open("ab") as f:
            f.write(b"other 2\n")
        await h.wait_for_lines(4)
        await asyncio.sleep(0.1)
    assert sorted(ln.data for ln in h.lines) == [b"app 1", b"app 2", b"other 1", b"other 2"]


async def test_reconfigure_dropping_a_glob_reads_the_file_to_its_end(
    logs: Path, make_config, make_harness
):
    app, other = logs / "app.log", logs / "other.log"
    app.write_bytes(b"app 1\n")
    other.write_bytes(b"other 1\n")
    async with make_harness(make_config(paths=[str(app), str(other)])) as h:
        await h.wait_for_lines(2)
        h.source.reconfigure(make_config(paths=[str(app)]))
        await asyncio.sleep(0.5)
        assert h.source.stats().open_files == 1
        assert {cp.path for cp in h.source.checkpoints().values()} == {str(app)}


async def test_empty_and_huge_batches_respect_the_limits(logs: Path, make_config, make_harness):
    app = logs / "app.log"
    app.write_bytes(b"".join(b"line %08d\n" % i for i in range(10_000)))
    async with make_harness(make_config(batch_max_lines=300, batch_max_bytes=2000)) as h:
        await h.wait_for_lines(10_000)
    assert max(len(batch) for batch in h.batches) <= 300
    for batch in h.batches:
        assert batch[-1].end_offset - batch[0].offset <= 2000
    h.assert_each_once(10_000)
    h.assert_in_file_order()


async def test_backpressure_pauses_reading(logs: Path, make_config, make_harness):
    app = logs / "app.log"
    app.write_bytes(b"".join(b"line %08d\n" % i for i in range(50_000)))
    h = make_harness(make_config(batch_max_lines=100, read_chunk_bytes=4096))
    h.gate = asyncio.Event()
    async with h:
        await asyncio.sleep(0.2)
        stats = h.source.stats()
        # One batch handed over (blocked), at most a chunk read ahead.
        assert stats.bytes_read_total <= 2 * 4096
        h.gate.set()
        await h.wait_for_lines(50_000)
    h.assert_each_once(50_000)


async def test_stop_returns_after_the_emit_under_way(logs: Path, make_config):
    app = logs / "app.log"
    app.write_bytes(b"a\nb\n")
    source = FileSource(make_config(), {})
    started, release = asyncio.Event(), asyncio.Event()
    emitted: list[int] = []

    async def slow_emit(batch: list) -> None:
        started.set()
        await release.wait()
        emitted.append(len(batch))

    task = asyncio.create_task(source.run(slow_emit))
    await asyncio.wait_for(started.wait(), 5)
    source.stop()
    await asyncio.sleep(0.05)
    assert not task.done()
    release.set()
    await asyncio.wait_for(task, 5)
    assert emitted == [2]


def test_config_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ValueError, match="extra"):
        FileSourceConfig(pathz=["x"])  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        FileSourceConfig(max_line_bytes=0)
    assert FileSourceConfig().paths == ["logs/app.log"]


async def test_unreadable_file_is_skipped_with_a_warning(
    logs: Path, make_config, make_harness, caplog, monkeypatch
):
    app = logs / "app.log"
    app.write_bytes(b"a\n")
    real_open = os.open

    def deny(path, flags, *args):
        if str(path) == str(app):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", deny)
    async with make_harness(make_config()) as h:
        await asyncio.sleep(0.2)
    assert h.lines == []
    assert caplog.text.count("cannot open") == 1  # once, not at every scan
