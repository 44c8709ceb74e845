"""`shipper index`: Kafka -> bulk -> Elasticsearch, committing only what is settled.

Flow. The consume loop polls the group consumer, turns each record into one document
(:class:`~shipper.indexer.documents.Decoder`), notes its offset in the
:class:`~shipper.indexer.settle.OffsetTracker` and adds it to the
:class:`~shipper.indexer.batch.BatchBuilder`. Full (or old enough) batches queue for a bulk
slot; up to ``bulk.max_in_flight`` are written at once (:class:`~shipper.indexer.bulk.BulkWriter`,
which returns only when every document is settled). When every slot is busy and a batch is
waiting — Elasticsearch slow or down — the partitions are *paused*: polling goes on (so the
group keeps the member) but returns nothing, and memory stays bounded. Settled offsets are
committed by a committer task, at most every ``commit_interval_s``.

Rebalance: before partitions are taken away, the buffered batch is sent, in-flight bulks get
``rebalance_timeout_s`` to settle, and what is settled is committed; whatever is left is
re-read by the new owner and answered 409 (already there) — never lost, never a second
document. SIGTERM does the same with ``drain_timeout_s``, then leaves the group and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections import deque

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError, KafkaError

from shipper.backoff import Backoff
from shipper.errors import ElasticsearchError
from shipper.http import StatusServer
from shipper.indexer.ahead import create_ahead, seconds_to_window
from shipper.indexer.batch import Batch, BatchBuilder
from shipper.indexer.bulk import BulkWriter
from shipper.indexer.config import IndexerConfig
from shipper.indexer.consumer import RebalanceHandler, build_consumer, kafka_reachable
from shipper.indexer.deadletter import DeadLetters
from shipper.indexer.documents import DayWindow, Decoder, Document, KafkaRecord
from shipper.indexer.es import build_client, describe_error, detect_features
from shipper.indexer.health import read_health
from shipper.indexer.metrics import IndexerMetrics
from shipper.indexer.retention import sweep, utc_today
from shipper.indexer.settle import OffsetTracker
from shipper.indexer.setup import install_templates
from shipper.startup import prepare_garbage_collector

__all__ = ["Indexer"]

log = logging.getLogger("logferry.indexer")

_POLL_MAX_S = 0.2
_CREATE_AHEAD_EVERY_S = 300.0


class Indexer:
    """One running indexer (one consumer-group member). `run()` returns the exit code."""

    def __init__(self, config: IndexerConfig, metrics: IndexerMetrics | None = None) -> None:
        self.config = config
        self.metrics = metrics or IndexerMetrics()
        self._topic = config.kafka.topic
        self._es = build_client(config.elasticsearch)
        days = DayWindow(
            config.index.timestamp_max_age_days or config.retention.days,
            config.index.timestamp_max_ahead_days,
        )
        self._deadletters = DeadLetters(config.index.deadletter_router(), days=days)
        self._decoder = Decoder(config.index.router(), self._deadletters, days=days)
        bulk = config.bulk
        self._builder = BatchBuilder(bulk.max_documents, bulk.max_bytes, bulk.max_wait_ms / 1000)
        self._writer = BulkWriter(
            self._es,
            self._deadletters,
            self.metrics,
            lambda: Backoff(bulk.retry_backoff_initial_s, bulk.retry_backoff_max_s),
        )
        self._tracker = OffsetTracker()
        self._ready: deque[Batch] = deque()
        self._in_flight: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()
        self._none_waiting = asyncio.Event()  # no batch waits for a bulk slot: see _consume
        self._none_waiting.set()
        self._commit_wanted = asyncio.Event()
        self._commit_lock = asyncio.Lock()
        self._stopping = asyncio.Event()
        self._paused = False
        self._crashed: BaseException | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._committed: dict[int, int] = {}
        # Ours from assignment to revocation. aiokafka's assignment() still names revoked
        # partitions while the group re-forms, which can take seconds: see _measure_lag.
        self._owned: set[int] = set()
        self._rebalances = 0  # bumped at each revocation and assignment: see _measure_lag
        self._ready_checks = {"elasticsearch": False, "kafka": False, "templates": False}
        self._server = StatusServer(config.metrics_addr, self.metrics.registry, self._readiness)

    # -- lifecycle -------------------------------------------------------------------------

    async def run(self) -> int:
        """Index until SIGTERM/SIGINT, then drain, commit and return 0 (1 after a crash)."""
        await self._server.start()
        self._install_signal_handlers()
        log.info(
            "indexer started",
            extra={
                "kafka": self.config.kafka.url,
                "group": self.config.kafka.group_id,
                "elasticsearch": self.config.elasticsearch.url,
                "metrics": self.config.metrics_addr,
            },
        )
        background: list[asyncio.Task[None]] = [
            asyncio.create_task(self._health_loop(), name="health"),
        ]
        if self.config.health_interval_s > 0:
            background.append(
                asyncio.create_task(self._cluster_health_loop(), name="cluster-health")
            )
        crashed_tasks: list[asyncio.Task[None]] = []
        try:
            await self._prepare_elasticsearch()
            consumer = await self._start_consumer()
            if consumer is None:  # stopped before Kafka answered
                return 0
            background += [
                asyncio.create_task(self._commit_loop(), name="committer"),
                asyncio.create_task(self._lag_loop(), name="lag"),
            ]
            if self.config.retention.interval_s > 0:
                background.append(asyncio.create_task(self._retention_loop(), name="retention"))
            if self.config.index.create_ahead_minutes > 0:
                background.append(
                    asyncio.create_task(self._create_ahead_loop(), name="create-ahead")
                )
            prepare_garbage_collector()
            consume = asyncio.create_task(self._consume(consumer), name="consume")
            stop = asyncio.create_task(self._stopping.wait(), name="stop")
            await asyncio.wait({consume, stop, *background}, return_when=asyncio.FIRST_COMPLETED)
            crashed_tasks = [t for t in background if t.done() and t.exception() is not None]
            self._stopping.set()
            await self._drain(consume)
            stop.cancel()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)
            await self._close()
        crashed = self._crashed or next((t.exception() for t in crashed_tasks), None)
        if crashed is not None:
            log.error("indexer failed", exc_info=crashed)
            return 1
        log.info("indexer stopped")
        return 0

    def request_stop(self) -> None:
        """Begin a graceful stop (what SIGTERM does); a second request exits at once."""
        if self._stopping.is_set():
            log.warning("second stop request: exiting without draining")
            raise SystemExit(1)
        log.info(
            "stopping: finishing in-flight bulks", extra={"timeout_s": self.config.drain_timeout_s}
        )
        self._stopping.set()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGTERM, self.request_stop)
            loop.add_signal_handler(signal.SIGINT, self.request_stop)

    async def _prepare_elasticsearch(self) -> None:
        """Install the templates (retrying while Elasticsearch is unreachable) before any write."""
        if not self.config.index.setup_on_start:
            self._ready_checks["templates"] = True
            return
        backoff = Backoff(0.5, self.config.bulk.retry_backoff_max_s)
        while not self._stopping.is_set():
            try:
                features = await detect_features(self._es)
                steps = await install_templates(self._es, self.config, features)
            except ElasticsearchError as exc:
                self.metrics.elasticsearch_up.set(0)
                log.warning("cannot install the index templates yet", extra={"error": str(exc)})
                await self._sleep_unless_stopping(backoff.next())
                continue
            for step in steps:
                if step.changed:
                    log.info("setup: %s %s", step.what, step.status)
            self._ready_checks["templates"] = True
            return

    async def _start_consumer(self) -> AIOKafkaConsumer | None:
        backoff = Backoff(0.5, 10.0)
        while not self._stopping.is_set():
            consumer = build_consumer(
                self.config.kafka, RebalanceHandler(self._on_revoked, self._on_assigned)
            )
            try:
                await consumer.start()
            except (KafkaError, OSError) as exc:
                self._kafka_up(False)
                log.warning("Kafka not reachable yet", extra={"error": repr(exc)})
                with contextlib.suppress(Exception):
                    await consumer.stop()
                await self._sleep_unless_stopping(backoff.next())
                continue
            self._consumer = consumer
            self._kafka_up(True)
            return consumer
        return None

    async def _drain(self, consume: asyncio.Task[None]) -> None:
        """Stop consuming, send what is buffered, wait for the bulks (bounded), commit."""
        with contextlib.suppress(asyncio.CancelledError):
            await consume
        if consume.done() and not consume.cancelled() and consume.exception():
            self._crashed = consume.exception()
        self._flush()
        if self._crashed is None:
            try:
                async with asyncio.timeout(self.config.drain_timeout_s):
                    await self._wait_idle()
            except TimeoutError:
                log.warning(
                    "drain timed out: records not yet settled are read again on the next start",
                    extra={"pending_records": self._tracker.pending()},
                )
        await self._commit()

    async def _close(self) -> None:
        for task in list(self._in_flight):
            task.cancel()
        await asyncio.gather(*self._in_flight, return_exceptions=True)
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                await self._consumer.stop()  # leaves the group: the others take over at once
        await self._es.close()
        await self._server.close()

    async def _sleep_unless_stopping(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), timeout=seconds)

    def _kafka_up(self, up: bool) -> None:
        self.metrics.kafka_up.set(1 if up else 0)
        self._ready_checks["kafka"] = up

    def _readiness(self) -> dict[str, bool]:
        return dict(self._ready_checks)

    # -- consuming -------------------------------------------------------------------------

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        metrics, tracker, builder = self.metrics, self._tracker, self._builder
        max_records = self.config.bulk.max_documents
        while not self._stopping.is_set():
            self._flow_control(consumer)
            if self._paused:
                # A paused poll returns nothing, however long it waits: wait for a free slot
                # instead, and poll without waiting, or the slots empty while a poll's timeout
                # runs out. A poll every _POLL_MAX_S still keeps the member in the group.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._none_waiting.wait(), _POLL_MAX_S)
                self._flow_control(consumer)
            timeout_ms = (
                0 if self._paused else max(1, int(min(builder.wait_s(), _POLL_MAX_S) * 1000))
            )
            try:
                fetched = await consumer.getmany(timeout_ms=timeout_ms, max_records=max_records)
            except KafkaError as exc:
                self._kafka_up(False)
                log.warning("polling Kafka failed", extra={"error": repr(exc)})
                await self._sleep_unless_stopping(1.0)
                continue
            for tp, records in fetched.items():
                metrics.records_consumed.inc(len(records))
                for raw in records:
                    tracker.add(tp.partition, raw.offset)
                    for batch in builder.add(self._decode(raw)):
                        self._ready.append(batch)
            if self._decoder.parsed:
                metrics.records_parsed.inc(self._decoder.parsed)
                self._decoder.parsed = 0
            if self._decoder.out_of_range:
                metrics.timestamps_out_of_range.inc(self._decoder.out_of_range)
                self._decoder.out_of_range = 0
            if builder.due():
                self._flush()
            self._pump()

    def _decode(self, record: KafkaRecord) -> Document:
        try:
            return self._decoder.decode(record)
        except Exception as exc:  # a bug must not lose the record: keep it as a dead letter
            log.exception("decoding a record failed; writing it as a dead letter")
            return self._deadletters(record, "indexer_error", type(exc).__name__, str(exc), None)

    def _flow_control(self, consumer: AIOKafkaConsumer) -> None:
        """Pause every partition while a batch waits for a bulk slot; resume when none does."""
        busy = bool(self._ready)
        if busy:
            assignment = consumer.assignment()
            if assignment:
                consumer.pause(*assignment)
            if not self._paused:
                log.debug("all bulk slots busy: consumption paused")
        elif self._paused:
            consumer.resume(*consumer.paused())
            log.debug("consumption resumed")
        self._paused = busy
        self.metrics.paused.set(1 if busy else 0)

    def _flush(self) -> None:
        batch = self._builder.flush()
        if batch is not None:
            self._ready.append(batch)
        self._pump()

    def _pump(self) -> None:
        """Start bulks for waiting batches while slots are free."""
        while self._ready and len(self._in_flight) < self.config.bulk.max_in_flight:
            task = asyncio.create_task(self._write(self._ready.popleft()))
            self._in_flight.add(task)
            task.add_done_callback(self._written)
        self.metrics.bulks_in_flight.set(len(self._in_flight))
        if self._ready:
            self._none_waiting.clear()
        else:
            self._none_waiting.set()
        if self._ready or self._in_flight:
            self._idle.clear()
        else:
            self._idle.set()

    async def _write(self, batch: Batch) -> None:
        documents = await self._writer.write(batch.documents)
        for document in documents:
            self._tracker.settle(document.partition, document.offset)
        self._commit_wanted.set()

    def _written(self, task: asyncio.Task[None]) -> None:
        self._in_flight.discard(task)
        if not task.cancelled() and task.exception() is not None:
            # A bug, not an outage (those are retried inside): stop; nothing unsettled is committed.
            self._crashed = task.exception()
            self._stopping.set()
        self._pump()

    async def _wait_idle(self) -> None:
        while self._ready or self._in_flight:
            await self._idle.wait()

    # -- offsets ---------------------------------------------------------------------------

    async def _commit_loop(self) -> None:
        while True:
            await self._commit_wanted.wait()
            self._commit_wanted.clear()
            await self._commit()
            await asyncio.sleep(self.config.commit_interval_s)

    async def _commit(self, partitions: set[int] | None = None) -> None:
        """Commit the settled prefix of the assigned partitions (or of *partitions*)."""
        consumer = self._consumer
        if consumer is None:
            return
        async with self._commit_lock:
            assigned = {tp.partition for tp in consumer.assignment() if tp.topic == self._topic}
            wanted = assigned if partitions is None else partitions & assigned
            offsets = self._tracker.committable(wanted)
            if not offsets:
                return
            try:
                await consumer.commit(
                    {TopicPartition(self._topic, p): offset for p, offset in offsets.items()}
                )
            except (CommitFailedError, IllegalStateError) as exc:
                # The group moved on (rebalanced): the new owner re-reads from the last commit.
                self.metrics.commit_failures.inc()
                log.warning("commit refused by the group", extra={"error": repr(exc)})
                return
            except KafkaError as exc:
                self.metrics.commit_failures.inc()
                self._kafka_up(False)
                log.warning("commit failed; retrying", extra={"error": repr(exc)})
                self._commit_wanted.set()
                return
            self._tracker.mark_committed(offsets)
            self._committed.update(offsets)
            self.metrics.offsets_committed.inc()
            self._kafka_up(True)
            log.debug("committed", extra={"offsets": offsets})

    async def _on_revoked(self, revoked: set[TopicPartition]) -> None:
        partitions = {tp.partition for tp in revoked if tp.topic == self._topic}
        if not partitions:
            return
        self._flush()
        try:
            async with asyncio.timeout(self.config.rebalance_timeout_s):
                await self._wait_idle()
        except TimeoutError:
            log.warning(
                "partitions revoked with bulks still in flight: the new owner re-reads what was "
                "not committed (already-written documents are answered 409 and skipped)"
            )
        await self._commit(partitions)
        self._owned -= partitions
        self._tracker.reset(partitions)
        for partition in partitions:
            self._committed.pop(partition, None)
            with contextlib.suppress(KeyError):
                self.metrics.consumer_lag.remove(self._topic, str(partition))
        self._rebalances += 1
        self.metrics.observe_revoked(len(partitions))
        log.info("partitions revoked", extra={"partitions": sorted(partitions)})

    async def _on_assigned(self, assigned: set[TopicPartition]) -> None:
        partitions = {tp.partition for tp in assigned if tp.topic == self._topic}
        self._tracker.reset(partitions)  # consumption restarts at the committed offsets
        self._owned = partitions
        for partition in partitions:
            self._committed.pop(partition, None)
        self._rebalances += 1
        self.metrics.observe_assigned(len(partitions))
        log.info("partitions assigned", extra={"partitions": sorted(partitions)})

    # -- background ------------------------------------------------------------------------

    async def _lag_loop(self) -> None:
        while True:
            await self._measure_lag()
            await asyncio.sleep(self.config.lag_interval_s)

    async def _measure_lag(self) -> None:
        consumer = self._consumer
        if consumer is None:
            return
        assignment = [TopicPartition(self._topic, partition) for partition in sorted(self._owned)]
        if not assignment:
            return
        # A rebalance during an await below makes the answers stale: a partition revoked
        # meanwhile would get its series back (removed in _on_revoked) and keep its last lag
        # for good, and another owner's old commit would stand in for the committed offset.
        rebalances = self._rebalances
        try:
            ends: dict[TopicPartition, int] = await consumer.end_offsets(assignment)
            for tp in assignment:
                committed = self._committed.get(tp.partition)
                if committed is None:
                    fetched = await consumer.committed(tp)
                    if fetched is None:
                        fetched = (await consumer.beginning_offsets([tp]))[tp]
                    if rebalances != self._rebalances:
                        return
                    # A commit may have landed while we asked: never overwrite a newer value.
                    committed = self._committed.setdefault(tp.partition, fetched)
                if rebalances != self._rebalances:
                    return
                lag = max(0, ends[tp] - committed)
                self.metrics.consumer_lag.labels(self._topic, str(tp.partition)).set(lag)
        except (KafkaError, KeyError, IllegalStateError) as exc:
            log.debug("measuring lag failed", extra={"error": repr(exc)})
            if isinstance(exc, KafkaError):
                self._kafka_up(False)
            return
        self._kafka_up(True)

    async def _health_loop(self) -> None:
        """Keep `elasticsearch_up` true to the cluster while no bulk is running."""
        while True:
            try:
                await self._es.options(request_timeout=5).cluster.health()
            except Exception as exc:
                self.metrics.elasticsearch_up.set(0)
                self._ready_checks["elasticsearch"] = False
                log.debug("Elasticsearch health check failed", extra={"error": describe_error(exc)})
            else:
                self.metrics.elasticsearch_up.set(1)
                self._ready_checks["elasticsearch"] = True
            if self._consumer is None:
                # The consumer starts once the templates are in: until then (Elasticsearch down)
                # /readyz must still say whether Kafka is reachable, not blame it.
                self._kafka_up(await kafka_reachable(self.config.kafka))
            await asyncio.sleep(self.config.lag_interval_s)

    async def _cluster_health_loop(self) -> None:
        """Read the cluster's own health for the ``logferry_elasticsearch_*`` metrics."""
        interval_s = self.config.health_interval_s
        blocked: tuple[str, ...] = ()
        while True:
            self.metrics.es_health_reads.inc()
            try:
                health = await read_health(self._es, timeout_s=min(interval_s, 10.0))
            except ElasticsearchError as exc:
                self.metrics.es_health_read_failures.inc()
                log.debug("reading the cluster's health failed", extra={"error": str(exc)})
            else:
                self.metrics.observe_health(health, time.time())
                if health.blocked != blocked:
                    # Writes to these wait (retried, never dead-lettered) until the block lifts.
                    log.warning(
                        "write-blocked indices changed",
                        extra={"blocked": list(health.blocked[:20]), "count": len(health.blocked)},
                    )
                    blocked = health.blocked
            await asyncio.sleep(interval_s)

    async def _retention_loop(self) -> None:
        retention = self.config.retention
        while True:
            try:
                plan = await sweep(
                    self._es,
                    self.config.index,
                    retention,
                    on_delete=lambda expired: self._deleted(expired.index, expired.age_days),
                )
            except ElasticsearchError as exc:
                log.warning("retention sweep failed", extra={"error": str(exc)})
            else:
                self.metrics.retention_last_run.set(time.time())
                log.debug(
                    "retention sweep", extra={"deleted": len(plan.expired), "kept": plan.kept}
                )
            await asyncio.sleep(retention.interval_s)

    async def _create_ahead_loop(self) -> None:
        ahead_s = self.config.index.create_ahead_minutes * 60
        while True:
            wait_s = seconds_to_window(time.time(), ahead_s)
            if wait_s > 0:  # looked at again every few minutes: the clock may be set meanwhile
                await asyncio.sleep(min(wait_s, _CREATE_AHEAD_EVERY_S))
                continue
            try:
                created = await create_ahead(self._es, self.config.index, utc_today())
            except ElasticsearchError as exc:
                log.warning("creating tomorrow's indices failed", extra={"error": str(exc)})
            else:
                for index in created:
                    self.metrics.indices_created_ahead.inc()
                    log.info("created tomorrow's index", extra={"index": index})
            await asyncio.sleep(_CREATE_AHEAD_EVERY_S)  # a service may start writing meanwhile

    def _deleted(self, index: str, age_days: int) -> None:
        self.metrics.retention_deleted.inc()
        log.info("retention: deleted index", extra={"index": index, "age_days": age_days})
