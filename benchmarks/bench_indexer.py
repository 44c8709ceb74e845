"""Indexer throughput against the real Kafka and Elasticsearch (the local stack).

Three runs over the same generated events, in one process each where it matters:
  (a) end to end: a log file -> `shipper run` -> Kafka -> `shipper index` -> Elasticsearch
  (b) the indexer alone: the events already in the topic -> `shipper index` -> Elasticsearch
  (c) the ceiling: the same events bulk-written straight into Elasticsearch by this script
      (same bulk size, same concurrency, no Kafka, no per-record work), measured in the same run
Figures are documents per second, and (b) as a ratio of (c), since machines are noisy.

    python benchmarks/bench_indexer.py --lines 100000

Each run uses its own topic, index prefix and templates, deleted at the end.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import orjson
import yaml
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from elasticsearch import AsyncElasticsearch

from loadtest.harness.launch import free_port

_LEVELS = ["INFO"] * 8 + ["WARNING", "ERROR"]
_PATHS = ["/orders", "/orders/search", "/checkout", "/health", "/orders/{id}"]


def generate(path: Path, lines: int, seed: int = 7) -> None:
    """python-json-logger lines (~300 B): 80 % today, 15 % yesterday, 5 % 40 days ago."""
    rng = random.Random(seed)
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with path.open("wb") as out:
        chunk: list[bytes] = []
        for n in range(lines):
            days = 40 if n % 20 == 0 else 1 if n % 20 < 4 else 0
            when = today - timedelta(days=days) + timedelta(milliseconds=n)
            level = rng.choice(_LEVELS)
            status = 500 if level == "ERROR" else rng.choice([200, 200, 201, 404])
            record = {
                "asctime": when.strftime("%Y-%m-%d %H:%M:%S,") + f"{when.microsecond // 1000:03d}",
                "levelname": level,
                "name": "demo.http",
                "message": f"{rng.choice(['GET', 'POST'])} {rng.choice(_PATHS)} -> {status}",
                "status": status,
                "duration_ms": round(rng.expovariate(1 / 40), 2),
                "request_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "user_id": f"u-{rng.randrange(5000)}",
                "seq": n,
            }
            chunk.append(orjson.dumps(record) + b"\n")
            if len(chunk) == 10_000:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))


@dataclass
class Run:
    name: str
    documents: int
    seconds: float
    peak_rss_mib: float | None = None

    @property
    def rate(self) -> float:
        return self.documents / self.seconds


def _start(
    workdir: Path, command: str, config: dict[str, Any], name: str
) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    path = workdir / f"{name}.yml"
    path.write_text(yaml.safe_dump({**config, "metrics_addr": f"127.0.0.1:{port}"}))
    log = (workdir / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "shipper", command, "--config", str(path)],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    return proc, port


def _peak_rss_mib(proc: subprocess.Popen[bytes]) -> float | None:
    try:
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


async def _count(es: AsyncElasticsearch, index: str) -> int:
    await es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    response = await es.count(index=index, ignore_unavailable=True, allow_no_indices=True)
    return int(response["count"])


async def _wait_for(es: AsyncElasticsearch, index: str, expected: int, timeout_s: float) -> float:
    """Seconds until *index* holds *expected* documents."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if await _count(es, index) >= expected:
            return time.monotonic() - started
        await asyncio.sleep(0.25)
    raise SystemExit(f"{index}: only {await _count(es, index)} of {expected} after {timeout_s}s")


def _indexer_config(kafka: str, topic: str, es_url: str, prefix: str) -> dict[str, Any]:
    return {
        "kafka": {"url": f"kafka://{kafka}/{topic}", "group_id": f"{prefix}-group"},
        "elasticsearch": {"url": es_url},
        "index": {
            "index_pattern": f"{prefix}-{{service}}-{{date}}",
            "deadletter_pattern": f"{prefix}-deadletter-{{date}}",
            "template_name": prefix,
            "number_of_replicas": 0,
        },
        "retention": {"days": 60},
    }


