"""Issue 11 item 1: 1,100 files under ``ulimit -n 1024`` (soft and hard): the real shipper keeps
descriptors for its sockets and checkpoint, ships every line of every file (and the lines added
later, long before ``close_inactive_s``), answers /healthz, and reports the shortage once.

Before: it opened files until EMFILE, then could reach neither Kafka nor its own metrics server
(0 of 2,200 events in 60 s, "socket.accept() out of system resource" in a loop). Cost: ~15 s.
"""

from __future__ import annotations

import sys
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import yaml

from shipper.process import spawn
from tests.integration.shipper.conftest import FAST_INPUT
from tests.integration.support import ShipperProcess, read_topic, wait_for

FILES = 1100
LIMIT = 1024
RESERVED = 64  # input.reserved_descriptors' default

_LAUNCH = (
    "import os, resource, sys; "
    "resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2]))); "
    "os.execv(sys.executable, [sys.executable, '-m', 'shipper', *sys.argv[3:]])"
)


@dataclass
class LimitedShipper(ShipperProcess):
    """`shipper run` started under an open file limit (as `ulimit -n` would set it)."""

    soft_limit: int = LIMIT
    hard_limit: int = LIMIT

    def start(self, wait_ready: bool = True) -> None:
        self.config_path.write_text(yaml.safe_dump(self.full_config()))
        limits = [str(self.soft_limit), str(self.hard_limit)]
        self.proc = spawn(
            [
                sys.executable,
                "-c",
                _LAUNCH,
                *limits,
                self.command,
                "--config",
                str(self.config_path),
            ],
            log_file=self.log_path,
            cwd=self.workdir,
            env={"PYTHONUNBUFFERED": "1"},
            own_session=False,
        )
        if wait_ready:
            self.wait_ready()


def _line(file: int, seq: int) -> bytes:
    return orjson.dumps({"message": f"file {file} line {seq}", "seq": seq, "file_no": file}) + b"\n"


def _healthy(shipper: ShipperProcess) -> bool:
    with urllib.request.urlopen(f"{shipper.metrics_url}/healthz", timeout=2) as response:
        return bool(response.status == 200)


def _published(shipper: ShipperProcess) -> float:
    return shipper.metric("logferry_shipper_events_published_total")


async def test_more_files_than_descriptors_ships_everything_and_stays_healthy(
    tmp_path: Path, logs_dir: Path, kafka_bootstrap: str, kafka_topic: str
) -> None:
    paths = [logs_dir / f"svc-{i:04d}.log" for i in range(FILES)]
    for i, path in enumerate(paths):
        path.write_bytes(_line(i, 0))
    config: dict[str, Any] = {
        "input": {"paths": [str(logs_dir / "*.log")], **FAST_INPUT},
        "output": {"url": f"kafka://{kafka_bootstrap}/{kafka_topic}"},
        "service": {"name": "orders"},
        # Longer than the test: the gauges must be current at each scrape, not at the checkpoint
        # timer's ticks (on a quiet machine all is shipped before the first one). The checkpoint
        # is still written with every descriptor in use, when the shipper stops.
        "checkpoint_interval_s": 60,
    }
    shipper = LimitedShipper(tmp_path, config)
    try:
        shipper.start()
        most_waiting = 0.0

        def caught_up(total: int) -> bool:
            nonlocal most_waiting
            assert _healthy(shipper)
            most_waiting = max(most_waiting, shipper.metric("logferry_shipper_files_waiting"))
            return _published(shipper) >= total

        wait_for(lambda: caught_up(FILES), timeout_s=60)
        # Every file grows again: those that gave their descriptor up must get a turn, long
        # before close_inactive_s (300 s by default).
        for i, path in enumerate(paths):
            with path.open("ab") as f:
                f.write(_line(i, 1))
        wait_for(lambda: caught_up(2 * FILES), timeout_s=60)

        limit = shipper.metric("logferry_shipper_open_files_limit")
        assert 0 < limit <= LIMIT - RESERVED
        assert shipper.metric("logferry_shipper_open_files") <= limit
        assert most_waiting > 0  # the shortage was shown while it lasted
        assert _healthy(shipper)
        assert shipper.stop() == 0
    finally:
        shipper.stop()

    records = await read_topic(kafka_bootstrap, kafka_topic, expect=2 * FILES)
    seen = Counter((r.value["app"]["file_no"], r.value["app"]["seq"]) for r in records)
    assert len(records) == 2 * FILES
    assert set(seen) == {(i, seq) for i in range(FILES) for seq in (0, 1)}
    assert max(seen.values()) == 1

    checkpoint = shipper.checkpoint()
    offsets = {entry["path"]: entry["offset"] for entry in checkpoint["files"].values()}
    assert offsets == {str(path): path.stat().st_size for path in paths}

    log = shipper.log_path.read_text()
    assert log.count("descriptor limit reached") == 1, log[-3000:]
    assert "out of system resource" not in log
    assert "Too many open files" not in log
    assert len(log) < 1_000_000
