"""A transform worker imports what a worker runs, not the rest of the shipper.

Workers are plain child processes (:func:`shipper.transform_worker.main`): each imports afresh
what it runs, and every module it imports is paid once per worker in memory (a multiprocessing
worker held ~58 MB). So a real worker, started the way `shipper run` starts it and handed a
batch, reports its imports (``PYTHONPROFILEIMPORTTIME``, set for the workers alone, writes them
to its stderr).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# Main-process machinery: the CLI, the config and settings layering, the metrics registry and
# status server, the file source, the indexer's and the stack's libraries; multiprocessing (its
# resource tracker is a process of its own, its queues start feeder threads).
_NOT_IN_A_WORKER = (
    "click",
    "rich",
    "elasticsearch",
    "aiohttp",
    "pydantic_settings",
    "prometheus_client",
    "multiprocessing",
    "shipper.cli.group",
    "shipper.commandline",
    "shipper.config",
    "shipper.settings",
    "shipper.metrics",
    "shipper.http",
    "shipper.sources",
    "shipper.runner",
    "shipper.workers",
)

# `shipper run`'s publishing workers, as the runner drives them (the output is a port nobody
# listens on: the batch is encoded, and its publishing retried until the workers are closed).
_SCRIPT = """
import asyncio
import os

from shipper.cli import main
from pipelines.types import RawLine
from shipper.config import load_config
from shipper.workers import PublishingWorkers


async def run() -> None:
    config = load_config(
        overrides={"transform_workers": 1, "output": {"url": "kafka://127.0.0.1:1/t"}},
        environ={},
    )
    workers = PublishingWorkers(config, 1, print, lambda events: None)
    os.environ["PYTHONPROFILEIMPORTTIME"] = "1"  # read at start-up: the worker's, not ours
    try:
        line = RawLine(b'{"message": "hi"}', path="/app.log", file_id="f1", offset=0)
        encoded = await workers.encode([line])
        assert sum(encoded.app.levels.values()) == 1, encoded
    finally:
        await workers.close()
    print("encoded")


asyncio.run(run())
"""


def test_a_worker_imports_only_what_a_worker_needs(tmp_path: Path) -> None:
    script = tmp_path / "shipper_script.py"
    script.write_text(_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "encoded", done.stderr[-3000:]
    modules = set(re.findall(r"^import time:\s+\d+ \|\s+\d+ \|\s+(\S+)$", done.stderr, re.M))
    # It is a worker that has encoded a batch: the transforms and the producer are there.
    assert {"pipelines.pipeline", "shipper.pipeline", "shipper.transform_worker", "aiokafka"} <= (
        modules
    ), sorted(modules)
    loaded = sorted(
        name
        for name in modules
        if any(name == top or name.startswith(top + ".") for top in _NOT_IN_A_WORKER)
    )
    assert loaded == [], loaded
