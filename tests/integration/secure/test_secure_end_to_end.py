"""Issue 13, test 5: the end-to-end run on the secure stack. Lines of an app's log file go
through `shipper run` over SASL_SSL (SCRAM-SHA-512) into a topic, and `shipper index` writes
them to Elasticsearch over TLS with an API key: exactly as many documents as lines, and no
secret in any log line or metric label of either process, nor in what `shipper search` prints."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import yaml
from elasticsearch import AsyncElasticsearch

from tests.integration.indexer.support import (
    IndexerProcess,
    Names,
    count,
    documents,
    line,
    seq_of,
    wait_for_count,
)
from tests.integration.secure.conftest import SecureStack
from tests.integration.support import ShipperProcess, wait_for

LINES = 10_000
FAST_INPUT = {"scan_interval_s": 0.2, "poll_interval_s": 0.05, "partial_timeout_s": 1.0}


async def test_ten_thousand_lines_over_sasl_ssl_and_tls_with_an_api_key(
    tmp_path: Path,
    secure_stack: SecureStack,
    secure_topic: str,
    secure_es: AsyncElasticsearch,
    secure_names: Names,
) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "app.log").write_bytes(b"".join(line(i) for i in range(LINES)))
    shipper = ShipperProcess(
        tmp_path / "sidecar",
        {
            "input": {"paths": [str(logs / "app.log")], **FAST_INPUT},
            "output": {
                "url": f"kafka://{secure_stack.kafka}/{secure_topic}",
                "kafka": secure_stack.kafka_security(),
            },
            "service": {"name": "orders"},
        },
    )
    shipper.workdir.mkdir()
    config = secure_names.config(secure_stack.kafka, secure_topic, secure_stack.elasticsearch)
    config["kafka"].update(secure_stack.kafka_security())
    config["elasticsearch"] = secure_stack.elasticsearch_config()
    indexer = IndexerProcess(tmp_path, config)
    started = time.monotonic()
    indexer.start()
    shipper.start()
    try:
        indexed = await wait_for_count(secure_es, secure_names.logs, LINES, timeout_s=120)
        elapsed = time.monotonic() - started
        assert indexed == LINES, indexer.tail()
        print(f"\n{LINES} lines end to end over SASL_SSL and TLS in {elapsed:.1f}s")
        docs = await documents(secure_es, secure_names.logs)
        assert sorted(seq_of(d) for d in docs) == list(range(LINES))
        assert await count(secure_es, secure_names.deadletters) == 0
        wait_for(lambda: indexer.metric("logferry_indexer_consumer_lag_records") == 0, timeout_s=20)
        assert indexer.metric("logferry_indexer_documents_indexed_total") == LINES
        assert indexer.metric("logferry_indexer_elasticsearch_up") == 1
        assert shipper.metric("logferry_shipper_output_up", default=None) == 1
        metrics = shipper.metrics() + indexer.metrics()
        search = _search(tmp_path, secure_stack, secure_names)
    finally:
        shipper.stop()
        indexer.stop()
    # What an operator reads: both processes' logs, their metrics, the search's output.
    seen = shipper.tail(10**7) + indexer.tail(10**7) + metrics + search
    for secret in secure_stack.secrets():
        assert secret not in seen
    assert "indexer stopped" in indexer.tail()
    # Nor in the brokers' and nodes' own logs (Kafka prints its config, passwords [hidden]).
    state = secure_stack.settings.state_dir
    stack_logs = [p for p in state.glob("**/*.log") if p.is_file()]
    assert any(p.name == "kafka.log" for p in stack_logs), stack_logs
    for path in stack_logs:
        text = path.read_text(errors="replace")
        for secret in secure_stack.secrets():
            assert secret not in text, path


def _search(tmp_path: Path, stack: SecureStack, names: Names) -> str:
    """`shipper search` through the documented settings (TLS with the CA, the API key)."""
    config = tmp_path / "search.yml"
    config.write_text(
        yaml.safe_dump(
            {
                "elasticsearch": stack.elasticsearch_config(),
                "index": {
                    "index_pattern": names.index_pattern,
                    "deadletter_pattern": names.deadletter_pattern,
                },
            }
        )
    )
    argv = ["search", "--config", str(config), "--since", "all", "--limit", "3", "--json"]
    result = subprocess.run(
        [sys.executable, "-m", "shipper", *argv, '"line 42"'],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    found = [json.loads(row) for row in result.stdout.splitlines() if row.startswith("{")]
    assert [doc["message"] for doc in found] == ["line 42"], result.stdout
    return result.stdout + result.stderr
