"""How many cores this process may use: its CPU affinity, capped by its cgroup's CPU quota.

A container's CPU limit is a quota (cgroup v2 ``cpu.max``, v1 ``cpu.cfs_quota_us`` over
``cpu.cfs_period_us``), not fewer CPUs: ``os.cpu_count()`` and the affinity still show the
node's. The quota that binds is the smallest on the way from the process's cgroup up to the
root of the hierarchy (:mod:`shipper.cgroups`). A fraction of a core rounds down: an encoder on
half a core would mostly wait for its share.
"""

from __future__ import annotations

import os
from pathlib import Path

from shipper.cgroups import PROC_CGROUP, ROOT, tightest_limit

__all__ = ["usable_cores"]


def usable_cores(
    proc_cgroup: Path = PROC_CGROUP,
    cgroup_root: Path = ROOT,
    affinity: int | None = None,
) -> int:
    """Whole cores this process may keep busy (at least 1)."""
    if affinity is None:
        affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    cores = affinity or os.cpu_count() or 1
    quota = tightest_limit("cpu", _quota_v2, _quota_v1, proc_cgroup, cgroup_root)
    if quota is not None:
        cores = min(cores, int(quota))
    return max(1, cores)


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
