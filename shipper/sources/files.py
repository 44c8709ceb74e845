"""The file-tailing source: no line lost, no line read twice, across rotation and restarts.

:class:`FileSource` is the loop (one asyncio task, blocking ``os.pread`` on regular files, which
is fast); the work is done by the roles drawn in :mod:`shipper.sources`:

* **Discovery.** The globs are expanded every ``scan_interval_s`` (at once after a
  :meth:`FileSource.reconfigure` or a truncation). A file is a ``(dev, inode)``; its path is
  wherever the globs find it now. A new file is opened, given a
  :class:`~shipper.sources.watcher.FileWatcher`, and identified by its first line; the
  :class:`~shipper.sources.identity.FileTable` decides whether it is a checkpointed file, a copy
  or a new file. Symbolic links are not followed unless ``follow_symlinks`` says so (see
  :mod:`shipper.sources.discovery`).
* **Descriptors.** At most ``max_open_files`` files are held open, and never more than the
  descriptor limit (raised from soft to hard at start) less what the rest of the process holds
  less ``reserved_descriptors`` (see :mod:`shipper.sources.descriptors`): the process keeps room
  for its sockets and its checkpoint. Files beyond that *wait*, oldest first: new files, and
  released files that grew. While any wait, an open file gives its descriptor up as soon as it
  is read to its end and acknowledged, so every file takes its turn and none starves for
  ``close_inactive_s``; the shortage is logged once and shown by :meth:`FileSource.stats`.
* **Scheduling.** Each pass reads from the watchers that are due (hot, holding lines, or at their
  poll time), round-robin from a different one each pass so that no file starves the others,
  until one batch is full, and hands the batch to ``emit``; with nothing to read it sleeps until
  the next poll or scan, or a :meth:`FileSource.stop` / :meth:`FileSource.reconfigure`.
* **Rename rotation** (logrotate's default). The renamed file is the same inode: its watcher keeps
  reading it through its open descriptor, to its end, and it is closed once it has had no new
  data for ``close_rotated_after_s`` and all its lines are acknowledged (a deleted file
  likewise). The new file at the old path is a new file, read from 0.
* **Idle files.** A file still matched but without new data for ``close_inactive_s`` (and fully
  acknowledged) has its descriptor released; a scan reopens it where it was when it changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections.abc import Awaitable, Callable, Mapping

from pipelines.types import RawLine
from shipper.checkpoint import FileCheckpoint
from shipper.sources.config import FileSourceConfig
from shipper.sources.descriptors import (
    OUT_OF_DESCRIPTORS,
    descriptors_open,
    open_file_limit,
    raise_open_file_limit,
)
from shipper.sources.discovery import Found, discover
from shipper.sources.fingerprint import natural_fingerprint
from shipper.sources.identity import Alias, FileTable
from shipper.sources.stats import SourceStats, Tally
from shipper.sources.watcher import FileWatcher, Next, close_fd, open_file

__all__ = ["Emit", "FileSource"]

logger = logging.getLogger(__name__)

_UNMATCHED_WARN_EVERY_S = 60.0
"""How often the warning about a glob that matches no file is repeated."""

Emit = Callable[[list[RawLine]], Awaitable[None]]
"""Hands a batch of lines to the output; may block (backpressure)."""


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
        self._tally = Tally()
        self._files = FileTable(config, checkpoints, self._tally, wall_clock)
        # Found by the first scan and not opened yet: their checkpoints are kept meanwhile.
        self._startup_keys: set[tuple[int, int]] | None = None
        # Files that want a descriptor and wait for one, oldest first.
        self._waiting: dict[tuple[int, int], Found] = {}
        self._freed = False  # a descriptor was given back since the waiting files were served
        self._limit = open_file_limit()
        self._room = self._limit  # descriptors the files may take (see _measure_room)
        self._warned_links: set[str] = set()
        self._next_scan_at = 0.0
        self._round_robin = 0
        self._stopping = False
        self._running = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._warned_paths: set[str] = set()
        self._warned_full = False
        self._unmatched: tuple[str, ...] = ()
        self._unmatched_warned_at = 0.0

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
        self._limit = raise_open_file_limit()
        files = self._files
        try:
            while not self._stopping:
                now = self._clock()
                if files.scan_requested or now >= self._next_scan_at:
                    self._scan(now)
                batch = self._collect(now)
                if self._freed and self._waiting:
                    self._fill(now)
                if batch:
                    await emit(batch)
                    await asyncio.sleep(0)  # a fast emit must not starve the loop
                    continue
                await self._idle(now)
        finally:
            files.close_all()

    def acknowledge(self, acked: Mapping[str, int]) -> None:
        """The output has every line of ``file_id`` ending at or before the given end offset."""
        now = self._wall_clock()
        by_id = self._files.by_id
        for file_id, end_offset in acked.items():
            watcher = by_id.get(file_id)
            if watcher is not None:
                watcher.acknowledge(end_offset, now)

    def checkpoints(self) -> dict[str, FileCheckpoint]:
        """The acknowledged position of every file still followed, for :class:`CheckpointStore`.

        Before the first scan this is the checkpoints given to the constructor. Files that are
        closed and gone (deleted, rotated out of the globs) are no longer included once all their
        lines were acknowledged; files that are idle but still matched are. Each carries a hash of
        the bytes just before its offset (one small ``pread`` per file whose offset moved).
        """
        return {watcher.file_id: watcher.checkpoint() for watcher in self._files.by_id.values()}

    def reconfigure(self, config: FileSourceConfig) -> None:
        """Apply new settings (SIGHUP) without losing or repeating a line.

        Open files keep their read position; the globs are scanned again at once. Files no longer
        matched are read to their end and closed as if rotated away; newly matched files are read
        from the beginning (as any file appearing after startup).
        """
        self._config = config
        self._files.reconfigure(config)
        self._files.scan_requested = True
        self._wakeup()

    @property
    def unmatched_globs(self) -> tuple[str, ...]:
        """The globs of ``paths`` that matched no file at the last scan (none before it)."""
        return self._unmatched

    def stop(self) -> None:
        """Make :meth:`run` return once the ``emit`` under way (if any) completes."""
        self._stopping = True
        self._wakeup()

    def stats(self) -> SourceStats:
        """A snapshot for metrics (``fstat`` of each open file: cheap, call it per scrape)."""
        files, tally = self._files, self._tally
        partial, truncated = tally.partial_lines, tally.truncated_lines
        for entry in files.by_key.values():
            if isinstance(entry, FileWatcher) and entry.cutter is not None:
                partial += entry.cutter.partial_lines
                truncated += entry.cutter.truncated_lines
        for watcher in files.orphans:
            if watcher.cutter is not None:
                partial += watcher.cutter.partial_lines
                truncated += watcher.cutter.truncated_lines
        return SourceStats(
            files=tuple(watcher.stats() for watcher in files.by_id.values()),
            open_files=files.open_count(),
            open_files_limit=self._cap(),
            files_waiting=len(self._waiting),
            lines_read_total=tally.lines_read,
            bytes_read_total=tally.bytes_read,
            partial_lines_total=partial,
            truncated_lines_total=truncated,
            truncations_total=tally.truncations,
            files_opened_total=tally.files_opened,
            files_closed_total=tally.files_closed,
            checkpoint_resets_total=tally.checkpoint_resets,
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
        for entry in self._files.by_key.values():
            if isinstance(entry, FileWatcher) and entry.fd is not None:
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
        watchers = [
            e
            for e in self._files.by_key.values()
            if isinstance(e, FileWatcher) and e.fd is not None
        ]
        if not watchers:
            return batch
        budget = [self._config.batch_max_lines, self._config.batch_max_bytes]
        start = self._round_robin % len(watchers)
        self._round_robin += 1
        for i in range(len(watchers)):
            watcher = watchers[(start + i) % len(watchers)]
            if watcher.fd is None or not (
                watcher.ready or watcher.hot or now >= watcher.next_poll_at
            ):
                continue
            self._pull(watcher, now, batch, budget)
            if budget[0] <= 0 or budget[1] <= 0:
                break
        return batch

    def _pull(
        self, watcher: FileWatcher, now: float, batch: list[RawLine], budget: list[int]
    ) -> None:
        """Hand over ``watcher``'s lines into the batch, and act on what it says next."""
        files = self._files
        if files.by_key.get((watcher.dev, watcher.inode)) is not watcher:
            return  # replaced since the pass began (it then holds no lines): not to be read
        give_way = bool(self._waiting)
        while True:
            step = watcher.pull(self._config, now, batch, budget, give_way=give_way)
            if step is Next.WAIT:
                return
            if step is Next.IDENTIFY:
                if files.identify(watcher, now):
                    continue  # a file to read now: go on reading it
                watcher.hot = False  # not identifiable yet: wait for the next poll, do not spin
            elif step is Next.TRUNCATED:
                files.truncated(watcher, now)
            elif step is Next.CLOSE:
                files.drop(watcher, "read to its end and no longer matched")
                self._freed = True
            else:
                watcher.release()
                self._freed = True
            return

    # ----------------------------------------------------------------------------- discovery

    def _scan(self, now: float) -> None:
        config = self._config
        files = self._files
        files.scan_requested = False
        self._next_scan_at = now + config.scan_interval_s
        matched: set[str] = set()
        links: list[str] = []
        found = discover(
            config.paths,
            config.exclude,
            matched,
            follow_symlinks=config.follow_symlinks,
            skipped_links=links,
        )
        self._note_unmatched([pattern for pattern in config.paths if pattern not in matched], now)
        self._note_links(links)
        if self._startup_keys is None:
            self._startup_keys = set(found)
        else:
            self._startup_keys.intersection_update(found)
        self._measure_room()
        wanting: dict[tuple[int, int], Found] = {}
        by_key = files.by_key
        for key, entry in list(by_key.items()):
            if by_key.get(key) is not entry:
                continue
            seen = found.pop(key, None)
            if isinstance(entry, Alias):
                files.check_copy(key, entry, seen, now)
                continue
            if seen is None:
                entry.matched = False
                if entry.fd is None:
                    files.drop(entry, "no longer matched")
                continue
            entry.matched = True
            if entry.path not in seen.paths:
                entry.renamed(seen.paths[0])
            if entry.fd is None and entry.may_have_grown(seen.size):
                wanting[key] = seen
        for key, seen in sorted(found.items(), key=lambda item: item[1].paths[0]):
            wanting[key] = seen  # new files
        # Who waited longest goes first; files no longer there (or no longer wanting) leave.
        self._waiting = {
            key: wanting.pop(key) for key in list(self._waiting) if key in wanting
        } | wanting
        self._fill(now)
        # Until every file found at startup was opened (and could claim its checkpoint), the
        # checkpoints matching no file yet are kept.
        files.end_scan(bool(self._startup_keys))

    def _fill(self, now: float) -> None:
        """Open waiting files, oldest first, while there is room for them."""
        files = self._files
        startup_keys = self._startup_keys if self._startup_keys is not None else set()
        self._freed = False
        cap = self._cap()
        open_count = files.open_count()
        opened: list[tuple[FileWatcher, bytes]] = []
        waiting = self._waiting
        while waiting and open_count < cap:
            key = next(iter(waiting))
            seen = waiting.pop(key)
            entry = files.by_key.get(key)
            try:
                if entry is None:
                    result = self._open(seen, key in startup_keys, now)
                    startup_keys.discard(key)
                    if result is not None:
                        opened.append(result)
                        open_count += 1
                elif isinstance(entry, FileWatcher) and entry.fd is None:
                    self._reopen(entry, now)
                    if files.by_key.get(key) is not entry or entry.fd is not None:
                        open_count += 1
            except OSError as exc:  # out of descriptors, whatever the budget said
                self._waiting = waiting = {key: seen} | waiting
                self._out_of_descriptors(open_count, exc)
                break
        unclaimed = [(w, p) for w, p in opened if not files.orphans or not files.claim(w, p, now)]
        for watcher, prefix in unclaimed:
            fingerprint = natural_fingerprint(prefix, self._config.fingerprint_bytes)
            if fingerprint is None:
                watcher.from_startup = False  # nothing complete to skip: read it all, when ready
                continue
            files.settle(watcher, prefix, fingerprint, now)
        self._note_waiting(cap)

    def _cap(self) -> int:
        """Most files to hold open now."""
        return max(1, min(self._config.max_open_files, self._room))

    def _measure_room(self) -> None:
        """Descriptors the files may take: the limit, less what the rest of the process holds
        (sockets, workers' pipes, the lock file…), less the reserve."""
        held = descriptors_open()
        others = 0 if held is None else max(0, held - self._files.open_count())
        self._room = self._limit - others - self._config.reserved_descriptors

    def _out_of_descriptors(self, open_count: int, exc: OSError) -> None:
        """An open failed for want of a descriptor although the budget allowed it: something
        else in the process took more than the reserve. Hold fewer files until the next scan
        measures again (waiting files make open ones give theirs up)."""
        self._room = open_count - self._config.reserved_descriptors
        logger.warning(
            "out of descriptors with %d file(s) open (%s): holding at most %d until the next scan",
            open_count,
            exc.strerror,
            self._cap(),
        )

    def _note_waiting(self, cap: int) -> None:
        """Warn that files wait for a descriptor: once (a shortage comes and goes with every
        turn; ``files_waiting`` in :meth:`stats` shows it as it is)."""
        if not self._waiting or self._warned_full:
            return
        self._warned_full = True
        config = self._config
        if cap >= config.max_open_files:
            logger.warning(
                "max_open_files (%d) reached: %d file(s) wait for a free slot; open files give"
                " theirs up in turn once read to their end",
                cap,
                len(self._waiting),
            )
        else:
            logger.warning(
                "descriptor limit reached: %d file(s) wait; at most %d open at once (open file"
                " limit %d, less %d held by the rest of the process, less reserved_descriptors"
                " %d); open files give theirs up in turn once read to their end. Raise the hard"
                " limit (LimitNOFILE=, ulimit -Hn) to hold them all",
                len(self._waiting),
                cap,
                self._limit,
                max(0, self._limit - self._room - config.reserved_descriptors),
                config.reserved_descriptors,
            )

    def _note_links(self, links: list[str]) -> None:
        """Say once per path that a symbolic link is not followed."""
        why = (
            "its target is not matched by the globs"
            if self._config.follow_symlinks
            else "follow_symlinks is off"
        )
        for path in links:
            if path not in self._warned_links and len(self._warned_links) < 10000:
                self._warned_links.add(path)
                logger.warning("%s is a symbolic link, not followed: %s", path, why)

    def _note_unmatched(self, unmatched: list[str], now: float) -> None:
        """Warn while a glob matches nothing (a wrong path must not look like a quiet app)."""
        new = [pattern for pattern in unmatched if pattern not in self._unmatched]
        if new or (unmatched and now - self._unmatched_warned_at >= _UNMATCHED_WARN_EVERY_S):
            self._unmatched_warned_at = now
            logger.warning(
                "input: no file matches %s (relative globs from %s); waiting for one to appear",
                ", ".join(repr(pattern) for pattern in unmatched),
                os.getcwd(),
            )
        for pattern in self._unmatched:
            if pattern not in unmatched:
                logger.info("input: %r matches a file now", pattern)
        self._unmatched = tuple(unmatched)

    def _open(self, seen: Found, startup: bool, now: float) -> tuple[FileWatcher, bytes] | None:
        path = seen.paths[0]
        try:
            fd = open_file(path, follow_symlinks=self._config.follow_symlinks)
        except OSError as exc:
            if exc.errno in OUT_OF_DESCRIPTORS:
                raise
            if path not in self._warned_paths and len(self._warned_paths) < 10000:
                self._warned_paths.add(path)
                logger.warning("cannot open %s: %s", path, exc)
            return None
        tally = self._tally
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) != (seen.dev, seen.inode):
                close_fd(fd, tally)  # replaced since the glob: the next scan sees the new one
                return None
            prefix = os.pread(fd, self._files.prefix_len(), 0)
            # Size 0 yet data, and still size 0 after the read (not a file just written to):
            # procfs, sysfs, some FUSE. Its size must not be taken for a truncation.
            sizeless = st.st_size == 0 and bool(prefix) and os.fstat(fd).st_size == 0
        except OSError as exc:
            close_fd(fd, tally)
            logger.warning("cannot read %s: %s", path, exc)
            return None
        if sizeless:
            logger.warning(
                "%s reports size 0 but holds data (procfs, sysfs, FUSE?): read once to its end,"
                " then only what is added past that point",
                path,
            )
        self._warned_paths.discard(path)
        tally.files_opened += 1
        watcher = FileWatcher(
            path=path,
            dev=st.st_dev,
            inode=st.st_ino,
            fd=fd,
            tally=tally,
            from_startup=startup,
            size=len(prefix) if sizeless else st.st_size,
            sizeless=sizeless,
            seen_end=len(prefix),
            last_growth_at=now,
            next_poll_at=now,
            hot=True,
        )
        self._files.by_key[(watcher.dev, watcher.inode)] = watcher
        return watcher, prefix

    def _reopen(self, watcher: FileWatcher, now: float) -> None:
        """A released file changed: open it again where it was left (``OSError``: out of
        descriptors)."""
        if watcher.reopen(now, follow_symlinks=self._config.follow_symlinks) is Next.TRUNCATED:
            self._files.truncated(watcher, now)
