"""Fixtures for tests that run the real shipper process against the real Kafka."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.integration.support import ShipperProcess

FAST_INPUT = {"scan_interval_s": 0.2, "poll_interval_s": 0.05, "partial_timeout_s": 1.0}
"""Short intervals so tests run quickly; the behaviour is the same as with the defaults."""


@pytest.fixture
def logs_dir(tmp_path: Path) -> Path:
    path = tmp_path / "logs"
    path.mkdir()
    return path


@pytest.fixture
def shipper_factory(
    tmp_path: Path, logs_dir: Path, kafka_bootstrap: str, kafka_topic: str
) -> Iterator[Callable[..., ShipperProcess]]:
    """Builds shipper processes publishing to this test's topic; stops them all afterwards."""
    started: list[ShipperProcess] = []

    def make(paths: list[str] | None = None, **config: Any) -> ShipperProcess:
        base: dict[str, Any] = {
            "input": {"paths": paths or [str(logs_dir / "app.log*")], **FAST_INPUT},
            "output": {"url": f"kafka://{kafka_bootstrap}/{kafka_topic}"},
            "service": {"name": "orders"},
        }
        for key, value in config.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                base[key] = {**base[key], **value}
            else:
                base[key] = value
        process = ShipperProcess(tmp_path, base)
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop()
