"""One FileWatcher over a real file, alone: no source, no table, time given by hand."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from pipelines.types import RawLine
from shipper.sources import TAG_PARTIAL, FileSourceConfig
from shipper.sources.fingerprint import fingerprint_of
from shipper.sources.watcher import FileWatcher, Next

CONFIG = FileSourceConfig(
    poll_interval_s=1.0, partial_timeout_s=5.0, close_rotated_after_s=10.0, close_inactive_s=60.0
)
Watch = Callable[[Path], FileWatcher]


@pytest.fixture
def watch() -> Iterator[Watch]:
    """Open a file as the source does and watch it from time 0 (descriptors closed after)."""
    watchers: list[FileWatcher] = []

    def make(path: Path) -> FileWatcher:
        fd = os.open(path, os.O_RDONLY)
        st = os.fstat(fd)
        watcher = FileWatcher(
            path=str(path), dev=st.st_dev, inode=st.st_ino, fd=fd, size=st.st_size, hot=True
        )
        watchers.append(watcher)
        return watcher

    yield make
    for watcher in watchers:
        watcher.release()


def identify(watcher: FileWatcher, now: float = 0.0) -> None:
    """Identify the file as ``f`` and start reading it from 0 (what the table does for a new file)."""
    assert watcher.pull(CONFIG, now, [], [1, 1]) is Next.IDENTIFY
    found = watcher.identify(CONFIG, CONFIG.fingerprint_bytes, now)
    assert not isinstance(found, Next), found
    watcher.identified("f", found[1])
    watcher.start(0, CONFIG.max_line_bytes, now)


def pull(watcher: FileWatcher, now: float, lines: int = 1000) -> tuple[Next, list[RawLine]]:
    batch: list[RawLine] = []
    return watcher.pull(CONFIG, now, batch, [lines, 1 << 20]), batch


def test_reads_lines_in_order_and_polls_for_more(tmp_path: Path, watch: Watch) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"a\nbb\r\nccc")
    watcher = watch(path)
    identify(watcher)
    step, batch = pull(watcher, 0.0)
    assert step is Next.WAIT
    assert [(ln.data, ln.offset, ln.end_offset, ln.file_id) for ln in batch] == [
        (b"a", 0, 2, "f"),
        (b"bb", 2, 6, "f"),
    ]
    assert (watcher.emitted, watcher.read_pos) == (6, 9)  # "ccc" is read, held until complete
    assert not watcher.hot and watcher.next_poll_at == CONFIG.poll_interval_s

    with path.open("ab") as f:
        f.write(b"\nd\n")
    step, batch = pull(watcher, 1.0)
    assert step is Next.WAIT
    assert [(ln.data, ln.offset) for ln in batch] == [(b"ccc", 6), (b"d", 10)]
    assert (watcher.tally.lines_read, watcher.tally.bytes_read) == (4, 12)
    assert pull(watcher, 2.0) == (Next.WAIT, [])  # at its end, not acknowledged: kept


def test_a_full_batch_leaves_the_rest_ready(tmp_path: Path, watch: Watch) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(5)))
    watcher = watch(path)
    identify(watcher)
    step, batch = pull(watcher, 0.0, lines=2)
    assert step is Next.WAIT and [ln.data for ln in batch] == [b"line 0", b"line 1"]
    assert watcher.emitted == batch[-1].end_offset
    step, batch = pull(watcher, 0.0)
    assert [ln.data for ln in batch] == [b"line 2", b"line 3", b"line 4"]


@pytest.mark.parametrize(
    "rewrite",
    [b"x\n", b"another first line\n" + b"y" * 200 + b"\n", b"line 0\n" + b"z" * 200 + b"\n"],
    ids=["shorter", "longer", "longer-same-first-line"],
)
def test_truncation_is_detected_before_its_bytes_are_used(
    tmp_path: Path, watch: Watch, rewrite: bytes
) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"".join(b"line %d\n" % i for i in range(10)))
    watcher = watch(path)
    identify(watcher)
    _, batch = pull(watcher, 0.0)
    assert len(batch) == 10
    read_pos = watcher.read_pos
    assert not watcher.lost_its_start()

    os.truncate(path, 0)
    with path.open("ab") as f:
        f.write(rewrite)
    assert watcher.lost_its_start()
    assert pull(watcher, 1.0) == (Next.TRUNCATED, [])
    assert watcher.read_pos == read_pos and watcher.tally.lines_read == 10


@pytest.mark.parametrize("content", [b"", b'{"msg": "no newline yet'], ids=["empty", "incomplete"])
def test_waits_while_it_cannot_be_identified(tmp_path: Path, watch: Watch, content: bytes) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(content)
    watcher = watch(path)
    for now in (0.0, 1.0, 4.0):
        assert watcher.pull(CONFIG, now, [], [1, 1]) is Next.IDENTIFY
        assert watcher.identify(CONFIG, CONFIG.fingerprint_bytes, now) is Next.WAIT
        assert watcher.next_poll_at == now + CONFIG.poll_interval_s
    assert watcher.cutter is None and watcher.read_pos == 0

    with path.open("ab") as f:
        f.write(b" and now the newline\n")
    found = watcher.identify(CONFIG, CONFIG.fingerprint_bytes, 5.0)
    assert not isinstance(found, Next)
    prefix, (digest, length) = found
    assert prefix == content + b" and now the newline\n"
    assert (digest, length) == (fingerprint_of(prefix), len(prefix))


def test_an_incomplete_first_line_is_identified_and_shipped_after_the_timeout(
    tmp_path: Path, watch: Watch
) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"abc")
    watcher = watch(path)
    assert watcher.identify(CONFIG, CONFIG.fingerprint_bytes, 0.0) is Next.WAIT
    timeout = CONFIG.partial_timeout_s
    found = watcher.identify(CONFIG, CONFIG.fingerprint_bytes, timeout)
    assert not isinstance(found, Next)
    assert found[1] == (fingerprint_of(b"abc"), 3)
    watcher.identified("f", found[1])
    watcher.start(0, CONFIG.max_line_bytes, timeout)
    assert pull(watcher, timeout) == (Next.WAIT, [])  # read, held
    _, batch = pull(watcher, timeout + 1)
    assert [(ln.data, ln.tags, ln.end_offset) for ln in batch] == [(b"abc", (TAG_PARTIAL,), 3)]

    # Its newline alone arrives: no line for it, and the acknowledgement steps over it.
    with path.open("ab") as f:
        f.write(b"\nnext\n")
    _, batch = pull(watcher, timeout + 2)
    assert [(ln.data, ln.offset, ln.tags) for ln in batch] == [(b"next", 4, ())]
    watcher.acknowledge(3, 100.0)
    assert watcher.acked == 4 and watcher.checkpoint().offset == 4


def test_unmatched_and_never_identifiable_says_close(tmp_path: Path, watch: Watch) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"")
    watcher = watch(path)
    watcher.matched = False
    assert watcher.identify(CONFIG, CONFIG.fingerprint_bytes, 0.0) is Next.WAIT
    late = CONFIG.close_rotated_after_s
    assert watcher.identify(CONFIG, CONFIG.fingerprint_bytes, late) is Next.CLOSE


def test_idle_at_its_end_says_release_or_close_once_acknowledged(
    tmp_path: Path, watch: Watch
) -> None:
    path = tmp_path / "app.log"
    path.write_bytes(b"one\n")
    watcher = watch(path)
    identify(watcher)
    _, batch = pull(watcher, 0.0)
    inactive, rotated = CONFIG.close_inactive_s, CONFIG.close_rotated_after_s
    assert pull(watcher, inactive) == (Next.WAIT, [])  # not acknowledged yet
    watcher.acknowledge(batch[-1].end_offset, 100.0)
    assert pull(watcher, inactive - 1) == (Next.WAIT, [])
    assert pull(watcher, inactive) == (Next.RELEASE, [])
    watcher.matched = False  # renamed away
    assert pull(watcher, rotated - 1) == (Next.WAIT, [])
    assert pull(watcher, rotated) == (Next.CLOSE, [])

    watcher.release()
    assert watcher.fd is None and watcher.tally.files_closed == 1
    checkpoint = watcher.checkpoint()
    assert (checkpoint.file_id, checkpoint.offset, checkpoint.updated_at) == ("f", 4, 100.0)
    assert (checkpoint.sample_end, checkpoint.sample_len) == (4, 4)  # the bytes before the offset
