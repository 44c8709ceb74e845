"""Restarts: resume exactly after the acknowledged offset, with the same file_id and offsets."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import shutil
from pathlib import Path

from shipper.checkpoint import CheckpointStore
from shipper.sources import TAG_PARTIAL, FileSource


def numbered(start: int, stop: int) -> bytes:
    return b"".join(b"line %08d\n" % i for i in range(start, stop))


async def run_and_ack(make_harness, config, store: CheckpointStore, count: int, ack_through: int):
    """Read ``count`` lines, acknowledge up to line ``ack_through`` (inclusive), save, stop."""
    h = make_harness(config, store.load(), auto_ack=False)
    async with h:
        await h.wait_for_lines(count)
        line = h.lines[ack_through]
        h.source.acknowledge({line.file_id: line.end_offset})
    store.save(h.source.checkpoints())
    return h


async def test_resumes_after_the_acknowledged_offset(
    tmp_path: Path, logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(numbered(0, 100))
    store = CheckpointStore(tmp_path / "state")
    first = await run_and_ack(make_harness, make_config(), store, 100, ack_through=59)
    with app.open("ab") as f:
        f.write(numbered(100, 110))

    async with make_harness(make_config(), store.load()) as second:
        await second.wait_for_lines(50)
        await asyncio.sleep(0.1)
    assert second.numbers() == list(range(60, 110))
    # Lines read again are the very same RawLines: same file_id, offsets (hence event.id).
    assert second.lines[:40] == first.lines[60:]
    assert second.lines[40].offset == first.lines[-1].end_offset


async def test_checkpoints_before_the_first_scan_are_the_loaded_ones(tmp_path: Path, make_config):
    store = CheckpointStore(tmp_path / "state")
    assert FileSource(make_config(), store.load()).checkpoints() == {}


async def test_a_checkpoint_whose_file_is_gone_is_dropped(
    tmp_path: Path, logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(numbered(0, 10))
    store = CheckpointStore(tmp_path / "state")
    await run_and_ack(make_harness, make_config(), store, 10, ack_through=9)
    loaded = store.load()
    assert len(loaded) == 1
    app.unlink()
    async with make_harness(make_config(), loaded) as h:
        assert h.source.checkpoints() == loaded  # not scanned yet: kept as loaded
        await asyncio.sleep(0.1)
        assert h.source.checkpoints() == {}


async def test_rename_rotation_while_down(tmp_path: Path, logs: Path, make_config, make_harness):
    app = logs / "app.log"
    app.write_bytes(numbered(0, 50))
    config = make_config(paths=[str(logs / "app.log*")])
    store = CheckpointStore(tmp_path / "state")
    first = await run_and_ack(make_harness, config, store, 50, ack_through=49)
    with app.open("ab") as f:
        f.write(numbered(50, 70))
    app.rename(logs / "app.log.1")
    app.write_bytes(numbered(70, 100))

    async with make_harness(config, store.load()) as h:
        await h.wait_for_lines(50)
        await asyncio.sleep(0.1)
    assert sorted(h.numbers()) == list(range(50, 100))
    old = [ln for ln in h.lines if ln.file_id == first.lines[0].file_id]
    assert old[0].offset == first.lines[-1].end_offset
    assert {ln.path for ln in old} == {str(logs / "app.log.1")}
    new = [ln for ln in h.lines if ln.file_id != first.lines[0].file_id]
    assert new[0].offset == 0 and len(new) == 30


async def test_file_replaced_at_a_checkpointed_path_is_read_from_0_even_at_end(
    tmp_path: Path, logs: Path, make_config, make_harness
):
    """The rotated file is out of the globs (its rest is lost: documented); the new one at the
    checkpointed path is a successor, so start_position=end does not skip it."""
    app = logs / "app.log"
    app.write_bytes(numbered(0, 50))
    config = make_config(start_position="end")
    store = CheckpointStore(tmp_path / "state")
    await run_and_ack(make_harness, make_config(), store, 50, ack_through=49)
    app.rename(logs / "rotated")
    app.write_bytes(numbered(70, 100))
    async with make_harness(config, store.load()) as h:
        await h.wait_for_lines(30)
        await asyncio.sleep(0.1)
    assert h.numbers() == list(range(70, 100))


async def test_copytruncate_while_down(tmp_path: Path, logs: Path, make_config, make_harness):
    app = logs / "app.log"
    app.write_bytes(numbered(0, 50))
    config = make_config(paths=[str(logs / "app.log*")])
    store = CheckpointStore(tmp_path / "state")
    first = await run_and_ack(make_harness, config, store, 50, ack_through=39)
    with app.open("ab") as f:
        f.write(numbered(50, 70))
    shutil.copyfile(app, logs / "app.log.1")
    os.truncate(app, 0)
    with app.open("ab") as f:
        f.write(numbered(70, 100))

    async with make_harness(config, store.load()) as h:
        await h.wait_for_lines(60)
        await asyncio.sleep(0.1)
    assert sorted(h.numbers()) == list(range(40, 100))
    old_id = first.lines[0].file_id
    from_copy = [ln for ln in h.lines if ln.file_id == old_id]
    # Continued in the copy with the same file_id: lines 40-49 are the same as before.
    assert from_copy[:10] == [
        dataclasses.replace(ln, path=str(logs / "app.log.1")) for ln in first.lines[40:]
    ]
    assert len(from_copy) == 30
    assert next(ln for ln in h.lines if ln.file_id != old_id).offset == 0


async def test_truncated_while_down_with_the_same_first_line(
    tmp_path: Path, logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(b"header\n" + numbered(0, 50))
    store = CheckpointStore(tmp_path / "state")
    first = await run_and_ack(make_harness, make_config(), store, 51, ack_through=50)
    app.write_bytes(b"header\n" + numbered(50, 60))  # shorter than the checkpoint's offset

    async with make_harness(make_config(), store.load()) as h:
        await h.wait_for_lines(11)
    assert h.lines[0].data == b"header" and h.lines[0].offset == 0
    assert h.lines[0].file_id != first.lines[0].file_id


async def test_device_number_changed_across_a_reboot(
    tmp_path: Path, logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(numbered(0, 20))
    store = CheckpointStore(tmp_path / "state")
    first = await run_and_ack(make_harness, make_config(), store, 20, ack_through=9)
    moved = {k: dataclasses.replace(cp, dev=cp.dev + 1) for k, cp in store.load().items()}
    async with make_harness(make_config(), moved) as h:
        await h.wait_for_lines(10)
        await asyncio.sleep(0.05)
    assert h.lines == first.lines[10:]


async def test_restart_inside_a_partial_line_continues_it(
    tmp_path: Path, logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(b"first\nhalf")
    config = make_config(partial_timeout_s=0.1)
    store = CheckpointStore(tmp_path / "state")
    first = await run_and_ack(make_harness, config, store, 2, ack_through=1)
    assert first.lines[1].tags == (TAG_PARTIAL,)
    with app.open("ab") as f:
        f.write(b" done\nnext\n")
    async with make_harness(config, store.load()) as h:
        await h.wait_for_lines(2)
    assert [(ln.data, ln.offset, ln.tags) for ln in h.lines] == [
        (b" done", 10, (TAG_PARTIAL,)),
        (b"next", 16, ()),
    ]


async def test_start_position_end_without_checkpoints(
    tmp_path: Path, logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(numbered(0, 10))
    store = CheckpointStore(tmp_path / "state")
    store.path.parent.mkdir()
    store.path.write_bytes(b"{ not json")  # corrupt: like no checkpoint at all
    size = app.stat().st_size
    async with make_harness(make_config(start_position="end"), store.load()) as h:
        await asyncio.sleep(0.1)
        # Nothing read, but the position is kept: a restart now would not read lines 0-9 either.
        assert next(iter(h.source.checkpoints().values())).offset == size
        with app.open("ab") as f:
            f.write(numbered(10, 12))
        await h.wait_for_lines(2)
    assert h.numbers() == [10, 11]
    assert list(store.state_dir.glob("checkpoints.json.corrupt-*"))


async def test_an_unrelated_file_sharing_the_first_line_is_not_taken_for_a_copy(
    tmp_path: Path, logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(b"=== started ===\n" + numbered(0, 50))
    config = make_config(paths=[str(logs / "*.log")])
    store = CheckpointStore(tmp_path / "state")
    await run_and_ack(make_harness, config, store, 51, ack_through=50)
    app.unlink()  # gone while down; another file begins the same way, lines of the same width
    (logs / "other.log").write_bytes(b"=== started ===\n" + numbered(100, 200))
    async with make_harness(config, store.load()) as h:
        await h.wait_for_lines(101)
        await asyncio.sleep(0.1)
    assert h.lines[0].offset == 0 and len(h.lines) == 101


async def test_checkpoints_survive_a_startup_capped_by_max_open_files(
    tmp_path: Path, logs: Path, make_config, make_harness
):
    for i in range(4):
        (logs / f"{i}.log").write_bytes(numbered(i * 100, i * 100 + 10))
    config = make_config(paths=[str(logs / "*.log")], close_inactive_s=0.1)
    store = CheckpointStore(tmp_path / "state")
    async with make_harness(config) as h:
        await h.wait_for_lines(40)
        await asyncio.sleep(0.05)
    store.save(h.source.checkpoints())
    for i in range(4):
        with (logs / f"{i}.log").open("ab") as f:
            f.write(numbered(i * 100 + 10, i * 100 + 12))

    capped = make_config(paths=[str(logs / "*.log")], close_inactive_s=0.1, max_open_files=2)
    async with make_harness(capped, store.load()) as h:
        await h.wait_for_lines(8)
        await asyncio.sleep(0.3)
    assert sorted(h.numbers()) == sorted(i * 100 + j for i in range(4) for j in (10, 11))


async def test_inode_reused_by_a_file_with_the_same_first_line(
    tmp_path: Path, logs: Path, make_config, make_harness
):
    """Deleted while down, and its inode handed to a new file that starts the same way: the
    checkpoint's sample (bytes before the offset) tells them apart. Simulated by pointing the
    checkpoint at the new file's inode, which is what an inode reuse amounts to."""
    app = logs / "app.log"
    app.write_bytes(b"=== started ===\n" + numbered(0, 50))
    store = CheckpointStore(tmp_path / "state")
    first = await run_and_ack(make_harness, make_config(), store, 51, ack_through=50)
    app.unlink()
    app.write_bytes(b"=== started ===\n" + numbered(100, 200))  # same widths: offsets line up
    st = app.stat()
    reused = {
        k: dataclasses.replace(cp, dev=st.st_dev, inode=st.st_ino) for k, cp in store.load().items()
    }
    (checkpoint,) = reused.values()
    assert checkpoint.sample_len > 0 and checkpoint.sample_end == checkpoint.offset
    async with make_harness(make_config(), reused) as h:
        await h.wait_for_lines(101)
        await asyncio.sleep(0.1)
    assert h.lines[0].offset == 0 and len(h.lines) == 101
    assert h.lines[0].file_id != first.lines[0].file_id


