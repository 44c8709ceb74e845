"""The config files the README shows are valid configs: loaded as a user would, with their
``${VAR}`` secrets from the environment, and saying what the prose says they say."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from shipper.config import load_config
from shipper.indexer.config import load_indexer_config

README = Path(__file__).resolve().parents[2] / "README.md"
_BLOCK = re.compile(r"^( *)```yaml\n(.*?)^\1```", re.M | re.S)
SECRETS = {"KAFKA_PASSWORD": "kafka-secret", "ES_API_KEY": "aWQ6a2V5"}


def _blocks(first_line: str) -> list[str]:
    found = []
    for indent, body in _BLOCK.findall(README.read_text()):
        text = "\n".join(line.removeprefix(indent) for line in body.splitlines())
        if text.startswith(first_line):
            found.append(text)
    return found


@pytest.mark.parametrize("body", _blocks("# shipper.yml"))
def test_the_shipper_configs_load(body: str, tmp_path: Path) -> None:
    path = tmp_path / "shipper.yml"
    path.write_text(body)
    config = load_config(path, environ=SECRETS)
    kafka = config.output.kafka
    assert kafka.security_protocol == "SASL_SSL" and kafka.sasl_mechanism == "SCRAM-SHA-512"
    assert kafka.sasl_password is not None
    assert kafka.sasl_password.get_secret_value() == "kafka-secret"


@pytest.mark.parametrize("body", _blocks("# indexer.yml"))
def test_the_indexer_configs_load(body: str, tmp_path: Path) -> None:
    path = tmp_path / "indexer.yml"
    path.write_text(body)
    config = load_indexer_config(path, environ=SECRETS)
    assert config.kafka.security_protocol == "SASL_SSL"
    assert config.elasticsearch.api_key is not None
    assert config.elasticsearch.api_key.get_secret_value() == "aWQ6a2V5"
    assert config.elasticsearch.url.count("https://") == 3


def test_the_readme_shows_both_configs() -> None:
    assert _blocks("# shipper.yml") and _blocks("# indexer.yml")
