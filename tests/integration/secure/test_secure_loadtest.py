"""`loadtest run` against the secure stack: its preflight checks and the shipper and indexer
it starts connect through the documented settings of an indexer config file (--client-config),
and without them the preflight names Elasticsearch and Kafka as not answering."""

from __future__ import annotations

import os
import urllib.request
from pathlib import Path

import pytest
import yaml

from loadtest.errors import LoadTestError
from loadtest.harness import launch
from loadtest.harness.config import RunConfig
from loadtest.harness.preflight import check_dependencies
from loadtest.harness.security import Credentials
from tests.integration.secure.conftest import SecureStack
from tests.integration.support import wait_for
from tests.prometheus_text import sample_value


def _client_config(tmp_path: Path, stack: SecureStack) -> Path:
    path = tmp_path / "client.yml"
    path.write_text(
        yaml.safe_dump(
            {"kafka": stack.kafka_security(), "elasticsearch": stack.elasticsearch_config()}
        )
    )
    os.chmod(path, 0o600)
    return path


async def test_preflight_passes_with_the_client_config_and_names_both_without_it(
    tmp_path: Path, secure_stack: SecureStack
) -> None:
    plain = RunConfig(
        scenario="error-spike", kafka=secure_stack.kafka, elasticsearch=secure_stack.elasticsearch
    )
    with pytest.raises(LoadTestError) as refused:
        await check_dependencies(plain)
    assert "Elasticsearch at" in str(refused.value) and "Kafka at" in str(refused.value)
    secure = plain.model_copy(update={"client_config": _client_config(tmp_path, secure_stack)})
    await check_dependencies(secure, timeout_s=10)


async def test_the_shipper_and_indexer_it_starts_connect_over_sasl_ssl_and_tls(
    tmp_path: Path, secure_stack: SecureStack, secure_topic: str
) -> None:
    credentials = Credentials.load(_client_config(tmp_path, secure_stack))
    log_file = tmp_path / "app.log"
    log_file.write_text('{"message": "hello"}\n')
    # Ready means: Kafka joined (the indexer's group, the shipper's producer), templates installed.
    indexer, _ = await launch.start_indexer(
        tmp_path,
        kafka=secure_stack.kafka,
        topic=secure_topic,
        elasticsearch=secure_stack.elasticsearch,
        credentials=credentials,
    )
    try:
        shipper, address = await launch.start_shipper(
            tmp_path,
            log_file,
            kafka=secure_stack.kafka,
            topic=secure_topic,
            service="secure-loadtest",
            credentials=credentials,
        )
        try:

            def published() -> bool:
                with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as r:
                    text = r.read().decode()
                return sample_value(text, "logferry_shipper_events_published_total", {}) == 1

            wait_for(published, timeout_s=30)
        finally:
            await shipper.stop()
    finally:
        await indexer.stop()
    for config in ("shipper.yml", "indexer.yml"):  # they hold the secrets: ours alone
        assert (tmp_path / config).stat().st_mode & 0o077 == 0
    for log in ("shipper.out", "indexer.out"):
        text = (tmp_path / log).read_text()
        for secret in secure_stack.secrets():
            assert secret not in text
