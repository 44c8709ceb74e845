"""Rotation while a writer races it: every line read exactly once.

The writer is a thread appending numbered lines with O_APPEND, reopening the path when told to
(like an app reacting to logrotate's postrotate signal); the rotation runs in the test's loop.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

COUNT = 12_000

# ~20 lines a millisecond: 12,000 lines take over half a second, rotated every ~0.12 s.
PACE = {"pause_every": 20}


def shift(app: Path, keep: int) -> None:
    """logrotate's numbering: app.log.1 -> app.log.2 ... (the oldest is deleted)."""
    oldest = app.with_name(f"{app.name}.{keep}")
    if oldest.exists():
        oldest.unlink()
    for generation in range(keep - 1, 0, -1):
        rotated = app.with_name(f"{app.name}.{generation}")
        if rotated.exists():
            rotated.rename(app.with_name(f"{app.name}.{generation + 1}"))


async def rotate_while_writing(writer, rotate, *, every: int = 1500, gap_s: float = 0.12) -> int:
    """Start ``writer``; call ``rotate()`` each time it has written ``every`` more lines, but not
    more often than every ``gap_s`` (several scan intervals: a file created and rotated out of the
    globs between two scans is never seen by any tailer)."""
    writer.start()
    rotations = 0
    next_at = every
    last = time.monotonic()
    while next_at < writer.count:
        while (writer.written < next_at or time.monotonic() - last < gap_s) and writer.is_alive():
            await asyncio.sleep(0.001)
        if not writer.is_alive():
            break
        await rotate()
        last = time.monotonic()
        rotations += 1
        next_at = writer.written + every
    while writer.is_alive():
        await asyncio.sleep(0.005)
    assert writer.error is None
    return rotations


@pytest.mark.parametrize("rotated_in_globs", [False, True], ids=["app.log", "app.log*"])
async def test_rename_and_create(
    logs: Path, make_config, make_harness, make_writer, rotated_in_globs: bool
):
    app = logs / "app.log"
    paths = [str(logs / "app.log*")] if rotated_in_globs else [str(app)]
    writer = make_writer(app, COUNT, **PACE)

    async def rotate() -> None:
        shift(app, keep=3)
        app.rename(app.with_name("app.log.1"))
        await asyncio.sleep(0.01)  # the app keeps writing to the renamed file for a while
        writer.reopen.set()

    async with make_harness(make_config(paths=paths)) as h:
        assert await rotate_while_writing(writer, rotate) >= 5
        await h.wait_for_numbers(COUNT)
        await asyncio.sleep(0.3)  # nothing more comes
    h.assert_each_once(COUNT)
    h.assert_in_file_order()
    assert len({ln.file_id for ln in h.lines}) >= 6
    # Rotated files were closed once read; with keep=3 at most 3 rotated names exist at all.
    assert h.source.stats().open_files <= (4 if rotated_in_globs else 1)


async def test_copytruncate_with_the_copy_in_the_globs(
    logs: Path, make_config, make_harness, make_writer
):
    app = logs / "app.log"
    writer = make_writer(app, COUNT, **PACE)

    async def rotate() -> None:
        # logrotate's copytruncate; the lock stands for "no write between copy and truncate",
        # the window logrotate itself documents as lossy.
        with writer.lock:
            shift(app, keep=3)
            shutil.copyfile(app, app.with_name("app.log.1"))
            os.truncate(app, 0)

    async with make_harness(make_config(paths=[str(logs / "app.log*")])) as h:
        assert await rotate_while_writing(writer, rotate) >= 5
        await h.wait_for_numbers(COUNT)
        await asyncio.sleep(0.3)
    h.assert_each_once(COUNT)
    h.assert_in_file_order()
    assert h.source.stats().truncations_total >= 5


async def test_delete_while_open(logs: Path, make_config, make_harness, make_writer):
    app = logs / "app.log"
    writer = make_writer(app, COUNT, **PACE)

    async def rotate() -> None:
        app.unlink()
        await asyncio.sleep(0.01)  # written to the deleted file: still read through the handle
        writer.reopen.set()

    async with make_harness(make_config()) as h:
        assert await rotate_while_writing(writer, rotate) >= 5
        await h.wait_for_numbers(COUNT)
        await asyncio.sleep(0.3)
        assert h.source.stats().open_files == 1  # deleted files were closed once read
    h.assert_each_once(COUNT)
    h.assert_in_file_order()


async def test_truncate_while_writing(logs: Path, make_config, make_harness, make_writer, until):
    app = logs / "app.log"
    writer = make_writer(app, COUNT, **PACE)
    ids_before: set[str] = set()

    async def rotate() -> None:
        # Truncation destroys what was not read yet, so truncate once the source has it all;
        # the writer goes on at once, racing the source's noticing.
        with writer.lock:
            written = writer.written
            await until(lambda: len(h.lines) >= written)
            ids_before.update(ln.file_id for ln in h.lines)
            os.truncate(app, 0)

    async with make_harness(make_config()) as h:
        assert await rotate_while_writing(writer, rotate) >= 5
        await h.wait_for_numbers(COUNT)
    h.assert_each_once(COUNT)
    h.assert_in_file_order()
    assert h.source.stats().truncations_total >= 5
    # Every incarnation is a new file_id, read from offset 0.
    starts = Counter(ln.file_id for ln in h.lines if ln.offset == 0)
    assert len(starts) >= 6 and set(starts.values()) == {1}


