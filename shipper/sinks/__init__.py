"""Sinks: where the shipper's events go (Kafka, a file, the console), chosen by an output URL."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from shipper.errors import ConfigError
from shipper.masking import mask_urls
from shipper.sinks.base import OutgoingEvent, Sink, SinkError, SinkRefused
from shipper.sinks.kafka import KafkaSink, KafkaSinkConfig
from shipper.sinks.stream import ConsoleSink, FileSink

__all__ = [
    "ConsoleSink",
    "FileSink",
    "KafkaSink",
    "KafkaSinkConfig",
    "OutgoingEvent",
    "Sink",
    "SinkError",
    "SinkRefused",
    "build_sink",
    "parse_kafka_url",
]


def parse_kafka_url(url: str) -> tuple[str, str]:
    """`kafka://HOST:PORT[,HOST:PORT]/TOPIC` -> (bootstrap servers, topic)."""
    parts = urlsplit(url)
    shown = mask_urls(url)
    if "@" in parts.netloc:
        # The URL is logged and is the output_up metric's label: no place for a password.
        raise ConfigError(
            f"output: {shown!r}: credentials do not go in the URL; give them as sasl_username "
            "and sasl_password beside it (with security_protocol SASL_SSL or SASL_PLAINTEXT; "
            "output.kafka.* for `shipper run`, kafka.* for the indexer)"
        )
    topic = unquote(parts.path.lstrip("/"))
    if parts.scheme != "kafka" or not parts.netloc or not topic or "/" in topic:
        raise ConfigError(f"output: {shown!r} is not kafka://HOST:PORT[,HOST:PORT]/TOPIC")
    for broker in parts.netloc.split(","):
        host, _, port = broker.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"output: broker {broker!r} in {shown!r} is not HOST:PORT")
    return parts.netloc, topic


def build_sink(url: str, kafka: KafkaSinkConfig) -> Sink:
    """The sink an output URL names: kafka://…, file:///path, or console."""
    if url == "console":
        return ConsoleSink()
    if url.startswith("file://"):
        path = unquote(urlsplit(url).path)
        if not path:
            raise ConfigError(f"output: {url!r} has no path (file:///path/out.ndjson)")
        return FileSink(Path(path))
    if url.startswith("kafka://"):
        bootstrap, topic = parse_kafka_url(url)
        return KafkaSink(bootstrap, topic, kafka)
    raise ConfigError(f"output: {url!r} is not kafka://HOST:PORT/TOPIC, file:///PATH or console")
