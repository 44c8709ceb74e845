"""This process's memory and the limit it runs under, for ``/metrics`` of the shipper and indexer.

``process_resident_memory_bytes`` (and the other ``process_*`` series) come from
prometheus_client's process collector; ``logferry_memory_limit_bytes`` is what the kernel lets
the process have before the OOM killer acts: the tightest memory limit of its cgroup and the
cgroup's ancestors (a container's limit; cgroup v2 ``memory.max`` or v1
``memory.limit_in_bytes``), or the machine's memory where no cgroup sets one. The
``LogferryMemoryNearLimit`` alert divides the one by the other.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from shipper.cgroups import PROC_CGROUP, ROOT, tightest_limit

__all__ = ["PROCESS_REGISTRY", "cgroup_memory_limit", "memory_limit_bytes"]

_UNLIMITED = 1 << 60
"""cgroup v1 writes "no limit" as a page-rounded 2**63 - 1; anything this large is none."""


def _read_limit(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    if not text.isdigit():  # "max" (v2): no limit
        return None
    value = int(text)
    return value if 0 < value < _UNLIMITED else None


def cgroup_memory_limit(proc_cgroup: Path = PROC_CGROUP, cgroup_root: Path = ROOT) -> int | None:
    """The tightest memory limit of this process's cgroup and its ancestors, or None."""
    return tightest_limit(
        "memory",
        lambda cgroup: _read_limit(cgroup / "memory.max"),
        lambda cgroup: _read_limit(cgroup / "memory.limit_in_bytes"),
        proc_cgroup,
        cgroup_root,
    )


def _machine_memory() -> int:
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def memory_limit_bytes() -> int:
    """The memory this process can have: its cgroup's limit, at most the machine's memory."""
    machine = _machine_memory()
    cgroup = cgroup_memory_limit()
    return machine if cgroup is None else min(cgroup, machine)


class _MemoryLimitCollector(Collector):
    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "logferry_memory_limit_bytes",
            "Memory this process may use before the OOM killer acts: its cgroup's limit "
            "(a container's), else the machine's memory.",
            value=memory_limit_bytes(),
        )


PROCESS_REGISTRY = CollectorRegistry()
"""The ``process_*`` series and ``logferry_memory_limit_bytes``: one set per process."""
ProcessCollector(registry=PROCESS_REGISTRY)
PROCESS_REGISTRY.register(_MemoryLimitCollector())
