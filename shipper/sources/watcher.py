"""One followed file: its descriptor, how far it is read, its lines, its acknowledgements.

A :class:`FileWatcher` reads one file identity (one ``file_id``) and knows nothing of the others;
who a file *is* (a checkpointed file, a copy, a new file) is decided by
:class:`~shipper.sources.identity.FileTable`, and when it is read by
:class:`~shipper.sources.files.FileSource`. What a watcher does:

* **Identification.** A file just opened has no ``file_id``: :meth:`FileWatcher.identify` reads its
  first bytes and fingerprints them (see :mod:`shipper.sources.fingerprint`). One with no newline
  yet and shorter than ``fingerprint_bytes`` is not identifiable: it waits for the next poll,
  unread; if it stays so for ``partial_timeout_s``, it is identified by the bytes it holds.
* **Reading.** :meth:`FileWatcher.pull` reads chunks of ``read_chunk_bytes`` with ``os.pread`` and
  cuts them into lines with :class:`~shipper.sources.lines.LineCutter`; the lines wait in the
  watcher until the batch has room, so no file is read more than one chunk ahead of what was
  handed over (a slow output pauses reading: the log file is the buffer). A file that returned a
  full chunk is *hot*: read again at once; one read to its end is polled every
  ``poll_interval_s`` (with an ``fstat`` only then). Per-line work stays in the cutter (C-level
  ``split`` and ``map`` on the common path); the watcher's own Python runs once per chunk read and
  once per batch.
* **Truncation detection.** After every chunk read, before its lines are used, the watcher checks
  the file still starts with the line it was identified by and still holds the last bytes read
  (a file truncated and rewritten past the read position, even with the same first line, fails
  it); at its end, that the file is not shorter than the read position. Either way ``pull`` says
  :attr:`Next.TRUNCATED` and the table decides what follows.
* **Files without a size.** procfs, sysfs and some FUSE files report size 0 yet hold data: any
  size check would find them truncated at every poll, and ship them again and again. Such a file
  (:attr:`FileWatcher.sizeless`, found when it is opened) is read once to its end and then tracked
  by read position alone: it is never taken for truncated, bytes past the position are read only
  while what was read before them is unchanged (an append, as on a FUSE log; not a pseudo file
  made anew with other numbers), and a restart resumes it like any file. One that later reports a
  size is an ordinary file again.
* **At the end of the file.** A last line without a newline, idle for ``partial_timeout_s``, is
  shipped tagged ``_partial``. A file fully acknowledged and idle says :attr:`Next.CLOSE` (gone
  from the globs or from disk, idle ``close_rotated_after_s``) or :attr:`Next.RELEASE` (still
  matched, idle ``close_inactive_s``, or at once when other files wait for a descriptor).
* **Acknowledgements.** ``emitted`` is the end of the last line handed over, ``acked`` of the last
  one the output acknowledged; terminators swallowed after a partial line are stepped over. The
  checkpoint of the file (:meth:`FileWatcher.checkpoint`) carries a hash of the bytes just before
  ``acked``, so a restart can tell the file from another that starts the same.

Every check reads a few bytes with ``pread``; none holds more than a sample in memory.
"""

from __future__ import annotations

import contextlib
import enum
import logging
import os
from bisect import bisect_right
from dataclasses import dataclass, field
from operator import attrgetter

from pipelines.types import RawLine
from shipper.checkpoint import FileCheckpoint
from shipper.sources.config import FileSourceConfig
from shipper.sources.descriptors import OUT_OF_DESCRIPTORS
from shipper.sources.fingerprint import Fingerprint, fingerprint_of, natural_fingerprint
from shipper.sources.lines import LineCutter
from shipper.sources.stats import FileStats, Tally

__all__ = ["SAMPLE_BYTES", "FileWatcher", "Next", "close_fd", "open_file"]

logger = logging.getLogger(__name__)

SAMPLE_BYTES = 64
"""Bytes kept from the start and the end of the last chunks read, to recognise the file later."""

_END_OFFSET = attrgetter("end_offset")
_MAX_READS_PER_PULL = 16  # bounds the time one file holds the loop (e.g. skipping a huge line)
# Non-blocking: a FIFO swapped in for a log file between the scan and the open must not hang the
# loop (it is then rejected: not the device and inode the scan found).
_O_RDONLY = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class Next(enum.Enum):
    """What the source does with a watcher after :meth:`FileWatcher.pull`."""

    WAIT = "wait"
    """Nothing more for now: the batch is full, or the file waits for its next poll."""
    IDENTIFY = "identify"
    """Not identified yet: decide who the file is (then pull again)."""
    TRUNCATED = "truncated"
    """The file no longer holds what was read from it: it is a new file now."""
    CLOSE = "close"
    """Gone (no longer matched, or deleted), read to its end, acknowledged and idle: forget it."""
    RELEASE = "release"
    """Still matched but idle and acknowledged: give the descriptor back, keep the position."""


