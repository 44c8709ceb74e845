"""Issue 11, item 9: an Elasticsearch URL with a password (the local cluster ignores it) works,
and the password appears nowhere: not in `shipper index`'s log ("indexer started"), not on its
/metrics, not in `shipper setup`'s output. About 10 s."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import yaml

from tests.integration.indexer.support import IndexerProcess, Names

SECRET = "S3cretPW"


def _with_credentials(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://elastic:{SECRET}@{rest}"


def test_issue11_9_indexer_log_and_metrics_mask_the_password(
    indexer_factory: Callable[..., IndexerProcess], elasticsearch_url: str
) -> None:
    indexer = indexer_factory(elasticsearch={"url": _with_credentials(elasticsearch_url)})
    indexer.start()
    deadline = time.monotonic() + 30
    while "indexer started" not in indexer.tail(100_000) and time.monotonic() < deadline:
        time.sleep(0.2)
    with urllib.request.urlopen(f"{indexer.metrics_url}/metrics", timeout=5) as response:
        metrics = response.read().decode()
    assert indexer.stop() == 0
    log = indexer.tail(1_000_000)
    assert "indexer started" in log
    assert f"elastic:********@{elasticsearch_url.partition('://')[2]}" in log
    assert SECRET not in log
    assert "logferry_indexer" in metrics and SECRET not in metrics


def test_issue11_9_setup_output_masks_the_password(
    tmp_path: Path, elasticsearch_url: str, names: Names
) -> None:
    config = names.config("127.0.0.1:9092", "unused", _with_credentials(elasticsearch_url))
    path = tmp_path / "indexer.yml"
    path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [sys.executable, "-m", "shipper", "setup", "--config", str(path), "--skip-kafka"],
        capture_output=True,
        text=True,
        timeout=120,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Elasticsearch at http://elastic:********@" in result.stderr
    assert SECRET not in result.stdout + result.stderr
