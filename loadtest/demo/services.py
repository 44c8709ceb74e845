"""The demo's long-running processes: the app, the shipper and the indexer.

They run detached, with pid files beside the stack's (``.stack/run/demo-*.pid``) and logs in
``.stack/logs/``, so they outlive `loadtest demo` for exploring and `loadtest demo down` (part
of `make down`) stops them.
"""

from __future__ import annotations

import asyncio
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from loadtest.demo.config import DemoConfig
from loadtest.errors import LoadTestError
from loadtest.harness.processes import http_ok
from shipper.errors import PortInUseError
from shipper.process import Supervised, check_port_free, spawn, tail

__all__ = ["DemoProcess", "demo_processes", "start_demo_processes", "stop_demo_processes"]

_HOST = "127.0.0.1"
SERVICE = "shop"
_ROTATE_KEEP = 1000  # every rotated file stays: the closing count reads them all


@dataclass(frozen=True, slots=True)
class DemoProcess:
    """One of the demo's processes: how to start it and how to tell it is ready."""

    name: str
    argv: tuple[str, ...]
    port: int
    ready_path: str
    config: DemoConfig

    @property
    def pid_file(self) -> Path:
        return _pid_file(self.config, self.name)

    @property
    def log_file(self) -> Path:
        return self.config.state_dir / "logs" / f"demo-{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://{_HOST}:{self.port}"


def _pid_file(config: DemoConfig, name: str) -> Path:
    return config.state_dir / "run" / f"demo-{name}.pid"


def demo_processes(config: DemoConfig, run_dir: Path, topic: str) -> list[DemoProcess]:
    """The app, the indexer and the shipper of one demo run (configs written under *run_dir*)."""
    log_file = run_dir / "logs" / "app.log"
    python = sys.executable
    shipper_config = _write_yaml(
        run_dir / "shipper.yml",
        {
            "state_dir": str(run_dir / "shipper-state"),
            "metrics_addr": f"{_HOST}:{config.shipper_port}",
            "service": {"name": SERVICE},
            "input": {"paths": [f"{log_file}*"], "scan_interval_s": 1.0},
            "output": {"url": f"kafka://{config.kafka}/{topic}"},
        },
    )
    indexer_config = _write_yaml(
        run_dir / "indexer.yml",
        {
            "metrics_addr": f"{_HOST}:{config.indexer_port}",
            "kafka": {"url": f"kafka://{config.kafka}/{topic}", "group_id": f"logferry-{topic}"},
            "elasticsearch": {"url": config.elasticsearch},
            # The local stack is one node: a replica would stay unassigned and the cluster
            # yellow, which ElasticsearchNotGreen rightly reports.
            "index": {"number_of_replicas": 0},
        },
    )
    return [
        DemoProcess(
            "app",
            (python, "-m", "loadtest", "app", "--host", _HOST, "--port", str(config.app_port),
             "--log-file", str(log_file), "--service", SERVICE,
             "--rotate-bytes", str(config.app_rotate_bytes), "--rotate-keep", str(_ROTATE_KEEP)),
            config.app_port, "/health", config,
        ),
        DemoProcess(
            "indexer", (python, "-m", "shipper", "index", "--config", str(indexer_config)),
            config.indexer_port, "/readyz", config,
        ),
        DemoProcess(
            "shipper", (python, "-m", "shipper", "run", "--config", str(shipper_config)),
            config.shipper_port, "/readyz", config,
        ),
    ]  # fmt: skip


def _write_yaml(path: Path, data: dict[str, object]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def start_demo_processes(processes: list[DemoProcess], timeout_s: float = 90.0) -> None:
    """Start each one and wait until it is ready, in order (the indexer before the shipper)."""
    for process in processes:
        try:
            check_port_free(_HOST, process.port, f"demo {process.name}", f"{process.name}_port")
        except PortInUseError:
            option = f"--{process.name}-port"
            raise LoadTestError(
                f"demo {process.name}: port {_HOST}:{process.port} is already in use. Fix: stop "
                f"what listens there (ss -ltnp 'sport = :{process.port}'), or pass {option}."
            ) from None
    started: list[tuple[DemoProcess, Supervised]] = []
    try:
        for process in processes:
            running = spawn(
                process.argv,
                log_file=process.log_file,
                signal_group=True,
                pid_file=process.pid_file,
            )
            started.append((process, running))
            deadline = time.monotonic() + timeout_s
            while not await http_ok(process.url + process.ready_path):
                if not running.is_running():
                    raise LoadTestError(
                        f"demo {process.name} exited while starting (log {process.log_file}):\n"
                        f"{tail(process.log_file, 15)}"
                    )
                if time.monotonic() > deadline:
                    raise LoadTestError(f"demo {process.name} not ready after {timeout_s:.0f}s")
                await asyncio.sleep(0.3)
    except BaseException:
        # Half a demo is no demo: what did start is stopped (the last started first).
        for process, running in reversed(started):
            await asyncio.shield(running.stop_async(timeout_s=10))
            process.pid_file.unlink(missing_ok=True)
        raise


def stop_demo_processes(config: DemoConfig) -> list[str]:
    """Stop whichever demo processes run; the names of those stopped."""
    stopped = []
    for name in ("shipper", "indexer", "app"):  # the shipper first: it drains into Kafka
        running = Supervised.from_pid_file(_pid_file(config, name))
        if running is not None:
            running.stop()
            stopped.append(name)
        _pid_file(config, name).unlink(missing_ok=True)
    return stopped
