"""Issue 11, item 3: the file output on a full (real, tmpfs) filesystem writes whole lines only,
and no batch twice once space returns. About 5 s."""

from __future__ import annotations

import json
from pathlib import Path

from tests.full_disk import small_filesystem
from tests.integration.support import LogWriter, ShipperProcess, wait_for


def _events(path: Path) -> list[dict[str, object]]:
    """Every line of the output, parsed: a torn line fails the test here."""
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"the output ends in a partial line: {data[-80:]!r}"
    return [json.loads(line) for line in data.splitlines()]


def test_issue11_item3_file_output_on_a_full_disk_writes_whole_lines_and_no_batch_twice(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    writer = LogWriter(log)
    with small_filesystem(tmp_path / "disk") as disk:
        out = disk.root / "out.ndjson"
        shipper = ShipperProcess(
            tmp_path,
            {
                "input": {"paths": [str(log)], "scan_interval_s": 0.2, "poll_interval_s": 0.05},
                "output": {"url": f"file://{out}"},
                "retry_backoff_max_s": 0.3,
            },
        )
        shipper.start()
        try:
            writer.write(20)
            wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") == 20)
            # One page left: the next batch fits in part, the way a real disk fills up.
            disk.fill(leave_bytes=4096)
            writer.write(200)
            wait_for(lambda: shipper.metric("logferry_shipper_events_failed_total") > 0)
            during = _events(out)
            assert 20 <= len(during) < 220

            disk.free()
            wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") == 220)
            assert shipper.stop() == 0
        finally:
            shipper.stop()
        messages = [event["message"] for event in _events(out)]
    assert messages == [f"line {n}" for n in range(220)]  # each once, in order
