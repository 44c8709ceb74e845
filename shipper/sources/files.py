"""The file-tailing source: no line lost, no line read twice, across rotation and restarts.

How it works (one asyncio task, blocking ``os.pread`` on regular files, which is fast):

* **Discovery.** The globs are expanded every ``scan_interval_s`` (at once after a
  :meth:`FileSource.reconfigure` or a truncation). A file is a ``(dev, inode)``; its path is
  wherever the globs find it now. A new file is opened and identified by its first line (see
  :mod:`shipper.sources.fingerprint`); one with no newline yet and shorter than
  ``fingerprint_bytes`` waits, unread, until it can be identified.
* **Reading.** Open files are read in chunks of ``read_chunk_bytes``; a file that returned a full
  chunk is read again at once, one that reached its end is polled every ``poll_interval_s``
  (with an ``fstat`` only then). Lines are cut by :class:`~shipper.sources.lines.LineCutter` and
  handed to ``emit`` in batches; no file is read more than one chunk ahead of what was handed over,
  so a slow ``emit`` (the output is down) simply pauses reading — the log file is the buffer.
* **Rename rotation** (logrotate's default). The renamed file is the same inode: it keeps being
  read through its open descriptor, to its end, and is closed once it has had no new data for
  ``close_rotated_after_s`` and all its lines are acknowledged (a deleted file likewise). The new
  file at the old path is a new file, read from 0.
* **Truncation.** A file whose size drops below the read position, or whose first line or last
  bytes read change (checked after every chunk read, before its lines are used: this also catches
  a file truncated and rewritten past the read position, even with the same first line), is a new
  file: read from 0 under a new ``file_id``. The old file's unread tail can only come from a copy:
* **copytruncate.** A new file at another path that starts like a file being read where it always
  was, and holds the same bytes (compared up to the shorter of the two; a copy is never longer),
  is that file's copy. It is held open but not read (a "copy" that later diverges is a file of its
  own after all, read from 0). When the original is found truncated, reading of the old
  ``file_id`` continues *in the copy*, from the position reached in the original (the copy has the
  same bytes at the same offsets): lines written just before the copy are not lost, those already
  read are not repeated. If the copy is only seen after the truncation, the old file waits for it
  (a scan is run at once) and recognises it by samples of the bytes it read last. This needs the
  rotated name inside the globs, like Filebeat (e.g. ``logs/app.log*``); lines the app writes
  between logrotate's copy and its truncation are lost, as logrotate documents.
* **Restart.** Each checkpoint is matched to a file: first by device, inode and first line; then
  by inode and first line at the same path (a device number that changed across a reboot); then,
  if the checkpointed file is still at its path but truncated (``copytruncate`` while the shipper
  was down), by first line at another path, provided the byte before the checkpointed offset ends
  a line there too (the copy). A
  match resumes at the acknowledged offset with the same ``file_id``: lines after it are read
  again with the same offsets, hence the same ``event.id``. Checkpoints matching no file are
  dropped (only once every file found could be opened: ``max_open_files`` does not lose them).
  Other files found at startup start per ``start_position``, except those at the path of a
  checkpointed file (it was rotated while the shipper was down): they are read from 0.

When in doubt between "a copy" and "another file", the source picks "another file": the worst
outcome is lines read twice under another ``file_id``, never lines skipped.

Known limits, shared with Filebeat and Vector:

* A file created and rotated out of the globs between two scans is never seen (keep the rotated
  name in the globs, or rotations further apart than ``scan_interval_s``).
* Byte-identical files are one file (the second is taken for a copy until it diverges).
* A file replaced while the shipper is down (truncated and rewritten, or deleted and its inode
  reused) by one with the same first line *and* the same 64 bytes before the checkpointed offset
  is taken for the file it replaced (a timestamp in each line makes that practically impossible).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Mapping
from operator import attrgetter

from pipelines.types import RawLine
from shipper.checkpoint import FileCheckpoint
from shipper.sources.config import FileSourceConfig
from shipper.sources.discovery import Found, discover
from shipper.sources.fingerprint import (
    Fingerprint,
    fingerprint_of,
    make_file_id,
    natural_fingerprint,
)
from shipper.sources.lines import LineCutter
from shipper.sources.stats import FileStats, SourceStats
from shipper.sources.tracking import (
    SAMPLE_BYTES,
    Alias,
    Stream,
    holds_samples,
    last_line_end,
    lost_its_start,
    same_bytes,
    sample_before_ack,
    truncated_in_place,
    unchanged,
)

__all__ = ["Emit", "FileSource"]

logger = logging.getLogger(__name__)

Emit = Callable[[list[RawLine]], Awaitable[None]]
"""Hands a batch of lines to the output; may block (backpressure)."""

_END_OFFSET = attrgetter("end_offset")
_MAX_READS_PER_PULL = 16  # bounds the time one file holds the loop (e.g. skipping a huge line)
_RETIRED_IDS_KEPT = 65536


class FileSource:
    """Tails files matched by globs, handing their lines to ``emit`` in order, exactly once.

    Call every method from the event loop's thread, except :meth:`stop` which may be called from
    any thread. :meth:`run` runs once; after it returns, :meth:`acknowledge`, :meth:`checkpoints`
    and :meth:`stats` keep working (to save the final state).
    """

    def __init__(
        self,
        config: FileSourceConfig,
        checkpoints: Mapping[str, FileCheckpoint],
        *,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """Follow ``config``'s files, resuming those in ``checkpoints`` (from the last save).

        ``clock`` (monotonic seconds) times polls, scans and idleness; ``wall_clock`` (Unix
        seconds) stamps ``FileCheckpoint.updated_at``. Nothing is opened before :meth:`run`.
        """
        self._config = config
        self._clock = clock
        self._wall_clock = wall_clock
        self._by_key: dict[tuple[int, int], Stream | Alias] = {}
        self._by_id: dict[str, Stream] = {}
        self._orphans: list[Stream] = []
        self._retired: dict[str, None] = {}
        self._checkpoint_paths = {cp.path for cp in checkpoints.values()}
        self._max_fingerprint_len = config.fingerprint_bytes
        for cp in checkpoints.values():
            stream = Stream(
                path=cp.path,
                dev=cp.dev,
                inode=cp.inode,
                fd=None,
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
            self._by_id[cp.file_id] = stream
            self._orphans.append(stream)
            self._max_fingerprint_len = max(self._max_fingerprint_len, cp.fingerprint_len)
        self._scans = 0
        self._starting = True  # until a scan could open every file it found
        self._next_scan_at = 0.0
        self._scan_requested = True
        self._round_robin = 0
        self._stopping = False
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._warned_paths: set[str] = set()
        self._warned_full = False
        # counters
        self._lines_read = 0
        self._bytes_read = 0
        self._partial_lines = 0
        self._truncated_lines = 0
        self._truncations = 0
        self._files_opened = 0
        self._files_closed = 0

    # ----------------------------------------------------------------------------- public API

    async def run(self, emit: Emit) -> None:
        """Read until :meth:`stop`: discover files, cut lines, ``await emit(batch)``.

        Lines of one file come in file order. Returns after the ``emit`` under way completes;
        lines read but not handed over are dropped (they are after the checkpoint, so they are
        read again next time). Exceptions from ``emit`` propagate.
        """
        if self._running:
            raise RuntimeError("FileSource.run() was already called")
        self._running = True
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        try:
            while not self._stopping:
                now = self._clock()
                if self._scan_requested or now >= self._next_scan_at:
                    self._scan(now)
                batch = self._collect(now)
                if batch:
                    await emit(batch)
                    await asyncio.sleep(0)  # a fast emit must not starve the loop
                    continue
                await self._idle(now)
        finally:
            self._close_all()

    def acknowledge(self, acked: Mapping[str, int]) -> None:
        """The output has every line of ``file_id`` ending at or before the given end offset."""
        now = self._wall_clock()
        for file_id, end_offset in acked.items():
            stream = self._by_id.get(file_id)
            if stream is None or end_offset <= stream.acked:
                continue
            stream.acked = end_offset
            stream.updated_at = now
            if stream.gaps:
                self._apply_gaps(stream)

    def checkpoints(self) -> dict[str, FileCheckpoint]:
        """The acknowledged position of every file still followed, for :class:`CheckpointStore`.

        Before the first scan this is the checkpoints given to the constructor. Files that are
        closed and gone (deleted, rotated out of the globs) are no longer included once all their
        lines were acknowledged; files that are idle but still matched are. Each carries a hash of
        the bytes just before its offset (one small ``pread`` per file whose offset moved).
        """
        for stream in self._by_id.values():
            sample_before_ack(stream)
        return {
            stream.file_id: FileCheckpoint(
                file_id=stream.file_id,
                path=stream.path,
                dev=stream.dev,
                inode=stream.inode,
                fingerprint=stream.fingerprint,
                fingerprint_len=stream.fingerprint_len,
                offset=stream.acked,
                updated_at=stream.updated_at,
                sample_end=stream.check[0] if stream.check else 0,
                sample_len=stream.check[1] if stream.check else 0,
                sample_hash=stream.check[2] if stream.check else "",
            )
            for stream in self._by_id.values()
        }

    def reconfigure(self, config: FileSourceConfig) -> None:
        """Apply new settings (SIGHUP) without losing or repeating a line.

        Open files keep their read position; the globs are scanned again at once. Files no longer
        matched are read to their end and closed as if rotated away; newly matched files are read
        from the beginning (as any file appearing after startup).
        """
        self._config = config
        self._max_fingerprint_len = max(self._max_fingerprint_len, config.fingerprint_bytes)
        for entry in self._by_key.values():
            if isinstance(entry, Stream) and entry.cutter is not None:
                entry.cutter.max_line_bytes = config.max_line_bytes
        self._scan_requested = True
        self._wakeup()

    def stop(self) -> None:
        """Make :meth:`run` return once the ``emit`` under way (if any) completes."""
        self._stopping = True
        self._wakeup()

    def stats(self) -> SourceStats:
        """A snapshot for metrics (``fstat`` of each open file: cheap, call it per scrape)."""
        files = []
        for stream in self._by_id.values():
            size = stream.size
            if stream.fd is not None:
                with contextlib.suppress(OSError):
                    size = os.fstat(stream.fd).st_size
            elif stream.orphaned_at_scan >= 0:
                size = stream.emitted  # what is known to exist; the rest is in a copy, if any
            files.append(
                FileStats(
                    path=stream.path,
                    file_id=stream.file_id,
                    size_bytes=size,
                    read_offset=stream.read_pos,
                    acked_offset=stream.acked,
                    open=stream.fd is not None,
                )
            )
        partial, truncated = self._partial_lines, self._truncated_lines
        for entry in self._by_key.values():
            if isinstance(entry, Stream) and entry.cutter is not None:
                partial += entry.cutter.partial_lines
                truncated += entry.cutter.truncated_lines
        for stream in self._orphans:
            if stream.cutter is not None:
                partial += stream.cutter.partial_lines
                truncated += stream.cutter.truncated_lines
        return SourceStats(
            files=tuple(files),
            open_files=self._count_open(),
            lines_read_total=self._lines_read,
            bytes_read_total=self._bytes_read,
            partial_lines_total=partial,
            truncated_lines_total=truncated,
            truncations_total=self._truncations,
            files_opened_total=self._files_opened,
            files_closed_total=self._files_closed,
        )

    # ----------------------------------------------------------------------------- the loop

    def _wakeup(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop is closed: nothing to wake
            loop.call_soon_threadsafe(wake.set)

    async def _idle(self, now: float) -> None:
        assert self._wake is not None
        delay = self._config.poll_interval_s
        due = self._next_scan_at
        for entry in self._by_key.values():
            if isinstance(entry, Stream) and entry.fd is not None:
                if entry.hot or entry.ready:
                    due = now
                    break
                due = min(due, entry.next_poll_at)
        delay = min(delay, max(0.0, due - now))
        if delay <= 0:
            await asyncio.sleep(0)
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(delay):
                await self._wake.wait()
        self._wake.clear()

    def _collect(self, now: float) -> list[RawLine]:
        """Read from the files that are due, fairly, until one batch is full."""
        batch: list[RawLine] = []
        streams = [e for e in self._by_key.values() if isinstance(e, Stream) and e.fd is not None]
        if not streams:
            return batch
        budget = [self._config.batch_max_lines, self._config.batch_max_bytes]
        start = self._round_robin % len(streams)
        self._round_robin += 1
        for i in range(len(streams)):
            stream = streams[(start + i) % len(streams)]
            if stream.fd is None or not (stream.ready or stream.hot or now >= stream.next_poll_at):
                continue
            self._pull(stream, now, batch, budget)
            if budget[0] <= 0 or budget[1] <= 0:
                break
        return batch

    def _pull(self, stream: Stream, now: float, batch: list[RawLine], budget: list[int]) -> None:
        """Hand over ``stream``'s ready lines, reading more while the batch has room."""
        config = self._config
        reads = 0
        while True:
            if stream.ready:
                self._take(stream, batch, budget)
                if stream.ready:
                    return  # the batch is full
            if stream.fd is None or self._by_key.get((stream.dev, stream.inode)) is not stream:
                return
            if stream.cutter is None and not self._identify(stream, now):
                stream.hot = False  # not identifiable yet: wait for the next poll, do not spin
                return
            if reads and not stream.hot:
                return  # a short read: wait for the next poll
            if reads >= _MAX_READS_PER_PULL:
                return
            try:
                data = os.pread(stream.fd, config.read_chunk_bytes, stream.read_pos)
            except OSError as exc:
                self._warn_once(stream, f"cannot read {stream.path}: {exc}")
                stream.hot = False
                stream.next_poll_at = now + config.poll_interval_s
                return
            reads += 1
            if not data:
                stream.hot = False
                stream.next_poll_at = now + config.poll_interval_s
                self._at_end(stream, now, batch, budget)
                return
            if not unchanged(stream):
                self._truncated(stream, now)
                return
            self._bytes_read += len(data)
            del stream.samples[:-2]
            stream.samples.append((stream.read_pos, data[:SAMPLE_BYTES]))
            if len(data) > SAMPLE_BYTES:
                tail = data[-SAMPLE_BYTES:]
                stream.samples.append((stream.read_pos + len(data) - len(tail), tail))
            stream.read_pos += len(data)
            if stream.read_pos > stream.seen_end:
                stream.seen_end = stream.read_pos
                stream.last_growth_at = now
            stream.size = max(stream.size, stream.read_pos)
            stream.hot = len(data) == config.read_chunk_bytes
            if not stream.hot:
                stream.next_poll_at = now + config.poll_interval_s
            assert stream.cutter is not None
            lines = stream.cutter.feed(data)
            if stream.cutter.gaps:
                self._take_gaps(stream)
            if lines:
                self._lines_read += len(lines)
                stream.ready = lines
                stream.ready_index = 0

    def _take(self, stream: Stream, batch: list[RawLine], budget: list[int]) -> None:
        ready, first = stream.ready, stream.ready_index
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
        stream.emitted = ready[last - 1].end_offset
        budget[0] -= last - first
        budget[1] -= stream.emitted - start
        if last == len(ready):
            stream.ready = []
            stream.ready_index = 0
        else:
            stream.ready_index = last

    def _at_end(self, stream: Stream, now: float, batch: list[RawLine], budget: list[int]) -> None:
        """The file was read to its end: truncated? a partial line to ship? time to close?"""
        assert stream.fd is not None and stream.cutter is not None
        config = self._config
        try:
            st = os.fstat(stream.fd)
        except OSError as exc:
            self._warn_once(stream, f"cannot stat {stream.path}: {exc}")
            return
        stream.size = st.st_size
        stream.deleted = st.st_nlink == 0
        if st.st_size < stream.read_pos:
            self._truncated(stream, now)
            return
        idle = now - stream.last_growth_at
        cutter = stream.cutter
        if cutter.has_pending:
            if idle >= config.partial_timeout_s and budget[0] > 0 and budget[1] > 0:
                line = cutter.flush()
                assert line is not None
                batch.append(line)
                self._lines_read += 1
                stream.emitted = line.end_offset
                budget[0] -= 1
                budget[1] -= line.end_offset - line.offset
            return
        if stream.acked < stream.emitted:
            return
        if not stream.matched or stream.deleted:
            if idle >= config.close_rotated_after_s:
                self._drop(stream, "read to its end and no longer matched")
        elif idle >= config.close_inactive_s:
            self._release(stream)

    # ------------------------------------------------------------------------ identity

    def _identify(self, stream: Stream, now: float) -> bool:
        """Try to fingerprint a file not identified yet; True once it is a stream to read."""
        assert stream.fd is not None
        config = self._config
        try:
            prefix = os.pread(stream.fd, self._prefix_len(), 0)
        except OSError as exc:
            self._warn_once(stream, f"cannot read {stream.path}: {exc}")
            stream.next_poll_at = now + config.poll_interval_s
            return False
        stream.size = max(stream.size, len(prefix))
        if len(prefix) > stream.seen_end:
            stream.seen_end = len(prefix)
            stream.last_growth_at = now
        fingerprint = natural_fingerprint(prefix, config.fingerprint_bytes)
        if fingerprint is None:
            idle = now - stream.last_growth_at
            if prefix and idle >= config.partial_timeout_s:
                # A short first line that stays incomplete: identify by what there is, and ship it.
                fingerprint = (fingerprint_of(prefix), len(prefix))
            else:
                stream.next_poll_at = now + config.poll_interval_s
                if not stream.matched and idle >= config.close_rotated_after_s:
                    self._drop(stream, "gone before it had a complete line")
                return False
        self._settle(stream, prefix, fingerprint, now)
        return stream.cutter is not None and self._by_key.get((stream.dev, stream.inode)) is stream

    def _prefix_len(self) -> int:
        return max(self._config.fingerprint_bytes, self._max_fingerprint_len)

    def _settle(self, stream: Stream, prefix: bytes, fingerprint: Fingerprint, now: float) -> None:
        """Decide what a newly identified file is: a copy to resume, a copy to hold, or new."""
        hashes: dict[int, str] = {}

        def starts_like(other: Stream) -> bool:
            length = other.fingerprint_len
            if len(prefix) < length:
                return False
            if length not in hashes:
                hashes[length] = fingerprint_of(prefix[:length])
            return hashes[length] == other.fingerprint

        assert stream.fd is not None
        with contextlib.suppress(OSError):
            stream.size = os.fstat(stream.fd).st_size
        for orphan in self._orphans:
            if orphan.path == stream.path or not starts_like(orphan):
                continue
            if orphan.startup_checkpoint and not truncated_in_place(orphan):
                continue  # gone, not copied-and-truncated: this is another file
            if holds_samples(stream.fd, stream.size, orphan):
                self._adopt(orphan, stream, now)
                return
        for other in list(self._by_id.values()):
            if (
                other is stream
                or other.orphaned_at_scan >= 0
                or other.moved
                or other.path == stream.path
                or not (other.fd is not None or other.matched)
                or not starts_like(other)
            ):
                continue
            if other.fd is not None and lost_its_start(other):
                # The original was truncated after this copy was made: switch to the copy now.
                self._truncated(other, now)
                self._settle(stream, prefix, fingerprint, now)
                return
            if same_bytes(stream.fd, stream.size, other):
                logger.info(
                    "%s is a copy of %s: held, read only if %s is truncated",
                    stream.path,
                    other.path,
                    other.path,
                )
                self._by_key[(stream.dev, stream.inode)] = Alias(
                    stream.path, stream.dev, stream.inode, stream.fd, other, stream.size
                )
                return
        self._start_new(stream, fingerprint, now)

    def _start_new(self, stream: Stream, fingerprint: Fingerprint, now: float) -> None:
        """``stream`` is a file of its own: give it a ``file_id`` and start reading it."""
        value, length = fingerprint
        stream.fingerprint, stream.fingerprint_len = value, length
        stream.file_id = self._new_file_id(stream.dev, stream.inode, value)
        self._by_id[stream.file_id] = stream
        start = 0
        if (
            stream.from_startup
            and self._config.start_position == "end"
            and stream.path not in self._checkpoint_paths
        ):
            start = last_line_end(stream, self._config.max_line_bytes)
        stream.emitted = stream.acked = start
        stream.updated_at = self._wall_clock()
        self._resume(stream, start, now)

    def _new_file_id(self, dev: int, inode: int, fingerprint: str) -> str:
        generation = 0
        while True:
            file_id = make_file_id(dev, inode, fingerprint, generation)
            if file_id not in self._by_id and file_id not in self._retired:
                return file_id
            generation += 1

    def _resume(self, stream: Stream, offset: int, now: float) -> None:
        """Start reading ``stream``'s current file at ``offset`` (a line start, or after a partial)."""
        assert stream.fd is not None
        continuation = False
        if offset > 0:
            with contextlib.suppress(OSError):
                continuation = os.pread(stream.fd, 1, offset - 1) != b"\n"
        stream.read_pos = offset
        stream.seen_end = max(stream.seen_end, offset)
        self._count_cutter(stream)
        stream.cutter = LineCutter(
            path=stream.path,
            file_id=stream.file_id,
            offset=offset,
            max_line_bytes=self._config.max_line_bytes,
            continuation=continuation,
        )
        stream.ready = []
        stream.ready_index = 0
        stream.hot = True
        stream.next_poll_at = now

    def _claim(self, stream: Stream, prefix: bytes, now: float) -> bool:
        """At startup: is this file one of the checkpointed ones, by inode and first line?"""
        assert stream.fd is not None
        for orphan in self._orphans:
            if orphan.inode != stream.inode:
                continue
            if orphan.dev != stream.dev and orphan.path != stream.path:
                continue
            length = orphan.fingerprint_len
            if len(prefix) < length or fingerprint_of(prefix[:length]) != orphan.fingerprint:
                continue
            if stream.size < orphan.emitted or not holds_samples(stream.fd, stream.size, orphan):
                return False  # truncated or replaced while we were away, same first line: new
            self._orphans.remove(orphan)
            self._take_over(orphan, stream, now, moved=orphan.path != stream.path)
            return True
        return False

    def _adopt(self, orphan: Stream, copy: Stream, now: float) -> None:
        """``copy`` starts like ``orphan``'s lost file: continue ``orphan`` from it."""
        assert copy.fd is not None
        with contextlib.suppress(OSError):
            copy.size = os.fstat(copy.fd).st_size
        if copy.size < orphan.emitted:
            # The copy holds nothing past what was read already: remember it, do not read it.
            self._by_key[(copy.dev, copy.inode)] = Alias(
                copy.path, copy.dev, copy.inode, None, orphan, copy.size
            )
            self._close_fd(copy.fd)
            return
        self._orphans.remove(orphan)
        logger.info(
            "continuing %s (file_id %s) in its copy %s from offset %d",
            orphan.path,
            orphan.file_id,
            copy.path,
            orphan.emitted,
        )
        self._take_over(orphan, copy, now, moved=True)

    def _take_over(self, stream: Stream, found: Stream, now: float, *, moved: bool) -> None:
        """``stream`` (no file) continues in ``found``'s file at the position it had reached."""
        stream.fd = found.fd
        stream.dev, stream.inode, stream.path = found.dev, found.inode, found.path
        stream.size = found.size
        stream.matched, stream.deleted = True, False
        stream.moved = stream.moved or moved
        stream.orphaned_at_scan = -1
        stream.startup_checkpoint = False
        stream.last_growth_at = now
        self._by_key[(stream.dev, stream.inode)] = stream
        self._resume(stream, stream.emitted, now)

    def _truncated(self, stream: Stream, now: float) -> None:
        """``stream``'s file now holds other data: it becomes a new file; the old one goes on in a
        copy if there is one, or waits for one."""
        assert stream.fd is not None
        self._truncations += 1
        logger.info(
            "%s was truncated (read up to offset %d): reading it again from the start",
            stream.path,
            stream.read_pos,
        )
        successor = Stream(
            path=stream.path,
            dev=stream.dev,
            inode=stream.inode,
            fd=stream.fd,
            matched=stream.matched,
            last_growth_at=now,
            next_poll_at=now,
            hot=True,
        )
        self._by_key[(stream.dev, stream.inode)] = successor
        stream.fd = None
        stream.ready = []
        stream.ready_index = 0
        stream.hot = False
        self._count_cutter(stream)
        copy = self._best_copy(stream)
        if copy is not None:
            logger.info(
                "continuing %s (file_id %s) in its copy %s from offset %d",
                stream.path,
                stream.file_id,
                copy.path,
                stream.emitted,
            )
            stream.fd = copy.fd
            stream.dev, stream.inode, stream.path = copy.dev, copy.inode, copy.path
            stream.moved = True
            stream.matched, stream.deleted = True, False
            stream.last_growth_at = now
            self._by_key[(copy.dev, copy.inode)] = stream
            self._resume(stream, stream.emitted, now)
            return
        stream.orphaned_at_scan = self._scans
        self._orphans.append(stream)
        self._scan_requested = True

    def _best_copy(self, stream: Stream) -> Alias | None:
        best: Alias | None = None
        best_size = stream.emitted - 1
        for entry in self._by_key.values():
            if isinstance(entry, Alias) and entry.of is stream and entry.fd is not None:
                try:
                    size = os.fstat(entry.fd).st_size
                except OSError:
                    continue
                if size > best_size:
                    best, best_size = entry, size
        return best

    # ----------------------------------------------------------------------------- discovery

    def _scan(self, now: float) -> None:
        config = self._config
        self._scan_requested = False
        self._next_scan_at = now + config.scan_interval_s
        startup = self._starting
        found = discover(config.paths, config.exclude)
        for key, entry in list(self._by_key.items()):
            if self._by_key.get(key) is not entry:
                continue
            seen = found.pop(key, None)
            if isinstance(entry, Alias):
                if seen is None:
                    self._forget_alias(key, entry)
                    continue
                if entry.path not in seen.paths:
                    entry.path = seen.paths[0]
                if seen.size != entry.size:
                    # Still being copied (same bytes as the original), or a file of its own.
                    original = entry.of
                    if (
                        original is not None
                        and original.fd is not None
                        and lost_its_start(original)
                    ):
                        continue  # truncated: the next read switches to this copy
                    if (
                        entry.fd is not None
                        and original is not None
                        and same_bytes(entry.fd, seen.size, original)
                    ):
                        entry.size = seen.size
                    else:
                        self._not_a_copy(entry, seen, now)
                continue
            if seen is None:
                entry.matched = False
                if entry.fd is None:
                    self._drop(entry, "no longer matched")
                continue
            entry.matched = True
            if entry.path not in seen.paths:
                entry.path = seen.paths[0]
                entry.moved = True
                if entry.cutter is not None:
                    entry.cutter.path = entry.path
            if entry.fd is None and seen.size != entry.read_pos:
                self._reopen(entry, now)
        opened: list[tuple[Stream, bytes]] = []
        open_count = self._count_open()
        capped = False
        for seen in sorted(found.values(), key=lambda f: f.paths[0]):
            if open_count >= config.max_open_files:
                capped = True
                if not self._warned_full:
                    logger.warning(
                        "max_open_files (%d) reached: %d new file(s) wait for a free slot",
                        config.max_open_files,
                        len(found) - len(opened),
                    )
                    self._warned_full = True
                break
            result = self._open(seen, startup, now)
            if result is not None:
                opened.append(result)
                open_count += 1
        else:
            self._warned_full = False
        unclaimed = [(s, p) for s, p in opened if not self._orphans or not self._claim(s, p, now)]
        for stream, prefix in unclaimed:
            fingerprint = natural_fingerprint(prefix, config.fingerprint_bytes)
            if fingerprint is None:
                stream.from_startup = False  # nothing complete to skip: read it all, when ready
                continue
            self._settle(stream, prefix, fingerprint, now)
        self._scans += 1
        if not capped:
            # Every file found was opened (and could claim its checkpoint): startup is over.
            self._starting = False
        for orphan in list(self._orphans):
            if orphan.startup_checkpoint:
                if self._starting:
                    continue
                logger.info(
                    "checkpoint of %s (file_id %s) matches no file: dropped",
                    orphan.path,
                    orphan.file_id,
                )
                self._orphans.remove(orphan)
                self._retire(orphan)
            elif orphan.orphaned_at_scan < self._scans - 1 and orphan.acked >= orphan.emitted:
                self._orphans.remove(orphan)
                self._retire(orphan)

    def _open(self, seen: Found, startup: bool, now: float) -> tuple[Stream, bytes] | None:
        path = seen.paths[0]
        try:
            fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        except OSError as exc:
            if path not in self._warned_paths and len(self._warned_paths) < 10000:
                self._warned_paths.add(path)
                logger.warning("cannot open %s: %s", path, exc)
            return None
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != (seen.dev, seen.inode):
                self._close_fd(fd)  # replaced since the glob: the next scan sees the new one
                return None
            prefix = os.pread(fd, self._prefix_len(), 0)
        except OSError as exc:
            self._close_fd(fd)
            logger.warning("cannot read %s: %s", path, exc)
            return None
        self._warned_paths.discard(path)
        self._files_opened += 1
        stream = Stream(
            path=path,
            dev=st.st_dev,
            inode=st.st_ino,
            fd=fd,
            from_startup=startup,
            size=st.st_size,
            seen_end=len(prefix),
            last_growth_at=now,
            next_poll_at=now,
            hot=True,
        )
        self._by_key[(stream.dev, stream.inode)] = stream
        return stream, prefix

    def _reopen(self, stream: Stream, now: float) -> None:
        """A released file changed: open it again where it was left."""
        if self._count_open() >= self._config.max_open_files:
            return
        try:
            fd = os.open(stream.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
            st = os.fstat(fd)
        except OSError:
            return
        if (st.st_dev, st.st_ino) != (stream.dev, stream.inode):
            self._close_fd(fd)
            return
        self._files_opened += 1
        stream.fd = fd
        stream.size = st.st_size
        stream.hot = True
        stream.next_poll_at = now
        stream.last_growth_at = now
        if st.st_size < stream.read_pos or (stream.fingerprint_len and not unchanged(stream)):
            self._truncated(stream, now)

    # ----------------------------------------------------------------------------- bookkeeping

    def _take_gaps(self, stream: Stream) -> None:
        assert stream.cutter is not None
        for start, end in stream.cutter.gaps:
            stream.gaps[start] = end
        stream.cutter.gaps.clear()
        self._apply_gaps(stream)

    def _apply_gaps(self, stream: Stream) -> None:
        """An acknowledged position followed by a swallowed terminator moves past it."""
        gaps = stream.gaps
        while stream.acked in gaps:
            stream.acked = gaps.pop(stream.acked)
        if len(gaps) > 64:
            stream.gaps = {s: e for s, e in gaps.items() if s >= stream.acked}

    def _count_open(self) -> int:
        return sum(1 for entry in self._by_key.values() if entry.fd is not None)

    def _close_fd(self, fd: int) -> None:
        self._files_closed += 1
        with contextlib.suppress(OSError):
            os.close(fd)

    def _release(self, stream: Stream) -> None:
        """Idle but still matched: give the descriptor back, keep the position."""
        if stream.fd is not None:
            sample_before_ack(stream)
            self._close_fd(stream.fd)
            stream.fd = None
            stream.hot = False

    def _drop(self, stream: Stream, why: str) -> None:
        """Forget a file for good (closed, and gone from the globs or from disk)."""
        logger.debug("closing %s: %s", stream.path, why)
        self._release(stream)
        key = (stream.dev, stream.inode)
        if self._by_key.get(key) is stream:
            del self._by_key[key]
        if stream.file_id:
            self._retire(stream)
        for entry in self._by_key.values():
            if isinstance(entry, Alias) and entry.of is stream:
                # Its original is fully read: the copy is known, never to be read.
                if entry.fd is not None:
                    self._close_fd(entry.fd)
                    entry.fd = None
                entry.of = None

    def _count_cutter(self, stream: Stream) -> None:
        """Keep the counters of a cutter about to be thrown away."""
        if stream.cutter is not None:
            self._partial_lines += stream.cutter.partial_lines
            self._truncated_lines += stream.cutter.truncated_lines
            stream.cutter = None

    def _retire(self, stream: Stream) -> None:
        self._count_cutter(stream)
        if self._by_id.get(stream.file_id) is stream:
            del self._by_id[stream.file_id]
        self._retired[stream.file_id] = None
        if len(self._retired) > _RETIRED_IDS_KEPT:
            del self._retired[next(iter(self._retired))]

    def _not_a_copy(self, alias: Alias, seen: Found, now: float) -> None:
        """A supposed copy changed: it is a file of its own, read from its beginning."""
        fd = alias.fd
        try:
            if fd is None:
                fd = os.open(alias.path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
                if (os.fstat(fd).st_ino, os.fstat(fd).st_dev) != (alias.inode, alias.dev):
                    self._close_fd(fd)
                    return
                self._files_opened += 1
            prefix = os.pread(fd, self._prefix_len(), 0)
        except OSError:
            return
        logger.info("%s changed: not a copy after all, reading it as a file of its own", alias.path)
        stream = Stream(
            path=alias.path,
            dev=alias.dev,
            inode=alias.inode,
            fd=fd,
            size=seen.size,
            seen_end=len(prefix),
            last_growth_at=now,
        )
        self._by_key[(alias.dev, alias.inode)] = stream
        fingerprint = natural_fingerprint(prefix, self._config.fingerprint_bytes)
        self._start_new(stream, fingerprint or (fingerprint_of(prefix), len(prefix)), now)

    def _forget_alias(self, key: tuple[int, int], alias: Alias) -> None:
        if alias.fd is not None:
            self._close_fd(alias.fd)
        del self._by_key[key]

    def _warn_once(self, stream: Stream, message: str) -> None:
        if not stream.warned:
            stream.warned = True
            logger.warning("%s", message)

    def _close_all(self) -> None:
        for entry in self._by_key.values():
            if isinstance(entry, Stream):
                sample_before_ack(entry)
            if entry.fd is not None:
                self._close_fd(entry.fd)
                entry.fd = None
