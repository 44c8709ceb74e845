"""Kafka stopped for 30 s mid-stream: reading pauses, memory stays bounded, nothing is lost."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.support import LogWriter, ShipperProcess, read_topic, wait_for

RSS_BOUND_BYTES = 150 * 1024 * 1024


@pytest.fixture
def restart_kafka_afterwards() -> Iterator[Callable[[str], None]]:
    """`stack down kafka` / `stack up kafka`, making sure Kafka is back whatever happens."""

    def stack(command: str) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "shipper", "stack", command, "kafka"],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr

    yield stack
    stack("up")


async def test_kafka_down_for_30s_loses_nothing_and_memory_stays_bounded(
    logs_dir: Path,
    shipper_factory: Callable[..., ShipperProcess],
    kafka_bootstrap: str,
    kafka_topic: str,
    restart_kafka_afterwards: Callable[[str], None],
) -> None:
    writer = LogWriter(logs_dir / "app.log", rate_per_s=5000)
    shipper = shipper_factory(output={"kafka": {"request_timeout_ms": 5000}})
    shipper.start()
    writer.start()
    wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") > 2000)

    restart_kafka_afterwards("down")
    outage_started = time.monotonic()
    peak_rss = 0
    while time.monotonic() - outage_started < 30:
        peak_rss = max(peak_rss, shipper.rss_bytes())
        time.sleep(0.5)
    lag_during_outage = shipper.metric(
        "logferry_shipper_file_lag_bytes", path=str(logs_dir / "app.log")
    )
    output_up_during_outage = shipper.metric(
        "logferry_shipper_output_up", output=f"kafka://{kafka_bootstrap}/{kafka_topic}"
    )
    restart_kafka_afterwards("up")

    time.sleep(2)
    total = writer.stop()
    wait_for(
        lambda: shipper.metric("logferry_shipper_events_published_total") >= total, timeout_s=120
    )
    records = await read_topic(kafka_bootstrap, kafka_topic, expect=total, timeout_s=120)

    assert {int(r.value["app"]["seq"]) for r in records} == set(range(total))
    assert output_up_during_outage == 0
    # 30 s at 5000 lines/s were written meanwhile: the file held them, not the shipper's memory.
    assert lag_during_outage > 5 * 1024 * 1024
    assert peak_rss < RSS_BOUND_BYTES, f"peak RSS {peak_rss / 2**20:.0f} MiB during the outage"
