"""What the file source reports for metrics, and the counters it keeps for them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FileStats", "SourceStats", "Tally"]


@dataclass(frozen=True, slots=True)
class FileStats:
    """One followed file."""

    path: str
    file_id: str
    size_bytes: int
    """Current size (last known size if the descriptor is released)."""
    read_offset: int
    """Where the next read starts."""
    acked_offset: int
    """Where reading would resume after a restart."""
    open: bool
    """A descriptor is held."""

    @property
    def lag_bytes(self) -> int:
        """Bytes written but not yet acknowledged by the output."""
        return max(0, self.size_bytes - self.acked_offset)


@dataclass(frozen=True, slots=True)
class SourceStats:
    """A snapshot of the source. Counters are cumulative since the source was created.

    ``files`` is per path, for logs and debugging; metrics should aggregate it (``lag_bytes_total``,
    ``lag_bytes_max``) rather than use paths as label values.
    """

    files: tuple[FileStats, ...]
    open_files: int
    """Descriptors held (followed files, plus copies held in case their original is truncated)."""
    lines_read_total: int
    bytes_read_total: int
    partial_lines_total: int
    """Lines shipped without their newline (``_partial``)."""
    truncated_lines_total: int
    """Lines cut to ``max_line_bytes`` (``_truncated``)."""
    truncations_total: int
    """Files found truncated (plain truncation or ``copytruncate``) and read again from 0."""
    files_opened_total: int
    files_closed_total: int
    checkpoint_resets_total: int = 0
    """Checkpoints whose path held another file at startup (truncated, replaced, rewritten while
    the shipper was down): that file is read from 0, under new event ids."""
    open_files_limit: int = 0
    """Most descriptors the source holds at once: ``max_open_files``, or less if the process's
    descriptor limit less the rest of the process and ``reserved_descriptors`` is lower."""
    files_waiting: int = 0
    """Files that want a descriptor and wait for one (they take turns with the open ones)."""

    @property
    def lag_bytes_total(self) -> int:
        """Unacknowledged bytes over all files."""
        return sum(f.lag_bytes for f in self.files)

    @property
    def lag_bytes_max(self) -> int:
        """The largest lag of one file."""
        return max((f.lag_bytes for f in self.files), default=0)


@dataclass(slots=True)
class Tally:
    """The source's running counters, shared by its watchers and its file table.

    Added to once per chunk read or per file event, never per line; a line cutter keeps its own
    counts of partial and truncated lines, added here when it is thrown away.
    """

    lines_read: int = 0
    bytes_read: int = 0
    partial_lines: int = 0
    truncated_lines: int = 0
    truncations: int = 0
    checkpoint_resets: int = 0
    files_opened: int = 0
    files_closed: int = 0
