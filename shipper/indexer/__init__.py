"""The indexer: Kafka -> Elasticsearch daily indices, with dead letters, retention and setup.

Modules, one job each: ``config`` (the model), ``documents`` (record -> document),
``deadletter``, ``batch``, ``bulk`` (write + retry), ``retry`` (classification, backoff),
``settle`` (committable offsets), ``consumer`` (aiokafka), ``es`` (the client, features,
errors), ``templates`` + ``ecs_mappings`` (what `setup` installs), ``setup``, ``retention``,
``search``, ``metrics`` and ``runner`` (the process).
"""

from shipper.indexer.config import IndexerConfig, load_indexer_config

__all__ = ["IndexerConfig", "load_indexer_config"]