async def _topic(kafka: str, name: str, create: bool) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka)
    await admin.start()
    try:
        if create:
            await admin.create_topics([NewTopic(name, num_partitions=3, replication_factor=1)])
        else:
            await admin.delete_topics([name])
    finally:
        await admin.close()


async def _cleanup(es: AsyncElasticsearch, prefix: str) -> None:
    resolved = await es.indices.resolve_index(name=f"{prefix}-*", expand_wildcards="open,closed")
    names = [entry["name"] for entry in resolved.get("indices", [])]
    for start in range(0, len(names), 50):
        await es.indices.delete(index=",".join(names[start : start + 50]), ignore_unavailable=True)
    for name in (prefix, f"{prefix}-deadletter"):
        await es.options(ignore_status=404).indices.delete_index_template(name=name)
    for name in (f"{prefix}@settings", f"{prefix}@ecs-mappings"):
        await es.options(ignore_status=404).cluster.delete_component_template(name=name)


async def end_to_end(
    workdir: Path, log: Path, lines: int, kafka: str, es_url: str, es: AsyncElasticsearch
) -> Run:
    prefix, topic = f"bench-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    await _topic(kafka, topic, create=True)
    shipper_config = {
        "input": {"paths": [str(log)], "scan_interval_s": 0.2, "poll_interval_s": 0.05},
        "output": {"url": f"kafka://{kafka}/{topic}"},
        "service": {"name": "orders"},
        "state_dir": str(workdir / "state-e2e"),
    }
    started = time.monotonic()
    indexer, _ = _start(
        workdir, "index", _indexer_config(kafka, topic, es_url, prefix), "indexer-e2e"
    )
    shipper, _ = _start(workdir, "run", shipper_config, "shipper-e2e")
    try:
        await _wait_for(es, f"{prefix}-orders-*", lines, timeout_s=600)
        elapsed = time.monotonic() - started
        rss = _peak_rss_mib(indexer)
    finally:
        _stop(shipper)
        _stop(indexer)
        await _cleanup(es, prefix)
        await _topic(kafka, topic, create=False)
    return Run("(a) file -> shipper -> Kafka -> indexer -> ES", lines, elapsed, rss)


async def indexer_alone(
    workdir: Path,
    log: Path,
    data_lines: list[bytes],
    lines: int,
    kafka: str,
    es_url: str,
    es: AsyncElasticsearch,
) -> Run:
    from pipelines.context import PipelineContext
    from pipelines.pipeline import Pipeline
    from pipelines.types import RawLine
    from shipper.sinks import KafkaSink, KafkaSinkConfig, OutgoingEvent

    prefix, topic = f"bench-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    pipeline = Pipeline.from_config(None, PipelineContext(service_name="orders", host_name="bench"))
    events, offset = [], 0
    for data in data_lines:
        event = pipeline(
            RawLine(
                data=data.rstrip(b"\n"),
                path=str(log),
                file_id="f1",
                offset=offset,
                end_offset=offset + len(data),
            )
        )
        offset += len(data)
        key = (event.get("http", {}).get("request", {}).get("id") or "f1").encode()
        events.append(OutgoingEvent(orjson.dumps(event), key, event["event"]["id"]))
    await _topic(kafka, topic, create=True)
    indexer: subprocess.Popen[bytes] | None = None
    try:
        sink = KafkaSink(kafka, topic, KafkaSinkConfig())
        for start in range(0, len(events), 5000):
            await sink.publish(events[start : start + 5000])
        await sink.close()
        started = time.monotonic()
        indexer, _ = _start(
            workdir, "index", _indexer_config(kafka, topic, es_url, prefix), "indexer-alone"
        )
        await _wait_for(es, f"{prefix}-orders-*", lines, timeout_s=600)
        elapsed = time.monotonic() - started
        rss = _peak_rss_mib(indexer)
    finally:
        if indexer is not None:
            _stop(indexer)
        await _cleanup(es, prefix)
        await _topic(kafka, topic, create=False)
    return Run("(b) topic -> indexer -> ES (incl. start-up)", lines, elapsed, rss)


