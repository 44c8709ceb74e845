"""Issue 11 item 5: files that report size 0 yet hold data (procfs, sysfs, some FUSE) are read
once to their end, then tracked by read position: never shipped again."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from shipper.checkpoint import CheckpointStore

PSEUDO = "/proc/version"


def _is_sizeless(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return os.fstat(f.fileno()).st_size == 0 and bool(f.read(1))
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not _is_sizeless(PSEUDO), reason=f"no sizeless {PSEUDO} here")


async def test_a_file_reporting_size_0_is_shipped_once(make_config, make_harness) -> None:
    """The old source took it for truncated at every poll: dozens of copies a second."""
    config = make_config(paths=[PSEUDO], close_inactive_s=300)
    async with make_harness(config) as h:
        await h.wait_for_lines(1)
        await asyncio.sleep(1.0)  # 200 polls, 20 scans
        stats = h.source.stats()
    assert len(h.lines) == 1, f"{len(h.lines)} copies"
    assert h.lines[0].data == Path(PSEUDO).read_bytes().rstrip(b"\n")
    assert stats.truncations_total == 0
    (followed,) = stats.files
    assert followed.lag_bytes == 0


async def test_released_and_reopened_it_is_still_not_shipped_again(
    make_config, make_harness
) -> None:
    config = make_config(paths=[PSEUDO], close_inactive_s=0.05)
    async with make_harness(config) as h:
        await h.wait_for_lines(1)
        await asyncio.sleep(1.0)  # released after 0.05 s idle; every scan may reopen it
        opened = h.source.stats().files_opened_total
    assert len(h.lines) == 1
    assert opened >= 1


async def test_after_a_restart_it_resumes_where_it_was(
    tmp_path: Path, make_config, make_harness
) -> None:
    config = make_config(paths=[PSEUDO])
    store = CheckpointStore(tmp_path / "state")
    async with make_harness(config) as h:
        await h.wait_for_lines(1)
        await asyncio.sleep(0.1)
    store.save(h.source.checkpoints())
    async with make_harness(config, store.load()) as again:
        await asyncio.sleep(0.5)
    assert again.lines == []
    assert list(again.source.checkpoints()) == list(h.source.checkpoints())  # same file_id


async def test_an_ordinary_empty_file_is_still_checked_for_truncation(
    logs: Path, make_config, make_harness
) -> None:
    """A log created empty and written later is no pseudo file: truncation still counts."""
    app = logs / "app.log"
    app.write_bytes(b"")
    async with make_harness(make_config()) as h:
        await asyncio.sleep(0.1)
        app.write_bytes(b"line 00000000\nline 00000001\n")
        await h.wait_for_lines(2)
        app.write_bytes(b"line 00000002\n")  # truncated and rewritten shorter
        await h.wait_for_lines(3)
    assert h.numbers() == [0, 1, 2]
    assert h.source.stats().truncations_total == 1


async def test_a_pseudo_file_made_anew_at_every_read_is_not_shipped_in_pieces(
    make_config, make_harness
) -> None:
    """/proc/self/status changes (context switches, memory) between reads: past the first read,
    the bytes beyond the position are the tail of other content, not an append."""
    config = make_config(paths=["/proc/self/status"], close_inactive_s=0.05)
    async with make_harness(config) as h:
        await h.wait_for_lines(5)
        await asyncio.sleep(1.0)
    keys = [line.data.split(b":", 1)[0] for line in h.lines]
    assert all(b":" in line.data for line in h.lines), [ln.data for ln in h.lines][-5:]
    assert len(keys) == len(set(keys)), "some lines shipped twice"
    assert keys[0] == b"Name"


@pytest.fixture
def reports_size_0(monkeypatch: pytest.MonkeyPatch):
    """Make a regular file report size 0 through ``fstat``, as a FUSE file may: its content
    can then be changed at will."""
    real_fstat = os.fstat
    targets: set[tuple[int, int]] = set()

    def fstat(fd: int) -> os.stat_result:
        st = real_fstat(fd)
        if (st.st_dev, st.st_ino) not in targets:
            return st
        fields = list(st[:10])
        fields[6] = 0  # st_size
        return os.stat_result(fields)

    monkeypatch.setattr(os, "fstat", fstat)

    def make(path: Path) -> Path:
        st = path.stat()
        targets.add((st.st_dev, st.st_ino))
        return path

    return make


async def test_a_sizeless_file_that_grows_is_followed_by_read_position(
    logs: Path, make_config, make_harness, reports_size_0
) -> None:
    app = logs / "app.log"
    app.write_bytes(b"line 00000000\nline 00000001\n")
    reports_size_0(app)
    async with make_harness(make_config()) as h:
        await h.wait_for_lines(2)
        await asyncio.sleep(0.2)
        with app.open("ab") as f:
            f.write(b"line 00000002\n")
        await h.wait_for_lines(3)
        await asyncio.sleep(0.3)
    h.assert_each_once(3)
    assert h.source.stats().truncations_total == 0


async def test_a_sizeless_file_made_anew_is_not_shipped_in_pieces(
    logs: Path, make_config, make_harness, reports_size_0
) -> None:
    """Same first line, other numbers after it, a little longer: the bytes past the position
    are the tail of other content, not an append (the old source re-shipped the whole file;
    reading on from the position would ship a torn piece)."""
    app = logs / "app.log"
    app.write_bytes(b"line 00000000\nswitches: 9\n")
    reports_size_0(app)
    async with make_harness(make_config()) as h:
        await h.wait_for_lines(2)
        await asyncio.sleep(0.2)
        app.write_bytes(b"line 00000000\nswitches: 10000\n")
        await asyncio.sleep(0.5)
    assert [line.data for line in h.lines] == [b"line 00000000", b"switches: 9"]
    assert h.source.stats().truncations_total == 0
