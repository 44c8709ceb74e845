"""A real full disk for tests: a small tmpfs mounted for one test, filled up and freed at will.

Mounting needs root (CI runs as root); elsewhere the tests that need it skip, except on CI
(``CI=true``), where a skipped check would pass unnoticed: there they fail.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["SmallFilesystem", "small_filesystem"]


class SmallFilesystem:
    """A mounted tmpfs of a few hundred KiB; :meth:`fill` takes every free byte, :meth:`free`
    gives them back."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._filler = root / ".filler"

    def fill(self, leave_bytes: int = 0) -> None:
        """Write until the kernel answers ENOSPC; then give back *leave_bytes* (rounded down to
        whole pages, the unit tmpfs counts in)."""
        with self._filler.open("ab", buffering=0) as filler:  # nothing left to flush on close
            try:
                while True:
                    filler.write(b"\0" * 4096)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC, exc
        if leave_bytes:
            size = self._filler.stat().st_size
            os.truncate(self._filler, max(0, size - leave_bytes))

    def free(self) -> None:
        """Give all the space taken by :meth:`fill` back."""
        self._filler.unlink(missing_ok=True)


@contextlib.contextmanager
def small_filesystem(mountpoint: Path, size: str = "256k") -> Iterator[SmallFilesystem]:
    """Mount a tmpfs of *size* at *mountpoint* (created) for the block; unmounted afterwards."""
    mountpoint.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(mountpoint)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        message = f"cannot mount a tmpfs (root needed): {mounted.stderr.strip()}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI must run this check")
        pytest.skip(message)
    try:
        yield SmallFilesystem(mountpoint)
    finally:
        # Lazy: a process of a failed test may still hold a file open there.
        subprocess.run(["umount", "--lazy", str(mountpoint)], check=False)
