"""The file source's one config model: which files, how often, how much at a time."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MIB", "FileSourceConfig"]

MIB = 1024 * 1024


class FileSourceConfig(BaseModel):
    """Settings of the file-tailing source (``shipper run``'s input).

    Paths are globs (``**`` recurses), relative ones are resolved against the working directory at
    every scan; lines carry the absolute path of the file they were read from.

    Rotation: logrotate's default (rename + create) is lossless with any globs, as long as the
    shipper is running (a renamed file stays open until read to its end). To stay lossless when the
    shipper is down during a rotation, or with ``copytruncate``, the rotated name must be matched
    too, e.g. ``logs/app.log*`` (compressed rotations are left out by the default ``exclude``) —
    the same rule as Filebeat's.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    paths: list[str] = Field(
        default_factory=lambda: ["logs/app.log"],
        min_length=1,
        description="Globs of the files to tail (`**` matches directories recursively).",
    )
    exclude: list[str] = Field(
        default_factory=lambda: ["*.gz", "*.zip", "*.bz2", "*.xz"],
        description=(
            "Globs of files to leave out, matched against the file name, the absolute path and"
            " the path as globbed."
        ),
    )
    require_match: bool = Field(
        True,
        description=(
            "While a glob of `paths` matches no file, /readyz answers not ready (check `input`)"
            " besides the warning and `logferry_shipper_input_globs_unmatched`. Set false for a"
            " sidecar probed on /readyz that starts before its app writes the log."
        ),
    )
    scan_interval_s: float = Field(
        5.0, gt=0, description="How often the globs are expanded again to find new files."
    )
    poll_interval_s: float = Field(
        0.25,
        gt=0,
        description=(
            "How often a file that was read to its end is checked for new data. A file that"
            " returned a full chunk is read again at once."
        ),
    )
    fingerprint_bytes: int = Field(
        1024,
        ge=1,
        description=(
            "Cap of the fingerprint: a file is identified by a hash of its first line (up to and"
            " including the newline), or of its first this-many bytes if that line is longer."
        ),
    )
    max_line_bytes: int = Field(
        MIB,
        ge=1,
        description=(
            "Longer lines are cut to this many bytes and tagged `_truncated`; the rest of the"
            " line is skipped without being held in memory."
        ),
    )
    partial_timeout_s: float = Field(
        5.0,
        gt=0,
        description=(
            "A last line without a newline, with no new data for this long, is shipped tagged"
            " `_partial`; what is appended to it later is shipped as its own line, also tagged"
            " `_partial`."
        ),
    )
    start_position: Literal["beginning", "end"] = Field(
        "beginning",
        description=(
            "Where to start reading a file found at startup that has no checkpoint: `end` skips"
            " what it already holds (from the end of its last complete line; a file without a"
            " complete line yet is read whole). Files that appear later, and files replacing a"
            " checkpointed file at the same path, are always read from the beginning, like"
            " Filebeat."
        ),
    )
    batch_max_lines: int = Field(2000, ge=1, description="Most lines handed over at once.")
    batch_max_bytes: int = Field(
        MIB,
        ge=1,
        description=(
            "Most file bytes the lines of one batch span (a single longer line still makes a"
            " batch of its own)."
        ),
    )
    read_chunk_bytes: int = Field(256 * 1024, ge=4096, description="Size of one read from a file.")
    close_rotated_after_s: float = Field(
        5.0,
        ge=0,
        description=(
            "A file no longer matched by the globs (renamed away, deleted) is closed once read to"
            " its end, all its lines acknowledged and no data appeared for this long."
        ),
    )
    close_inactive_s: float = Field(
        300.0,
        gt=0,
        description=(
            "A matched file without new data for this long (and fully acknowledged) has its"
            " descriptor released; its position is kept and it is reopened when it grows."
        ),
    )
    max_open_files: int = Field(
        1024,
        ge=1,
        description=(
            "Most files held open at once; fewer if the descriptor limit (`ulimit -n`, raised to"
            " its hard limit at start) less `reserved_descriptors` and the descriptors the"
            " process already holds is lower. Files beyond that take turns: while some wait, an"
            " open file gives its descriptor up once read to its end and acknowledged, and the"
            " waiting files are opened in the order they started waiting. A warning and the"
            " `logferry_shipper_files_waiting` gauge report the shortage."
        ),
    )
    reserved_descriptors: int = Field(
        64,
        ge=8,
        description=(
            "Descriptors never used for files, kept for the shipper's sockets (output, metrics"
            " server), checkpoint writes and workers, beyond those it holds when a scan runs."
        ),
    )
    follow_symlinks: bool = Field(
        False,
        description=(
            "Read files reached through a symbolic link (the file itself, or a directory below"
            " the fixed part of a glob). Off: such paths are skipped (logged once) and files are"
            " opened with `O_NOFOLLOW`, so whoever can write in a watched directory cannot make"
            " the shipper read another file. On: a link is followed only if its target is itself"
            " matched by the globs (and not excluded); the file is then known under both paths."
        ),
    )
