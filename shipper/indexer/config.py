"""`shipper index`'s one config model (also read by `setup`, `retention`, `search`, `trace`).

Loaded like the shipper's: YAML (``${VAR}`` interpolated), then ``INDEXER_*`` environment
variables, then flags — :func:`load_indexer_config`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from pipelines.route import RouteConfig, Router
from shipper.config import HostPort, load_model
from shipper.errors import ConfigError
from shipper.sinks import parse_kafka_url
from shipper.sinks.kafka import KafkaSecurityConfig
from shipper.sinks.topic import KafkaTopicConfig

__all__ = [
    "ENV_PREFIX",
    "BulkConfig",
    "ElasticsearchConfig",
    "IndexConfig",
    "IndexerConfig",
    "KafkaInputConfig",
    "KibanaConfig",
    "RetentionConfig",
    "load_indexer_config",
]

ENV_PREFIX = "INDEXER_"
_MIB = 1024 * 1024


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class KafkaInputConfig(KafkaTopicConfig, KafkaSecurityConfig):
    """Where events are read from, as a member of a consumer group (start more indexers to scale),
    and how `shipper setup` makes the topic."""

    url: str = Field(
        "kafka://127.0.0.1:9092/app-logs",
        description="kafka://HOST:PORT[,HOST:PORT]/TOPIC the shipper publishes to.",
    )
    group_id: str = Field(
        "logferry-indexer",
        min_length=1,
        description="Consumer group; indexers sharing it split the partitions.",
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        "earliest", description="Where a group without committed offsets starts."
    )
    session_timeout_ms: int = Field(
        10_000,
        ge=1000,
        description="A member silent this long is dropped and its partitions reassigned.",
    )
    heartbeat_interval_ms: int = Field(
        3000, ge=100, description="How often the member tells the group it is alive."
    )
    max_poll_interval_ms: int = Field(
        300_000,
        ge=10_000,
        description="Longest pause between polls before the member is dropped (polling goes on while paused).",
    )
    fetch_max_bytes: int = Field(
        16 * _MIB, ge=_MIB, description="Most bytes one fetch returns across partitions."
    )
    max_partition_fetch_bytes: int = Field(
        _MIB,
        ge=64 * 1024,
        description="Most bytes one fetch returns per partition (a larger record still comes whole).",
    )
    request_timeout_ms: int = Field(
        40_000, ge=1000, description="How long to wait for a broker's answer."
    )

    @field_validator("url")
    @classmethod
    def _kafka_url(cls, url: str) -> str:
        try:
            parse_kafka_url(url)
        except ConfigError as exc:
            raise ValueError(str(exc).removeprefix("output: ")) from exc
        return url

    @property
    def bootstrap(self) -> str:
        return parse_kafka_url(self.url)[0]

    @property
    def topic(self) -> str:
        return parse_kafka_url(self.url)[1]


class ElasticsearchConfig(_Model):
    """The cluster the documents are written to."""

    url: str = Field(
        "http://127.0.0.1:9200",
        description="http(s)://HOST:PORT, several separated by commas.",
    )
    username: str | None = Field(None, description="Basic-auth user.")
    password: SecretStr | None = Field(
        None, description="Basic-auth password (masked when printed)."
    )
    api_key: SecretStr | None = Field(
        None, description="API key (base64 id:key), instead of user and password."
    )
    ca_certs: Path | None = Field(
        None, description="CA bundle to verify the cluster's certificate."
    )
    verify_certs: bool = Field(True, description="Verify the cluster's TLS certificate.")
    request_timeout_s: float = Field(
        60.0, gt=0, description="How long one request (a bulk) may take before it is retried."
    )

    @field_validator("url")
    @classmethod
    def _http_urls(cls, value: str) -> str:
        for url in value.split(","):
            if not url.strip().startswith(("http://", "https://")):
                raise ValueError(f"{url.strip()!r} is not http(s)://HOST:PORT")
        return value

    @property
    def hosts(self) -> list[str]:
        return [url.strip() for url in self.url.split(",") if url.strip()]


class KibanaConfig(_Model):
    """Kibana, where `shipper setup` imports the saved objects of dashboards/kibana/ (only when `url` is set)."""

    url: str | None = Field(
        None,
        description="http(s)://HOST:PORT of Kibana, with its base path and `/s/SPACE` if any; unset = `setup` leaves Kibana alone.",
    )
    username: str | None = Field(
        None, description="Basic-auth user; unset = the Elasticsearch credentials."
    )
    password: SecretStr | None = Field(
        None, description="Basic-auth password (masked when printed)."
    )
    api_key: SecretStr | None = Field(
        None, description="API key (base64 id:key), instead of user and password."
    )
    ca_certs: Path | None = Field(None, description="CA bundle to verify Kibana's certificate.")
    verify_certs: bool = Field(True, description="Verify Kibana's TLS certificate.")
    request_timeout_s: float = Field(
        60.0, gt=0, description="How long one request to Kibana (the import) may take."
    )
    objects_dir: Path | None = Field(
        None,
        description="Directory of the `*.ndjson` saved objects to import; unset = the ones packaged "
        "with logferry (the repository's dashboards/kibana/).",
    )

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.strip().startswith(("http://", "https://")):
            raise ValueError(f"{value.strip()!r} is not http(s)://HOST:PORT")
        return value.strip().rstrip("/") if value is not None else None


class BulkConfig(_Model):
    """How events are grouped into bulk requests and how failed items are retried."""

    max_documents: int = Field(2000, ge=1, description="Most documents in one bulk request.")
    max_bytes: int = Field(
        5 * _MIB,
        ge=64 * 1024,
        description="Most bytes of one bulk request (a single larger document goes alone).",
    )
    max_wait_ms: int = Field(
        500, ge=1, description="A batch that is not full is sent after this long."
    )
    max_in_flight: int = Field(
        3,
        ge=1,
        description="Bulk requests sent and not yet settled; when all are busy, consumption pauses.",
    )
    retry_backoff_initial_s: float = Field(
        0.2, gt=0, description="First wait before retrying items Elasticsearch could not take."
    )
    retry_backoff_max_s: float = Field(
        10.0, gt=0, description="Longest wait between retries (it doubles up to this, with jitter)."
    )


class IndexConfig(_Model):
    """Index names (must agree with the shipper's `route` stage) and the templates `setup` installs."""

    index_pattern: str = Field(
        "app-logs-{service}-{date}",
        description="Daily index of each event, as in the shipper's route stage.",
    )
    date_format: str = Field("%Y.%m.%d", description="Format of `{date}` in index names.")
    default_service: str = Field(
        "unknown", description="`{service}` for events without service.name."
    )
    deadletter_pattern: str = Field(
        "app-logs-deadletter-{date}",
        description="Daily index of the documents Elasticsearch rejected for good (and of undecodable records).",
    )
    template_name: str = Field(
        "app-logs",
        pattern=r"^[a-z0-9][a-z0-9_.-]*$",
        description="Name of the index template; component templates and the ILM policy are named after it.",
    )
    number_of_shards: int = Field(1, ge=1, description="Primary shards of each daily index.")
    number_of_replicas: int | None = Field(
        None,
        ge=0,
        description="Replicas of each daily index; unset = 1 where the cluster has 2+ data nodes "
        "when `setup` runs, else 0 (a lone node cannot hold a replica: health would stay yellow).",
    )
    refresh_interval_s: float = Field(
        1.0,
        gt=0,
        description="How soon written documents become searchable; 1 s keeps write-to-searchable "
        "p99 under 2 s at 5,000 lines/s (benchmarks/bench_latency.py). More means cheaper bulks.",
    )
    total_fields_limit: int = Field(
        2000, ge=100, description="Most mapped fields per index: a flood of new keys is refused."
    )
    ignore_above: int = Field(
        1024,
        ge=1,
        le=32766,
        description="Longer strings of keyword fields are kept but not indexed.",
    )
    templates_dir: Path | None = Field(
        None,
        description="Directory of the template files (settings.json, ecs-mappings.json, "
        "index-template.json, deadletter-template.json, ilm-policy.json) `setup` renders; unset = "
        "the ones packaged with logferry (the repository's index-templates/).",
    )
    setup_on_start: bool = Field(
        True,
        description="`shipper index` installs the templates and ILM policy at start (like `shipper setup`, without the topic).",
    )
    create_ahead_minutes: float = Field(
        30.0,
        ge=0,
        le=1440,
        description="In this last part of each day (UTC), `shipper index` creates tomorrow's index "
        "of each index of today, so the day's first writes do not wait for index creation "
        "(seconds at midnight, every service at once); 0 = never.",
    )
    timestamp_max_age_days: float | None = Field(
        None,
        gt=0,
        description="Oldest day an event may be routed to, in days before now; an event dated "
        "earlier is written to the index of its read time, tagged `_timestamp_out_of_range`, its "
        "original time kept as `app.@timestamp`. Unset = `retention.days`.",
    )
    timestamp_max_ahead_days: float = Field(
        1.0,
        gt=0,
        description="Latest day an event may be routed to, in days after now (treated like too "
        "old ones beyond): data cannot create indices without bound.",
    )

    @field_validator("deadletter_pattern")
    @classmethod
    def _deadletter_pattern(cls, value: str) -> str:
        if "{service}" in value:
            raise ValueError("has no {service}: dead letters of all services share one index a day")
        RouteConfig(index_pattern=value)  # the same checks as a route pattern
        return value

    @model_validator(mode="after")
    def _route(self) -> IndexConfig:
        self.route()  # pattern, date format and default service checked by the route stage's model
        if self.deadletter_index_glob() == self.route_glob():
            raise ValueError("deadletter_pattern must differ from index_pattern")
        return self

    def route(self) -> RouteConfig:
        return RouteConfig(
            index_pattern=self.index_pattern,
            date_format=self.date_format,
            default_service=self.default_service,
        )

    def router(self) -> Router:
        return Router(self.route())

    def deadletter_router(self) -> Router:
        return Router(
            RouteConfig(index_pattern=self.deadletter_pattern, date_format=self.date_format)
        )

    def route_glob(self) -> str:
        return self.index_pattern.format(service="*", date="*")

    def deadletter_index_glob(self) -> str:
        return self.deadletter_pattern.format(date="*")


class RetentionConfig(_Model):
    """How long daily indices are kept (ILM where the cluster has it, and the built-in sweeper)."""

    days: int = Field(
        30, ge=1, description="Daily indices whose day is more than this many days ago are deleted."
    )
    deadletter_days: int | None = Field(
        None, ge=1, description="The same for dead-letter indices; unset = `days`."
    )
    interval_s: float = Field(
        3600.0,
        ge=0,
        description="How often `shipper index` sweeps; 0 = never (use `shipper retention`).",
    )

    @property
    def effective_deadletter_days(self) -> int:
        return self.deadletter_days or self.days


class IndexerConfig(_Model):
    """Everything `shipper index` needs; every field has a default, so no config at all works."""

    kafka: KafkaInputConfig = Field(
        default_factory=KafkaInputConfig, description="The topic to consume."
    )
    elasticsearch: ElasticsearchConfig = Field(
        default_factory=ElasticsearchConfig, description="The cluster to write to."
    )
    kibana: KibanaConfig = Field(
        default_factory=KibanaConfig, description="Kibana, for `shipper setup`'s saved objects."
    )
    bulk: BulkConfig = Field(default_factory=BulkConfig, description="Bulk requests.")
    index: IndexConfig = Field(
        default_factory=IndexConfig, description="Index names and templates."
    )
    retention: RetentionConfig = Field(
        default_factory=RetentionConfig, description="Retention of the daily indices."
    )
    metrics_addr: HostPort = Field(
        "127.0.0.1:9109", description="HOST:PORT of /metrics, /healthz, /readyz."
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="Own log level."
    )
    drain_timeout_s: float = Field(
        30.0, ge=0, description="On SIGTERM, how long to wait for in-flight bulks before exiting."
    )
    rebalance_timeout_s: float = Field(
        20.0,
        ge=0,
        description="When partitions are taken away, how long to wait for their in-flight bulks before committing.",
    )
    commit_interval_s: float = Field(
        1.0, gt=0, description="Settled offsets are committed at most this often."
    )
    lag_interval_s: float = Field(
        5.0, gt=0, description="How often consumer lag and Elasticsearch health are measured."
    )
    health_interval_s: float = Field(
        15.0,
        ge=0,
        description="How often the cluster's health, data nodes' disk use against the disk "
        "watermarks, and write-blocked indices are read for the logferry_elasticsearch_* "
        "metrics; 0 = never.",
    )


def load_indexer_config(
    path: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> IndexerConfig:
    """YAML file (``${VAR}`` interpolated), then ``INDEXER_*`` env vars, then *overrides* (flags)."""
    return load_model(IndexerConfig, path, overrides, environ, ENV_PREFIX)
