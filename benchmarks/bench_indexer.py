"""Indexer throughput against the real Kafka and Elasticsearch (the local stack).

Runs over the same generated lines, in one process each where it matters:
  (a) end to end: a log file -> `shipper run` -> Kafka -> `shipper index` -> Elasticsearch
  (b) the indexer alone: the events already in the topic -> `shipper index` -> Elasticsearch;
      the records carry the headers of shipper.sinks.headers (event.id, logferry-schema,
      logferry-day, logferry-service), so the indexer splices them; with --legacy-headers only
      event.id and logferry-schema (an older shipper: the indexer parses every record)
  (c) the ceiling: as many documents bulk-written straight into Elasticsearch by this script
      (same bulk size, same concurrency, no Kafka, no per-record work), measured in the same
      run; its documents are light (each line under `app`, three fields besides)
  (d) the same as (c) with the very documents the indexer writes (the shipper's ECS events with
      `event.ingested`, under their event.id): what Elasticsearch allows for *them*
Figures are documents per second, and (b) as a ratio of (c) and (d), since machines are noisy.
For (b) also: the rate from the first documents written to the last ("steady", without the
process's start-up), and the CPU seconds the indexer process used per 100,000 documents (its
whole life, start-up included, and the steady part alone). (a) and (b) follow the indexer's
progress in its metrics, not by searching (a refresh per poll would cost Elasticsearch work the
ceilings do not do); each run ends, as (c) and (d) do, with one refresh and count that finds
every document.

    python benchmarks/bench_indexer.py --lines 100000 --skip-end-to-end --rounds 3

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
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
import orjson
import yaml
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from benchlib import baseline_name, describe_interpreter
from elasticsearch import AsyncElasticsearch

from loadtest.harness.launch import free_port

CHECKOUT = Path(__file__).resolve().parents[1]
"""The checkout this benchmark is in: its indexer is the one measured (besides --baseline's)."""

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
    cpu_s: float | None = None
    """CPU seconds (user + system) of the indexer process, start to end."""
    steady: Steady | None = None

    @property
    def rate(self) -> float:
        return self.documents / self.seconds


@dataclass
class Steady:
    """From the first poll that saw documents in Elasticsearch to the last one."""

    documents: int
    seconds: float
    cpu_s: float | None
    start_up_s: float
    """From the indexer's start to that first poll: what the whole-life rate pays once."""

    @property
    def rate(self) -> float:
        return self.documents / self.seconds


def _start(
    workdir: Path,
    command: str,
    config: dict[str, Any],
    name: str,
    checkout: Path = CHECKOUT,
    python: str = sys.executable,
) -> tuple[subprocess.Popen[bytes], int]:
    """Start *checkout*'s ``shipper COMMAND`` on *python* (``-m shipper`` imports the package
    PYTHONPATH names first, whichever checkout the environment has installed)."""
    port = free_port()
    path = workdir / f"{name}.yml"
    path.write_text(yaml.safe_dump({**config, "metrics_addr": f"127.0.0.1:{port}"}))
    log = (workdir / f"{name}.log").open("ab")
    proc = subprocess.Popen(
        [python, "-m", "shipper", command, "--config", str(path)],
        cwd=workdir,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(checkout),
        },
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


def _cpu_s(proc: subprocess.Popen[bytes]) -> float | None:
    """User + system CPU seconds *proc* has used so far."""
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)


async def _count(es: AsyncElasticsearch, index: str) -> int:
    await es.indices.refresh(index=index, ignore_unavailable=True, allow_no_indices=True)
    response = await es.count(index=index, ignore_unavailable=True, allow_no_indices=True)
    return int(response["count"])


