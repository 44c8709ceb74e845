"""Expanding the globs: which regular files are to be tailed right now."""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

__all__ = ["Found", "discover", "is_excluded"]


@dataclass(slots=True)
class Found:
    """One file (one device + inode) matched by the globs, under one or more paths."""

    dev: int
    inode: int
    size: int
    paths: list[str] = field(default_factory=list)


def is_excluded(path: str, as_globbed: str, exclude: Iterable[str]) -> bool:
    """``path`` (absolute) is matched by an exclude glob, by its name or a path form."""
    name = os.path.basename(path)
    return any(
        fnmatchcase(name, pattern) or fnmatchcase(path, pattern) or fnmatchcase(as_globbed, pattern)
        for pattern in exclude
    )


def discover(patterns: Iterable[str], exclude: Iterable[str]) -> dict[tuple[int, int], Found]:
    """The regular files the globs match now, by ``(dev, inode)``; paths absolute and sorted.

    Symlinks are followed (the identity is the target's), so a file reached by two paths is one
    file. Files that vanish or cannot be stat'ed while the globs are expanded are skipped.
    """
    exclude = list(exclude)
    found: dict[tuple[int, int], Found] = {}
    for pattern in patterns:
        for as_globbed in glob.iglob(os.path.expanduser(pattern), recursive=True):
            path = os.path.abspath(as_globbed)
            if is_excluded(path, as_globbed, exclude):
                continue
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):
                continue
            key = (st.st_dev, st.st_ino)
            entry = found.get(key)
            if entry is None:
                found[key] = entry = Found(st.st_dev, st.st_ino, st.st_size)
            if path not in entry.paths:
                entry.paths.append(path)
    for entry in found.values():
        entry.paths.sort()
    return found
