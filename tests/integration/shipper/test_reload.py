"""SIGHUP with a changed config: new settings apply to the next lines; no loss, no repeat."""

from __future__ import annotations

import signal
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from tests.integration.support import LogWriter, ShipperProcess, read_topic, wait_for


async def test_sighup_applies_new_settings_without_loss_or_repeat(
    logs_dir: Path,
    shipper_factory: Callable[..., ShipperProcess],
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    writer = LogWriter(logs_dir / "app.log", rate_per_s=3000)
    shipper = shipper_factory()
    shipper.start()
    writer.start()
    time.sleep(1.5)

    shipper.config["service"] = {"name": "orders-v2", "environment": "staging"}
    shipper.write_config()
    shipper.signal(signal.SIGHUP)
    reload_marker = writer.next + 3000  # well after the reload was handled
    time.sleep(2.0)
    total = writer.stop()
    assert total > reload_marker
    wait_for(
        lambda: shipper.metric("logferry_shipper_events_published_total") >= total, timeout_s=60
    )

    records = await read_topic(kafka_bootstrap, kafka_topic, expect=total)
    seen = Counter(int(r.value["app"]["seq"]) for r in records)
    assert set(seen) == set(range(total))
    assert max(seen.values()) == 1
    service_of = {int(r.value["app"]["seq"]): r.value["service"] for r in records}
    assert service_of[0]["name"] == "orders"
    assert service_of[total - 1] == {"name": "orders-v2", "environment": "staging"}
    assert all(service_of[n]["name"] == "orders-v2" for n in range(reload_marker, total))
    assert shipper.proc is not None and shipper.proc.poll() is None  # still running
