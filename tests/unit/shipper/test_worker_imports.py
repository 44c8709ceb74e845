"""A transform worker imports what a worker runs, not the rest of the shipper.

Workers are spawned: each imports afresh its entry points' modules, and re-runs the parent's
main script (the `shipper` console script imports :mod:`shipper.cli`). Every module imported
there is paid once per worker in memory (a worker held ~65 MB, a third of it modules it never
ran), so a real worker, started the way `shipper run` starts it, lists what it imported.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

# Main-process machinery: the CLI, the config and settings layering, the metrics registry and
# status server, the file source, the indexer's and the stack's libraries.
_NOT_IN_A_WORKER = (
    "click",
    "rich",
    "elasticsearch",
    "aiohttp",
    "pydantic_settings",
    "prometheus_client",
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

# What the console script does (`from shipper.cli import main`), then a publishing worker as
# `shipper run` starts it; the worker answers with its own sys.modules.
_SCRIPT = """
import sys
from shipper.cli import main

if __name__ == "__main__":
    import json
    from shipper.config import load_config
    from shipper.workers import PublishingWorkers

    config = load_config(overrides={"transform_workers": 1}, environ={})
    workers = PublishingWorkers(config, 1, lambda events: None)
    try:
        pool = workers._executor  # runs the worker's initializer first, like a batch would
        modules = pool.submit(eval, "sorted(__import__('sys').modules)").result(timeout=120)
    finally:
        workers.close()
    print(json.dumps(modules))
"""


def test_a_spawned_worker_imports_only_what_a_worker_needs(tmp_path: Path) -> None:
    script = tmp_path / "shipper_script.py"
    script.write_text(_SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=180, check=True
    )
    modules = set(json.loads(done.stdout.strip().splitlines()[-1]))
    # It is a worker that has run its initializer: the transforms and the producer are there.
    assert {"pipelines.pipeline", "shipper.pipeline", "aiokafka"} <= modules
    loaded = sorted(
        name
        for name in modules
        if any(name == top or name.startswith(top + ".") for top in _NOT_IN_A_WORKER)
    )
    assert loaded == [], loaded
