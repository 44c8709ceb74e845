"""What an operator sees: /metrics (valid for promtool), /healthz, /readyz, clean SIGTERM exit."""

from __future__ import annotations

import shutil
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import orjson

from tests.integration.support import LogWriter, ShipperProcess, wait_for
from tests.prometheus_text import sample_value


def test_metrics_health_and_sigterm(
    logs_dir: Path, shipper_factory: Callable[..., ShipperProcess]
) -> None:
    writer = LogWriter(logs_dir / "app.log")
    writer.write(1000)
    shipper = shipper_factory()
    shipper.start()
    wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") == 1000)

    base = f"http://127.0.0.1:{shipper.metrics_port}"
    assert urllib.request.urlopen(f"{base}/healthz", timeout=5).status == 200
    assert urllib.request.urlopen(f"{base}/readyz", timeout=5).status == 200
    metrics = shipper.metrics()
    assert shipper.metric("logferry_shipper_lines_read_total") == 1000
    assert (
        sample_value(metrics, "app_log_events_total", {"level": "info", "service": "orders"})
        == 1000
    )
    assert "logferry_shipper_publish_latency_seconds_bucket" in metrics

    promtool = shutil.which("promtool")
    assert promtool, "promtool comes with Debian's prometheus package"
    check = subprocess.run(
        [promtool, "check", "metrics"], input=metrics, capture_output=True, text=True
    )
    assert check.returncode == 0, check.stdout + check.stderr

    assert shipper.stop() == 0
    (entry,) = shipper.checkpoint()["files"].values()
    assert entry["offset"] == (logs_dir / "app.log").stat().st_size


def test_readyz_is_503_while_the_output_is_unreachable(
    logs_dir: Path, shipper_factory: Callable[..., ShipperProcess]
) -> None:
    from tests.integration.support import free_port

    shipper = shipper_factory(output={"url": f"kafka://127.0.0.1:{free_port()}/nowhere"})
    shipper.start()
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{shipper.metrics_port}/readyz", timeout=5)
    except urllib.error.HTTPError as exc:
        assert exc.code == 503
        assert b'"output":false' in exc.read()
    else:
        raise AssertionError("/readyz answered 200 with no output")
    assert shipper.stop() == 0


def test_transform_workers_ship_everything_and_leave_no_process(
    logs_dir: Path, shipper_factory: Callable[..., ShipperProcess]
) -> None:
    writer = LogWriter(logs_dir / "app.log")
    writer.write(5000)
    shipper = shipper_factory(transform_workers=2)
    shipper.start()
    wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") == 5000)
    assert shipper.metric("app_log_events_total", level="info", service="orders") == 5000
    # The first batch always goes to a worker; the main process helps only while both are busy.
    in_workers = shipper.metric("logferry_shipper_lines_transformed_total", process="worker")
    in_main = shipper.metric(
        "logferry_shipper_lines_transformed_total", process="main", default=0.0
    )
    assert in_workers > 0 and in_workers + in_main == 5000
    assert shipper.proc is not None
    workers = shipper.proc.process.children()
    assert len(workers) >= 2

    shipper.kill9()  # even without a clean stop, the workers must not outlive the shipper
    # is_running() holds for a zombie too: gone means gone from the process table.
    wait_for(lambda: not any(worker.is_running() for worker in workers), timeout_s=10)


def test_the_file_output_keeps_the_read_order_with_workers(
    tmp_path: Path, logs_dir: Path, shipper_factory: Callable[..., ShipperProcess]
) -> None:
    """Batches encoded by two workers and in flight together reach the file in read order (they
    were written concurrently, and could land out of order)."""
    lines = 20_000
    LogWriter(logs_dir / "app.log").write(lines)
    out = tmp_path / "out.ndjson"
    shipper = shipper_factory(
        transform_workers=2, input={"batch_max_lines": 250}, output={"url": f"file://{out}"}
    )
    shipper.start()
    wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") == lines)
    assert shipper.stop() == 0
    offsets = [orjson.loads(line)["log"]["offset"] for line in out.read_bytes().splitlines()]
    assert len(offsets) == lines
    assert offsets == sorted(offsets)
