"""Is that file this one? The byte comparisons behind restart matching and ``copytruncate``.

Each answers for one followed file (a :class:`~shipper.sources.watcher.FileWatcher`) and one
candidate file, reading a few bytes of each with ``pread``; none holds more than a sample in
memory. When a comparison cannot be made, the answer is "no": at worst a file is read as a new one
(lines repeated under another ``file_id``), never skipped (lines lost).
"""

from __future__ import annotations

import os

from shipper.sources.fingerprint import fingerprint_of
from shipper.sources.watcher import FileWatcher

__all__ = ["COPY_CHECK_BYTES", "holds_samples", "same_bytes", "truncated_in_place"]

COPY_CHECK_BYTES = 4096
"""Bytes compared between a file and its supposed copy."""


def truncated_in_place(orphan: FileWatcher) -> bool:
    """The checkpointed file is still where it was but no longer starts as it did: the
    signature of ``copytruncate`` (a deleted or renamed-away file is not copied)."""
    try:
        st = os.stat(orphan.path)
        if (st.st_dev, st.st_ino) != (orphan.dev, orphan.inode):
            return False
        if st.st_size < orphan.emitted:
            return True
        with open(orphan.path, "rb") as f:
            head = f.read(orphan.fingerprint_len)
    except OSError:
        return False
    return fingerprint_of(head) != orphan.fingerprint or len(head) < orphan.fingerprint_len


def holds_samples(fd: int, size: int, watcher: FileWatcher) -> bool:
    """Does the file at ``fd`` hold ``watcher``'s bytes (it starts the same: is it the file, or
    a copy of it)?

    Checked against the samples kept from the last chunks read (the latest one the file is
    long enough for), else against the checkpoint's sample (bytes before the acknowledged
    offset); with neither (an old checkpoint), the byte before the resume offset must end a
    line. A file that cannot be shown to be the same is not: at worst it is read as a new file
    (repeats), never skipped (losses).
    """
    fitting = [
        (offset, sample) for offset, sample in watcher.samples if offset + len(sample) <= size
    ]
    try:
        if fitting:
            offset, sample = max(fitting)
            return os.pread(fd, len(sample), offset) == sample
        if watcher.check is not None:
            end, length, digest = watcher.check
            return end <= size and fingerprint_of(os.pread(fd, length, end - length)) == digest
        if watcher.emitted == 0:
            return True
        return size >= watcher.emitted and os.pread(fd, 1, watcher.emitted - 1) == b"\n"
    except OSError:
        return False


def same_bytes(fd: int, size: int, original: FileWatcher) -> bool:
    """The file at ``fd`` holds what ``original`` holds, as far as the shorter one goes."""
    if original.fd is None:
        return holds_samples(fd, size, original)
    try:
        end = os.fstat(original.fd).st_size
        if size > end:
            return False  # a copy is never longer than its (untruncated) original
        end = size
        length = min(COPY_CHECK_BYTES, end)
        return os.pread(fd, length, end - length) == os.pread(original.fd, length, end - length)
    except OSError:
        return False
