"""The indexer's commands parse, build the config and call the runtime (patched here)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from shipper.cli import cli
from shipper.indexer.config import IndexerConfig


@pytest.mark.parametrize("command", ["setup", "index", "retention", "search", "trace"])
def test_every_command_has_help_naming_its_env_vars(command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0, result.output
    assert "INDEXER_ELASTICSEARCH_URL" in result.output


def test_index_flags_override_env_which_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[IndexerConfig] = []

    class FakeIndexer:
        def __init__(self, config: IndexerConfig) -> None:
            seen.append(config)

        async def run(self) -> int:
            return 0

    monkeypatch.setattr("shipper.indexer.runner.Indexer", FakeIndexer)
    monkeypatch.setattr("shipper.logs.configure_logging", lambda level: None)
    path = tmp_path / "indexer.yml"
    path.write_text(yaml.safe_dump({"kafka": {"group_id": "file"}, "metrics_addr": "127.0.0.1:1"}))
    result = CliRunner().invoke(
        cli,
        ["index", "--config", str(path), "--group", "flag", "--es", "http://es:9200"],
        env={"INDEXER_KAFKA_GROUP_ID": "env", "INDEXER_METRICS_ADDR": "127.0.0.1:2"},
    )
    assert result.exit_code == 0, result.output
    (config,) = seen
    assert config.kafka.group_id == "flag"
    assert config.metrics_addr == "127.0.0.1:2"
    assert config.elasticsearch.url == "http://es:9200"


def test_a_bad_since_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    from shipper.cli import main

    monkeypatch.setattr("sys.argv", ["shipper", "search", "x", "--since", "forever"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2


def test_a_bad_kafka_url_exits_2(monkeypatch: pytest.MonkeyPatch, capsys: Any) -> None:
    from shipper.cli import main

    monkeypatch.setattr("sys.argv", ["shipper", "setup", "--kafka", "localhost:9092"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "kafka.url" in capsys.readouterr().err
