"""Helpers for integration tests that run the real `shipper` process against the real Kafka."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition

from loadtest.harness.launch import free_port as free_port  # the one way to pick a port
from shipper.process import Supervised, spawn
from tests.prometheus_text import sample_value


@dataclass
class Record:
    """One Kafka record as the shipper wrote it."""

    key: bytes
    value: dict[str, Any]
    headers: dict[str, bytes]
    partition: int
    offset: int


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout_s: float = 60.0, idle_s: float = 3.0
) -> list[Record]:
    """Every record of *topic*: waits for at least *expect*, then for *idle_s* of quiet (to catch extras)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
        ]
        if not partitions:
            await consumer._client.force_metadata_update()  # topic created after start
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or [])
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Record] = []
        deadline = time.monotonic() + timeout_s
        quiet_since = time.monotonic()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=10_000)
            got = [r for rs in batch.values() for r in rs]
            if got:
                quiet_since = time.monotonic()
                records.extend(
                    Record(r.key, orjson.loads(r.value), dict(r.headers), r.partition, r.offset)
                    for r in got
                )
            elif len(records) >= expect and time.monotonic() - quiet_since >= idle_s:
                break
        return records
    finally:
        await consumer.stop()


class LogWriter:
    """Appends numbered python-json-logger-style lines to a file from a thread, at a steady rate."""

    def __init__(
        self, path: Path, *, rate_per_s: float = 2000, start: int = 0, request_ids: bool = True
    ) -> None:
        self.path = path
        self.request_ids = request_ids
        self.rate = rate_per_s
        self.next = start
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lock = (
            threading.Lock()
        )  # held while writing a burst: rotation code may take it to race precisely

    def line(self, n: int) -> bytes:
        record: dict[str, Any] = {
            # Today: inside the timestamp stage's window around the read time.
            "asctime": datetime.now(UTC).strftime("%Y-%m-%d 08:00:00,123"),
            "levelname": "INFO",
            "name": "app.orders",
            "message": f"line {n}",
            "seq": n,
        }
        if self.request_ids:
            record["request_id"] = f"req-{n % 97}"
        return orjson.dumps(record) + b"\n"

    def write(self, count: int) -> None:
        """Write *count* lines now (appending, reopening the path each burst like a logger after rotation)."""
        with self.lock, self.path.open("ab") as handle:
            handle.write(b"".join(self.line(n) for n in range(self.next, self.next + count)))
            self.next += count

    def start(self) -> None:
        def loop() -> None:
            burst = max(1, int(self.rate / 50))
            while not self._stop.is_set():
                self.write(burst)
                time.sleep(burst / self.rate)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()

    def stop(self) -> int:
        """Stop writing; the number of lines written so far."""
        self._stop.set()
        if self._thread:
            self._thread.join()
        return self.next


@dataclass
class ServiceProcess:
    """A real `shipper <command>` process with its own config file, log and metrics port."""

    workdir: Path
    config: dict[str, Any]
    name: str = "service"
    metrics_port: int = field(default_factory=free_port)
    proc: Supervised | None = None
    command: ClassVar[str]

    @property
    def config_path(self) -> Path:
        return self.workdir / f"{self.name}.yml"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"{self.name}.log"

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics_port}"

    def full_config(self) -> dict[str, Any]:
        """The config file's content: the test's config and this process's metrics port."""
        return {**self.config, "metrics_addr": f"127.0.0.1:{self.metrics_port}"}

    def start(self, wait_ready: bool = True) -> None:
        self.config_path.write_text(yaml.safe_dump(self.full_config()))
        self.proc = spawn(
            [sys.executable, "-m", "shipper", self.command, "--config", str(self.config_path)],
            log_file=self.log_path,
            cwd=self.workdir,
            env={"PYTHONUNBUFFERED": "1"},
            own_session=False,  # a Ctrl-C in pytest's terminal reaches it too
        )
        if wait_ready:
            self.wait_ready()

    def wait_ready(self, timeout_s: float = 30.0) -> None:
        """Wait until /healthz answers; fail with the log's tail if it exits or times out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.proc is not None
            code = self.proc.poll()
            if code is not None:
                raise AssertionError(f"{self.name} exited with {code}:\n{self.tail()}")
            try:
                urllib.request.urlopen(f"{self.metrics_url}/healthz", timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"{self.name} not healthy in {timeout_s}s:\n{self.tail()}")

    def tail(self, chars: int = 4000) -> str:
        return self.log_path.read_text()[-chars:] if self.log_path.exists() else ""

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.is_running()

    def signal(self, sig: signal.Signals) -> None:
        """Send *sig* to the process alone (its workers see their parent go, as in production)."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill9(self) -> None:
        self.signal(signal.SIGKILL)
        self.wait()

    def stop(self, timeout_s: float = 60.0) -> int:
        """SIGTERM and wait (SIGKILL after *timeout_s*); the exit code."""
        if self.proc is None:
            return 0
        self.proc.stop(timeout_s)
        return self.wait()

    def wait(self, timeout_s: float = 60.0) -> int:
        assert self.proc is not None
        code = self.proc.wait(timeout_s)
        assert code is not None  # our child: its exit code is known
        return code

    def metrics(self) -> str:
        with urllib.request.urlopen(f"{self.metrics_url}/metrics", timeout=5) as response:
            body: str = response.read().decode()
            return body

    def metric(self, name: str, /, *, default: float | None = None, **labels: str) -> float:
        """The value of the series *name* whose labels include *labels* (summed if several).

        A series that is not exposed fails the test (see :func:`tests.prometheus_text.sample_value`);
        ``default=0.0`` only where absent legitimately means zero.
        """
        return sample_value(self.metrics(), name, labels, default=default)


@dataclass
class ShipperProcess(ServiceProcess):
    """A real `shipper run` process, with a state dir of its own."""

    name: str = "shipper"
    command: ClassVar[str] = "run"

    @property
    def checkpoint_path(self) -> Path:
        return self.workdir / "state" / "checkpoints.json"

    def full_config(self) -> dict[str, Any]:
        # The test's config may move the state dir or the metrics address on purpose.
        return {
            "state_dir": str(self.workdir / "state"),
            "metrics_addr": f"127.0.0.1:{self.metrics_port}",
            **self.config,
        }

    def write_config(self, config: dict[str, Any] | None = None) -> None:
        """Replace the config (the file is read again on SIGHUP)."""
        if config is not None:
            self.config = config
        self.config_path.write_text(yaml.safe_dump(self.full_config()))

    def rss_bytes(self) -> int:
        assert self.proc is not None
        rss: int = self.proc.process.memory_info().rss
        return rss

    def checkpoint(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.checkpoint_path.read_text())
        return loaded


def wait_for(predicate: Any, timeout_s: float = 30.0, interval_s: float = 0.2) -> None:
    """Poll *predicate* until true; fail after *timeout_s*.

    An AssertionError from *predicate* (a series not exposed yet, e.g. a per-partition gauge
    before the partitions are assigned) means "not yet"; still raised at the deadline, it is
    the failure's reason.
    """
    deadline = time.monotonic() + timeout_s
    last: AssertionError | None = None
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
            last = None
        except AssertionError as exc:
            last = exc
        time.sleep(interval_s)
    if last is not None:
        raise AssertionError(f"condition not met within {timeout_s}s: {last}") from last
    raise AssertionError(f"condition not met within {timeout_s}s")


def run(coro: Any) -> Any:
    """Run a coroutine from a synchronous test."""
    return asyncio.run(coro)
