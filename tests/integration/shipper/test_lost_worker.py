"""A transform worker that dies takes `shipper run` down with exit 1, at once, and the next start
resumes from the checkpoint: every line in the topic, each with its one event.id. (~10 s.)"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.support import LogWriter, ShipperProcess, read_topic, wait_for


async def test_a_worker_killed_stops_the_shipper_and_a_restart_ships_the_rest(
    logs_dir: Path,
    shipper_factory: Callable[..., ShipperProcess],
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    writer = LogWriter(logs_dir / "app.log")
    writer.write(3000)
    shipper = shipper_factory(transform_workers=2)
    shipper.start()
    wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") == 3000)
    assert shipper.proc is not None
    workers = shipper.proc.process.children()
    assert len(workers) == 2

    workers[0].kill()  # idle: the shipper must not wait for a batch to find out
    assert shipper.wait(timeout_s=20) == 1
    assert "transform worker" in shipper.tail()
    wait_for(lambda: not any(worker.is_running() for worker in workers), timeout_s=10)

    writer.write(2000)
    shipper.start()
    wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") == 2000)
    records = await read_topic(kafka_bootstrap, kafka_topic, expect=5000)
    seqs = sorted(int(record.value["app"]["seq"]) for record in records)
    assert seqs == list(range(5000))
    assert shipper.stop() == 0