async def ceiling(
    data_lines: list[bytes], lines: int, es: AsyncElasticsearch, es_url: str, kafka: str
) -> Run:
    """The same documents, bulk-created by this process: what Elasticsearch alone allows."""
    from shipper.indexer.config import load_indexer_config
    from shipper.indexer.es import detect_features
    from shipper.indexer.setup import install_templates

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    config = load_indexer_config(
        overrides=_indexer_config(kafka, "unused", es_url, prefix), environ={}
    )
    await install_templates(es, config, await detect_features(es))
    bodies: list[bytes] = []
    parts: list[bytes] = []
    for n, data in enumerate(data_lines):
        record = orjson.loads(data)
        day = record["asctime"][:10].replace("-", ".")
        parts.append(orjson.dumps({"create": {"_index": f"{prefix}-orders-{day}", "_id": str(n)}}))
        parts.append(
            orjson.dumps(
                {
                    "@timestamp": record["asctime"][:10] + "T00:00:00Z",
                    "message": record["message"],
                    "app": record,
                }
            )
        )
        if len(parts) == 2 * 2000:
            bodies.append(b"\n".join(parts) + b"\n")
            parts.clear()
    if parts:
        bodies.append(b"\n".join(parts) + b"\n")
    queue = list(reversed(bodies))
    started = time.monotonic()

    async def worker() -> None:
        while queue:
            body = queue.pop()
            await es.bulk(operations=body)  # type: ignore[arg-type]

    try:
        await asyncio.gather(*(worker() for _ in range(3)))
        await _wait_for(es, f"{prefix}-orders-*", lines, timeout_s=600)
        elapsed = time.monotonic() - started
    finally:
        await _cleanup(es, prefix)
    return Run("(c) ceiling: direct bulk from one process", lines, elapsed)


@click.command()
@click.option("--lines", default=100_000, show_default=True, help="Lines / events per run.")
@click.option("--kafka", default="127.0.0.1:9092", show_default=True, help="Kafka bootstrap.")
@click.option(
    "--es", "es_url", default="http://127.0.0.1:9200", show_default=True, help="Elasticsearch URL."
)
@click.option("--skip-end-to-end", is_flag=True, help="Only (b) and (c).")
def main(lines: int, kafka: str, es_url: str, skip_end_to_end: bool) -> None:
    """Measure the indexer's throughput (documents per second) against the local stack."""

    async def go(workdir: Path, log: Path, data_lines: list[bytes]) -> list[Run]:
        es = AsyncElasticsearch(es_url, request_timeout=120)
        try:
            runs = []
            if not skip_end_to_end:
                runs.append(await end_to_end(workdir, log, lines, kafka, es_url, es))
                print(f"{runs[-1].name}: done", file=sys.stderr)
            runs.append(await indexer_alone(workdir, log, data_lines, lines, kafka, es_url, es))
            print(f"{runs[-1].name}: done", file=sys.stderr)
            runs.append(await ceiling(data_lines, lines, es, es_url, kafka))
            return runs
        finally:
            await es.close()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        log = workdir / "app.log"
        generate(log, lines)
        print(f"generated {lines:,} lines ({log.stat().st_size / 2**20:.1f} MiB)", file=sys.stderr)
        data_lines = log.read_bytes().splitlines(keepends=True)
        runs = asyncio.run(go(workdir, log, data_lines))
    top = runs[-1].rate
    print(f"{'run':<50} {'docs':>9} {'seconds':>8} {'docs/s':>9} {'of (c)':>7} {'peak RSS':>9}")
    for run in runs:
        rss = f"{run.peak_rss_mib:.0f} MiB" if run.peak_rss_mib else "-"
        print(
            f"{run.name:<50} {run.documents:>9,} {run.seconds:>8.1f} {run.rate:>9,.0f} "
            f"{run.rate / top:>7.0%} {rss:>9}"
        )


if __name__ == "__main__":
    main()
