"""Elasticsearch's own health, read from the cluster the indexer writes to, for Prometheus.

Every ``health_interval_s`` the indexer asks the cluster for its status, unassigned shards,
each data node's disk use, the disk watermarks and the indices that carry a write block, and
sets the ``logferry_elasticsearch_*`` gauges (:class:`~shipper.indexer.metrics.IndexerMetrics`).
A read that fails is counted and leaves the gauges as they were, stamped with the time of the
last good read, so an alert can tell stale from healthy.

Disk use is Elasticsearch's own measure (used = total - available), the one its disk-based
shard allocation compares with the watermarks. A watermark is a used ratio (``85%``, ``0.85``)
or a free size (``50gb``); for a ratio, ``max_headroom`` caps the free space it demands on a
large disk. Both kinds become the used ratio at which the watermark trips on that node.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from elasticsearch import AsyncElasticsearch

from shipper.indexer.es import call

__all__ = [
    "BLOCKS",
    "WATERMARKS",
    "ClusterHealth",
    "NodeDisk",
    "parse_health",
    "read_health",
    "watermark_ratio",
]

WATERMARKS: Final = ("low", "high", "flood_stage")
_SETTING: Final = "cluster.routing.allocation.disk."
BLOCKS: Final = ("read_only_allow_delete", "read_only", "write")
"""The index blocks that stop writes: flood stage (or an operator) sets the first; ILM's
readonly and shrink actions set ``write``."""
_UNITS: Final = {"b": 1, "kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30, "tb": 1 << 40, "pb": 1 << 50}
_SIZE_RE: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb|tb|pb)\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class NodeDisk:
    """One data node's disk, and the used ratios at which each watermark trips there."""

    name: str
    used_ratio: float
    watermarks: Mapping[str, float]


@dataclass(frozen=True, slots=True)
class ClusterHealth:
    """What one read of the cluster found."""

    status: str
    unassigned_shards: int
    nodes: tuple[NodeDisk, ...] = ()
    write_blocked: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(BLOCKS, 0))
    """Indices carrying each block of :data:`BLOCKS` (an index may carry several)."""
    threshold_enabled: bool = True
    blocked: tuple[str, ...] = ()
    """The names of the write-blocked indices, for the log (never a label)."""


def _size_bytes(text: str) -> int | None:
    match = _SIZE_RE.match(text)
    if match is None:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def watermark_ratio(value: str, headroom: str | None, total_bytes: int) -> float | None:
    """The used ratio at which a watermark *value* trips on a disk of *total_bytes*; None if unreadable.

    ``"85%"`` / ``"0.85"`` are used ratios, capped by *headroom* (free bytes that suffice, ``-1``
    for none); ``"50gb"`` is free space left.
    """
    text = value.strip()
    if total_bytes <= 0:
        return None
    ratio: float | None = None
    try:
        ratio = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        free = _size_bytes(text)
        return None if free is None else max(0.0, 1 - free / total_bytes)
    room = _size_bytes(headroom) if headroom else None
    if room is not None:
        ratio = max(ratio, 1 - room / total_bytes)
    return ratio


def _settings(answer: Mapping[str, Any]) -> tuple[dict[str, str], set[str]]:
    """The disk allocation settings in force (defaults < persistent < transient) and those set."""
    merged: dict[str, str] = {}
    explicit: set[str] = set()
    for scope in ("defaults", "persistent", "transient"):
        for key, value in (answer.get(scope) or {}).items():
            if key.startswith(_SETTING) and value is not None:
                merged[key[len(_SETTING) :]] = str(value)
                if scope != "defaults":
                    explicit.add(key[len(_SETTING) :])
    return merged, explicit


def _headroom(settings: Mapping[str, str], explicit: set[str], watermark: str) -> str | None:
    # Elasticsearch applies the default headroom only to a watermark left at its default.
    key = f"watermark.{watermark}.max_headroom"
    if key in explicit or f"watermark.{watermark}" not in explicit:
        return settings.get(key)
    return None


def parse_health(
    health: Mapping[str, Any],
    cluster_settings: Mapping[str, Any],
    node_stats: Mapping[str, Any],
    index_settings: Mapping[str, Any],
) -> ClusterHealth:
    """One :class:`ClusterHealth` from the answers of ``GET _cluster/health``,
    ``GET _cluster/settings?include_defaults&flat_settings``, ``GET _nodes/stats/fs`` and
    ``GET _all/_settings/index.blocks.*?flat_settings``."""
    settings, explicit = _settings(cluster_settings)
    nodes = []
    for node in (node_stats.get("nodes") or {}).values():
        total = node.get("fs", {}).get("total", {})
        size, available = total.get("total_in_bytes"), total.get("available_in_bytes")
        if not size or available is None:
            continue  # a node without data paths (master-only, coordinating)
        marks: dict[str, float] = {}
        for watermark in WATERMARKS:
            value = settings.get(f"watermark.{watermark}")
            if value is None:
                continue
            ratio = watermark_ratio(value, _headroom(settings, explicit, watermark), int(size))
            if ratio is not None:
                marks[watermark] = ratio
        nodes.append(NodeDisk(str(node.get("name", "?")), 1 - available / size, marks))
    write_blocked = dict.fromkeys(BLOCKS, 0)
    blocked = []
    for index, body in sorted(index_settings.items()):
        found = [
            b
            for b in BLOCKS
            if str(body.get("settings", {}).get(f"index.blocks.{b}")).lower() == "true"
        ]
        for block in found:
            write_blocked[block] += 1
        if found:
            blocked.append(index)
    return ClusterHealth(
        status=str(health.get("status", "unknown")),
        unassigned_shards=int(health.get("unassigned_shards", 0)),
        nodes=tuple(sorted(nodes, key=lambda n: n.name)),
        write_blocked=write_blocked,
        threshold_enabled=settings.get("threshold_enabled", "true").lower() == "true",
        blocked=tuple(blocked),
    )


async def read_health(es: AsyncElasticsearch, timeout_s: float) -> ClusterHealth:
    """Ask the cluster (four small requests); ElasticsearchError when one fails."""
    client = es.options(request_timeout=timeout_s)
    health = await call("reading the cluster health", client.cluster.health())
    settings = await call(
        "reading the disk watermarks",
        client.cluster.get_settings(include_defaults=True, flat_settings=True),
    )
    stats = await call(
        "reading the nodes' disks",
        client.nodes.stats(metric="fs", filter_path="nodes.*.name,nodes.*.fs.total"),
    )
    blocks = await call(
        "reading the index blocks",
        client.indices.get_settings(
            index="_all", name="index.blocks.*", flat_settings=True, expand_wildcards="all"
        ),
    )
    return parse_health(health.body, settings.body, stats.body, blocks.body)
