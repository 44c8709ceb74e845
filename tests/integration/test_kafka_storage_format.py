"""`shipper stack up` formats a broker's storage with the real Kafka tool: a cluster id that
begins with "-" (one URL-safe base64 UUID in 64 does) is an id, not an option."""

from __future__ import annotations

from pathlib import Path

from shipper.stack import StackSettings
from shipper.stack.services import Kafka

DASHED_ID = "-NFPM8dUTSul_bA0hVFN4g"


def test_a_cluster_id_beginning_with_a_dash_formats_the_storage(tmp_path: Path) -> None:
    settings = StackSettings(state_dir=tmp_path, kafka_port=39092, kafka_controller_port=39093)
    (tmp_path / "kafka-cluster-id").write_text(DASHED_ID)  # what an earlier `up` wrote
    broker = Kafka(settings)
    argv, _ = broker.prepare()  # runs kafka.tools.StorageTool format
    meta = (broker.dir / "data" / "meta.properties").read_text()
    assert f"cluster.id={DASHED_ID}" in meta.splitlines()
    assert argv[-2:] == ["kafka.Kafka", str(broker.dir / "server.properties")]
