"""Who each file is: the table of known files, and the decisions that fill it.

A file on disk is a ``(dev, inode)``; a followed file is a ``file_id`` (see
:mod:`shipper.sources.fingerprint`), read by one :class:`~shipper.sources.watcher.FileWatcher`.
:class:`FileTable` keeps both maps and decides, when a file is identified, whether it is a
checkpointed file to resume, a copy of a followed file, or a new file — and, when a watcher finds
its file truncated, where the old ``file_id`` goes on:

* **Truncation.** A file whose size drops below the read position, or whose first line or last
  bytes read change, is a new file: read from 0 under a new ``file_id`` (a new watcher on the same
  descriptor). The old file's unread tail can only come from a copy:
* **copytruncate.** A new file at another path that starts like a file being read where it always
  was, and holds the same bytes (compared up to the shorter of the two; a copy is never longer),
  is that file's copy: an :class:`Alias`, held open but not read (a "copy" that later diverges is
  a file of its own after all, read from 0). When the original is found truncated, the old
  ``file_id``'s watcher continues *in the copy*, from the position reached in the original (the
  copy has the same bytes at the same offsets): lines written just before the copy are not lost,
  those already read are not repeated. If the copy is only seen after the truncation, the old
  watcher waits for it as an *orphan* (a scan is run at once) and recognises it by samples of the
  bytes it read last. This needs the rotated name inside the globs, like Filebeat (e.g.
  ``logs/app.log*``); lines the app writes between logrotate's copy and its truncation are lost,
  as logrotate documents.
* **Restart.** Each checkpoint starts as an orphan and is matched to a file: first by device,
  inode and first line; then by inode and first line at the same path (a device number that
  changed across a reboot); then, if the checkpointed file is still at its path but truncated
  (``copytruncate`` while the shipper was down), by first line at another path, provided the byte
  before the checkpointed offset ends a line there too (the copy). A match resumes at the
  acknowledged offset with the same ``file_id``: lines after it are read again with the same
  offsets, hence the same ``event.id``. Checkpoints matching no file are dropped (only once every
  file found could be opened: ``max_open_files`` does not lose them). Other files found at startup
  start per ``start_position``, except those at the path of a checkpointed file (it was rotated
  while the shipper was down): they are read from 0.

When in doubt between "a copy" and "another file", the table picks "another file": the worst
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

import contextlib
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from shipper.checkpoint import FileCheckpoint
from shipper.sources.config import FileSourceConfig
from shipper.sources.discovery import Found
from shipper.sources.fingerprint import (
    Fingerprint,
    fingerprint_of,
    make_file_id,
    natural_fingerprint,
)
from shipper.sources.matching import holds_samples, same_bytes, truncated_in_place
from shipper.sources.stats import Tally
from shipper.sources.watcher import FileWatcher, Next, close_fd, open_file

__all__ = ["Alias", "FileTable"]

logger = logging.getLogger(__name__)

_RETIRED_IDS_KEPT = 65536


@dataclass(eq=False, slots=True)
class Alias:
    """A copy of a followed file (same bytes, another inode): known, but not read.

    A copy does not grow; one that does is a file of its own after all, and is read as such.
    """

    path: str
    dev: int
    inode: int
    fd: int | None
    of: FileWatcher | None
    size: int


class FileTable:
    """The files the source knows, by ``(dev, inode)`` and by ``file_id``, and who they are.

    ``by_key`` holds what is on disk now (a watcher, or an alias); ``by_id`` every followed file,
    with or without a file (``orphans`` lost theirs and wait for it, or for a copy).
    """

    def __init__(
        self,
        config: FileSourceConfig,
        checkpoints: Mapping[str, FileCheckpoint],
        tally: Tally,
        wall_clock: Callable[[], float],
    ) -> None:
        """Start with the checkpointed files, as orphans until a scan finds them."""
        self.config = config
        """The settings in force (the source replaces it on reconfiguration)."""
        self.tally = tally
        self.by_key: dict[tuple[int, int], FileWatcher | Alias] = {}
        self.by_id: dict[str, FileWatcher] = {}
        self.orphans: list[FileWatcher] = []
        self.scans = 0
        """Scans completed."""
        self.scan_requested = True
        """A scan is wanted before the next read (set on truncation: a copy may be there)."""
        self._wall_clock = wall_clock
        self._retired: dict[str, None] = {}
        self._checkpoint_paths = {cp.path for cp in checkpoints.values()}
        self._max_fingerprint_len = config.fingerprint_bytes
        for cp in checkpoints.values():
            watcher = FileWatcher.from_checkpoint(cp, tally)
            self.by_id[cp.file_id] = watcher
            self.orphans.append(watcher)
            self._max_fingerprint_len = max(self._max_fingerprint_len, cp.fingerprint_len)

    def reconfigure(self, config: FileSourceConfig) -> None:
        """New settings; open files keep their position."""
        self.config = config
        self._max_fingerprint_len = max(self._max_fingerprint_len, config.fingerprint_bytes)
        for entry in self.by_key.values():
            if isinstance(entry, FileWatcher) and entry.cutter is not None:
                entry.cutter.max_line_bytes = config.max_line_bytes

    def prefix_len(self) -> int:
        """Bytes to read from a file's start to identify it (or check any known fingerprint)."""
        return max(self.config.fingerprint_bytes, self._max_fingerprint_len)

    def open_count(self) -> int:
        """Descriptors held (watchers and copies)."""
        return sum(1 for entry in self.by_key.values() if entry.fd is not None)

    # ----------------------------------------------------------------------------- decisions

    def identify(self, watcher: FileWatcher, now: float) -> bool:
        """Try to identify a file opened after startup; True once it is a watcher to read."""
        found = watcher.identify(self.config, self.prefix_len(), now)
        if found is Next.CLOSE:
            self.drop(watcher, "gone before it had a complete line")
            return False
        if isinstance(found, Next):
            return False
        prefix, fingerprint = found
        self.settle(watcher, prefix, fingerprint, now)
        return (
            watcher.cutter is not None and self.by_key.get((watcher.dev, watcher.inode)) is watcher
        )

    def claim(self, watcher: FileWatcher, prefix: bytes, now: float) -> bool:
        """At startup: is this file one of the checkpointed ones, by inode and first line?"""
        assert watcher.fd is not None
        for orphan in self.orphans:
            if orphan.inode != watcher.inode:
                continue
            if orphan.dev != watcher.dev and orphan.path != watcher.path:
                continue
            length = orphan.fingerprint_len
            if len(prefix) < length or fingerprint_of(prefix[:length]) != orphan.fingerprint:
                continue
            size = watcher.extent(orphan.emitted)
            if size < orphan.emitted or not holds_samples(watcher.fd, size, orphan):
                return False  # truncated or replaced while we were away, same first line: new
            self.orphans.remove(orphan)
            self._take_over(orphan, watcher, now, moved=orphan.path != watcher.path)
            return True
        return False

    def settle(
        self, watcher: FileWatcher, prefix: bytes, fingerprint: Fingerprint, now: float
    ) -> None:
        """Decide what a newly identified file is: a copy to resume, a copy to hold, or new."""
        hashes: dict[int, str] = {}

        def starts_like(other: FileWatcher) -> bool:
            length = other.fingerprint_len
            if len(prefix) < length:
                return False
            if length not in hashes:
                hashes[length] = fingerprint_of(prefix[:length])
            return hashes[length] == other.fingerprint

        assert watcher.fd is not None
        if watcher.sizeless:
            # A pseudo file is neither rotated nor copied, and its size says nothing to compare.
            self._start_new(watcher, fingerprint, now)
            return
        with contextlib.suppress(OSError):
            watcher.size = os.fstat(watcher.fd).st_size
        for orphan in self.orphans:
            if orphan.path == watcher.path or not starts_like(orphan):
                continue
            if orphan.startup_checkpoint and not truncated_in_place(orphan):
                continue  # gone, not copied-and-truncated: this is another file
            if holds_samples(watcher.fd, watcher.size, orphan):
                self._adopt(orphan, watcher, now)
                return
        for other in list(self.by_id.values()):
            if (
                other is watcher
                or other.orphaned_at_scan >= 0
                or other.moved
                or other.path == watcher.path
                or not (other.fd is not None or other.matched)
                or other.sizeless
                or not starts_like(other)
            ):
                continue
            if other.fd is not None and other.lost_its_start():
                # The original was truncated after this copy was made: switch to the copy now.
                self.truncated(other, now)
                self.settle(watcher, prefix, fingerprint, now)
                return
            if same_bytes(watcher.fd, watcher.size, other):
                logger.info(
                    "%s is a copy of %s: held, read only if %s is truncated",
                    watcher.path,
                    other.path,
                    other.path,
                )
                self.by_key[(watcher.dev, watcher.inode)] = Alias(
                    watcher.path, watcher.dev, watcher.inode, watcher.fd, other, watcher.size
                )
                return
        self._start_new(watcher, fingerprint, now)

    def truncated(self, watcher: FileWatcher, now: float) -> None:
        """``watcher``'s file now holds other data: it becomes a new file (a new watcher on the
        same descriptor); the old one goes on in a copy if there is one, or waits for one."""
        assert watcher.fd is not None
        self.tally.truncations += 1
        logger.info(
            "%s was truncated (read up to offset %d): reading it again from the start",
            watcher.path,
            watcher.read_pos,
        )
        successor = FileWatcher(
            path=watcher.path,
            dev=watcher.dev,
            inode=watcher.inode,
            fd=watcher.fd,
            tally=self.tally,
            matched=watcher.matched,
            last_growth_at=now,
            next_poll_at=now,
            hot=True,
        )
        self.by_key[(watcher.dev, watcher.inode)] = successor
        watcher.fd = None
        watcher.ready = []
        watcher.ready_index = 0
        watcher.hot = False
        watcher.drop_cutter()
        copy = self._best_copy(watcher)
        if copy is not None:
            logger.info(
                "continuing %s (file_id %s) in its copy %s from offset %d",
                watcher.path,
                watcher.file_id,
                copy.path,
                watcher.emitted,
            )
            watcher.fd = copy.fd
            watcher.dev, watcher.inode, watcher.path = copy.dev, copy.inode, copy.path
            watcher.moved = True
            watcher.matched, watcher.deleted = True, False
            watcher.last_growth_at = now
            self.by_key[(copy.dev, copy.inode)] = watcher
            watcher.start(watcher.emitted, self.config.max_line_bytes, now)
            return
        watcher.orphaned_at_scan = self.scans
        self.orphans.append(watcher)
        self.scan_requested = True

    def check_copy(
        self, key: tuple[int, int], alias: Alias, seen: Found | None, now: float
    ) -> None:
        """A scan saw (or no longer saw) a copy: still a copy, gone, or a file of its own?"""
        if seen is None:
            if alias.fd is not None:
                close_fd(alias.fd, self.tally)
            del self.by_key[key]
            return
        if alias.path not in seen.paths:
            alias.path = seen.paths[0]
        if seen.size == alias.size:
            return
        # Still being copied (same bytes as the original), or a file of its own.
        original = alias.of
        if original is not None and original.fd is not None and original.lost_its_start():
            return  # truncated: the next read switches to this copy
        if (
            alias.fd is not None
            and original is not None
            and same_bytes(alias.fd, seen.size, original)
        ):
            alias.size = seen.size
        else:
            self._not_a_copy(alias, seen, now)

    def end_scan(self, starting: bool) -> None:
        """After a scan: forget the orphans no file can continue any more.

        ``starting``: not every file found could be opened yet, so checkpoints are kept.
        """
        self.scans += 1
        for orphan in list(self.orphans):
            if orphan.startup_checkpoint:
                if starting:
                    continue
                if any(
                    other.path == orphan.path and other is not orphan
                    for other in self.by_id.values()
                ):
                    # Its path holds another file now (shorter than the offset, another first
                    # line, other bytes before the offset): read from 0, under new event ids.
                    self.tally.checkpoint_resets += 1
                    logger.warning(
                        "checkpoint of %s (file_id %s, offset %d) does not match the file there"
                        " now (truncated, replaced or rewritten while the shipper was down):"
                        " reading that file from the start",
                        orphan.path,
                        orphan.file_id,
                        orphan.acked,
                    )
                else:
                    logger.info(
                        "checkpoint of %s (file_id %s) matches no file: dropped",
                        orphan.path,
                        orphan.file_id,
                    )
                self.orphans.remove(orphan)
                self._retire(orphan)
            elif orphan.orphaned_at_scan < self.scans - 1 and orphan.acked >= orphan.emitted:
                self.orphans.remove(orphan)
                self._retire(orphan)

    def drop(self, watcher: FileWatcher, why: str) -> None:
        """Forget a file for good (closed, and gone from the globs or from disk)."""
        logger.debug("closing %s: %s", watcher.path, why)
        watcher.release()
        key = (watcher.dev, watcher.inode)
        if self.by_key.get(key) is watcher:
            del self.by_key[key]
        if watcher.file_id:
            self._retire(watcher)
        for entry in self.by_key.values():
            if isinstance(entry, Alias) and entry.of is watcher:
                # Its original is fully read: the copy is known, never to be read.
                if entry.fd is not None:
                    close_fd(entry.fd, self.tally)
                    entry.fd = None
                entry.of = None

    def close_all(self) -> None:
        """Give every descriptor back (the source stops); the positions are kept."""
        for entry in self.by_key.values():
            if isinstance(entry, FileWatcher):
                entry.sample_before_ack()
            if entry.fd is not None:
                close_fd(entry.fd, self.tally)
                entry.fd = None

    # ----------------------------------------------------------------------------- helpers

    def _start_new(self, watcher: FileWatcher, fingerprint: Fingerprint, now: float) -> None:
        """``watcher``'s file is a file of its own: give it a ``file_id`` and start reading it."""
        watcher.identified(
            self._new_file_id(watcher.dev, watcher.inode, fingerprint[0]), fingerprint
        )
        self.by_id[watcher.file_id] = watcher
        config = self.config
        start = 0
        if (
            watcher.from_startup
            and config.start_position == "end"
            and watcher.path not in self._checkpoint_paths
        ):
            start = watcher.last_line_end(config.max_line_bytes)
        watcher.emitted = watcher.acked = start
        watcher.updated_at = self._wall_clock()
        watcher.start(start, config.max_line_bytes, now)

    def _new_file_id(self, dev: int, inode: int, fingerprint: str) -> str:
        generation = 0
        while True:
            file_id = make_file_id(dev, inode, fingerprint, generation)
            if file_id not in self.by_id and file_id not in self._retired:
                return file_id
            generation += 1

    def _adopt(self, orphan: FileWatcher, copy: FileWatcher, now: float) -> None:
        """``copy`` starts like ``orphan``'s lost file: continue ``orphan`` from it."""
        assert copy.fd is not None
        with contextlib.suppress(OSError):
            copy.size = os.fstat(copy.fd).st_size
        if copy.size < orphan.emitted:
            # The copy holds nothing past what was read already: remember it, do not read it.
            self.by_key[(copy.dev, copy.inode)] = Alias(
                copy.path, copy.dev, copy.inode, None, orphan, copy.size
            )
            close_fd(copy.fd, self.tally)
            return
        self.orphans.remove(orphan)
        logger.info(
            "continuing %s (file_id %s) in its copy %s from offset %d",
            orphan.path,
            orphan.file_id,
            copy.path,
            orphan.emitted,
        )
        self._take_over(orphan, copy, now, moved=True)

    def _take_over(
        self, watcher: FileWatcher, found: FileWatcher, now: float, *, moved: bool
    ) -> None:
        """``watcher`` (no file) continues in ``found``'s file at the position it had reached."""
        watcher.fd = found.fd
        watcher.dev, watcher.inode, watcher.path = found.dev, found.inode, found.path
        watcher.size = found.size
        watcher.sizeless = found.sizeless
        watcher.matched, watcher.deleted = True, False
        watcher.moved = watcher.moved or moved
        watcher.orphaned_at_scan = -1
        watcher.startup_checkpoint = False
        watcher.last_growth_at = now
        self.by_key[(watcher.dev, watcher.inode)] = watcher
        watcher.start(watcher.emitted, self.config.max_line_bytes, now)

    def _best_copy(self, watcher: FileWatcher) -> Alias | None:
        best: Alias | None = None
        best_size = watcher.emitted - 1
        for entry in self.by_key.values():
            if isinstance(entry, Alias) and entry.of is watcher and entry.fd is not None:
                try:
                    size = os.fstat(entry.fd).st_size
                except OSError:
                    continue
                if size > best_size:
                    best, best_size = entry, size
        return best

    def _not_a_copy(self, alias: Alias, seen: Found, now: float) -> None:
        """A supposed copy changed: it is a file of its own, read from its beginning."""
        fd = alias.fd
        try:
            if fd is None:
                fd = open_file(alias.path, follow_symlinks=self.config.follow_symlinks)
                if (os.fstat(fd).st_ino, os.fstat(fd).st_dev) != (alias.inode, alias.dev):
                    close_fd(fd, self.tally)
                    return
                self.tally.files_opened += 1
            prefix = os.pread(fd, self.prefix_len(), 0)
        except OSError:
            return
        logger.info("%s changed: not a copy after all, reading it as a file of its own", alias.path)
        watcher = FileWatcher(
            path=alias.path,
            dev=alias.dev,
            inode=alias.inode,
            fd=fd,
            tally=self.tally,
            size=seen.size,
            seen_end=len(prefix),
            last_growth_at=now,
        )
        self.by_key[(alias.dev, alias.inode)] = watcher
        fingerprint = natural_fingerprint(prefix, self.config.fingerprint_bytes)
        self._start_new(watcher, fingerprint or (fingerprint_of(prefix), len(prefix)), now)

    def _retire(self, watcher: FileWatcher) -> None:
        watcher.drop_cutter()
        if self.by_id.get(watcher.file_id) is watcher:
            del self.by_id[watcher.file_id]
        self._retired[watcher.file_id] = None
        if len(self._retired) > _RETIRED_IDS_KEPT:
            del self._retired[next(iter(self._retired))]
