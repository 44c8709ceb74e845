"""Reading Elasticsearch's health into metrics: watermarks as used ratios, blocks, statuses."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client import generate_latest

from shipper.indexer.health import ClusterHealth, NodeDisk, parse_health, watermark_ratio
from shipper.indexer.metrics import IndexerMetrics

GIB = 1 << 30
DEFAULTS = {
    "cluster.routing.allocation.disk.threshold_enabled": "true",
    "cluster.routing.allocation.disk.watermark.low": "85%",
    "cluster.routing.allocation.disk.watermark.high": "90%",
    "cluster.routing.allocation.disk.watermark.flood_stage": "95%",
    "cluster.routing.allocation.disk.watermark.low.max_headroom": "200GB",
    "cluster.routing.allocation.disk.watermark.high.max_headroom": "150GB",
    "cluster.routing.allocation.disk.watermark.flood_stage.max_headroom": "100GB",
    "cluster.routing.allocation.disk.watermark.flood_stage.frozen": "95%",
}


def _stats(**nodes: tuple[int, int]) -> dict[str, Any]:
    return {
        "nodes": {
            f"id-{name}": {
                "name": name,
                "fs": {"total": {"total_in_bytes": total, "available_in_bytes": available}},
            }
            for name, (total, available) in nodes.items()
        }
    }


@pytest.mark.parametrize(
    ("value", "headroom", "total", "ratio"),
    [
        ("85%", None, 100 * GIB, 0.85),
        ("0.9", None, 100 * GIB, 0.9),
        ("90%", "-1", 100 * GIB, 0.9),
        # 10 % of 10 TiB is 1 TiB free; a 150 GiB headroom is enough there.
        ("90%", "150GB", 10240 * GIB, 1 - 150 / 10240),
        ("90%", "150GB", 100 * GIB, 0.9),  # the headroom caps, never raises, the free space
        ("20gb", None, 100 * GIB, 0.8),  # a free size
        ("500gb", None, 100 * GIB, 0.0),
        ("nonsense", None, 100 * GIB, None),
    ],
)
def test_watermark_ratio(value: str, headroom: str | None, total: int, ratio: float | None) -> None:
    assert watermark_ratio(value, headroom, total) == pytest.approx(ratio)


def test_parse_health_per_node_with_explicit_settings_and_blocks() -> None:
    health = parse_health(
        {"status": "yellow", "unassigned_shards": 3},
        {
            "defaults": DEFAULTS,
            # Set without its headroom: Elasticsearch then applies none.
            "persistent": {"cluster.routing.allocation.disk.watermark.high": "50%"},
            "transient": {"cluster.routing.allocation.disk.watermark.flood_stage": "10gb"},
        },
        _stats(big=(10240 * GIB, 2048 * GIB), small=(100 * GIB, 40 * GIB), master=(0, 0)),
        {
            "app-1": {"settings": {"index.blocks.read_only_allow_delete": "true"}},
            "app-2": {"settings": {"index.blocks.write": "false"}},
            "app-3": {"settings": {"index.blocks.read_only": "true"}},
            "app-4": {"settings": {}},
        },
    )
    assert health.status == "yellow"
    assert health.unassigned_shards == 3
    assert health.write_blocked == {"read_only_allow_delete": 1, "read_only": 1, "write": 0}
    assert health.blocked == ("app-1", "app-3")
    assert health.threshold_enabled
    big, small = health.nodes  # the master-only node has no disk to report
    assert big.name == "big" and big.used_ratio == pytest.approx(0.8)
    assert big.watermarks["low"] == pytest.approx(1 - 200 / 10240)
    assert big.watermarks["high"] == pytest.approx(0.5)
    assert big.watermarks["flood_stage"] == pytest.approx(1 - 10 / 10240)
    assert small.used_ratio == pytest.approx(0.6)
    assert small.watermarks == pytest.approx({"low": 0.85, "high": 0.5, "flood_stage": 0.9})


def test_threshold_disabled_is_reported() -> None:
    settings = {
        "defaults": DEFAULTS | {"cluster.routing.allocation.disk.threshold_enabled": "false"}
    }
    health = parse_health({"status": "green"}, settings, {"nodes": {}}, {})
    assert not health.threshold_enabled
    assert health.nodes == ()


def test_observe_health_sets_one_status_and_drops_departed_nodes() -> None:
    metrics = IndexerMetrics()
    first = ClusterHealth(
        "red",
        7,
        (NodeDisk("a", 0.5, {"high": 0.9}), NodeDisk("b", 0.96, {})),
        {"read_only_allow_delete": 2, "read_only": 0, "write": 1},
    )
    metrics.observe_health(first, 1000.0)
    metrics.observe_health(ClusterHealth("green", 0, (NodeDisk("a", 0.4, {"high": 0.9}),)), 1015.0)
    text = generate_latest(metrics.registry).decode()
    assert 'logferry_elasticsearch_cluster_status{status="green"} 1.0' in text
    assert 'logferry_elasticsearch_cluster_status{status="red"} 0.0' in text
    assert 'logferry_elasticsearch_node_disk_used_ratio{node="a"} 0.4' in text
    assert 'node="b"' not in text
    assert 'logferry_elasticsearch_node_disk_watermark_ratio{node="a",watermark="high"} 0.9' in text
    assert "logferry_elasticsearch_unassigned_shards 0.0" in text
    blocked = 'logferry_elasticsearch_write_blocked_indices{block="read_only_allow_delete"} 0.0'
    assert blocked in text
    assert "logferry_elasticsearch_health_last_read_timestamp_seconds 1015.0" in text
