"""The indexer's Prometheus metrics, in their own registry: its own (``logferry_indexer_*``) and
what it reads of the cluster's health (``logferry_elasticsearch_*``, :mod:`shipper.indexer.health`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from shipper.indexer.deadletter import REASONS
from shipper.indexer.health import ClusterHealth

__all__ = ["IndexerMetrics"]

_LATENCY_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SIZE_BUCKETS_DOCUMENTS = (1, 10, 50, 100, 250, 500, 1000, 2000, 5000, 10000)
_SIZE_BUCKETS_BYTES = (1024, 16384, 65536, 262144, 1048576, 2097152, 5242880, 10485760)
_STATUSES = ("green", "yellow", "red")


class IndexerMetrics:
    """Every metric of one indexer (tests may run several, hence one registry each)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        p = "logferry_indexer_"
        self.records_consumed = Counter(
            f"{p}records_consumed",
            "Kafka records read (each settles as exactly one document).",
            registry=r,
        )
        self.records_parsed = Counter(
            f"{p}records_parsed",
            "Records without the routing headers (an older shipper, another producer): parsed and "
            "re-serialised instead of written as they are.",
            registry=r,
        )
        self.timestamps_out_of_range = Counter(
            f"{p}timestamps_out_of_range",
            "Events dated outside the accepted day window (index.timestamp_max_age_days, "
            "timestamp_max_ahead_days): written to the index of their read time, tagged "
            "_timestamp_out_of_range.",
            registry=r,
        )
        self.documents_indexed = Counter(
            f"{p}documents_indexed", "Events Elasticsearch created (201).", registry=r
        )
        self.documents_duplicate = Counter(
            f"{p}documents_duplicate",
            "Events already in Elasticsearch (409 on create): replays, counted as written.",
            registry=r,
        )
        self.documents_retried = Counter(
            f"{p}documents_retried",
            "Documents sent again after a retriable failure (429, 5xx, unreachable).",
            ["reason"],
            registry=r,
        )
        self.documents_rejected = Counter(
            f"{p}documents_rejected",
            "Events Elasticsearch refused for good (mapping conflict, parse error); each becomes a dead letter.",
            registry=r,
        )
        self.dead_letters = Counter(
            f"{p}dead_letters", "Dead letters written, by why.", ["reason"], registry=r
        )
        for reason in REASONS:
            self.dead_letters.labels(reason)
        self.bulk_latency = Histogram(
            f"{p}bulk_latency_seconds",
            "Duration of one bulk request (each attempt).",
            buckets=_LATENCY_BUCKETS_S,
            registry=r,
        )
        self.bulk_documents = Histogram(
            f"{p}bulk_documents",
            "Documents per bulk request.",
            buckets=_SIZE_BUCKETS_DOCUMENTS,
            registry=r,
        )
        self.bulk_request_bytes = Histogram(
            f"{p}bulk_request_bytes",
            "Size of one bulk request body.",
            buckets=_SIZE_BUCKETS_BYTES,
            registry=r,
        )
        self.bulk_failures = Counter(
            f"{p}bulk_failures",
            "Bulk requests that failed as a whole (unreachable, timeout, 429/5xx); retried.",
            registry=r,
        )
        self.bulks_in_flight = Gauge(
            f"{p}bulks_in_flight", "Bulk requests sent and not yet settled.", registry=r
        )
        self.offsets_committed = Counter(f"{p}commits", "Successful offset commits.", registry=r)
        self.commit_failures = Counter(
            f"{p}commit_failures", "Offset commits Kafka refused (retried later).", registry=r
        )
        self.consumer_lag = Gauge(
            f"{p}consumer_lag_records",
            "Records of a partition not yet settled and committed (end offset minus committed offset).",
            ["topic", "partition"],
            registry=r,
        )
        self.assigned_partitions = Gauge(
            f"{p}assigned_partitions", "Partitions this member consumes.", registry=r
        )
        self.rebalances = Counter(
            f"{p}rebalances",
            "Group rebalances this member completed (each hands it an assignment, the first join "
            "included): a rate above zero means members come and go.",
            registry=r,
        )
        self.partitions_assigned = Counter(
            f"{p}partitions_assigned",
            "Partitions handed to this member, summed over rebalances.",
            registry=r,
        )
        self.partitions_revoked = Counter(
            f"{p}partitions_revoked",
            "Partitions taken from this member (after committing what was settled), summed over "
            "rebalances.",
            registry=r,
        )
        self.paused = Gauge(
            f"{p}consumption_paused",
            "1 while consumption is paused (every bulk slot busy, e.g. Elasticsearch down).",
            registry=r,
        )
        self.elasticsearch_up = Gauge(
            f"{p}elasticsearch_up",
            "1 when the last request to Elasticsearch succeeded.",
            registry=r,
        )
        self.kafka_up = Gauge(
            f"{p}kafka_up", "1 when the last request to Kafka succeeded.", registry=r
        )
        self.retention_deleted = Counter(
            f"{p}retention_deleted_indices",
            "Daily indices the retention sweeper deleted.",
            registry=r,
        )
        self.retention_last_run = Gauge(
            f"{p}retention_last_run_timestamp_seconds",
            "When the retention sweeper last finished (Unix time).",
            registry=r,
        )
        self.indices_created_ahead = Counter(
            f"{p}indices_created_ahead",
            "Next day's indices created before midnight (index.create_ahead_minutes).",
            registry=r,
        )
        e = "logferry_elasticsearch_"
        # The cluster's, not this indexer's: every indexer of a cluster exports the same values.
        self.es_status = Gauge(
            f"{e}cluster_status",
            "1 for the cluster's health status (green, yellow, red), 0 for the others.",
            ["status"],
            registry=r,
        )
        self.es_unassigned_shards = Gauge(
            f"{e}unassigned_shards",
            "Shards (primaries and replicas) not assigned to a node.",
            registry=r,
        )
        self.es_disk_used = Gauge(
            f"{e}node_disk_used_ratio",
            "Share of a data node's disk in use, as Elasticsearch counts it (1 - available/total).",
            ["node"],
            registry=r,
        )
        self.es_watermark = Gauge(
            f"{e}node_disk_watermark_ratio",
            "Used ratio at which a disk watermark (low, high, flood_stage) trips on a data node.",
            ["node", "watermark"],
            registry=r,
        )
        self.es_disk_threshold_enabled = Gauge(
            f"{e}disk_threshold_enabled",
            "1 when the cluster enforces its disk watermarks (cluster.routing.allocation.disk.threshold_enabled).",
            registry=r,
        )
        self.es_write_blocked_indices = Gauge(
            f"{e}write_blocked_indices",
            "Indices carrying a block that stops writes: read_only_allow_delete (flood stage "
            "sets it), read_only, write (ILM's readonly and shrink set it).",
            ["block"],
            registry=r,
        )
        self.es_health_reads = Counter(
            f"{e}health_reads",
            "Reads of the cluster's health (each every health_interval_s).",
            registry=r,
        )
        self.es_health_read_failures = Counter(
            f"{e}health_read_failures",
            "Reads of the cluster's health that failed (the gauges keep their last values).",
            registry=r,
        )
        self.es_health_last_read = Gauge(
            f"{e}health_last_read_timestamp_seconds",
            "When the cluster's health was last read successfully (Unix time).",
            registry=r,
        )

    def observe_assigned(self, partitions: int) -> None:
        """A rebalance handed this member *partitions* partitions (possibly none)."""
        self.rebalances.inc()
        self.partitions_assigned.inc(partitions)
        self.assigned_partitions.set(partitions)

    def observe_revoked(self, partitions: int) -> None:
        """A rebalance took *partitions* partitions from this member."""
        self.partitions_revoked.inc(partitions)
        self.assigned_partitions.set(0)

    def observe_health(self, health: ClusterHealth, now: float) -> None:
        """Set the ``logferry_elasticsearch_*`` gauges from one successful read."""
        for status in _STATUSES:
            self.es_status.labels(status).set(1 if health.status == status else 0)
        self.es_unassigned_shards.set(health.unassigned_shards)
        for block, count in health.write_blocked.items():
            self.es_write_blocked_indices.labels(block).set(count)
        self.es_disk_threshold_enabled.set(1 if health.threshold_enabled else 0)
        # Nodes come and go: no series may outlive its node (no await between clear and set).
        self.es_disk_used.clear()
        self.es_watermark.clear()
        for node in health.nodes:
            self.es_disk_used.labels(node.name).set(node.used_ratio)
            for watermark, ratio in node.watermarks.items():
                self.es_watermark.labels(node.name, watermark).set(ratio)
        self.es_health_last_read.set(now)
