"""Issue 11, item 2: the state dir on a full (real, tmpfs) filesystem.

At start: a one-line error and exit 2, not a traceback. While running: failed checkpoint saves are
counted, the checkpoint age grows from the last save that succeeded, /readyz turns not ready after
``checkpoint_unready_after_s``; all of it recovers when space returns. About 10 s.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.full_disk import small_filesystem
from tests.integration.support import LogWriter, ShipperProcess, free_port, wait_for


def _run_once(tmp_path: Path, state_dir: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "app.log").write_text('{"message": "hello"}\n')
    argv = [
        sys.executable, "-m", "shipper", "run", "--path", str(tmp_path / "app.log"),
        "--output", "console", "--state-dir", str(state_dir),
        "--metrics-addr", f"127.0.0.1:{free_port()}",
    ]  # fmt: skip
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: state_dir: "), result.stderr
    for word in words:
        assert word in lines[0], result.stderr


def test_issue11_item2_a_full_state_dir_at_start_is_one_line_and_exit_2(tmp_path: Path) -> None:
    with small_filesystem(tmp_path / "disk") as disk:
        disk.fill()
        result = _run_once(tmp_path, disk.root / "state")
    _one_line_error(result, "lock", "No space left on device")


def test_issue11_item2_a_checkpoint_path_that_is_a_directory_is_one_line_and_exit_2(
    tmp_path: Path,
) -> None:
    (tmp_path / "state" / "checkpoints.json").mkdir(parents=True)
    _one_line_error(_run_once(tmp_path, tmp_path / "state"), "checkpoints.json", "Is a directory")


def _saved_offset(state_dir: Path) -> int:
    """The offset in the saved checkpoint of the one file shipped; -1 before the first save."""
    try:
        document = json.loads((state_dir / "checkpoints.json").read_text())
    except FileNotFoundError:
        return -1
    (entry,) = document["files"].values()
    offset: int = entry["offset"]
    return offset


def _readyz(shipper: ShipperProcess) -> tuple[int, dict[str, bool]]:
    try:
        with urllib.request.urlopen(f"{shipper.metrics_url}/readyz", timeout=5) as response:
            return response.status, json.loads(response.read())["checks"]
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())["checks"]


def test_issue11_item2_failing_checkpoint_saves_are_counted_aged_and_unready(
    tmp_path: Path,
) -> None:
    log = tmp_path / "app.log"
    writer = LogWriter(log)
    with small_filesystem(tmp_path / "disk") as disk:
        shipper = ShipperProcess(
            tmp_path,
            {
                "input": {"paths": [str(log)], "scan_interval_s": 0.2, "poll_interval_s": 0.05},
                "output": {"url": f"file://{tmp_path / 'out.ndjson'}"},
                "state_dir": str(disk.root / "state"),
                "checkpoint_interval_s": 0.2,
                "checkpoint_unready_after_s": 1.5,
            },
        )
        shipper.start()
        try:
            writer.write(10)
            wait_for(lambda: _saved_offset(disk.root / "state") == log.stat().st_size)
            assert shipper.metric("logferry_shipper_checkpoint_save_failures_total") == 0
            assert _readyz(shipper)[0] == 200

            disk.fill()
            writer.write(10)
            wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") == 20)
            wait_for(lambda: shipper.metric("logferry_shipper_checkpoint_save_failures_total") > 0)
            first_age = shipper.metric("logferry_shipper_checkpoint_age_seconds")
            time.sleep(0.6)
            # Not frozen at the last success: it keeps growing while the saves fail.
            assert shipper.metric("logferry_shipper_checkpoint_age_seconds") >= first_age + 0.4
            wait_for(lambda: _readyz(shipper)[0] == 503)
            # Only the checkpoint is at fault: the output goes on.
            checks = _readyz(shipper)[1]
            assert checks["checkpoint"] is False and checks["output"] is True, checks

            disk.free()
            wait_for(lambda: _saved_offset(disk.root / "state") == log.stat().st_size)
            wait_for(lambda: _readyz(shipper)[0] == 200)
            assert shipper.metric("logferry_shipper_checkpoint_age_seconds") < 1.0
            assert shipper.stop() == 0
        finally:
            shipper.stop()
