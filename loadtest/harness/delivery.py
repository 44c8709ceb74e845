"""Did every request the load made end up as exactly one searchable log line?

Locust's users append ``<request id> <status>`` per request to the request log; the app logs
each request's access line with that ID; logferry ships it to ``http.request.id``. This module
waits for the pipeline to drain and then compares the two sets.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from elasticsearch.helpers import async_scan

from shipper.indexer.config import ElasticsearchConfig
from shipper.indexer.es import build_client, call

__all__ = ["RequestMatch", "match_requests", "read_request_log"]

_SAMPLE = 10  # IDs named in the report per kind of mismatch


def read_request_log(path: Path) -> dict[str, int]:
    """Request ID → the status Locust saw (0: no response); a missing file is no requests."""
    sent: dict[str, int] = {}
    if not path.exists():
        return sent
    for line in path.read_text().splitlines():
        request_id, _, status = line.partition(" ")
        if request_id:
            sent[request_id] = int(status) if status.isdigit() else 0
    return sent


@dataclass
class RequestMatch:
    """Requests made against request lines found in Elasticsearch."""

    locust_requests: int
    ids_sent: int
    answered: int
    lines_found: int
    missing: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    missing_count: int = 0
    duplicated_count: int = 0
    unexpected_count: int = 0
    wait_s: float = 0.0

    @property
    def ok(self) -> bool:
        """Every request logged exactly once, and Locust counted exactly the IDs it recorded."""
        return self.locust_requests == self.ids_sent == self.lines_found and not (
            self.missing_count or self.duplicated_count or self.unexpected_count
        )


def _query(run_id: str) -> dict[str, Any]:
    # Access lines only: the app's extra lines carry the request ID too, but no status.
    return {
        "bool": {
            "filter": [
                {"prefix": {"http.request.id": f"{run_id}-"}},
                {"exists": {"field": "http.response.status_code"}},
            ]
        }
    }


async def match_requests(
    *,
    elasticsearch_url: str,
    index: str,
    run_id: str,
    sent: dict[str, int],
    locust_requests: int,
    timeout_s: float,
    credentials: Mapping[str, Any] | None = None,
) -> RequestMatch:
    """Wait (up to *timeout_s*) until the run's request lines stop arriving, then compare.

    *credentials*: the client's ``elasticsearch`` settings beside the URL (api_key, ca_certs…).
    """
    settings = ElasticsearchConfig.model_validate({"url": elasticsearch_url, **(credentials or {})})
    client = build_client(settings)
    started = time.monotonic()
    try:
        found = -1
        stable_polls = 0
        while time.monotonic() - started < timeout_s:
            await call("refresh", client.indices.refresh(index=index, ignore_unavailable=True))
            answer = await call(
                "count", client.count(index=index, query=_query(run_id), ignore_unavailable=True)
            )
            count = int(answer["count"])
            # Done when everything is there and a second look finds nothing more (duplicates).
            stable_polls = stable_polls + 1 if count == found else 0
            found = count
            if found >= len(sent) and stable_polls >= 1:
                break
            await asyncio.sleep(2.0)
        logged: Counter[str] = Counter()
        async for hit in async_scan(
            client,
            index=index,
            query={"query": _query(run_id)},
            _source=["http.request.id"],
            size=5000,
            ignore_unavailable=True,
        ):
            logged[hit["_source"]["http"]["request"]["id"]] += 1
    finally:
        await client.close()
    missing = sorted(set(sent) - set(logged))
    unexpected = sorted(set(logged) - set(sent))
    duplicated = sorted(request_id for request_id, n in logged.items() if n > 1)
    return RequestMatch(
        locust_requests=locust_requests,
        ids_sent=len(sent),
        answered=sum(1 for status in sent.values() if status > 0),
        lines_found=sum(logged.values()),
        missing=missing[:_SAMPLE],
        duplicated=duplicated[:_SAMPLE],
        unexpected=unexpected[:_SAMPLE],
        missing_count=len(missing),
        duplicated_count=len(duplicated),
        unexpected_count=len(unexpected),
        wait_s=time.monotonic() - started,
    )
