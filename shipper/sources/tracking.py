"""What the file source knows about each file, and how it checks a file still is that file.

All checks read a few bytes with ``pread``; none holds more than a sample in memory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from pipelines.types import RawLine
from shipper.sources.fingerprint import fingerprint_of
from shipper.sources.lines import LineCutter

__all__ = [
    "COPY_CHECK_BYTES",
    "SAMPLE_BYTES",
    "Alias",
    "Stream",
    "holds_samples",
    "last_line_end",
    "lost_its_start",
    "same_bytes",
    "same_start",
    "sample_before_ack",
    "truncated_in_place",
    "unchanged",
]

COPY_CHECK_BYTES = 4096
"""Bytes compared between a file and its supposed copy."""
SAMPLE_BYTES = 64
"""Bytes kept from the start and the end of the last chunks read, to recognise the file later."""


@dataclass(eq=False, slots=True)
class Stream:
    """One file being followed: where it is on disk, how far it was read, handed over, acked."""

    path: str
    dev: int
    inode: int
    fd: int | None
    from_startup: bool = False  # found by the first scan: start_position applies
    file_id: str = ""  # "" until identified
    fingerprint: str = ""
    fingerprint_len: int = 0
    cutter: LineCutter | None = None
    read_pos: int = 0  # next byte to read
    emitted: int = 0  # end of the last line handed to emit
    acked: int = 0  # end of the last line the output acknowledged
    updated_at: float = 0.0
    ready: list[RawLine] = field(default_factory=list)  # cut, not handed over yet
    ready_index: int = 0
    gaps: dict[int, int] = field(default_factory=dict)
    size: int = 0
    seen_end: int = 0  # furthest byte ever seen in the file: growth beyond it is activity
    last_growth_at: float = 0.0
    next_poll_at: float = 0.0
    hot: bool = False  # the last read returned a full chunk
    matched: bool = True  # matched by the globs at the last scan
    deleted: bool = False
    moved: bool = False  # renamed since found, or a copy: never the original of a copy
    orphaned_at_scan: int = -1  # >= 0: lost its file (truncated), waiting for a copy
    startup_checkpoint: bool = False  # loaded from a checkpoint, not matched to a file yet
    samples: list[tuple[int, bytes]] = field(default_factory=list)  # (offset, bytes) read there
    check: tuple[int, int, str] | None = None  # (end, length, hash) of bytes before the ack
    warned: bool = False


@dataclass(eq=False, slots=True)
class Alias:
    """A copy of a followed file (same bytes, another inode): known, but not read.

    A copy does not grow; one that does is a file of its own after all, and is read as such.
    """

    path: str
    dev: int
    inode: int
    fd: int | None
    of: Stream | None
    size: int


def sample_before_ack(stream: Stream) -> None:
    """Remember a hash of the bytes just before the acknowledged offset (for checkpoints)."""
    if stream.fd is None or stream.acked == 0 or not stream.fingerprint_len:
        return
    if stream.check is not None and stream.check[0] == stream.acked:
        return
    length = min(SAMPLE_BYTES, stream.acked)
    try:
        data = os.pread(stream.fd, length, stream.acked - length)
    except OSError:
        return
    if len(data) == length and unchanged(stream):
        stream.check = (stream.acked, length, fingerprint_of(data))


def last_line_end(stream: Stream, max_line_bytes: int) -> int:
    """For ``start_position: end``: just past the last newline of what the file held."""
    assert stream.fd is not None
    size = stream.size
    position, scanned, limit = size, 0, max_line_bytes + 2
    while position > 0 and scanned < limit:
        length = min(64 * 1024, position)
        position -= length
        scanned += length
        newline = os.pread(stream.fd, length, position).rfind(b"\n")
        if newline >= 0:
            return position + newline + 1
    return 0 if position == 0 else size


def truncated_in_place(orphan: Stream) -> bool:
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


def holds_samples(fd: int, size: int, stream: Stream) -> bool:
    """Does the file at ``fd`` hold ``stream``'s bytes (it starts the same: is it the file, or
    a copy of it)?

    Checked against the samples kept from the last chunks read (the latest one the file is
    long enough for), else against the checkpoint's sample (bytes before the acknowledged
    offset); with neither (an old checkpoint), the byte before the resume offset must end a
    line. A file that cannot be shown to be the same is not: at worst it is read as a new file
    (repeats), never skipped (losses).
    """
    fitting = [
        (offset, sample) for offset, sample in stream.samples if offset + len(sample) <= size
    ]
    try:
        if fitting:
            offset, sample = max(fitting)
            return os.pread(fd, len(sample), offset) == sample
        if stream.check is not None:
            end, length, digest = stream.check
            return end <= size and fingerprint_of(os.pread(fd, length, end - length)) == digest
        if stream.emitted == 0:
            return True
        return size >= stream.emitted and os.pread(fd, 1, stream.emitted - 1) == b"\n"
    except OSError:
        return False


def same_bytes(fd: int, size: int, original: Stream) -> bool:
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


def lost_its_start(stream: Stream) -> bool:
    """``stream``'s file was truncated (and maybe rewritten) and that is not noticed yet."""
    assert stream.fd is not None
    try:
        size = os.fstat(stream.fd).st_size
    except OSError:
        return False
    return size < stream.read_pos or not unchanged(stream)


def unchanged(stream: Stream) -> bool:
    """The file still holds what was read from it: its first line, and the last bytes read.

    Checked after every chunk read (before its lines are used) and when a released file is
    reopened; a file truncated and rewritten, even with the same first line, fails it.
    """
    if not same_start(stream):
        return False
    if not stream.samples:
        return True
    fd = stream.fd
    assert fd is not None
    offset, sample = stream.samples[-1]
    try:
        return os.pread(fd, len(sample), offset) == sample
    except OSError:
        return True


def same_start(stream: Stream) -> bool:
    """The file still starts with the line it was identified by (else: truncated, rewritten)."""
    assert stream.fd is not None
    try:
        head = os.pread(stream.fd, stream.fingerprint_len, 0)
    except OSError:
        return True
    return len(head) == stream.fingerprint_len and fingerprint_of(head) == stream.fingerprint
