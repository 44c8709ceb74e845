"""`shipper search` with a query Elasticsearch cannot parse says why and where; `shipper trace`
shows the stack trace a failed request's line carries. About 3 s: four short commands."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from elasticsearch import AsyncElasticsearch

from tests.integration.indexer.support import Names
from tests.integration.indexer.test_commands import shipper, write_config

STACK = (
    "Traceback (most recent call last):\n"
    '  File "/app/shop/checkout.py", line 42, in pay\n'
    "    raise PaymentGatewayError('gateway timed out')\n"
    "shop.errors.PaymentGatewayError: gateway timed out"
)


async def _one_failed_request(es: AsyncElasticsearch, names: Names, config: Path) -> None:
    """One 502 line in the test's daily index (its template installed: ids are keywords)."""
    assert shipper("setup", "--config", str(config), "--skip-kafka").returncode == 0
    now = datetime.now(UTC)
    await es.index(
        index=f"{names.prefix}-shop-{now:%Y.%m.%d}",
        id="e1",
        document={
            "@timestamp": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "service": {"name": "shop"},
            "log": {"level": "error"},
            "message": "POST /checkout 502",
            "http": {"request": {"id": "req-5xx-1"}, "response": {"status_code": 502}},
            "error": {"type": "shop.errors.PaymentGatewayError", "stack_trace": STACK},
        },
        refresh=True,
    )


async def test_an_invalid_query_shows_elasticsearchs_reason_and_position(
    tmp_path: Path, elasticsearch_url: str, es: AsyncElasticsearch, names: Names
) -> None:
    path = write_config(tmp_path, names.config("127.0.0.1:9092", "unused", elasticsearch_url))
    await _one_failed_request(es, names, path)
    result = shipper("search", "http.response.status_code:>=500 AND (", "--config", str(path))
    assert result.returncode != 0
    error = result.stderr.strip().splitlines()[-1]
    assert "all shards failed" not in error, error
    assert "Failed to parse query" in error and "line 1, column 37" in error, error


async def test_trace_shows_the_stack_trace_of_a_failed_requests_line(
    tmp_path: Path, elasticsearch_url: str, es: AsyncElasticsearch, names: Names
) -> None:
    path = write_config(tmp_path, names.config("127.0.0.1:9092", "unused", elasticsearch_url))
    await _one_failed_request(es, names, path)
    found = shipper("search", "http.response.status_code:>=500", "--config", str(path))
    assert "req-5xx-1" in found.stdout and "Traceback" not in found.stdout  # one line a hit
    traced = shipper("trace", "req-5xx-1", "--config", str(path))
    assert traced.returncode == 0, traced.stderr
    assert "POST /checkout 502" in traced.stdout
    assert "Traceback (most recent call last):" in traced.stdout
    assert "PaymentGatewayError: gateway timed out" in traced.stdout
