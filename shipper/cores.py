"""How many cores this process may use: its CPU affinity, capped by its cgroup's CPU quota.

A container's CPU limit is a quota (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` over
``cpu.cfs_period_us``), not fewer CPUs: ``os.cpu_count()`` and the affinity still show the
node's. The quota that binds is the smallest on the way from the process's cgroup up to the
root of the hierarchy; a cgroup directory that is not visible (a container without its own cgroup
namespace sees its cgroup at the mount's root) is skipped. A fraction of a core rounds down: an
encoder on half a core would mostly wait for its share.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path, PurePosixPath

__all__ = ["usable_cores"]

_PROC_CGROUP = Path("/proc/self/cgroup")
_CGROUP_ROOT = Path("/sys/fs/cgroup")


def usable_cores(
    proc_cgroup: Path = _PROC_CGROUP,
    cgroup_root: Path = _CGROUP_ROOT,
    affinity: int | None = None,
) -> int:
    """Whole cores this process may keep busy (at least 1)."""
    if affinity is None:
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = affinity or os.cpu_count() or 1
    quota = _quota(proc_cgroup, cgroup_root)
    if quota is not None:
        cores = min(cores, int(quota))
    return max(1, cores)


def _quota(proc_cgroup: Path, root: Path) -> float | None:
    """The smallest CPU quota (in cores) over the process's cgroups, v2 and v1; None: none."""
    try:
        entries = proc_cgroup.read_text().splitlines()
    except OSError:
        return None
    quotas: list[float] = []
    for entry in entries:
        fields = entry.split(":", 2)
        if len(fields) != 3:  # not a cgroup line: nothing to learn from it
            continue
        _, controllers, path = fields
        if controllers == "":  # v2: one unified hierarchy
            quotas += _along(root, path, _quota_v2)
        elif "cpu" in controllers.split(","):  # v1: the cpu controller's own hierarchy
            mount = root / controllers if (root / controllers).is_dir() else root / "cpu"
            quotas += _along(mount, path, _quota_v1)
    return min(quotas, default=None)


def _along(mount: Path, path: str, read: Callable[[Path], float | None]) -> list[float]:
    """The quotas *read* finds in the cgroup at *path* under *mount* and each one above it."""
    found = []
    cgroup = PurePosixPath("/", path)
    for directory in [cgroup, *cgroup.parents]:
        if (quota := read(mount / directory.relative_to("/"))) is not None:
            found.append(quota)
    return found


def _quota_v2(cgroup: Path) -> float | None:
    try:
        limit, period = (cgroup / "cpu.max").read_text().split()
    except (OSError, ValueError):
        return None
    return None if limit == "max" else _cores(limit, period)


def _quota_v1(cgroup: Path) -> float | None:
    try:
        limit = (cgroup / "cpu.cfs_quota_us").read_text().strip()
        period = (cgroup / "cpu.cfs_period_us").read_text().strip()
    except OSError:
        return None
    return None if limit.startswith("-") else _cores(limit, period)


def _cores(limit: str, period: str) -> float | None:
    try:
        return int(limit) / int(period) if int(period) > 0 else None
    except ValueError:
        return None
