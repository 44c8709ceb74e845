"""`loadtest demo` (what `make demo` runs after the stack is up): equal counts at every stage,
the expected alert fired, and `loadtest demo down` leaves nothing running."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.support import free_port


def test_demo_ends_with_equal_counts_and_the_alert_and_down_stops_it(
    tmp_path: Path, kafka_bootstrap: str, elasticsearch_url: str
) -> None:
    ports = {
        "--app-port": free_port(),
        "--shipper-port": free_port(),
        "--indexer-port": free_port(),
    }
    options = [
        "--state-dir", str(tmp_path / "stack"), "--kafka", kafka_bootstrap,
        "--elasticsearch", elasticsearch_url,
        *(str(part) for option, port in ports.items() for part in (option, port)),
    ]  # fmt: skip
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "loadtest", "demo", *options],
            capture_output=True,
            text=True,
            timeout=400,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "COLUMNS": "200"},  # the summary table on one line per row
        )
        output = completed.stdout
        assert completed.returncode == 0, output[-4000:] + completed.stderr[-2000:]
        assert "(equal)" in output
        assert "alert AppHighErrorRatio" in output and "fired" in output
        assert "where to look next" in output and "shipper trace" in output
        pid_files = sorted((tmp_path / "stack" / "run").glob("demo-*.pid"))
        assert [p.name for p in pid_files] == [
            "demo-app.pid",
            "demo-indexer.pid",
            "demo-shipper.pid",
        ]
    finally:
        down = subprocess.run(
            [sys.executable, "-m", "loadtest", "demo", *options, "down"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert down.returncode == 0, down.stderr
    assert not list((tmp_path / "stack" / "run").glob("demo-*.pid"))
