"""Expanding the globs: which regular files are to be tailed right now.

Symbolic links are not followed unless ``follow_symlinks`` is on: whoever can write in a watched
directory could otherwise replace ``app.log`` with a link to any file the shipper can read, and
have it shipped. A path counts as reached through a link if the file itself is one, or if a
directory below the fixed part of its glob is (``logs/*/app.log`` with ``logs/x`` a link to
``/root``); links in the fixed part (``/var/log`` itself a link) are the operator's own and are
trusted. With ``follow_symlinks`` on, a link counts only if its target is itself matched by the
globs (found without a link, and not excluded): it adds a name to a file already matched, never a
file. Either way the source checks, after opening, that it holds the device and inode found here.
"""

from __future__ import annotations

import glob
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

__all__ = ["Found", "discover", "is_excluded"]

_MAGIC = re.compile(r"[*?[]")


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


def discover(
    patterns: Iterable[str],
    exclude: Iterable[str],
    matched: set[str] | None = None,
    *,
    follow_symlinks: bool = False,
    skipped_links: list[str] | None = None,
) -> dict[tuple[int, int], Found]:
    """The regular files the globs match now, by ``(dev, inode)``; paths absolute and sorted.

    ``matched``, if given, receives each pattern that matched at least one such file.

    Paths reached through a symbolic link are left out (and appended to ``skipped_links``),
    unless ``follow_symlinks`` is on and the link's target is matched by the globs itself: the
    link's path is then one more name of that file. Files that vanish or cannot be stat'ed while
    the globs are expanded are skipped.
    """
    exclude = list(exclude)
    found: dict[tuple[int, int], Found] = {}
    linked: list[tuple[str, str, os.stat_result]] = []
    for pattern in patterns:
        expanded = os.path.expanduser(pattern)
        fixed = os.path.abspath(_fixed_part(expanded))
        real_fixed = os.path.realpath(fixed)
        linked_dirs: dict[str, bool] = {}  # directory -> reached through a link below ``fixed``
        for as_globbed in glob.iglob(expanded, recursive=True):
            path = os.path.abspath(as_globbed)
            if is_excluded(path, as_globbed, exclude):
                continue
            try:
                st = os.lstat(path)
            except OSError:
                continue
            directory = os.path.dirname(path)
            linked_dir = linked_dirs.get(directory)
            if linked_dir is None:
                linked_dirs[directory] = linked_dir = os.path.realpath(directory) != _rebase(
                    directory, fixed, real_fixed
                )
            if linked_dir or stat.S_ISLNK(st.st_mode):
                if not follow_symlinks:
                    if skipped_links is not None:
                        skipped_links.append(path)
                    continue
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    linked.append((pattern, path, st))
                continue
            if stat.S_ISREG(st.st_mode):
                _add(found, path, st)
                if matched is not None:
                    matched.add(pattern)
    for pattern, path, st in linked:
        entry = found.get((st.st_dev, st.st_ino))
        if entry is None:  # the target is not matched by the globs itself
            if skipped_links is not None:
                skipped_links.append(path)
            continue
        if matched is not None:
            matched.add(pattern)
        if path not in entry.paths:
            entry.paths.append(path)
    for entry in found.values():
        entry.paths.sort()
    return found


def _add(found: dict[tuple[int, int], Found], path: str, st: os.stat_result) -> None:
    key = (st.st_dev, st.st_ino)
    entry = found.get(key)
    if entry is None:
        found[key] = entry = Found(st.st_dev, st.st_ino, st.st_size)
    if path not in entry.paths:
        entry.paths.append(path)


def _fixed_part(pattern: str) -> str:
    """The directories a glob names literally, before its first wildcard (``.`` if none)."""
    parts = pattern.split(os.sep)[:-1]  # the last part names files, not a directory
    for index, part in enumerate(parts):
        if _MAGIC.search(part):
            parts = parts[:index]
            break
    if not parts:
        return "."
    return os.sep.join(parts) or os.sep


def _rebase(directory: str, fixed: str, real_fixed: str) -> str:
    """Where ``directory`` (below ``fixed``) is once ``fixed`` is resolved, following no other
    link: equal to ``directory``'s real path exactly when no link lies below ``fixed``."""
    if directory == fixed:
        return real_fixed
    rest = directory[len(fixed) :].lstrip(os.sep)
    return os.path.join(real_fixed, rest)
