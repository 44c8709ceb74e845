"""The TLS settings and credentials `loadtest run` uses with a secure Kafka and Elasticsearch.

They come from an indexer config file (``client_config``, e.g. the ``indexer.yml`` that
`shipper stack up --secure` writes): its ``kafka`` security settings and its ``elasticsearch``
credentials and CA, for the shipper and indexer the harness starts and for its own checks. The
addresses stay the run's ``kafka`` and ``elasticsearch`` settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from shipper.indexer.config import ElasticsearchConfig, KafkaInputConfig, load_indexer_config

__all__ = ["Credentials"]

_KAFKA_KEYS = (
    "security_protocol",
    "ssl_cafile",
    "ssl_certfile",
    "ssl_keyfile",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
)
_ELASTICSEARCH_KEYS = ("username", "password", "api_key", "ca_certs", "verify_certs")


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value) if isinstance(value, Path) else value


@dataclass(frozen=True)
class Credentials:
    """Kafka client settings and Elasticsearch credentials, as config keys (secrets revealed:
    they go into the 0600 config files of the processes the harness starts, never to a log)."""

    kafka: dict[str, Any] = field(default_factory=dict)
    elasticsearch: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path | None) -> Credentials:
        """Those of the indexer config file at *path*; none (plain connections) without one."""
        if path is None:
            return cls()
        config = load_indexer_config(path)
        kafka = {key: _plain(getattr(config.kafka, key)) for key in _KAFKA_KEYS}
        es = {key: _plain(getattr(config.elasticsearch, key)) for key in _ELASTICSEARCH_KEYS}
        return cls(
            {k: v for k, v in kafka.items() if v is not None},
            {k: v for k, v in es.items() if v is not None},
        )

    def kafka_options(self) -> dict[str, Any]:
        """aiokafka keyword arguments (admin client, probe) for these settings."""
        return KafkaInputConfig.model_validate(self.kafka).client_options()

    def elasticsearch_config(self, url: str) -> ElasticsearchConfig:
        """The client config of the cluster at *url* with these credentials."""
        return ElasticsearchConfig.model_validate({"url": url, **self.elasticsearch})
