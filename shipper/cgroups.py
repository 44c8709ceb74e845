"""The tightest limit a controller sets on this process: its cgroup's, or an ancestor's.

A limit set on a parent binds its children, so a value is looked for in the process's cgroup
and each one above it, in the cgroup v2 unified hierarchy and in the v1 hierarchy of the
controller; the smallest found wins. Inside a container the v1 hierarchy is often mounted at the
container's own cgroup: its path from ``/proc/self/cgroup`` then does not exist under the mount,
and the mount's root (the last ancestor looked at) holds the limit. Used for the memory limit
(:mod:`shipper.memory`) and the CPU quota (:mod:`shipper.cores`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath
from typing import TypeVar

__all__ = ["PROC_CGROUP", "ROOT", "tightest_limit"]

PROC_CGROUP = Path("/proc/self/cgroup")
ROOT = Path("/sys/fs/cgroup")

Limit = TypeVar("Limit", int, float)


def tightest_limit(
    controller: str,
    read_v2: Callable[[Path], Limit | None],
    read_v1: Callable[[Path], Limit | None],
    proc_cgroup: Path = PROC_CGROUP,
    root: Path = ROOT,
) -> Limit | None:
    """The smallest limit the readers find (each given a cgroup's directory), or None."""
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    limits: list[Limit] = []
    for line in lines:
        fields = line.split(":", 2)
        if len(fields) != 3:  # not a cgroup line: nothing to learn from it
            continue
        _, controllers, cgroup = fields
        if controllers == "":  # v2, the unified hierarchy
            directories, read = _ancestors(root, cgroup), read_v2
        elif controller in controllers.split(","):  # v1: the controller's own hierarchy
            mount = root / controllers
            directories, read = (
                _ancestors(mount if mount.is_dir() else root / controller, cgroup),
                read_v1,
            )
        else:
            continue
        limits += [limit for d in directories if (limit := read(d)) is not None]
    return min(limits, default=None)


def _ancestors(mount: Path, cgroup: str) -> Iterator[Path]:
    """*mount*/*cgroup* and each parent up to *mount*."""
    path = PurePosixPath(cgroup)
    while True:
        yield mount / str(path).lstrip("/")
        if path == path.parent:
            return
        path = path.parent