async def test_truncated_and_rewritten_past_the_read_position(
    logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(b"".join(b"line %08d old\n" % i for i in range(100)))
    async with make_harness(make_config()) as h:
        await h.wait_for_lines(100)
        # One write: by the next poll the file is already longer than the read position.
        app.write_bytes(b"".join(b"line %08d new\n" % i for i in range(100, 400)))
        await h.wait_for_lines(400)
        await asyncio.sleep(0.1)
    h.assert_each_once(400)
    first, second = h.lines[0].file_id, h.lines[100].file_id
    assert first != second and h.lines[100].offset == 0
    assert h.source.stats().truncations_total == 1


async def test_truncated_and_rewritten_past_the_read_position_with_the_same_first_line(
    logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(b"header\n" + b"".join(b"line %08d\n" % i for i in range(100)))
    async with make_harness(make_config()) as h:
        await h.wait_for_lines(101)
        app.write_bytes(b"header\n" + b"".join(b"line %08d\n" % i for i in range(100, 400)))
        await h.wait_for_lines(402)
        await asyncio.sleep(0.1)
    assert [ln.data for ln in h.lines if ln.data == b"header"] == [b"header", b"header"]
    assert h.lines[101].offset == 0 and h.lines[101].file_id != h.lines[0].file_id
    assert sorted(int(ln.data[5:]) for ln in h.lines if ln.data != b"header") == list(range(400))


async def test_truncated_and_rewritten_with_the_same_first_line_gets_a_new_file_id(
    logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(b"header\nline 00000000\nline 00000001\n")
    async with make_harness(make_config()) as h:
        await h.wait_for_lines(3)
        with app.open("r+b") as f:
            f.truncate(0)
        await asyncio.sleep(0.05)
        app.write_bytes(b"header\nline 00000002\n")
        await h.wait_for_lines(5)
    ids = [ln.file_id for ln in h.lines]
    assert ids[0] == ids[2] and ids[3] == ids[4] and ids[0] != ids[3]
    assert [ln.offset for ln in h.lines[3:]] == [0, 7]


async def test_copytruncate_copy_seen_before_the_truncation(
    logs: Path, make_config, make_harness, caplog
):
    """The copy is found while the original is intact: held, then read from where the original
    was when the original is found truncated."""
    caplog.set_level(logging.INFO, logger="shipper.sources")
    app, copy = logs / "app.log", logs / "app.log.1"
    app.write_bytes(b"".join(b"line %08d\n" % i for i in range(100)))
    h = make_harness(make_config(paths=[str(logs / "app.log*")], batch_max_lines=10))
    h.gate = asyncio.Event()
    async with h:
        await asyncio.sleep(0.05)  # the first batch is handed over and blocked
        with app.open("ab") as f:
            f.write(b"".join(b"line %08d\n" % i for i in range(100, 150)))
        shutil.copyfile(app, copy)
        h.source._scan(time.monotonic())  # run() is parked in emit: scan now, before truncating
        assert "is a copy of" in caplog.text
        os.truncate(app, 0)
        with app.open("ab") as f:
            f.write(b"".join(b"line %08d\n" % i for i in range(150, 200)))
        h.gate.set()
        await h.wait_for_lines(200)
        await asyncio.sleep(0.1)
    h.assert_each_once(200)
    h.assert_in_file_order()
    by_id = Counter(ln.file_id for ln in h.lines)
    assert sorted(by_id.values()) == [50, 150]
    assert {ln.path for ln in h.lines[:150]} == {str(app), str(copy)}
    assert "in its copy" in caplog.text


async def test_copytruncate_copy_found_truncated_before_the_source_noticed(
    logs: Path, make_config, make_harness, caplog
):
    """A scan finds the copy after the truncation, before a read noticed it."""
    caplog.set_level(logging.INFO, logger="shipper.sources")
    app, copy = logs / "app.log", logs / "app.log.1"
    app.write_bytes(b"".join(b"line %08d\n" % i for i in range(100)))
    h = make_harness(make_config(paths=[str(logs / "app.log*")], batch_max_lines=10))
    h.gate = asyncio.Event()
    async with h:
        await asyncio.sleep(0.05)
        with app.open("ab") as f:
            f.write(b"".join(b"line %08d\n" % i for i in range(100, 150)))
        shutil.copyfile(app, copy)
        os.truncate(app, 0)
        with app.open("ab") as f:
            f.write(b"".join(b"line %08d\n" % i for i in range(150, 200)))
        h.source._scan(time.monotonic())
        h.gate.set()
        await h.wait_for_lines(200)
        await asyncio.sleep(0.1)
    h.assert_each_once(200)
    h.assert_in_file_order()
    assert "is a copy of" not in caplog.text and "in its copy" in caplog.text


async def test_copytruncate_copy_seen_after_the_truncation(
    logs: Path, make_config, make_harness, caplog
):
    """The truncation is noticed first (no scan for an hour): the old file waits for its copy,
    which the scan run at once on truncation finds."""
    caplog.set_level(logging.INFO, logger="shipper.sources")
    app, copy = logs / "app.log", logs / "app.log.1"
    app.write_bytes(b"".join(b"line %08d\n" % i for i in range(100)))
    config = make_config(paths=[str(logs / "app.log*")], scan_interval_s=3600, batch_max_lines=10)
    h = make_harness(config)
    h.gate = asyncio.Event()
    async with h:
        await asyncio.sleep(0.05)
        with app.open("ab") as f:
            f.write(b"".join(b"line %08d\n" % i for i in range(100, 150)))
        shutil.copyfile(app, copy)
        os.truncate(app, 0)
        with app.open("ab") as f:
            f.write(b"".join(b"line %08d\n" % i for i in range(150, 200)))
        h.gate.set()
        await h.wait_for_lines(200)
        await asyncio.sleep(0.1)
    h.assert_each_once(200)
    h.assert_in_file_order()
    assert "is a copy of" not in caplog.text and "in its copy" in caplog.text


async def test_a_plain_copy_is_not_read_twice(logs: Path, make_config, make_harness):
    app = logs / "app.log"
    app.write_bytes(b"".join(b"line %08d\n" % i for i in range(100)))
    async with make_harness(make_config(paths=[str(logs / "*")])) as h:
        await h.wait_for_lines(100)
        shutil.copyfile(app, logs / "backup.log")
        with app.open("ab") as f:
            f.write(b"line 00000100\n")
        await h.wait_for_lines(101)
        await asyncio.sleep(0.2)
    h.assert_each_once(101)


async def test_inode_reuse_gives_a_new_file_id(logs: Path, make_config, make_harness):
    app = logs / "app.log"
    app.write_bytes(b"2025-01-01T00:00:00 first file\n")
    async with make_harness(make_config()) as h:
        await h.wait_for_lines(1)
        inode = app.stat().st_ino
        app.unlink()
        app.write_bytes(b"2025-01-01T00:00:01 second file\n")
        await h.wait_for_lines(2)
    reused = app.stat().st_ino == inode  # ext4/tmpfs usually hand the freed inode out again
    assert h.lines[0].file_id != h.lines[1].file_id, f"inode reused: {reused}"
    assert h.lines[1].offset == 0


async def test_files_sharing_a_first_line_are_not_copies(logs: Path, make_config, make_harness):
    for name in ("a.log", "b.log", "c.log"):
        (logs / name).write_bytes(b"=== started ===\n" + b"%s line 1\n" % name.encode())
    async with make_harness(make_config(paths=[str(logs / "*.log")])) as h:
        await h.wait_for_lines(6)
        await asyncio.sleep(0.1)
    assert sorted(ln.data for ln in h.lines if ln.data.endswith(b"line 1")) == [
        b"a.log line 1",
        b"b.log line 1",
        b"c.log line 1",
    ]
    assert len({ln.file_id for ln in h.lines}) == 3


async def test_a_copy_that_diverges_is_a_file_of_its_own(
    logs: Path, make_config, make_harness, caplog
):
    caplog.set_level(logging.INFO, logger="shipper.sources")
    app, other = logs / "app.log", logs / "other.log"
    app.write_bytes(b"started\n")
    async with make_harness(make_config(paths=[str(logs / "*.log")])) as h:
        await h.wait_for_lines(1)
        other.write_bytes(b"started\n")  # identical for now: taken for a copy
        await asyncio.sleep(0.15)
        assert "is a copy of" in caplog.text
        with other.open("ab") as f:
            f.write(b"other's own line\n")
        await h.wait_for_lines(3)
        await asyncio.sleep(0.1)
    assert [ln.data for ln in h.lines] == [b"started", b"started", b"other's own line"]
    assert h.lines[1].offset == 0 and h.lines[1].file_id != h.lines[0].file_id


async def test_a_copy_still_being_written_stays_a_copy(logs: Path, make_config, make_harness):
    app, copy = logs / "app.log", logs / "app.log.1"
    content = b"".join(b"line %08d\n" % i for i in range(1000))
    app.write_bytes(content)
    async with make_harness(make_config(paths=[str(logs / "app.log*")])) as h:
        await h.wait_for_lines(1000)
        copy.write_bytes(content[:5000])  # cp is half way through
        await asyncio.sleep(0.15)
        with copy.open("ab") as f:
            f.write(content[5000:])
        await asyncio.sleep(0.15)
    h.assert_each_once(1000)