async def _wait_for(es: AsyncElasticsearch, index: str, expected: int, timeout_s: float) -> None:
    """Wait until *index* holds *expected* documents (each poll refreshes: for the ceiling's end)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if await _count(es, index) >= expected:
            return
        await asyncio.sleep(0.25)
    raise SystemExit(f"{index}: only {await _count(es, index)} of {expected} after {timeout_s}s")


def _written(port: int) -> int:
    """Documents the indexer on *port* has written (created or already there), by its metrics."""
    wanted = (
        "logferry_indexer_documents_indexed_total ",
        "logferry_indexer_documents_duplicate_total ",
    )
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
            text = response.read().decode()
    except OSError:
        return 0  # not serving yet
    return int(
        sum(float(line.rpartition(" ")[2]) for line in text.splitlines() if line.startswith(wanted))
    )


async def _wait_for_indexer(
    es: AsyncElasticsearch,
    index: str,
    expected: int,
    timeout_s: float,
    proc: subprocess.Popen[bytes],
    port: int,
) -> Steady:
    """Wait until the indexer has written *expected* documents, then until *index* shows them.

    Progress comes from the indexer's own metrics, not from searching: a refresh per poll would
    make Elasticsearch cut a segment four times a second, work the ceiling run does not pay for.
    Like the ceiling run, the end is one refresh and count after the last bulk. Returns the
    steady part: from the first poll that saw documents written to the end.
    """
    started = time.monotonic()
    first: tuple[int, float, float | None] | None = None
    while time.monotonic() - started < timeout_s:
        if proc.poll() is not None:
            raise SystemExit(f"the indexer exited ({proc.returncode}) before {index} was full")
        written = _written(port)
        if first is None and written > 0:
            first = (written, time.monotonic(), _cpu_s(proc))
        if written >= expected:
            await _wait_for(es, index, expected, timeout_s)
            assert first is not None
            now, cpu = time.monotonic(), _cpu_s(proc)
            cpu_s = None if cpu is None or first[2] is None else cpu - first[2]
            return Steady(expected - first[0], now - first[1], cpu_s, first[1] - started)
        await asyncio.sleep(0.1)
    raise SystemExit(f"the indexer wrote only {_written(port)} of {expected} after {timeout_s}s")


def _indexer_config(
    kafka: str, topic: str, es_url: str, prefix: str, replicas: int = 0
) -> dict[str, Any]:
    return {
        "kafka": {"url": f"kafka://{kafka}/{topic}", "group_id": f"{prefix}-group"},
        "elasticsearch": {"url": es_url},
        "index": {
            "index_pattern": f"{prefix}-{{service}}-{{date}}",
            "deadletter_pattern": f"{prefix}-deadletter-{{date}}",
            "template_name": prefix,
            "number_of_replicas": replicas,
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
    workdir: Path,
    log: Path,
    lines: int,
    kafka: str,
    es_url: str,
    es: AsyncElasticsearch,
    python: str,
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
    indexer, port = _start(
        workdir,
        "index",
        _indexer_config(kafka, topic, es_url, prefix),
        "indexer-e2e",
        python=python,
    )
    shipper, _ = _start(workdir, "run", shipper_config, "shipper-e2e", python=python)
    try:
        await _wait_for_indexer(es, f"{prefix}-orders-*", lines, 600, indexer, port)
        elapsed = time.monotonic() - started
        rss, cpu = _peak_rss_mib(indexer), _cpu_s(indexer)
    finally:
        _stop(shipper)
        _stop(indexer)
        await _cleanup(es, prefix)
        await _topic(kafka, topic, create=False)
    return Run("(a) file -> shipper -> Kafka -> indexer -> ES", lines, elapsed, rss, cpu)


Record = tuple[bytes, bytes, list[tuple[str, bytes]], str]
"""A published event: value, key, headers, and the day of its index (``YYYY.MM.DD``)."""


def shipper_records(log: Path, data_lines: list[bytes], legacy_headers: bool) -> list[Record]:
    """The lines as the shipper publishes them: its default pipeline, orjson, its headers."""
    from pipelines.context import PipelineContext
    from pipelines.pipeline import Pipeline
    from pipelines.types import RawLine
    from shipper.sinks.kafka import SCHEMA_VERSION

    pipeline = Pipeline.from_config(None, PipelineContext(service_name="orders", host_name="bench"))
    records: list[Record] = []
    offset = 0
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
        headers = [("event.id", event["event"]["id"].encode()), ("logferry-schema", SCHEMA_VERSION)]
        if not legacy_headers:
            from shipper.sinks.headers import route_headers

            headers += route_headers(event)
        day = event["@timestamp"][:10].replace("-", ".")  # the pipeline's are UTC, ending in Z
        records.append((orjson.dumps(event), key, headers, day))
    return records


async def indexer_alone(
    workdir: Path,
    records: list[Record],
    kafka: str,
    es_url: str,
    es: AsyncElasticsearch,
    python: str,
    legacy_headers: bool = False,
    checkout: Path = CHECKOUT,
) -> Run:
    lines = len(records)
    prefix, topic = f"bench-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
    await _topic(kafka, topic, create=True)
    indexer: subprocess.Popen[bytes] | None = None
    try:
        await _publish(kafka, topic, records)
        started = time.monotonic()
        indexer, port = _start(
            workdir,
            "index",
            _indexer_config(kafka, topic, es_url, prefix),
            "indexer-alone",
            checkout,
            python,
        )
        steady = await _wait_for_indexer(es, f"{prefix}-orders-*", lines, 600, indexer, port)
        elapsed = time.monotonic() - started
        rss, cpu = _peak_rss_mib(indexer), _cpu_s(indexer)
    finally:
        if indexer is not None:
            _stop(indexer)
        await _cleanup(es, prefix)
        await _topic(kafka, topic, create=False)
    what = "older shipper's headers: parsed" if legacy_headers else "routing headers: spliced"
    indexer_name = "indexer" if checkout == CHECKOUT else baseline_name("logferry", checkout)
    return Run(f"(b) topic -> {indexer_name} -> ES ({what})", lines, elapsed, rss, cpu, steady)


async def _publish(kafka: str, topic: str, records: list[Record]) -> None:
    """Publish (value, key, headers) records as the shipper does: acks=all, idempotent, its codec."""
    from shipper.sinks import KafkaSinkConfig

    config = KafkaSinkConfig()
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka,
        acks="all",
        enable_idempotence=True,
        compression_type=config.compression_type(),
        linger_ms=config.linger_ms,
        max_batch_size=config.max_batch_bytes,
    )
    await producer.start()
    try:
        for start in range(0, len(records), 5000):
            futures = [
                await producer.send(topic, value=value, key=key, headers=headers)
                for value, key, headers, _ in records[start : start + 5000]
            ]
            await asyncio.gather(*futures)
    finally:
        await producer.stop()


async def ceiling(
    data_lines: list[bytes], lines: int, es: AsyncElasticsearch, es_url: str, kafka: str
) -> Run:
    """Light documents (the line under `app`), bulk-created by this process: what Elasticsearch
    alone allows for them."""

    def documents(prefix: str) -> Iterator[tuple[bytes, bytes]]:
        for n, data in enumerate(data_lines):
            record = orjson.loads(data)
            day = record["asctime"][:10].replace("-", ".")
            action = {"create": {"_index": f"{prefix}-orders-{day}", "_id": str(n)}}
            source = {
                "@timestamp": record["asctime"][:10] + "T00:00:00Z",
                "message": record["message"],
                "app": record,
            }
            yield orjson.dumps(action), orjson.dumps(source)

    elapsed = await _bulk_directly(documents, lines, es, es_url, kafka)
    return Run("(c) ceiling: direct bulk from one process", lines, elapsed)


async def ceiling_same_documents(
    records: list[Record], es: AsyncElasticsearch, es_url: str, kafka: str, replicas: int = 0
) -> Run:
    """The very documents the indexer writes (each event with `event.ingested`, under its
    event.id, in its day's index), bulk-created by this process."""
    ingested = b',"event.ingested":"' + datetime.now(UTC).isoformat().encode() + b'"}'

    def documents(prefix: str) -> Iterator[tuple[bytes, bytes]]:
        for value, _, headers, day in records:
            action = {"create": {"_index": f"{prefix}-orders-{day}", "_id": headers[0][1].decode()}}
            yield orjson.dumps(action), value[:-1] + ingested

    elapsed = await _bulk_directly(documents, len(records), es, es_url, kafka, replicas)
    return Run("(d) ceiling: (c) with the indexer's documents", len(records), elapsed)


async def _bulk_directly(
    documents: Callable[[str], Iterator[tuple[bytes, bytes]]],
    lines: int,
    es: AsyncElasticsearch,
    es_url: str,
    kafka: str,
    replicas: int = 0,
) -> float:
    """Seconds to bulk-create *documents* (bodies built beforehand) with the indexer's bulk size
    and concurrency, until a refresh shows them all; in indices with the indexer's templates."""
    from shipper.indexer.config import load_indexer_config
    from shipper.indexer.es import detect_features
    from shipper.indexer.setup import install_templates

    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    config = load_indexer_config(
        overrides=_indexer_config(kafka, "unused", es_url, prefix, replicas), environ={}
    )
    await install_templates(es, config, await detect_features(es))
    bodies: list[bytes] = []
    parts: list[bytes] = []
    for action, source in documents(prefix):
        parts += (action, source)
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
        return time.monotonic() - started
    finally:
        await _cleanup(es, prefix)


def _median(runs: list[Run]) -> Run:
    """The run with the median rate (the lower middle one of an even number)."""
    return sorted(runs, key=lambda run: run.rate)[(len(runs) - 1) // 2]


@click.command()
@click.option("--lines", default=100_000, show_default=True, help="Lines / events per run.")
@click.option("--kafka", default="127.0.0.1:9092", show_default=True, help="Kafka bootstrap.")
@click.option(
    "--es", "es_url", default="http://127.0.0.1:9200", show_default=True, help="Elasticsearch URL."
)
@click.option("--skip-end-to-end", is_flag=True, help="Only (b), (c) and (d).")
@click.option(
    "--legacy-headers",
    is_flag=True,
    help="(b) with an older shipper's records (event.id and logferry-schema only): parsed.",
)
@click.option(
    "--rounds",
    default=3,
    show_default=True,
    type=click.IntRange(min=1),
    help="Rounds of (b), (c) and (d), each round in another order; the run with the median rate "
    "of each is shown.",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Another logferry checkout (say `git worktree add /tmp/base <commit>`) whose indexer "
    "runs (b) too, in the same rounds: a before/after from one run.",
)
@click.option(
    "--python",
    "python",
    type=click.Path(exists=True, dir_okay=False),
    help="The interpreter the shipper and the indexer run on (default: this one), e.g. a"
    " virtualenv made with another CPython build; it must import logferry.",
)
def main(
    lines: int,
    kafka: str,
    es_url: str,
    skip_end_to_end: bool,
    legacy_headers: bool,
    rounds: int,
    baseline: Path | None,
    python: str | None,
) -> None:
    """Measure the indexer's throughput (documents per second) against the local stack."""
    python = python or sys.executable
    interpreter = describe_interpreter(python, CHECKOUT)
    print(f"logferry on {interpreter['summary']}", file=sys.stderr)

    async def go(workdir: Path, log: Path, data_lines: list[bytes]) -> list[Run]:
        es = AsyncElasticsearch(es_url, request_timeout=120)
        try:
            runs = []
            if not skip_end_to_end:
                runs.append(await end_to_end(workdir, log, lines, kafka, es_url, es, python))
                print(f"{runs[-1].name}: done", file=sys.stderr)
            records = shipper_records(log, data_lines, legacy_headers)
            kinds: list[Callable[[], Awaitable[Run]]] = [
                lambda: indexer_alone(workdir, records, kafka, es_url, es, python, legacy_headers),
                lambda: ceiling(data_lines, lines, es, es_url, kafka),
                lambda: ceiling_same_documents(records, es, es_url, kafka),
            ]
            if baseline is not None:
                kinds.insert(
                    1,
                    lambda: indexer_alone(
                        workdir, records, kafka, es_url, es, python, legacy_headers, baseline
                    ),
                )
            # Elasticsearch gets faster as it warms up (JIT, caches): whatever runs first in a
            # round would be measured against a colder server, so each round starts elsewhere.
            measured: list[list[Run]] = [[] for _ in kinds]
            for round_ in range(rounds):
                for shift in range(len(kinds)):
                    kind = (round_ + shift) % len(kinds)
                    run = await kinds[kind]()
                    measured[kind].append(run)
                    print(
                        f"round {round_ + 1}: {run.name}: {run.rate:,.0f} docs/s", file=sys.stderr
                    )
            runs += [_median(of_kind) for of_kind in measured]
            return runs  # the ceilings last
        finally:
            await es.close()

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        log = workdir / "app.log"
        generate(log, lines)
        print(f"generated {lines:,} lines ({log.stat().st_size / 2**20:.1f} MiB)", file=sys.stderr)
        data_lines = log.read_bytes().splitlines(keepends=True)
        runs = asyncio.run(go(workdir, log, data_lines))
    light, same = runs[-2].rate, runs[-1].rate
    print(
        f"{'run':<64} {'docs':>9} {'seconds':>8} {'docs/s':>9} {'of (c)':>7} {'of (d)':>7} "
        f"{'peak RSS':>9} {'CPU s/100k':>10}"
    )
    for run in runs:
        rss = f"{run.peak_rss_mib:.0f} MiB" if run.peak_rss_mib else "-"
        cpu = f"{run.cpu_s * 100_000 / run.documents:.1f}" if run.cpu_s is not None else "-"
        print(
            f"{run.name:<64} {run.documents:>9,} {run.seconds:>8.1f} {run.rate:>9,.0f} "
            f"{run.rate / light:>7.0%} {run.rate / same:>7.0%} {rss:>9} {cpu:>10}"
        )
        if run.steady is not None:
            steady = run.steady
            cpu = f"{steady.cpu_s * 100_000 / steady.documents:.1f}" if steady.cpu_s else "-"
            print(
                f"{f'    steady: from the first documents written ({steady.start_up_s:.1f} s in)':<64} "
                f"{steady.documents:>9,} "
                f"{steady.seconds:>8.1f} {steady.rate:>9,.0f} {steady.rate / light:>7.0%} "
                f"{steady.rate / same:>7.0%} {'':>9} {cpu:>10}"
            )


if __name__ == "__main__":
    main()
