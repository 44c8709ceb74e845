"""Where the shipper has got to in each file, kept on disk across restarts.

One JSON file, ``<state_dir>/checkpoints.json``, written atomically (temp file in the same
directory, write, flush, fsync, ``os.replace``, fsync of the directory), so a crash leaves either
the old or the new content, never a mix::

    {
      "version": 1,
      "written_at": "2025-01-31T12:00:00.123456+00:00",
      "files": {
        "<file_id>": {
          "path": "/var/log/app/app.log",
          "dev": 2049,
          "inode": 1835017,
          "fingerprint": "<xxh3-128 hex of the first line>",
          "fingerprint_len": 118,
          "offset": 52344,
          "updated_at": "2025-01-31T12:00:00.101010+00:00",
          "sample": {"end": 52344, "length": 64, "hash": "<xxh3-128 hex of the 64 bytes before>"}
        }
      }
    }

``offset`` is the acknowledged end offset: every line ending at or before it reached the output.
Reading resumes there, so a line is read again after a crash only if it was never acknowledged.

:meth:`CheckpointStore.load` never raises on content: a missing file is an empty state; a file that
cannot be read as the format above (not JSON, unknown version, ...) is renamed aside as
``checkpoints.json.corrupt-<UTC timestamp>`` for inspection, a warning is logged and the state is
empty (every file is then read per ``start_position``). An individual entry that is malformed, or holds a value
out of range (an offset beyond 2**63 - 1, a time before 1970 or after 9999), is skipped with a
warning, the others are kept. I/O errors (permissions, disk) are raised as
:class:`OSError`, for the caller to report.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from shipper.errors import ConfigError

__all__ = ["CHECKPOINT_FORMAT_VERSION", "CheckpointStore", "FileCheckpoint"]

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT_VERSION = 1

# Bounds of a valid entry (orjson reads an integer beyond 64 bits as a float, already refused): an
# offset must fit lseek's off_t, and a time must be one that can be written back (``datetime`` ends
# with year 9999). A value outside them can only come from a damaged or hand-edited file.
_MAX_OFFSET = 2**63 - 1
_MAX_TIME = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).timestamp()


@dataclass(frozen=True, slots=True)
class FileCheckpoint:
    """The acknowledged position in one file, and how to recognise that file again."""

    file_id: str
    """Stable identity (see :mod:`shipper.sources.fingerprint`); the key of the checkpoint."""
    path: str
    """Absolute path where the file was last seen."""
    dev: int
    """``st_dev`` of the file."""
    inode: int
    """``st_ino`` of the file."""
    fingerprint: str
    """Hex hash of the file's first ``fingerprint_len`` bytes."""
    fingerprint_len: int
    """How many leading bytes the fingerprint covers (its first line, capped)."""
    offset: int
    """Acknowledged end offset: reading resumes here."""
    updated_at: float
    """Wall-clock time (Unix seconds) the offset last moved."""
    sample_end: int = 0
    sample_len: int = 0
    sample_hash: str = ""
    """Hex hash of the file's bytes ``[sample_end - sample_len, sample_end)`` (just before the
    offset, when it was taken): a file resumed from this checkpoint must still hold them, which
    tells the file apart from a new one that reuses its inode and starts with the same line.
    ``sample_len == 0``: no sample."""


