"""Sources: where lines come from. The one source is :class:`FileSource`, tailing files.

The file source is split by role, like Vector's file server (a discovery loop, one watcher per
file, a fingerprinter, a checkpointer)::

    FileSource (files.py) ── the loop: scan ▸ collect, round-robin ▸ emit ▸ idle
     │                        public: run, acknowledge, checkpoints, stats, reconfigure, stop
     ├── discover() (discovery.py) ── globs ─▶ {(dev, inode): Found}
     │
     ├── FileTable (identity.py) ── who each file is
     │     by_key: (dev, inode) ─▶ FileWatcher | Alias (a copy: held, not read)
     │     by_id:  file_id ─▶ FileWatcher;  orphans: file_ids waiting for their file
     │     claim / settle: resume, copy or new?  truncated: where the old file_id goes on
     │     (byte comparisons: matching.py; fingerprint and file_id: fingerprint.py)
     │
     └── FileWatcher, one per followed file (watcher.py)
           fd, read position, LineCutter (lines.py), hot / next poll, identification,
           truncation checks, emitted / acked / gaps, its FileCheckpoint
           pull(batch) ─▶ Next: WAIT | IDENTIFY | TRUNCATED | CLOSE | RELEASE

Each pass, the loop asks every watcher that is due to :meth:`~watcher.FileWatcher.pull` lines
into the batch; a watcher reads and cuts its own file and answers with what it cannot decide
alone (:class:`~watcher.Next`), which the loop hands to the table. Per-line work stays in the line
cutter; everything else runs per chunk read or per batch. Checkpoints: each watcher gives its own entry, :meth:`FileSource.checkpoints` collects
them, :class:`shipper.checkpoint.CheckpointStore` writes them. Counters shared by all of them:
``Tally`` (stats.py); settings: :class:`FileSourceConfig` (config.py).

=================  ==========================================================================
module             role
=================  ==========================================================================
``files``          :class:`FileSource`: discovery + scheduling loop, the public API
``watcher``        ``FileWatcher``: reads one file, detects its truncation, holds its acks
``identity``       ``FileTable``: the known files; restart matching, rotation, copytruncate
``matching``       is that file this one? byte comparisons for restarts and copies
``fingerprint``    a file's fingerprint (its first line) and ``file_id``
``lines``          ``LineCutter``: bytes ▸ :class:`~pipelines.types.RawLine` s, pure
``discovery``      expanding the globs (symbolic links not followed unless ``follow_symlinks``)
``descriptors``    the open file limit (raised at start) and how many the process holds
``config``         :class:`FileSourceConfig`
``stats``          :class:`SourceStats`, :class:`FileStats`, the ``Tally`` of counters
=================  ==========================================================================
"""

from __future__ import annotations

from shipper.sources.config import FileSourceConfig
from shipper.sources.files import Emit, FileSource
from shipper.sources.lines import TAG_PARTIAL, TAG_TRUNCATED
from shipper.sources.stats import FileStats, SourceStats

__all__ = [
    "TAG_PARTIAL",
    "TAG_TRUNCATED",
    "Emit",
    "FileSource",
    "FileSourceConfig",
    "FileStats",
    "SourceStats",
]