async def test_issue11_item8_a_checkpoint_that_no_longer_fits_its_file_is_a_warned_counted_reset(
    tmp_path: Path, logs: Path, make_config, make_harness, caplog
):
    # Offset past the end of the file (truncated while down), then another first line (rewritten
    # in place): both read the file again from 0 under new event ids, so both must be said.
    app = logs / "app.log"
    app.write_bytes(b"header\n" + numbered(0, 50))
    store = CheckpointStore(tmp_path / "state")
    await run_and_ack(make_harness, make_config(), store, 51, ack_through=50)
    app.write_bytes(b"header\n" + numbered(50, 60))  # shorter than the checkpoint's offset
    with caplog.at_level("WARNING", logger="shipper.sources"):
        async with make_harness(make_config(), store.load()) as h:
            await h.wait_for_lines(11)
            await asyncio.sleep(0.1)
            assert h.source.stats().checkpoint_resets_total == 1
            h.source.acknowledge({h.lines[-1].file_id: h.lines[-1].end_offset})
        store.save(h.source.checkpoints())
        assert "does not match the file there now" in caplog.text
        caplog.clear()

        app.write_bytes(b"other header\n" + numbered(0, 100))  # same inode, other first line
        async with make_harness(make_config(), store.load()) as h:
            await h.wait_for_lines(101)
            await asyncio.sleep(0.1)
            assert h.source.stats().checkpoint_resets_total == 1
        assert "does not match the file there now" in caplog.text


async def test_issue11_item8_a_checkpoint_whose_file_is_gone_is_no_reset(
    tmp_path: Path, logs: Path, make_config, make_harness
):
    app = logs / "app.log"
    app.write_bytes(numbered(0, 10))
    store = CheckpointStore(tmp_path / "state")
    await run_and_ack(make_harness, make_config(), store, 10, ack_through=9)
    app.unlink()
    async with make_harness(make_config(), store.load()) as h:
        await asyncio.sleep(0.2)
        assert h.source.checkpoints() == {}
        assert h.source.stats().checkpoint_resets_total == 0
