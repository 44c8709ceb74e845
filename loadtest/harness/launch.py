"""Start the parts of a run that were not given: demo app, shipper, indexer, Prometheus,
Alertmanager. Each gets a config file, a log file and a free port under the run's work dir."""

from __future__ import annotations

import socket
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from loadtest.errors import LoadTestError
from loadtest.harness.processes import ManagedProcess
from loadtest.harness.security import Credentials
from shipper.process import debian_binary

__all__ = [
    "free_port",
    "start_alertmanager",
    "start_app",
    "start_indexer",
    "start_prometheus",
    "start_shipper",
]

_HOST = "127.0.0.1"
APP_LOG_ROTATE_BYTES = 4 * 1024 * 1024
"""Small enough that the app rotates its log during a run, as production apps do."""


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind((_HOST, 0))
        port: int = sock.getsockname()[1]
        return port


async def _start_ready(process: ManagedProcess, ready_url: str, timeout_s: float) -> None:
    """Start *process* and wait until *ready_url* answers; one that does not (or a wait that is
    cancelled) is stopped before the error goes on: a start that fails leaves nothing running."""
    await process.start()
    try:
        await process.wait_ready(ready_url, timeout_s=timeout_s)
    except BaseException:
        await process.stop(timeout_s=10)
        raise


def _write_yaml(path: Path, data: dict[str, Any]) -> Path:
    """Write *data* readable by us alone: with --client-config it holds passwords and keys."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def start_app(work: Path, log_file: Path) -> tuple[ManagedProcess, str]:
    """The demo app on a free port, logging to *log_file*; its base URL."""
    port = free_port()
    process = ManagedProcess(
        "demo app",
        [
            sys.executable, "-m", "loadtest", "app", "--host", _HOST, "--port", str(port),
            "--log-file", str(log_file), "--rotate-bytes", str(APP_LOG_ROTATE_BYTES),
            "--rotate-keep", "5",
        ],
        work / "app.out",
    )  # fmt: skip
    url = f"http://{_HOST}:{port}"
    await _start_ready(process, f"{url}/health", timeout_s=30)
    return process, url


async def start_shipper(
    work: Path,
    log_file: Path,
    *,
    kafka: str,
    topic: str,
    service: str,
    credentials: Credentials | None = None,
) -> tuple[ManagedProcess, str]:
    """A shipper tailing the app's log (and its rotated files); its metrics HOST:PORT."""
    address = f"{_HOST}:{free_port()}"
    config = _write_yaml(
        work / "shipper.yml",
        {
            "state_dir": str(work / "shipper-state"),
            "metrics_addr": address,
            "service": {"name": service},
            "input": {"paths": [f"{log_file}*"], "scan_interval_s": 1.0},
            "output": {
                "url": f"kafka://{kafka}/{topic}",
                "kafka": (credentials or Credentials()).kafka,
            },
        },
    )
    process = ManagedProcess(
        "shipper",
        [sys.executable, "-m", "shipper", "run", "--config", str(config)],
        work / "shipper.out",
    )
    await _start_ready(process, f"http://{address}/readyz", timeout_s=60)
    return process, address


async def start_indexer(
    work: Path,
    *,
    kafka: str,
    topic: str,
    elasticsearch: str,
    credentials: Credentials | None = None,
) -> tuple[ManagedProcess, str]:
    """An indexer with a consumer group of its own for the run's topic; its metrics HOST:PORT."""
    address = f"{_HOST}:{free_port()}"
    config = _write_yaml(
        work / "indexer.yml",
        {
            "metrics_addr": address,
            "lag_interval_s": 1.0,
            "health_interval_s": 2.0,  # the cluster's health as fresh as the 1 s scrapes need
            "kafka": {
                "url": f"kafka://{kafka}/{topic}",
                "group_id": f"logferry-{topic}",
                **(credentials or Credentials()).kafka,
            },
            "elasticsearch": {"url": elasticsearch, **(credentials or Credentials()).elasticsearch},
            # The test cluster is one node: a replica would stay unassigned and the cluster
            # yellow, which ElasticsearchNotGreen rightly reports.
            "index": {"number_of_replicas": 0},
            "retention": {"interval_s": 0},  # a load test must not delete anybody's indices
        },
    )
    process = ManagedProcess(
        "indexer",
        [sys.executable, "-m", "shipper", "index", "--config", str(config)],
        work / "indexer.out",
    )
    await _start_ready(process, f"http://{address}/readyz", timeout_s=90)
    return process, address


def _binary(*names: str) -> str:
    found = debian_binary(*names)
    if found is None:
        raise LoadTestError(
            f"{names[0]} is not installed. Fix: make install (or apt-get install {names[0]})"
        )
    return found


async def start_alertmanager(work: Path, config_text: str) -> tuple[ManagedProcess, str]:
    """A private Alertmanager with *config_text*; its URL."""
    directory = work / "alertmanager"
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "alertmanager.yml"
    config.write_text(config_text)
    port = free_port()
    process = ManagedProcess(
        "alertmanager",
        [
            _binary("prometheus-alertmanager", "alertmanager"), f"--config.file={config}",
            f"--storage.path={directory / 'data'}", f"--web.listen-address={_HOST}:{port}",
            "--cluster.listen-address=",  # one instance: no gossip port
        ],
        work / "alertmanager.out",
    )  # fmt: skip
    url = f"http://{_HOST}:{port}"
    await _start_ready(process, f"{url}/-/ready", timeout_s=30)
    return process, url


async def start_prometheus(
    work: Path,
    rules_text: str,
    *,
    targets: Mapping[str, Sequence[str]],
    alertmanager: str | None,
) -> tuple[ManagedProcess, str]:
    """A private Prometheus: the rules, a 1 s scrape of *targets* (job → HOST:PORTs), alerts
    sent to *alertmanager* (None: evaluated, sent nowhere); its URL."""
    directory = work / "prometheus"
    (directory / "rules.yml").parent.mkdir(parents=True, exist_ok=True)
    (directory / "rules.yml").write_text(rules_text)
    config = _write_yaml(
        directory / "prometheus.yml",
        {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": ["rules.yml"],
            "alerting": {
                "alertmanagers": [
                    {"static_configs": [{"targets": [alertmanager.split("://", 1)[-1]]}]}
                ]
                if alertmanager
                else []
            },
            "scrape_configs": [
                {"job_name": job, "static_configs": [{"targets": list(addresses)}]}
                for job, addresses in targets.items()
            ],
        },
    )
    port = free_port()
    process = ManagedProcess(
        "prometheus",
        [
            _binary("prometheus"), f"--config.file={config}",
            f"--storage.tsdb.path={directory / 'data'}", f"--web.listen-address={_HOST}:{port}",
        ],
        work / "prometheus.out",
    )  # fmt: skip
    url = f"http://{_HOST}:{port}"
    await _start_ready(process, f"{url}/-/ready", timeout_s=30)
    return process, url