class CheckpointStore:
    """Loads and atomically saves the checkpoints of one state directory."""

    FILE_NAME = "checkpoints.json"
    LOCK_NAME = "lock"

    def __init__(self, state_dir: Path) -> None:
        """Use ``state_dir`` (created on the first save if missing)."""
        self.state_dir = Path(state_dir)
        self._lock: IO[str] | None = None

    def lock(self) -> None:
        """Claim the state dir for this process, or raise ConfigError naming the one that has it.

        Two shippers on one state dir would overwrite each other's checkpoints and ship lines
        twice. The kernel drops the lock when the process dies, even by ``kill -9``.
        """
        lock_path = self.state_dir / self.LOCK_NAME
        try:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            handle = lock_path.open("a+")
        except OSError as exc:
            raise ConfigError(f"state_dir: cannot create {lock_path}: {_reason(exc)}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            handle.close()
            raise ConfigError(
                f"state dir {self.state_dir} is in use by another shipper (pid {holder}); "
                "give each shipper its own state_dir"
            ) from None
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
        except OSError as exc:  # a full disk: checkpoints could not be written either
            with contextlib.suppress(OSError):
                handle.close()
            raise ConfigError(f"state_dir: cannot write {lock_path}: {_reason(exc)}") from None
        self._lock = handle

    def unlock(self) -> None:
        """Release the state dir (also released when the process exits)."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    @property
    def path(self) -> Path:
        """The checkpoint file."""
        return self.state_dir / self.FILE_NAME

    def load(self) -> dict[str, FileCheckpoint]:
        """The saved checkpoints by ``file_id``; ``{}`` if there are none or they are unreadable."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        try:
            document = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            return self._set_aside(f"not valid JSON ({exc})")
        if not isinstance(document, dict):
            return self._set_aside("not a JSON object")
        version = document.get("version")
        if version != CHECKPOINT_FORMAT_VERSION:
            return self._set_aside(
                f"unsupported version {version!r} (this shipper reads {CHECKPOINT_FORMAT_VERSION})"
            )
        files = document.get("files")
        if not isinstance(files, dict):
            return self._set_aside('"files" is not an object')
        checkpoints: dict[str, FileCheckpoint] = {}
        for file_id, entry in files.items():
            checkpoint = _parse_entry(file_id, entry)
            if checkpoint is None:
                logger.warning(
                    "checkpoint entry %r in %s is malformed; ignoring it", file_id, self.path
                )
                continue
            checkpoints[file_id] = checkpoint
        return checkpoints

    def save(self, checkpoints: Mapping[str, FileCheckpoint]) -> None:
        """Replace the saved checkpoints with ``checkpoints``, atomically and durably."""
        document = {
            "version": CHECKPOINT_FORMAT_VERSION,
            "written_at": _iso(time.time()),
            "files": {
                file_id: {
                    "path": cp.path,
                    "dev": cp.dev,
                    "inode": cp.inode,
                    "fingerprint": cp.fingerprint,
                    "fingerprint_len": cp.fingerprint_len,
                    "offset": cp.offset,
                    "updated_at": _iso(cp.updated_at),
                    **(
                        {
                            "sample": {
                                "end": cp.sample_end,
                                "length": cp.sample_len,
                                "hash": cp.sample_hash,
                            }
                        }
                        if cp.sample_len
                        else {}
                    ),
                }
                for file_id, cp in checkpoints.items()
            },
        }
        payload = orjson.dumps(document, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(
            prefix=f".{self.FILE_NAME}.", suffix=".tmp", dir=self.state_dir
        )
        try:
            with os.fdopen(fd, "wb") as temp:
                temp.write(payload)
                temp.flush()
                os.fsync(temp.fileno())
            os.replace(temp_name, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_name)
            raise
        _fsync_dir(self.state_dir)

    def _set_aside(self, reason: str) -> dict[str, FileCheckpoint]:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        aside = self.path.with_name(f"{self.FILE_NAME}.corrupt-{stamp}")
        try:
            os.replace(self.path, aside)
        except OSError as exc:
            logger.warning(
                "checkpoint file %s is unreadable (%s) and could not be set aside (%s);"
                " starting without checkpoints",
                self.path,
                reason,
                exc,
            )
        else:
            logger.warning(
                "checkpoint file %s is unreadable (%s); kept as %s, starting without checkpoints",
                self.path,
                reason,
                aside,
            )
        return {}


def _parse_entry(file_id: object, entry: object) -> FileCheckpoint | None:
    if not isinstance(file_id, str) or not file_id or not isinstance(entry, dict):
        return None
    try:
        path, fingerprint = entry["path"], entry["fingerprint"]
        ints = [entry[key] for key in ("dev", "inode", "fingerprint_len", "offset")]
        updated_at = _parse_time(entry.get("updated_at"))
        sample = entry.get("sample") or {"end": 0, "length": 0, "hash": ""}
        ints.extend(sample[key] for key in ("end", "length"))
        sample_hash = sample["hash"]
    except (KeyError, ValueError, TypeError, OverflowError):
        return None
    if not isinstance(path, str) or not isinstance(fingerprint, str) or not fingerprint:
        return None
    if not isinstance(sample_hash, str):
        return None
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in ints):
        return None
    dev, inode, fingerprint_len, offset, sample_end, sample_len = ints
    if min(dev, inode, offset, sample_len) < 0 or fingerprint_len <= 0:
        return None
    if max(offset, fingerprint_len, sample_end) > _MAX_OFFSET:
        return None
    if not 0 <= updated_at <= _MAX_TIME:  # also false for NaN
        return None
    if sample_len and (not sample_hash or sample_end < sample_len):
        return None
    return FileCheckpoint(
        file_id=file_id,
        path=path,
        dev=dev,
        inode=inode,
        fingerprint=fingerprint,
        fingerprint_len=fingerprint_len,
        offset=offset,
        updated_at=updated_at,
        sample_end=sample_end,
        sample_len=sample_len,
        sample_hash=sample_hash if sample_len else "",
    )


def _parse_time(value: Any) -> float:
    if value is None:
        return 0.0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)  # an int too large for a float raises OverflowError
    if isinstance(value, str):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    raise TypeError(f"not a time: {value!r}")


def _reason(exc: OSError) -> str:
    """The OS's words for an error, without the path the message already names."""
    return exc.strerror or str(exc)


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat()


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable; some filesystems cannot fsync a directory, which is fine."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
