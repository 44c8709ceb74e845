"""Issue 11, item 8: a checkpoint that no longer fits its file (here: the file was truncated
while the shipper was down) is read again from the start, and that is warned and counted in
logferry_shipper_checkpoint_resets_total. About 5 s."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.support import LogWriter, ShipperProcess, wait_for


def test_issue11_item8_a_reset_checkpoint_is_warned_and_counted(tmp_path: Path) -> None:
    log, out = tmp_path / "app.log", tmp_path / "out.ndjson"
    config = {
        "input": {"paths": [str(log)], "scan_interval_s": 0.2, "poll_interval_s": 0.05},
        "output": {"url": f"file://{out}"},
    }
    LogWriter(log).write(20)
    first = ShipperProcess(tmp_path, config)
    first.start()
    wait_for(lambda: first.metric("logferry_shipper_events_published_total") == 20)
    assert first.metric("logferry_shipper_checkpoint_resets_total") == 0
    assert first.stop() == 0

    log.write_bytes(b"")  # truncated while down, then a few lines: shorter than the checkpoint
    LogWriter(log).write(5)
    second = ShipperProcess(tmp_path, config)
    second.start()
    try:
        wait_for(lambda: second.metric("logferry_shipper_events_published_total") == 5)
        wait_for(lambda: second.metric("logferry_shipper_checkpoint_resets_total") == 1)
    finally:
        assert second.stop() == 0
    warnings = [
        json.loads(line)
        for line in second.log_path.read_text().splitlines()
        if '"WARNING"' in line and "does not match the file there now" in line
    ]
    assert len(warnings) == 1, second.tail()
