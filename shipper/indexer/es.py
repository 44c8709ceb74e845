"""The boundary to Elasticsearch: the client, what the cluster offers, and error translation.

Errors of the client (``elastic_transport`` connection errors, ``ApiError``) become
:class:`~shipper.errors.ElasticsearchError` here, for the commands; the indexer's bulk path
classifies them itself (:mod:`shipper.indexer.retry`), because it retries instead of failing.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable
from typing import Any, TypeVar

from elastic_transport import TransportError
from elasticsearch import ApiError, AsyncElasticsearch
from elasticsearch.serializer import OrjsonSerializer

from shipper.errors import ElasticsearchError, RefusedError
from shipper.indexer.config import ElasticsearchConfig
from shipper.indexer.templates import OPTIONAL_TYPES, ClusterFeatures

__all__ = [
    "build_client",
    "call",
    "data_nodes",
    "describe_error",
    "detect_features",
    "has_ilm",
    "missing_types",
]

T = TypeVar("T")

_NO_ILM_STATUSES = frozenset({400, 404, 405, 410})
"""How clusters without the ILM plugin answer ``GET /_ilm/policy`` (the minimal one: 405)."""


def build_client(
    config: ElasticsearchConfig, *, timeout_s: float | None = None
) -> AsyncElasticsearch:
    """An async client that never retries by itself (the indexer decides) and speaks orjson."""
    auth: dict[str, Any] = {}
    if config.api_key is not None:
        auth["api_key"] = config.api_key.get_secret_value()
    elif config.username is not None:
        password = config.password.get_secret_value() if config.password else ""
        auth["basic_auth"] = (config.username, password)
    tls: dict[str, Any] = {}
    if any(host.startswith("https://") for host in config.hosts):
        tls["verify_certs"] = config.verify_certs
        if config.ca_certs is not None:
            tls["ca_certs"] = str(config.ca_certs)
    return AsyncElasticsearch(
        config.hosts,
        request_timeout=timeout_s or config.request_timeout_s,
        max_retries=0,
        retry_on_timeout=False,
        serializers={"application/json": OrjsonSerializer()},
        **auth,
        **tls,
    )


_VERIFY = re.compile(r"certificate verify failed: ([^(\]']+)")


def refusal(exc: BaseException) -> str | None:
    """The one-line reason when *exc* is a mistake no retry mends: the credentials refused
    (401), or a TLS certificate that ``ca_certs`` does not vouch for or that has expired."""
    if isinstance(exc, ApiError) and exc.meta.status == 401:
        return (
            "Elasticsearch refused the credentials (401): check api_key, or username and password"
        )
    if isinstance(exc, TransportError) and "certificate verify failed" in str(exc.message):
        found = _VERIFY.search(str(exc.message))
        detail = found.group(1).strip() if found else "certificate verify failed"
        if "expired" in detail:
            return f"Elasticsearch's TLS certificate has expired ({detail})"
        return f"Elasticsearch's TLS certificate is not trusted by ca_certs ({detail})"
    return None


def describe_error(exc: BaseException) -> str:
    """One line: the status and the innermost reason Elasticsearch gave, or the connection failure."""
    if isinstance(exc, ApiError):
        return f"{exc.meta.status} {_innermost_reason(exc.body)}"
    if isinstance(exc, TransportError):
        return f"{type(exc).__name__}: {exc.message}"
    return repr(exc)


def _innermost_reason(body: Any) -> str:
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return str(error or body)[:500]
    shard = _first_shard_reason(error)
    if shard is not None:
        # A search refused on every shard says only "all shards failed" at the top; the shard's
        # reason names the problem and its innermost cause the position (a query's parse error).
        innermost = _innermost(shard)
        text = _one_line(shard)
        if innermost is not shard:
            text += f" ({_one_line(innermost)})"
        return text[:500]
    return _one_line(_innermost(error))[:500]


def _innermost(error: dict[str, Any]) -> dict[str, Any]:
    while isinstance(error.get("caused_by"), dict):
        error = error["caused_by"]
    return error


def _first_shard_reason(error: dict[str, Any]) -> dict[str, Any] | None:
    shards = error.get("failed_shards")
    if isinstance(error.get("caused_by"), dict) or not isinstance(shards, list) or not shards:
        return None
    reason = shards[0].get("reason") if isinstance(shards[0], dict) else None
    return reason if isinstance(reason, dict) else None


def _one_line(error: dict[str, Any]) -> str:
    """``type: reason``, cut at the reason's first line (parse errors go on to list every token)."""
    reason = str(error.get("reason", "")).split("\n", 1)[0].strip()
    return f"{error.get('type', 'error')}: {reason}"


async def call(what: str, awaitable: Awaitable[T]) -> T:
    """Await a client call; its errors become ElasticsearchError saying what was attempted."""
    try:
        return await awaitable
    except (ApiError, TransportError) as exc:
        raise ElasticsearchError(f"Elasticsearch: {what} failed: {describe_error(exc)}") from exc


async def has_ilm(es: AsyncElasticsearch) -> bool:
    """Whether the cluster has index lifecycle management (the minimal distribution has not).

    The first request of `setup` and of the indexer: refused credentials or TLS trust raise
    :class:`~shipper.errors.RefusedError` here, which they do not retry.
    """
    try:
        await es.ilm.get_lifecycle()
    except (ApiError, TransportError) as exc:
        if (reason := refusal(exc)) is not None:
            raise RefusedError(reason) from exc
        if isinstance(exc, TransportError):
            raise ElasticsearchError(f"Elasticsearch unreachable: {describe_error(exc)}") from exc
        if exc.meta.status in _NO_ILM_STATUSES:
            return False
        raise ElasticsearchError(
            f"Elasticsearch: cannot tell whether ILM is available: {describe_error(exc)}"
        ) from exc
    return True


async def missing_types(es: AsyncElasticsearch) -> frozenset[str]:
    """The optional mapping types the cluster has no mapper for (simulated: nothing is written)."""
    missing: set[str] = set()
    for es_type in OPTIONAL_TYPES:
        try:
            await es.indices.simulate_template(
                index_patterns=["logferry-type-probe-*"],
                priority=1,
                template={"mappings": {"properties": {"probe": {"type": es_type}}}},
            )
        except ApiError as exc:
            if exc.meta.status == 400 and f"[{es_type}]" in _innermost_reason(exc.body):
                missing.add(es_type)
                continue
            raise ElasticsearchError(
                f"Elasticsearch: cannot probe the mapping type {es_type}: {describe_error(exc)}"
            ) from exc
        except TransportError as exc:
            raise ElasticsearchError(f"Elasticsearch unreachable: {describe_error(exc)}") from exc
    return frozenset(missing)


async def detect_features(es: AsyncElasticsearch) -> ClusterFeatures:
    """ILM, the optional mapping types and how many nodes can hold a replica."""
    return ClusterFeatures(
        ilm=await has_ilm(es),
        missing_types=await missing_types(es),
        data_nodes=await data_nodes(es),
    )


async def data_nodes(es: AsyncElasticsearch) -> int | None:
    """How many data nodes the cluster has; None where the credentials may not ask."""
    try:
        health = await es.cluster.health(filter_path="number_of_data_nodes")
    except ApiError as exc:
        if exc.meta.status in (401, 403):
            return None
        raise ElasticsearchError(
            f"Elasticsearch: cannot count the data nodes: {describe_error(exc)}"
        ) from exc
    return int(health["number_of_data_nodes"])
