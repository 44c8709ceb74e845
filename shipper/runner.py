"""`shipper run`: source -> pipeline -> sink, with bounded buffering, ordered acks and checkpoints.

Flow: the file source emits batches of lines into a bounded queue (a full queue pauses reading,
so the log file is the buffer while the output is slow or down). The publisher transforms a batch
and hands it to the sink; up to `max_in_flight_batches` are in flight. The settler waits for
them *in order* and only then acknowledges their offsets to the source, so the checkpoint never
passes a line the output has not acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipelines.types import RawLine
from shipper.backoff import Backoff
from shipper.checkpoint import CheckpointStore
from shipper.config import ShipperConfig, load_config
from shipper.delivery import deliver
from shipper.errors import ConfigError, RefusedError
from shipper.http import StatusServer
from shipper.metrics import ShipperMetrics
from shipper.pipeline import EncodedBatch, record
from shipper.sinks import OutgoingEvent, Sink, SinkError, SinkRefused, build_sink
from shipper.sources import FileSource
from shipper.startup import prepare_garbage_collector
from shipper.workers import Transformer, build_transformer

__all__ = ["Shipper"]

log = logging.getLogger("logferry.shipper")

_END = object()


class Shipper:
    """One running shipper. `run()` returns the process exit code."""

    def __init__(
        self,
        config: ShipperConfig,
        *,
        config_path: Path | None = None,
        overrides: Mapping[str, Any] | None = None,
        metrics: ShipperMetrics | None = None,
    ) -> None:
        self.config = config
        self._config_path = config_path
        self._overrides = dict(overrides or {})
        self.metrics = metrics or ShipperMetrics()
        self._store = CheckpointStore(config.state_dir)
        self._store.lock()
        try:
            checkpoints = self._store.load()
        except OSError as exc:  # a directory in its place, no permission, an I/O error
            self._store.unlock()
            raise ConfigError(
                f"state_dir: cannot read the checkpoint {self._store.path}: {exc.strerror or exc}"
            ) from None
        self.source = FileSource(config.input, checkpoints)
        self._sink: Sink = build_sink(config.output.url, config.output.kafka)
        self._output_ok = True  # the last publish attempt (here or in a worker) succeeded
        self._worker_lost: Exception | None = None
        """Set when a transform worker exited under us: we stop, exit 1, resume on restart."""
        self._transformer: Transformer = build_transformer(
            config, self._lost_worker, self._publish_failed
        )
        self._queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=config.queue_batches)
        self._in_flight: asyncio.Queue[Any] = asyncio.Queue()
        self._slots = asyncio.Semaphore(config.max_in_flight_batches)
        self._deliveries: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._refused: SinkRefused | None = None
        """Set when the output refused us at connect time (credentials, TLS trust): we stop."""
        self._pending_config: ShipperConfig | None = None
        self._last_saved: dict[str, Any] = {}
        self._saved_at = time.monotonic()
        self._save_failing_since: float | None = None  # since the first failure after a success
        self._resets_counted = 0  # of the source's checkpoint resets, in the metric
        self._server = StatusServer(
            config.metrics_addr, self.metrics.registry, self._readiness, self._update_gauges
        )

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> int:
        """Ship until SIGTERM/SIGINT, then drain, checkpoint and return 0."""
        prepare_garbage_collector()
        await self._server.start()
        self._install_signal_handlers()
        log.info(
            "shipper started",
            extra={
                "paths": self.config.input.paths,
                "output": self._sink.name,
                "metrics": self.config.metrics_addr,
                "transform_workers": self.config.transform_workers,
            },
        )
        reader = asyncio.create_task(self._read(), name="reader")
        publisher = asyncio.create_task(self._publish(), name="publisher")
        settler = asyncio.create_task(self._settle(), name="settler")
        checkpointer = asyncio.create_task(self._checkpoint_loop(), name="checkpointer")
        connector = asyncio.create_task(self._connect(), name="connector")
        stop_requested = asyncio.create_task(self._stopping.wait())
        done, _ = await asyncio.wait(
            {stop_requested, reader, publisher, settler, checkpointer},
            return_when=asyncio.FIRST_COMPLETED,
        )
        crashed = [task for task in done if task is not stop_requested and task.exception()]
        for task in crashed:
            log.error("%s failed", task.get_name(), exc_info=task.exception())
        self._stopping.set()

        if self._refused is None:
            log.info(
                "stopping: draining in-flight events",
                extra={"timeout_s": self.config.drain_timeout_s},
            )
        self.source.stop()
        try:
            if crashed or self._refused is not None or self._worker_lost is not None:
                # nothing to drain through a broken stage, a refusing output or a lost worker
                raise TimeoutError
            async with asyncio.timeout(self.config.drain_timeout_s):
                await reader
                await self._queue.put(_END)
                await publisher
                await settler
        except TimeoutError:
            if self._refused is None and self._worker_lost is None:
                log.warning("drain timed out: unacknowledged lines are re-read on the next start")
        tasks = (
            reader,
            publisher,
            settler,
            checkpointer,
            connector,
            stop_requested,
            *self._deliveries,
        )
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._save_checkpoint(force=True)
        await self._sink.close()
        await self._transformer.close()
        await self._server.close()
        self._store.unlock()
        log.info("shipper stopped", extra={"checkpoint": str(self._store.path)})
        if self._refused is not None:
            raise RefusedError(str(self._refused))
        return 1 if crashed or self._worker_lost is not None else 0

    def request_stop(self) -> None:
        """Begin a graceful stop (what SIGTERM does)."""
        if self._stopping.is_set():
            log.warning("second stop request: exiting without draining")
            self._save_checkpoint(force=True)
            raise SystemExit(1)
        self._stopping.set()

    def request_reload(self) -> None:
        """Re-read the configuration (what SIGHUP does); a bad one is reported and ignored."""
        try:
            new = load_config(self._config_path, self._overrides)
        except Exception as exc:  # any failure keeps the running config
            log.error("reload failed, keeping the running configuration", extra={"error": str(exc)})
            return
        for fixed in ("state_dir", "metrics_addr"):
            if getattr(new, fixed) != getattr(self.config, fixed):
                log.warning("reload: %s changes only on restart", fixed)
        self._pending_config = new
        self.source.reconfigure(new.input)
        log.info("reload: new configuration accepted")

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, self.request_stop)
            loop.add_signal_handler(signal.SIGINT, self.request_stop)
            loop.add_signal_handler(signal.SIGHUP, self.request_reload)

    # -- the three stages ------------------------------------------------------------------

    async def _read(self) -> None:
        async def emit(batch: list[RawLine]) -> None:
            self.metrics.lines_read.inc(len(batch))
            self.metrics.bytes_read.inc(sum(len(line.data) for line in batch))
            await self._queue.put(batch)
            self.metrics.queue_batches.set(self._queue.qsize())

        await self.source.run(emit)

    async def _publish(self) -> None:
        """Encode batches (up to the transformer's parallelism at once), deliver them in order."""
        encoding: deque[tuple[asyncio.Task[EncodedBatch], dict[str, int]]] = deque()
        while True:
            full = len(encoding) >= self._transformer.parallelism
            if encoding and (full or self._queue.empty()):
                await self._dispatch(*encoding.popleft())
                continue
            batch = await self._queue.get()
            self.metrics.queue_batches.set(self._queue.qsize())
            if batch is _END:
                while encoding:
                    await self._dispatch(*encoding.popleft())
                await self._in_flight.put(_END)
                return
            if self._pending_config is not None:
                while encoding:  # batches read under the old settings finish under them
                    await self._dispatch(*encoding.popleft())
                await self._apply_config(self._pending_config)
            task = asyncio.create_task(self._transformer.encode(batch))
            encoding.append((task, _last_offsets(batch)))

    async def _dispatch(self, encoding: asyncio.Task[EncodedBatch], acks: dict[str, int]) -> None:
        """Hand an encoded batch to the sink, or wait for the worker publishing it (either way
        within a free in-flight slot); the settler takes the deliveries in order."""
        encoded = await encoding
        record(encoded, self.metrics)
        await self._slots.acquire()
        if encoded.delivery is not None:  # a worker publishes it
            delivery = asyncio.create_task(self._delivered_by_worker(encoded.delivery))
        else:
            delivery = asyncio.create_task(self._deliver(encoded.events))
        self._deliveries.add(delivery)
        delivery.add_done_callback(self._delivered)
        await self._in_flight.put((delivery, acks))

    def _delivered(self, delivery: asyncio.Task[None]) -> None:
        self._deliveries.discard(delivery)
        self._slots.release()

    async def _settle(self) -> None:
        while True:
            item = await self._in_flight.get()
            if item is _END:
                return
            delivery, acks = item
            await delivery
            self.source.acknowledge(acks)

    async def _deliver(self, events: list[OutgoingEvent]) -> None:
        """Publish until acknowledged (:func:`shipper.delivery.deliver`)."""
        seconds = await deliver(
            self._sink, events, self.config.retry_backoff_max_s, self._publish_failed
        )
        self._published(len(events), seconds)

    async def _delivered_by_worker(self, delivery: asyncio.Future[tuple[int, float]]) -> None:
        self._published(*await delivery)

    def _published(self, events: int, seconds: float) -> None:
        self.metrics.publish_latency.observe(seconds)
        self.metrics.events_published.inc(events)
        self.metrics.output_up.labels(self._sink.name).set(1)
        self._output_ok = True

    def _lost_worker(self, error: Exception) -> None:
        log.error("stopping: %s", error)
        self._worker_lost = error
        self._stopping.set()

    def _publish_failed(self, events: int) -> None:
        self.metrics.events_failed.inc(events)
        self.metrics.output_up.labels(self._sink.name).set(0)
        self._output_ok = False

    async def _apply_config(self, new: ShipperConfig) -> None:
        """Swap pipeline and output between batches, once the batches in flight are acknowledged
        (workers that publish must not be stopped with a batch of theirs unacknowledged)."""
        self._pending_config = None
        await asyncio.gather(*self._deliveries)
        if (new.output.url, new.output.kafka) != (self.config.output.url, self.config.output.kafka):
            await self._sink.close()
            self._sink = build_sink(new.output.url, new.output.kafka)
            log.info("reload: output is now %s", self._sink.name)
        self.config = new
        await self._transformer.close()
        self._transformer = build_transformer(new, self._lost_worker, self._publish_failed)

    async def _connect(self) -> None:
        """Connect the output early (so /readyz tells the truth before the first line); retry."""
        backoff = Backoff(0.2, self.config.retry_backoff_max_s)
        while not self._sink.healthy:
            try:
                await self._sink.start()
            except SinkRefused as exc:  # a retry cannot mend it: stop, and say why in one line
                self.metrics.output_up.labels(self._sink.name).set(0)
                self._refused = exc
                self._stopping.set()
                return
            except SinkError as exc:
                self.metrics.output_up.labels(self._sink.name).set(0)
                log.warning("output not reachable yet", extra={"error": str(exc)})
                await asyncio.sleep(backoff.next())
        self.metrics.output_up.labels(self._sink.name).set(1)

    # -- checkpoints and gauges ------------------------------------------------------------

    async def _checkpoint_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.checkpoint_interval_s)
            self._save_checkpoint()

    def _save_checkpoint(self, *, force: bool = False) -> None:
        current = self.source.checkpoints()
        if force or current != self._last_saved:
            try:
                self._store.save(current)
            except OSError as exc:
                self.metrics.checkpoint_failures.inc()
                if self._save_failing_since is None:
                    self._save_failing_since = time.monotonic()
                log.error("cannot write the checkpoint", extra={"error": str(exc)})
            else:
                if self._save_failing_since is not None:
                    log.info("checkpoint written again")
                self._save_failing_since = None
                self._last_saved = current
                self._saved_at = time.monotonic()
        # From the last save that succeeded: a failing one must not look fresh.
        self.metrics.checkpoint_age.set(time.monotonic() - self._saved_at)

    def _update_gauges(self) -> None:
        stats = self.source.stats()
        self.metrics.open_files.set(stats.open_files)
        self.metrics.checkpoint_resets.inc(stats.checkpoint_resets_total - self._resets_counted)
        self._resets_counted = stats.checkpoint_resets_total
        self.metrics.open_files_limit.set(stats.open_files_limit)
        self.metrics.files_waiting.set(stats.files_waiting)
        self.metrics.globs_unmatched.set(len(self.source.unmatched_globs))
        lag_by_path: dict[str, int] = {}
        for followed in stats.files:  # a rotated file and its successor may share a path
            lag_by_path[followed.path] = lag_by_path.get(followed.path, 0) + followed.lag_bytes
        self.metrics.file_lag.clear()
        for path, lag in lag_by_path.items():
            self.metrics.file_lag.labels(path).set(lag)

    def _readiness(self) -> dict[str, bool]:
        output = self._sink.healthy and self._output_ok
        failing = self._save_failing_since
        checkpoint = (
            failing is None or time.monotonic() - failing < self.config.checkpoint_unready_after_s
        )
        return {
            "output": output,
            "input": not (self.source.unmatched_globs and self.config.input.require_match),
            "checkpoint": checkpoint,
            "running": not self._stopping.is_set(),
        }


def _last_offsets(batch: list[RawLine]) -> dict[str, int]:
    """Per file, the end offset of its last line in *batch* (lines of a file come in order)."""
    return {line.file_id: line.end_offset for line in batch}
