"""Before a run starts anything: is every service it depends on there? Each one is asked at once,
with a short timeout, and every one that does not answer is named in one line with its fix."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable

import aiohttp
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError

from loadtest.errors import LoadTestError
from loadtest.harness.config import RunConfig
from loadtest.harness.security import Credentials
from shipper.indexer.config import ElasticsearchConfig
from shipper.indexer.es import build_client, describe_error

__all__ = ["check_dependencies"]

TIMEOUT_S = 3.0
_STACK_FIX = "start the local stack (`shipper stack up`) or pass"


async def check_dependencies(config: RunConfig, timeout_s: float = TIMEOUT_S) -> None:
    """Raise :class:`LoadTestError` naming each dependency of *config* that does not answer."""
    credentials = Credentials.load(config.client_config)
    checks: list[Awaitable[str | None]] = [
        _elasticsearch(credentials.elasticsearch_config(config.elasticsearch), timeout_s),
    ]
    if config.shipper is None or config.indexer is None:  # the harness starts one on this Kafka
        checks.append(_kafka(config.kafka, credentials, timeout_s))
    given = {
        "--host (the demo app)": (config.host, "/health"),
        "--shipper": (_url(config.shipper), "/metrics"),
        "--indexer": (_url(config.indexer), "/metrics"),
        "--prometheus": (config.prometheus, "/-/ready"),
        "--alertmanager": (config.alertmanager, "/-/ready"),
    }
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout_s)) as http:
        for option, (base, path) in given.items():
            if base is not None:
                checks.append(_http(http, option, base.rstrip("/") + path))
        problems = [problem for problem in await asyncio.gather(*checks) if problem]
    if problems:
        raise LoadTestError("\n".join(problems))


def _url(address: str | None) -> str | None:
    if address is None or "://" in address:
        return address
    return f"http://{address}"


async def _elasticsearch(settings: ElasticsearchConfig, timeout_s: float) -> str | None:
    url = settings.url
    client = build_client(settings, timeout_s=timeout_s)
    try:
        await client.cluster.health()
    except Exception as exc:  # any failure: the run cannot look its request lines up
        return (
            f"Elasticsearch at {url} does not answer ({describe_error(exc)}): "
            f"{_STACK_FIX} --elasticsearch"
        )
    finally:
        await client.close()
    return None


async def _kafka(bootstrap: str, credentials: Credentials, timeout_s: float) -> str | None:
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap,
        client_id="logferry-loadtest-preflight",
        request_timeout_ms=int(timeout_s * 1000),
        **credentials.kafka_options(),
    )
    quiet = logging.getLogger("aiokafka")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # its own "Unable connect" line would repeat ours
    try:
        async with asyncio.timeout(timeout_s):
            await client.bootstrap()
    except (KafkaError, OSError, TimeoutError) as exc:
        why = "timed out" if isinstance(exc, TimeoutError) else type(exc).__name__
        return f"Kafka at {bootstrap} does not answer ({why}): {_STACK_FIX} --kafka"
    finally:
        quiet.setLevel(level)
        await client.close()
    return None


async def _http(http: aiohttp.ClientSession, option: str, url: str) -> str | None:
    try:
        async with http.get(url) as response:
            if response.status < 400:
                return None
            why = f"HTTP {response.status}"
    except (aiohttp.ClientError, OSError, TimeoutError) as exc:
        why = str(exc) or type(exc).__name__
    return f"{option}: {url} does not answer ({why}): start it, or leave {option.split()[0]} out"
