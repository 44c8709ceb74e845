"""`shipper search` and `shipper trace` requests, and table rows."""

from __future__ import annotations

import pytest

from shipper.errors import ConfigError
from shipper.indexer.config import IndexConfig
from shipper.indexer.search import parse_since, row_of, search_request, trace_request


@pytest.mark.parametrize(
    ("since", "bound"),
    [("15m", "now-15m"), ("2h", "now-2h"), ("7d", "now-7d"), ("all", None), (None, None)],
)
def test_since(since: str | None, bound: str | None) -> None:
    assert parse_since(since) == bound


def test_a_bad_since_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="--since"):
        parse_since("15 minutes")


def test_search_covers_the_daily_indices_but_not_the_dead_letters_newest_first() -> None:
    request = search_request("level:error", IndexConfig(), since="15m", service=None, limit=20)
    assert request.index == "app-logs-*-*,-app-logs-deadletter-*"
    query = request.body["query"]["bool"]
    assert query["must"] == [{"query_string": {"query": "level:error", "default_operator": "AND"}}]
    assert query["filter"] == [{"range": {"@timestamp": {"gte": "now-15m"}}}]
    assert request.body["sort"][0]["@timestamp"]["order"] == "desc"
    assert request.body["size"] == 20


def test_a_service_narrows_the_indices_to_its_own() -> None:
    request = search_request("*", IndexConfig(), since="all", service="Order API", limit=5)
    assert request.index.startswith("app-logs-order-api-*,")
    assert request.body["query"]["bool"]["must"] == [{"match_all": {}}]
    assert request.body["query"]["bool"]["filter"] == []


def test_trace_matches_any_correlation_field_oldest_first() -> None:
    request = trace_request("req-42", IndexConfig(), since=None, limit=100)
    should = request.body["query"]["bool"]["should"]
    assert {next(iter(s["term"])) for s in should} == {
        "trace.id",
        "transaction.id",
        "http.request.id",
    }
    assert request.body["query"]["bool"]["minimum_should_match"] == 1
    assert [next(iter(s)) for s in request.body["sort"]] == ["@timestamp", "log.offset"]
    assert request.body["sort"][0]["@timestamp"]["order"] == "asc"


def test_row_of_a_source() -> None:
    row = row_of(
        {
            "@timestamp": "2026-11-23T08:00:00.000Z",
            "log": {"level": "error"},
            "service": {"name": "orders"},
            "http": {"request": {"id": "req-1"}},
            "message": "boom\nTraceback ...",
        }
    )
    assert (row.time, row.level, row.service, row.trace_id) == (
        "2026-11-23T08:00:00.000Z",
        "error",
        "orders",
        "req-1",
    )
    assert row.message == "boom …"
    assert row_of({}).message == ""