def open_file(path: str, *, follow_symlinks: bool) -> int:
    """A read-only descriptor of ``path`` (not inherited by child processes).

    Without ``follow_symlinks``, a path that is a symbolic link fails (``O_NOFOLLOW``): a log
    replaced by a link after the scan is not opened. Whatever is opened, the caller checks it is
    the device and inode it expects.
    """
    return os.open(path, _O_RDONLY if follow_symlinks else _O_RDONLY | _O_NOFOLLOW)


def close_fd(fd: int, tally: Tally) -> None:
    """Close a descriptor the source opened, counting it."""
    tally.files_closed += 1
    with contextlib.suppress(OSError):
        os.close(fd)


@dataclass(eq=False, slots=True)
class FileWatcher:
    """One file being followed: where it is on disk, how far it was read, handed over, acked.

    The file is normally one descriptor for the watcher's whole life; with ``copytruncate`` the
    table moves the watcher to the copy, where it goes on at the same offsets.
    """

    path: str
    dev: int
    inode: int
    fd: int | None
    tally: Tally = field(default_factory=Tally)  # the source's counters, shared by its watchers
    # identity
    file_id: str = ""  # "" until identified
    fingerprint: str = ""
    fingerprint_len: int = 0
    samples: list[tuple[int, bytes]] = field(default_factory=list)  # (offset, bytes) read there
    check: tuple[int, int, str] | None = None  # (end, length, hash) of bytes before the ack
    from_startup: bool = False  # found by the first scan: start_position applies
    matched: bool = True  # matched by the globs at the last scan
    deleted: bool = False
    moved: bool = False  # renamed since found, or a copy: never the original of a copy
    orphaned_at_scan: int = -1  # >= 0: lost its file (truncated), waiting for a copy
    startup_checkpoint: bool = False  # loaded from a checkpoint, not matched to a file yet
    # reading
    cutter: LineCutter | None = None
    read_pos: int = 0  # next byte to read
    ready: list[RawLine] = field(default_factory=list)  # cut, not handed over yet
    ready_index: int = 0
    size: int = 0
    seen_end: int = 0  # furthest byte ever seen in the file: growth beyond it is activity
    last_growth_at: float = 0.0
    next_poll_at: float = 0.0
    hot: bool = False  # the last read returned a full chunk
    sizeless: bool = False  # reports size 0 yet holds data (procfs, sysfs, some FUSE)
    warned: bool = False
    # delivery
    emitted: int = 0  # end of the last line handed to emit
    acked: int = 0  # end of the last line the output acknowledged
    updated_at: float = 0.0
    gaps: dict[int, int] = field(default_factory=dict)

    @classmethod
    def from_checkpoint(cls, cp: FileCheckpoint, tally: Tally) -> FileWatcher:
        """A file known from the last run, not matched to a file on disk yet."""
        return cls(
            path=cp.path,
            dev=cp.dev,
            inode=cp.inode,
            fd=None,
            tally=tally,
            file_id=cp.file_id,
            fingerprint=cp.fingerprint,
            fingerprint_len=cp.fingerprint_len,
            read_pos=cp.offset,
            emitted=cp.offset,
            acked=cp.offset,
            updated_at=cp.updated_at,
            orphaned_at_scan=0,
            startup_checkpoint=True,
            check=(cp.sample_end, cp.sample_len, cp.sample_hash) if cp.sample_len else None,
        )

    # ------------------------------------------------------------------------- identification

    def identify(
        self, config: FileSourceConfig, prefix_len: int, now: float
    ) -> tuple[bytes, Fingerprint] | Next:
        """Fingerprint the file: its first ``prefix_len`` bytes and their fingerprint, else
        :attr:`Next.WAIT` (not identifiable yet: polled again later) or :attr:`Next.CLOSE` (no
        longer matched and still not identifiable after ``close_rotated_after_s``)."""
        assert self.fd is not None
        try:
            prefix = os.pread(self.fd, prefix_len, 0)
        except OSError as exc:
            self.warn_once(f"cannot read {self.path}: {exc}")
            self.next_poll_at = now + config.poll_interval_s
            return Next.WAIT
        self.size = max(self.size, len(prefix))
        if len(prefix) > self.seen_end:
            self.seen_end = len(prefix)
            self.last_growth_at = now
        fingerprint = natural_fingerprint(prefix, config.fingerprint_bytes)
        if fingerprint is None:
            idle = now - self.last_growth_at
            if prefix and idle >= config.partial_timeout_s:
                # A short first line that stays incomplete: identify by what there is, and ship it.
                fingerprint = (fingerprint_of(prefix), len(prefix))
            else:
                self.next_poll_at = now + config.poll_interval_s
                if not self.matched and idle >= config.close_rotated_after_s:
                    return Next.CLOSE
                return Next.WAIT
        return prefix, fingerprint

    def identified(self, file_id: str, fingerprint: Fingerprint) -> None:
        """The file is known as ``file_id`` from now on (call :meth:`start` to read it)."""
        self.file_id = file_id
        self.fingerprint, self.fingerprint_len = fingerprint

    def start(self, offset: int, max_line_bytes: int, now: float) -> None:
        """Read the current file from ``offset`` (a line start, or just after a partial line)."""
        assert self.fd is not None
        continuation = False
        if offset > 0:
            with contextlib.suppress(OSError):
                continuation = os.pread(self.fd, 1, offset - 1) != b"\n"
        self.read_pos = offset
        self.seen_end = max(self.seen_end, offset)
        self.drop_cutter()
        self.cutter = LineCutter(
            path=self.path,
            file_id=self.file_id,
            offset=offset,
            max_line_bytes=max_line_bytes,
            continuation=continuation,
        )
        self.ready = []
        self.ready_index = 0
        self.hot = True
        self.next_poll_at = now

    def renamed(self, path: str) -> None:
        """The file is found under another path: its next lines carry that one."""
        self.path = path
        self.moved = True
        if self.cutter is not None:
            self.cutter.path = path

    # ------------------------------------------------------------------------- reading

    def pull(
        self,
        config: FileSourceConfig,
        now: float,
        batch: list[RawLine],
        budget: list[int],
        *,
        give_way: bool = False,
    ) -> Next:
        """Hand over ready lines into ``batch``, reading more while it has room.

        ``budget`` is ``[lines, bytes]`` still allowed in the batch; it is decreased.
        ``give_way``: other files wait for a descriptor, so this one gives its own up as soon as
        it is read to its end and acknowledged (:attr:`Next.RELEASE`), not after
        ``close_inactive_s``.
        """
        reads = 0
        while True:
            if self.ready:
                self._take(batch, budget)
                if self.ready:
                    return Next.WAIT  # the batch is full
            fd = self.fd
            if fd is None:
                return Next.WAIT
            cutter = self.cutter
            if cutter is None:
                return Next.IDENTIFY
            if reads and not self.hot:
                return Next.WAIT  # a short read: wait for the next poll
            if reads >= _MAX_READS_PER_PULL:
                return Next.WAIT
            try:
                data = os.pread(fd, config.read_chunk_bytes, self.read_pos)
            except OSError as exc:
                self.warn_once(f"cannot read {self.path}: {exc}")
                self.hot = False
                self.next_poll_at = now + config.poll_interval_s
                return Next.WAIT
            reads += 1
            if not data:
                self.hot = False
                self.next_poll_at = now + config.poll_interval_s
                return self._at_end(config, now, batch, budget, give_way)
            if not self.unchanged():
                if not self.sizeless:
                    return Next.TRUNCATED
                # A pseudo file made anew with other content (/proc/self/status): what lies
                # past the position is not an append: left unread (looked at again next poll).
                self.hot = False
                self.next_poll_at = now + config.poll_interval_s
                return self._at_end(config, now, batch, budget, give_way)
            self.tally.bytes_read += len(data)
            samples = self.samples
            del samples[:-2]
            samples.append((self.read_pos, data[:SAMPLE_BYTES]))
            if len(data) > SAMPLE_BYTES:
                tail = data[-SAMPLE_BYTES:]
                samples.append((self.read_pos + len(data) - len(tail), tail))
            self.read_pos += len(data)
            if self.read_pos > self.seen_end:
                self.seen_end = self.read_pos
                self.last_growth_at = now
            self.size = max(self.size, self.read_pos)
            self.hot = len(data) == config.read_chunk_bytes
            if not self.hot:
                self.next_poll_at = now + config.poll_interval_s
            lines = cutter.feed(data)
            if cutter.gaps:
                self._take_gaps()
            if lines:
                self.tally.lines_read += len(lines)
                self.ready = lines
                self.ready_index = 0

    def _take(self, batch: list[RawLine], budget: list[int]) -> None:
        ready, first = self.ready, self.ready_index
        last = min(len(ready), first + budget[0])
        start = ready[first].offset
        if ready[last - 1].end_offset - start > budget[1]:
            last = bisect_right(ready, start + budget[1], first, last, key=_END_OFFSET)
            if last == first:
                if batch:
                    budget[1] = 0  # the next line does not fit: this batch is done
                    return
                last = first + 1  # a line longer than the budget still goes, alone
        if first == 0 and last == len(ready):
            batch.extend(ready)
        else:
            batch.extend(ready[first:last])
        self.emitted = ready[last - 1].end_offset
        budget[0] -= last - first
        budget[1] -= self.emitted - start
        if last == len(ready):
            self.ready = []
            self.ready_index = 0
        else:
            self.ready_index = last

    def _at_end(
        self,
        config: FileSourceConfig,
        now: float,
        batch: list[RawLine],
        budget: list[int],
        give_way: bool,
    ) -> Next:
        """The file was read to its end: truncated? a partial line to ship? time to close?"""
        assert self.fd is not None and self.cutter is not None
        try:
            st = os.fstat(self.fd)
        except OSError as exc:
            self.warn_once(f"cannot stat {self.path}: {exc}")
            return Next.WAIT
        self.deleted = st.st_nlink == 0
        if self.sizeless and st.st_size > 0:
            self.sizeless = False  # it reports a size after all: an ordinary file
        if self.sizeless:
            self.size = self.read_pos  # what it held; its reported size says nothing
        else:
            self.size = st.st_size
            if st.st_size < self.read_pos:
                return Next.TRUNCATED
        idle = now - self.last_growth_at
        cutter = self.cutter
        if cutter.has_pending:
            if idle >= config.partial_timeout_s and budget[0] > 0 and budget[1] > 0:
                line = cutter.flush()
                assert line is not None
                batch.append(line)
                self.tally.lines_read += 1
                self.emitted = line.end_offset
                budget[0] -= 1
                budget[1] -= line.end_offset - line.offset
            return Next.WAIT
        if self.acked < self.emitted:
            return Next.WAIT
        if not self.matched or self.deleted:
            if idle >= config.close_rotated_after_s:
                return Next.CLOSE
        elif give_way or idle >= config.close_inactive_s:
            return Next.RELEASE
        return Next.WAIT

    def may_have_grown(self, size: int) -> bool:
        """Released, and a scan saw it at ``size``: worth opening again?"""
        return self.sizeless or size != self.read_pos

    def reopen(self, now: float, *, follow_symlinks: bool) -> Next:
        """The file was released and has changed: open it again where it was left.

        :attr:`Next.TRUNCATED` if it no longer holds what was read from it. A sizeless file
        with nothing past the read position is closed again at once. Raises ``OSError`` only
        if the process is out of descriptors (see
        :data:`~shipper.sources.descriptors.OUT_OF_DESCRIPTORS`).
        """
        try:
            fd = open_file(self.path, follow_symlinks=follow_symlinks)
        except OSError as exc:
            if exc.errno in OUT_OF_DESCRIPTORS:
                raise
            return Next.WAIT
        self.tally.files_opened += 1
        try:
            st = os.fstat(fd)
            same = (st.st_dev, st.st_ino) == (self.dev, self.inode)
            if same and self.sizeless and st.st_size == 0:
                same = os.pread(fd, 1, self.read_pos) != b""  # else: nothing new, stay closed
        except OSError:
            same = False
        if not same:
            close_fd(fd, self.tally)
            return Next.WAIT
        self.fd = fd
        self.hot = True
        self.next_poll_at = now
        self.last_growth_at = now
        if self.sizeless and st.st_size == 0:
            return Next.WAIT  # tracked by read position alone
        self.sizeless = False
        self.size = st.st_size
        if st.st_size < self.read_pos or (self.fingerprint_len and not self.unchanged()):
            return Next.TRUNCATED
        return Next.WAIT

    def extent(self, at_least: int) -> int:
        """The file's size, as far as ``at_least``: a sizeless file's is what it can be shown to
        hold (``at_least`` if it has a byte there)."""
        if not self.sizeless or self.size >= at_least or self.fd is None or at_least <= 0:
            return self.size
        try:
            holds = os.pread(self.fd, 1, at_least - 1) != b""
        except OSError:
            return self.size
        return at_least if holds else self.size

    def release(self) -> None:
        """Give the descriptor back (idle, or gone), keeping the position."""
        if self.fd is not None:
            self.sample_before_ack()
            close_fd(self.fd, self.tally)
            self.fd = None
            self.hot = False

    def drop_cutter(self) -> None:
        """Throw the line cutter away, keeping its counters."""
        cutter = self.cutter
        if cutter is not None:
            self.tally.partial_lines += cutter.partial_lines
            self.tally.truncated_lines += cutter.truncated_lines
            self.cutter = None

    def warn_once(self, message: str) -> None:
        """Log a warning about this file, once in its life."""
        if not self.warned:
            self.warned = True
            logger.warning("%s", message)

    # ------------------------------------------------------------------------- truncation

    def unchanged(self) -> bool:
        """The file still holds what was read from it: its first line, and the last bytes read.

        Checked after every chunk read (before its lines are used) and when a released file is
        reopened; a file truncated and rewritten, even with the same first line, fails it.
        """
        if not self.same_start():
            return False
        if not self.samples:
            return True
        fd = self.fd
        assert fd is not None
        offset, sample = self.samples[-1]
        try:
            return os.pread(fd, len(sample), offset) == sample
        except OSError:
            return True

    def same_start(self) -> bool:
        """The file still starts with the line it was identified by (else: truncated, rewritten)."""
        assert self.fd is not None
        try:
            head = os.pread(self.fd, self.fingerprint_len, 0)
        except OSError:
            return True
        return len(head) == self.fingerprint_len and fingerprint_of(head) == self.fingerprint

    def lost_its_start(self) -> bool:
        """The file was truncated (and maybe rewritten) and that is not noticed yet."""
        assert self.fd is not None
        try:
            size = os.fstat(self.fd).st_size
        except OSError:
            return False
        return size < self.read_pos or not self.unchanged()

    def last_line_end(self, max_line_bytes: int) -> int:
        """For ``start_position: end``: just past the last newline of what the file held."""
        assert self.fd is not None
        size = self.size
        position, scanned, limit = size, 0, max_line_bytes + 2
        while position > 0 and scanned < limit:
            length = min(64 * 1024, position)
            position -= length
            scanned += length
            newline = os.pread(self.fd, length, position).rfind(b"\n")
            if newline >= 0:
                return position + newline + 1
        return 0 if position == 0 else size

    # ------------------------------------------------------------------------- delivery

    def acknowledge(self, end_offset: int, now: float) -> None:
        """The output has every line ending at or before ``end_offset`` (``now``: wall clock)."""
        if end_offset <= self.acked:
            return
        self.acked = end_offset
        self.updated_at = now
        if self.gaps:
            self._apply_gaps()

    def _take_gaps(self) -> None:
        assert self.cutter is not None
        for start, end in self.cutter.gaps:
            self.gaps[start] = end
        self.cutter.gaps.clear()
        self._apply_gaps()

    def _apply_gaps(self) -> None:
        """An acknowledged position followed by a swallowed terminator moves past it."""
        gaps = self.gaps
        while self.acked in gaps:
            self.acked = gaps.pop(self.acked)
        if len(gaps) > 64:
            self.gaps = {s: e for s, e in gaps.items() if s >= self.acked}

    def sample_before_ack(self) -> None:
        """Remember a hash of the bytes just before the acknowledged offset (for checkpoints)."""
        if self.fd is None or self.acked == 0 or not self.fingerprint_len:
            return
        if self.check is not None and self.check[0] == self.acked:
            return
        length = min(SAMPLE_BYTES, self.acked)
        try:
            data = os.pread(self.fd, length, self.acked - length)
        except OSError:
            return
        if len(data) == length and self.unchanged():
            self.check = (self.acked, length, fingerprint_of(data))

    def checkpoint(self) -> FileCheckpoint:
        """Where reading resumes after a restart, and how to recognise the file then."""
        self.sample_before_ack()
        check = self.check
        return FileCheckpoint(
            file_id=self.file_id,
            path=self.path,
            dev=self.dev,
            inode=self.inode,
            fingerprint=self.fingerprint,
            fingerprint_len=self.fingerprint_len,
            offset=self.acked,
            updated_at=self.updated_at,
            sample_end=check[0] if check else 0,
            sample_len=check[1] if check else 0,
            sample_hash=check[2] if check else "",
        )

    def stats(self) -> FileStats:
        """This file, for metrics (one ``fstat`` if it is open)."""
        size = self.size
        if self.fd is not None and not self.sizeless:
            with contextlib.suppress(OSError):
                size = os.fstat(self.fd).st_size
        elif self.orphaned_at_scan >= 0:
            size = self.emitted  # what is known to exist; the rest is in a copy, if any
        return FileStats(
            path=self.path,
            file_id=self.file_id,
            size_bytes=size,
            read_offset=self.read_pos,
            acked_offset=self.acked,
            open=self.fd is not None,
        )
