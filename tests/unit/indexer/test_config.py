"""The indexer's config: defaults, precedence (flags > INDEXER_* env > YAML), validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shipper.config import env_names
from shipper.errors import ConfigError
from shipper.indexer.config import ENV_PREFIX, IndexerConfig, load_indexer_config


def test_no_config_at_all_reads_the_local_stack() -> None:
    config = load_indexer_config(environ={})
    assert config.kafka.bootstrap == "127.0.0.1:9092"
    assert config.kafka.topic == "app-logs"
    assert config.kafka.group_id == "logferry-indexer"
    assert config.elasticsearch.hosts == ["http://127.0.0.1:9200"]
    assert config.metrics_addr == "127.0.0.1:9109"
    assert config.retention.days == 30
    assert config.retention.effective_deadletter_days == 30
    assert config.index.route_glob() == "app-logs-*-*"
    assert config.index.deadletter_index_glob() == "app-logs-deadletter-*"


def test_precedence_is_flags_over_env_over_file(tmp_path: Path) -> None:
    path = tmp_path / "indexer.yml"
    path.write_text(
        yaml.safe_dump(
            {
                "kafka": {"group_id": "from-file", "url": "kafka://k1:9092/t"},
                "bulk": {"max_in_flight": 5},
            }
        )
    )
    environ = {"INDEXER_KAFKA_GROUP_ID": "from-env", "INDEXER_RETENTION_DAYS": "7"}
    config = load_indexer_config(path, {"kafka": {"group_id": "from-flag"}}, environ)
    assert config.kafka.group_id == "from-flag"
    assert config.kafka.url == "kafka://k1:9092/t"
    assert config.bulk.max_in_flight == 5
    assert config.retention.days == 7
    assert load_indexer_config(path, {}, environ).kafka.group_id == "from-env"


def test_every_leaf_setting_has_an_indexer_env_var() -> None:
    names = env_names(IndexerConfig, ENV_PREFIX)
    for expected in (
        "INDEXER_KAFKA_URL",
        "INDEXER_ELASTICSEARCH_URL",
        "INDEXER_ELASTICSEARCH_PASSWORD",
        "INDEXER_BULK_MAX_DOCUMENTS",
        "INDEXER_INDEX_INDEX_PATTERN",
        "INDEXER_RETENTION_DAYS",
        "INDEXER_METRICS_ADDR",
    ):
        assert expected in names


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"kafka": {"url": "http://x/t"}}, "kafka.url: 'http://x/t' is not kafka://"),
        (
            {"elasticsearch": {"url": "127.0.0.1:9200"}},
            "elasticsearch.url: '127.0.0.1:9200' is not http",
        ),
        ({"index": {"index_pattern": "logs-{service}-{date}"}}, "logs-\\*-\\*"),
        ({"index": {"deadletter_pattern": "dl-{service}-{date}"}}, "has no \\{service\\}"),
        ({"index": {"deadletter_pattern": "app-logs-{date}"}, "retention": {}}, None),
        ({"retention": {"days": 0}}, "retention.days"),
        ({"metrics_addr": "9109"}, "metrics_addr: must be HOST:PORT"),
        ({"bulk": {"max_in_flght": 1}}, "bulk.max_in_flght: Extra inputs are not permitted"),
    ],
)
def test_invalid_settings_name_the_key(overrides: dict[str, object], message: str | None) -> None:
    if message is None:
        load_indexer_config(overrides=overrides, environ={})
        return
    with pytest.raises(ConfigError, match=message):
        load_indexer_config(overrides=overrides, environ={})


def test_secrets_come_from_env(tmp_path: Path) -> None:
    config = load_indexer_config(
        environ={"INDEXER_ELASTICSEARCH_PASSWORD": "s3cret", "INDEXER_ELASTICSEARCH_USERNAME": "u"}
    )
    assert config.elasticsearch.password is not None
    assert config.elasticsearch.password.get_secret_value() == "s3cret"
    assert "s3cret" not in repr(config)
