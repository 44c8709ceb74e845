"""Write a batch with the bulk API and return only when every document of it is settled.

Each round sends the documents not yet settled as ``create`` actions (``_id`` = ``event.id``)
and sorts the answers (:func:`~shipper.indexer.retry.classify`): created and 409 are settled;
retriable ones go again after a backoff; an event refused for good is replaced by its dead
letter, which goes in the next round. A whole request that fails (Elasticsearch down, timeout)
is retried whole, for as long as it takes: nothing is dropped, and the caller — which holds the
Kafka offsets back meanwhile — decides when to give up (on shutdown).

A whole request refused for its content (400, 413: one action Elasticsearch validates before
the items, such as an ``_id`` over 512 bytes, or a body too large) would fail the same way
forever and hold its partitions back. It is split in halves, each written on its own, until the
document at fault is alone: its refusal is then that document's answer, and it is dead-lettered
like any item refused for good, while every other document is written.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final, NamedTuple, cast

from elastic_transport import TransportError
from elasticsearch import ApiError, AsyncElasticsearch

from shipper.backoff import Backoff
from shipper.indexer.batch import bulk_body
from shipper.indexer.deadletter import DeadLetters
from shipper.indexer.documents import Document
from shipper.indexer.es import describe_error
from shipper.indexer.metrics import IndexerMetrics
from shipper.indexer.retry import Outcome, classify, retry_reason

__all__ = ["BulkWriter"]

log = logging.getLogger("logferry.indexer.bulk")

_FILTER_PATH: Final = ["errors", "items.*.status", "items.*.error"]
_CONTENT_REFUSED: Final = frozenset({400, 413})
"""Statuses of a whole bulk request that blame its content, not the cluster: split, not retried."""


class _Refused(NamedTuple):
    """A whole request refused for its content: the answer of its documents (if alone)."""

    status: int
    error: dict[str, Any]


class BulkWriter:
    """Sends batches; shared by every in-flight bulk of one indexer."""

    def __init__(
        self,
        client: AsyncElasticsearch,
        deadletters: DeadLetters,
        metrics: IndexerMetrics,
        backoff: Callable[[], Backoff],
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._client = client
        self._deadletters = deadletters
        self._metrics = metrics
        self._backoff = backoff
        self._sleep = sleep

    async def write(self, documents: list[Document]) -> list[Document]:
        """Write *documents*; return them once each is settled (created, duplicate or dead-lettered)."""
        await self._settle(documents)
        return documents

    async def _settle(self, documents: list[Document]) -> None:
        """:meth:`write`'s work; a request refused for its content is settled half by half."""
        pending = documents
        backoff = self._backoff()
        while pending:
            answer = await self._send(pending)
            if answer is None:
                await self._sleep(backoff.next())
                continue
            if isinstance(answer, _Refused):
                if len(pending) > 1:
                    half = len(pending) // 2
                    await self._settle(pending[:half])
                    await self._settle(pending[half:])
                    return
                items = [{"status": answer.status, "error": answer.error}]
            else:
                items = answer
            retry: list[Document] = []
            replacements: list[Document] = []
            created = duplicates = 0
            for document, item in zip(pending, items, strict=True):
                # The common answers counted here, once per round; the rest sorted one by one.
                status = item.get("status")
                if status == 201 and document.deadletter_reason is None:
                    created += 1
                elif status == 409:
                    duplicates += 1
                else:
                    self._sort(document, item, retry, replacements)
            if created:
                self._metrics.documents_indexed.inc(created)
            if duplicates:
                self._metrics.documents_duplicate.inc(duplicates)
            pending = replacements + retry
            if retry:
                await self._sleep(backoff.next())
            else:
                backoff.reset()

    async def _send(self, documents: list[Document]) -> list[dict[str, Any]] | _Refused | None:
        """Items of the answer, in order; :class:`_Refused` if the request was refused for its
        content; None if it failed as a whole otherwise (already counted)."""
        metrics = self._metrics
        body = bulk_body(documents)
        metrics.bulk_documents.observe(len(documents))
        metrics.bulk_request_bytes.observe(len(body))
        started = time.perf_counter()
        status: int | None = None
        try:
            # Bytes pass through the client's NDJSON serializer untouched (typed as a list of actions).
            response = await self._client.bulk(operations=cast(Any, body), filter_path=_FILTER_PATH)
        except ApiError as exc:
            status, error = exc.meta.status, describe_error(exc)
            if status in _CONTENT_REFUSED:
                metrics.bulk_failures.inc()
                log.warning(
                    "bulk request refused for its content; splitting it",
                    extra={"error": error, "status": status, "documents": len(documents)},
                )
                return _Refused(status, _api_error_object(exc, status))
        except (TransportError, OSError) as exc:
            error = describe_error(exc)
        else:
            metrics.bulk_latency.observe(time.perf_counter() - started)
            metrics.elasticsearch_up.set(1)
            items = response.body.get("items") if isinstance(response.body, dict) else None
            if isinstance(items, list) and len(items) == len(documents):
                return [next(iter(item.values())) for item in items]
            status, error = None, f"an answer with {len(items or [])} items for {len(documents)}"
        metrics.bulk_failures.inc()
        metrics.documents_retried.labels(retry_reason(status)).inc(len(documents))
        if status is None or status >= 500:
            metrics.elasticsearch_up.set(0)
        log.warning(
            "bulk request failed, retrying", extra={"error": error, "documents": len(documents)}
        )
        return None

    def _sort(
        self,
        document: Document,
        item: dict[str, Any],
        retry: list[Document],
        replacements: list[Document],
    ) -> None:
        metrics = self._metrics
        status = int(item.get("status", 0))
        error = item.get("error")
        outcome = classify(status, error)
        if outcome is Outcome.CREATED:
            if document.deadletter_reason is None:
                metrics.documents_indexed.inc()
            else:
                metrics.dead_letters.labels(document.deadletter_reason).inc()
        elif outcome is Outcome.DUPLICATE:
            metrics.documents_duplicate.inc()
        elif outcome is Outcome.RETRY:
            metrics.documents_retried.labels(retry_reason(status)).inc()
            retry.append(document)
        else:
            error_type, message = _error_text(error, status)
            if document.deadletter_reason is None:
                letter = self._deadletters.rejected(document, error_type, message)
                if letter.deadletter_reason == "rejected":
                    metrics.documents_rejected.inc()
                    log.warning(
                        "event refused for good; writing it as a dead letter",
                        extra={"index": document.index, "id": document.id, "error": message},
                    )
                else:  # a spliced record that is not an event after all (documents.py)
                    log.warning(
                        "record is not an event; writing it as a dead letter",
                        extra={"reason": letter.deadletter_reason, "id": document.id},
                    )
                replacements.append(letter)
            elif not document.last_resort:
                log.error(
                    "dead letter refused; writing a minimal one",
                    extra={"index": document.index, "id": document.id, "error": message},
                )
                replacements.append(self._deadletters.minimal(document, error_type, message))
            else:
                # Even the minimal dead letter was refused: keep it (the offset stays uncommitted
                # and the lag shows it) rather than lose the record.
                log.error(
                    "minimal dead letter refused; retrying",
                    extra={"index": document.index, "id": document.id, "error": message},
                )
                metrics.documents_retried.labels(retry_reason(status)).inc()
                retry.append(document)


def _error_text(error: Any, status: int) -> tuple[str, str]:
    """(type, message) of a bulk item's error, the causes appended to the message."""
    if not isinstance(error, dict):
        return "http_" + str(status), str(error or f"status {status}")
    error_type = str(error.get("type", f"http_{status}"))
    parts = [str(error.get("reason", ""))]
    cause = error.get("caused_by")
    while isinstance(cause, dict):
        parts.append(f"{cause.get('type', 'error')}: {cause.get('reason', '')}")
        cause = cause.get("caused_by")
    return error_type, " / caused by ".join(part for part in parts if part)[:4000]


def _api_error_object(exc: ApiError, status: int) -> dict[str, Any]:
    """The ``error`` object of a refused request, shaped like a bulk item's."""
    body = exc.body
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return error
    return {"type": f"http_{status}", "reason": str(error or body or exc.message)[:4000]}
