"""Capacity figures for the sizing guide (docs/sizing.md), measured on this machine in one run.

Two stacks of the script's own, each started with `shipper stack up` in its own state dir and
ports (never the shared ones), one after the other, and stopped and purged when measured:

  1 node    one Kafka broker (topics: replication 1) and one Elasticsearch node (replicas 0)
  3 nodes   three Kafka brokers (replication 3, min.insync.replicas 2) and three
            Elasticsearch nodes (replicas 1): the production topology

On each, over the same generated python-json-logger lines:

  shipper   one `shipper run` process tailing the file into a new 3-partition topic (acks=all):
            events/s and CPU s per 100k events, and what the brokers spent meanwhile
  _bulk     the indexer's very documents bulk-created by this script straight into
            Elasticsearch (the indexer's bulk size and concurrency, no Kafka): the ceiling
  indexer   1, 2 and 3 `shipper index` processes in one group over a topic of 3 and of 6
            partitions holding the shipper's records (on the 1-node stack; --matrix-on picks),
            and one indexer on the other stack: documents/s, per process, CPU s per 100k

Every run ends with a refresh and count that must find every document (exactly), and records the
CPU that Kafka and Elasticsearch used meanwhile above their idle use, and what the whole machine
did ("others %": the busy CPU that was not this run's). A freshly started node is slow at first
(its JIT, its first indices): each stack's Elasticsearch is first warmed up with a fifth of the
documents (at most 10,000, not counted), then its idle use is measured for 10 s. From the CPU
per event the script prints a sizing example (--target). A stack found already running in the
state dir is used and left running.

    .venv/bin/python benchmarks/bench_sizing.py --lines 100000
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import bench_indexer
import bench_shipper
import benchlib
import click
from elasticsearch import AsyncElasticsearch
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from shipper.process import Supervised
from shipper.stack import StackSettings, chosen

OUT = Path(__file__).resolve().parent / "out"
SERVICES = ["kafka", "elasticsearch"]
console = Console(stderr=True, width=None if sys.stderr.isatty() else 200)
T = TypeVar("T")


# ---------------------------------------------------------------- the sizing arithmetic (pure)


@dataclass(frozen=True)
class Costs:
    """CPU seconds per event of each part, as measured (replication included where measured)."""

    shipper: float
    """One shipper process (transform_workers 0), per event it publishes."""
    indexer: float
    """The indexer processes, per document they write."""
    kafka: float
    """All brokers together, per event published (with the topic's replication)."""
    elasticsearch: float
    """All Elasticsearch nodes together, per document the indexer writes (with the replicas)."""


@dataclass(frozen=True)
class Plan:
    events_per_s: float
    shipper_processes: int
    """Busy shipper processes (cores) the rate needs; one per application instance at most rates."""
    indexers: int
    partitions: int
    kafka_cores: float
    es_cores: float
    es_nodes: int


def plan(
    events_per_s: float,
    costs: Costs,
    *,
    utilisation: float = 0.7,
    node_cores: int = 4,
    brokers: int = 3,
    min_es_nodes: int = 3,
) -> Plan:
    """What *events_per_s* needs, from CPU per event, keeping every core at most *utilisation* busy.

    A shipper or indexer process is one Python process: it uses at most one core, so it handles
    ``utilisation / cpu_per_event`` events/s. Partitions are twice the indexers (rounded up to a
    multiple of the brokers): indexers can double without repartitioning, which moves keys.
    Elasticsearch nodes of *node_cores* cores, at least *min_es_nodes* (a quorum and a replica).
    """
    if events_per_s <= 0 or not 0 < utilisation <= 1 or node_cores < 1 or brokers < 1:
        raise ValueError("the rate, utilisation, cores and brokers must be positive")
    busy = events_per_s / utilisation
    indexers = max(1, math.ceil(busy * costs.indexer))
    partitions = max(brokers, math.ceil(2 * indexers / brokers) * brokers)
    es_cores = busy * costs.elasticsearch
    return Plan(
        events_per_s=events_per_s,
        shipper_processes=max(1, math.ceil(busy * costs.shipper)),
        indexers=indexers,
        partitions=partitions,
        kafka_cores=busy * costs.kafka,
        es_cores=es_cores,
        es_nodes=max(min_es_nodes, math.ceil(es_cores / node_cores)),
    )


# ---------------------------------------------------------------------------- what is measured


@dataclass
class Row:
    stack: str
    part: str
    setup: str
    processes: int
    documents: int
    seconds: float
    cpu_s: float | None = None
    """CPU (user + sys) of the measured processes (shipper or indexers), start to end."""
    steady_documents: int | None = None
    """Documents written from the first the indexers wrote (their start-up left out) to the end."""
    steady_seconds: float | None = None
    steady_cpu_s: float | None = None
    kafka_cpu_s: float | None = None
    """CPU all brokers used during the run, less what they use idle (measured before the runs)."""
    es_cpu_s: float | None = None
    """The same for all Elasticsearch nodes."""
    kafka_idle_cpu_s: float | None = None
    """What the brokers would have used idle over the run's span (subtracted above)."""
    es_idle_cpu_s: float | None = None
    machine_busy_s: float = 0.0
    """CPU the whole machine (all cores) was busy during the run."""
    others_busy_s: float | None = None
    """The machine's busy CPU less the measured processes', the stack's and this script's."""
    wall_s: float = 0.0
    """The run's whole span, over which the machine's CPU was counted."""

    @property
    def rate(self) -> float:
        return self.documents / self.seconds

    @property
    def steady_rate(self) -> float | None:
        if not self.steady_documents or not self.steady_seconds:
            return None
        return self.steady_documents / self.steady_seconds

    def per_100k(self, cpu: float | None) -> float | None:
        return None if cpu is None else cpu / self.documents * 100_000

    @property
    def steady_per_100k(self) -> float | None:
        if self.steady_cpu_s is None or not self.steady_documents:
            return None
        return self.steady_cpu_s / self.steady_documents * 100_000

    def load_pct(self, busy: float | None) -> float | None:
        cores = os.cpu_count() or 1
        return None if busy is None or not self.wall_s else busy / self.wall_s / cores * 100

    def as_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "events_per_s": self.rate,
            "steady_events_per_s": self.steady_rate,
            "per_process_events_per_s": self.rate / self.processes if self.processes else None,
            "cpu_s_per_100k": self.per_100k(self.cpu_s),
            "steady_cpu_s_per_100k": self.steady_per_100k,
            "kafka_cpu_s_per_100k": self.per_100k(self.kafka_cpu_s),
            "es_cpu_s_per_100k": self.per_100k(self.es_cpu_s),
            "machine_load_pct": self.load_pct(self.machine_busy_s),
            "others_load_pct": self.load_pct(self.others_busy_s),
        }


@dataclass
class Stack:
    name: str
    settings: StackSettings
    started_here: bool = False
    idle_cpu: tuple[float, float] = (0.0, 0.0)
    """CPU per second its brokers and its nodes use idle (measured before the runs)."""

    @property
    def kafka(self) -> str:
        return ",".join(s.url for s in chosen(self.settings, ["kafka"]))

    @property
    def es_urls(self) -> list[str]:
        return [s.url for s in chosen(self.settings, ["elasticsearch"])]

    @property
    def replication(self) -> int:
        return 3 if self.settings.kafka_brokers >= 3 else 1

    @property
    def replicas(self) -> int:
        return 1 if self.settings.es_nodes >= 2 else 0

    def pids(self, service: str) -> list[int]:
        found = [Supervised.from_pid_file(s.pid_file) for s in chosen(self.settings, [service])]
        return [p.pid for p in found if p is not None]

    def running(self) -> bool:
        return all(
            Supervised.from_pid_file(s.pid_file) is not None
            for s in chosen(self.settings, SERVICES)
        )

    def command(self, command: str, *extra: str) -> None:
        fields = ["state_dir", "kafka_brokers", "es_nodes", "kafka_port", "kafka_controller_port"]
        fields += ["elasticsearch_port", "elasticsearch_transport_port"]
        options = [f"--{f.replace('_', '-')}={getattr(self.settings, f)}" for f in fields]
        services = SERVICES if command == "up" else []
        result = subprocess.run(
            # `down` names no service: it stops what runs in the state dir and purges all of it.
            [sys.executable, "-m", "shipper", "stack", command, *services, *extra, *options],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if result.returncode != 0:
            raise click.ClickException(f"stack {command} ({self.name}): {result.stderr[-2000:]}")


def _tree_cpu(pids: list[int]) -> float:
    """CPU so far of *pids* and their descendants (an Elasticsearch node's launcher runs the JVM)."""
    return sum(benchlib.ProcessTree(pid).sample().cpu_seconds for pid in pids)


class Meter:
    """The CPU Kafka, Elasticsearch, this script and the whole machine use over a run."""

    def __init__(self, stack: Stack) -> None:
        self.kafka, self.es = stack.pids("kafka"), stack.pids("elasticsearch")
        self.idle_kafka, self.idle_es = stack.idle_cpu

    async def idle(self, seconds: float) -> tuple[float, float]:
        """CPU per second the brokers and the nodes use with nothing to do."""
        before = self._now()
        await asyncio.sleep(seconds)
        after = self._now()
        wall, _, _, kafka, es = (b - a for a, b in zip(before, after, strict=True))
        return kafka / wall, es / wall

    def _now(self) -> tuple[float, float, float, float, float]:
        own = os.times()
        return (
            time.monotonic(),
            benchlib.busy_seconds(),
            own.user + own.system,
            _tree_cpu(self.kafka),
            _tree_cpu(self.es),
        )

    async def measure(self, row: Row, run: Callable[[], Awaitable[T]]) -> T:
        """Await *run*, filling *row*'s CPU of the stack and the machine."""
        before = self._now()
        result = await run()
        after = self._now()
        wall, busy, own, kafka, es = (b - a for a, b in zip(before, after, strict=True))
        row.wall_s, row.machine_busy_s = wall, busy
        row.kafka_idle_cpu_s, row.es_idle_cpu_s = self.idle_kafka * wall, self.idle_es * wall
        row.kafka_cpu_s = max(0.0, kafka - row.kafka_idle_cpu_s)
        row.es_cpu_s = max(0.0, es - row.es_idle_cpu_s)
        row.others_busy_s = max(0.0, busy - own - kafka - es - (row.cpu_s or 0.0))
        return result


# ---------------------------------------------------------------------------------- the runs


def run_shipper(stack: Stack, log: Path, events: int, workdir: Path, workers: int) -> Row:
    topic = f"sizing-{uuid.uuid4().hex[:8]}"
    asyncio.run(benchlib.create_topic(stack.kafka, topic, 3, stack.replication))
    row = Row(stack.name, "shipper", f"transform_workers {workers}, 3 partitions", 1, events, 0.0)

    async def go() -> bench_shipper.Result:
        return await asyncio.to_thread(
            bench_shipper.run_shipper,
            f"{stack.name}: shipper",
            log,
            f"kafka://{stack.kafka}/{topic}",
            events,
            workdir,
            workers,
        )

    try:
        result = asyncio.run(Meter(stack).measure(row, go))
    finally:
        asyncio.run(benchlib.delete_topics(stack.kafka, [topic]))
    row.seconds, row.cpu_s = result.seconds, result.cpu_seconds
    # The meter ran around the shipper; its CPU counted as "others" until now.
    row.others_busy_s = max(0.0, (row.others_busy_s or 0.0) - result.cpu_seconds)
    return row


async def run_bulk(stack: Stack, records: list[bench_indexer.Record]) -> Row:
    es = AsyncElasticsearch(stack.es_urls, request_timeout=120)
    row = Row(stack.name, "ES _bulk", f"replicas {stack.replicas}", 0, len(records), 0.0)
    try:
        console.print(f"{stack.name}: _bulk ceiling, {len(records):,} documents ...")
        run = await Meter(stack).measure(
            row,
            lambda: bench_indexer.ceiling_same_documents(
                records, es, stack.es_urls[0], stack.kafka, stack.replicas
            ),
        )
    finally:
        await es.close()
    row.seconds = run.seconds
    return row


async def run_indexers(
    stack: Stack, topic: str, partitions: int, count: int, documents: int, workdir: Path
) -> Row:
    """*count* indexers in one group over *topic*, until Elasticsearch holds every document."""
    prefix = f"sizing-{uuid.uuid4().hex[:8]}"
    es_url = ",".join(stack.es_urls)
    config = bench_indexer._indexer_config(stack.kafka, topic, es_url, prefix, stack.replicas)
    es = AsyncElasticsearch(stack.es_urls, request_timeout=120)
    setup = f"{partitions} partitions, {count} indexer{'s' if count > 1 else ''}"
    row = Row(stack.name, "indexer", f"{setup}, replicas {stack.replicas}", count, documents, 0.0)
    procs: list[tuple[subprocess.Popen[bytes], int]] = []

    def cpu() -> float:
        return sum(bench_indexer._cpu_s(p) or 0.0 for p, _ in procs)

    async def go() -> None:
        started = time.monotonic()
        procs.extend(
            bench_indexer._start(workdir, "index", config, f"{prefix}-{n}") for n in range(count)
        )
        first: tuple[int, float, float] | None = None
        with Progress(
            TextColumn(f"{stack.name}: {setup:<28}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress:
            task = progress.add_task("", total=documents)
            while True:
                if dead := [p for p, _ in procs if p.poll() is not None]:
                    raise click.ClickException(f"an indexer exited ({dead[0].returncode})")
                written = sum(bench_indexer._written(port) for _, port in procs)
                progress.update(task, completed=written)
                if first is None and written > 0:
                    first = (written, time.monotonic(), cpu())
                if written >= documents:
                    break
                if time.monotonic() - started > 600:
                    raise click.ClickException(f"{setup}: {written} of {documents} after 600 s")
                await asyncio.sleep(0.1)
        # One refresh and count: exactly every document, none twice (op_type create, event.id).
        found = await bench_indexer._count(es, f"{prefix}-orders-*")
        if found != documents:
            raise click.ClickException(f"{setup}: {found} documents in the index, not {documents}")
        assert first is not None
        row.seconds = time.monotonic() - started
        row.steady_documents, row.steady_seconds = (
            documents - first[0],
            row.seconds - (first[1] - started),
        )
        row.cpu_s = cpu()
        row.steady_cpu_s = row.cpu_s - first[2]

    try:
        await Meter(stack).measure(row, go)
    finally:
        for proc, _ in procs:
            bench_indexer._stop(proc)
        await bench_indexer._cleanup(es, prefix)
        await es.close()
    return row


async def publish(stack: Stack, partitions: int, records: list[bench_indexer.Record]) -> str:
    topic = f"sizing-{uuid.uuid4().hex[:8]}"
    await benchlib.create_topic(stack.kafka, topic, partitions, stack.replication)
    console.print(f"{stack.name}: publishing {len(records):,} records to {partitions} partitions")
    await bench_indexer._publish(stack.kafka, topic, records)
    return topic


def measure_stack(
    stack: Stack,
    log: Path,
    records: list[bench_indexer.Record],
    workdir: Path,
    workers: int,
    matrix: bool,
    indexers: tuple[int, ...],
    partitions: tuple[int, ...],
) -> list[Row]:
    warm = records[: min(10_000, len(records) // 5 + 1)]
    console.print(
        f"{stack.name}: warming Elasticsearch up with {len(warm):,} documents (not counted)"
    )
    asyncio.run(run_bulk(stack, warm))
    # After the warm-up: just after `stack up` the nodes are still settling and look busier.
    stack.idle_cpu = asyncio.run(Meter(stack).idle(10.0))
    console.print(
        f"{stack.name}: idle, the brokers use {stack.idle_cpu[0]:.2f} and Elasticsearch "
        f"{stack.idle_cpu[1]:.2f} CPU s per s"
    )
    rows = [run_shipper(stack, log, len(records), workdir, workers)]
    _report(rows[-1])

    async def rest() -> None:
        rows.append(await run_bulk(stack, records))
        _report(rows[-1])
        topics: list[str] = []
        try:
            for count in partitions if matrix else partitions[:1]:
                topics.append(await publish(stack, count, records))
                for n in indexers if matrix else (1,):
                    rows.append(
                        await run_indexers(stack, topics[-1], count, n, len(records), workdir)
                    )
                    _report(rows[-1])
        finally:
            await benchlib.delete_topics(stack.kafka, topics)

    asyncio.run(rest())
    return rows


def _report(row: Row) -> None:
    cpu = row.per_100k(row.cpu_s)
    console.print(
        f"  {row.stack}: {row.part} ({row.setup}): {row.rate:,.0f}/s"
        + (f", {cpu:.1f} CPU s/100k" if cpu is not None else "")
        + f", machine {row.load_pct(row.machine_busy_s) or 0:.0f} % busy"
    )


# ------------------------------------------------------------------------------------ output


def _num(value: float | None, form: str = ",.0f") -> str:
    return "-" if value is None else format(value, form)


def table(rows: list[Row]) -> Table:
    out = Table(
        title="logferry sizing figures (this machine)",
        caption="CPU s/100k: of the shipper or indexer processes; steady: from their first "
        "documents written.  ¹ all brokers / nodes, above their idle use.  ² the machine's busy "
        "CPU that was not this run's (other users), % of all cores.",
    )
    for name in ("stack", "part", "setup"):
        out.add_column(name)
    for name in ("events/s", "steady /s", "per process /s", "CPU s/100k", "steady CPU s/100k"):
        out.add_column(name, justify="right")
    for name in ("Kafka CPU s/100k¹", "ES CPU s/100k¹", "machine %", "others %²"):
        out.add_column(name, justify="right")
    for r in rows:
        out.add_row(
            r.stack,
            r.part,
            r.setup,
            _num(r.rate),
            _num(r.steady_rate),
            _num(r.rate / r.processes) if r.processes else "-",
            _num(r.per_100k(r.cpu_s), ".1f"),
            _num(r.steady_per_100k, ".1f"),
            _num(r.per_100k(r.kafka_cpu_s), ".1f"),
            _num(r.per_100k(r.es_cpu_s), ".1f"),
            _num(r.load_pct(r.machine_busy_s)),
            _num(r.load_pct(r.others_busy_s)),
        )
    return out


def costs_of(rows: list[Row], stack: str) -> Costs | None:
    """CPU per event of each part on *stack*, from its single-process runs (the indexer's steady
    part: a long-running indexer's start-up is negligible)."""

    def per_event(part: str, cpu_per_100k: Callable[[Row], float | None]) -> float | None:
        found = [r for r in rows if r.part == part and r.stack == stack and r.processes <= 1]
        value = cpu_per_100k(found[0]) if found else None
        return None if value is None else value / 100_000

    shipper = per_event("shipper", lambda r: r.per_100k(r.cpu_s))
    indexer = per_event("indexer", lambda r: r.steady_per_100k)
    kafka = per_event("shipper", lambda r: r.per_100k(r.kafka_cpu_s))
    es = per_event("indexer", lambda r: r.per_100k(r.es_cpu_s))
    if shipper is None or indexer is None or kafka is None or es is None:
        return None
    return Costs(shipper, indexer, kafka, es)


def plan_table(plans: list[Plan], stack: str, node_cores: int) -> Table:
    out = Table(
        title=f"sizing example from the CPU per event on {stack}: cores 70 % busy, "
        f"{node_cores}-core Elasticsearch nodes"
    )
    for name in ("events/s", "shipper processes", "indexers", "partitions", "Kafka cores"):
        out.add_column(name, justify="right")
    for name in ("ES cores", "ES nodes"):
        out.add_column(name, justify="right")
    for p in plans:
        out.add_row(
            _num(p.events_per_s),
            str(p.shipper_processes),
            str(p.indexers),
            str(p.partitions),
            _num(p.kafka_cores, ".1f"),
            _num(p.es_cores, ".1f"),
            str(p.es_nodes),
        )
    return out


def _stack_settings(name: str, root: Path, nodes: int, kafka_port: int, es_port: int) -> Stack:
    settings = StackSettings(
        state_dir=root / name.replace(" ", "-"),
        kafka_brokers=nodes,
        es_nodes=nodes,
        kafka_port=kafka_port,
        kafka_controller_port=kafka_port + 1,
        elasticsearch_port=es_port,
        elasticsearch_transport_port=es_port + 100,
    )
    return Stack(name, settings)


def _commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    )
    return result.stdout.strip() or "unknown"


@click.command()
@click.option("--lines", default=100_000, show_default=True, help="Events per run.")
@click.option(
    "--stacks",
    type=click.Choice(["1", "3", "both"]),
    default="both",
    show_default=True,
    help="Which stack(s) to measure: 1 node, 3 nodes, or both (one after the other).",
)
@click.option(
    "--matrix-on",
    type=click.Choice(["1", "3"]),
    default="1",
    show_default=True,
    help="The stack the indexer matrix (1..3 indexers x partitions) runs on; one indexer on the other.",
)
@click.option(
    "--indexers",
    multiple=True,
    type=int,
    default=(1, 2, 3),
    show_default=True,
    help="Indexer processes of the matrix (repeatable).",
)
@click.option(
    "--partitions",
    multiple=True,
    type=int,
    default=(3, 6),
    show_default=True,
    help="Topic partitions of the matrix (repeatable; the first is the single indexer's).",
)
@click.option("--transform-workers", default=0, show_default=True, help="The shipper's setting.")
@click.option(
    "--state-root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(tempfile.gettempdir()) / "logferry-sizing",
    show_default=True,
    help="The stacks' state dirs go under it (1-node, 3-nodes).",
)
@click.option(
    "--ports",
    nargs=4,
    type=int,
    default=(28092, 28200, 28492, 28800),
    show_default=True,
    help="Kafka and Elasticsearch ports of the 1-node stack, then of the 3-node stack (node n: "
    "+100*(n-1) for Kafka, +(n-1) for Elasticsearch; controller n: Kafka's +n, transport: "
    "+100). Below the kernel's ephemeral range, clear of the stacks of `make stack` and the tests.",
)
@click.option("--keep-stacks", is_flag=True, help="Leave the stacks this run started running.")
@click.option(
    "--target",
    "targets",
    multiple=True,
    type=float,
    default=(10_000, 50_000, 200_000),
    show_default=True,
    help="Events/s to print a sizing example for (repeatable).",
)
@click.option(
    "--node-cores", default=4, show_default=True, help="Cores of an ES node in the example."
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the results [default: benchmarks/out/sizing-<UTC time>.json].",
)
def main(
    lines: int,
    stacks: str,
    matrix_on: str,
    indexers: tuple[int, ...],
    partitions: tuple[int, ...],
    transform_workers: int,
    state_root: Path,
    ports: tuple[int, int, int, int],
    keep_stacks: bool,
    targets: tuple[float, ...],
    node_cores: int,
    json_path: Path | None,
) -> None:
    """Measure shipper, indexer and Elasticsearch throughput on a 1-node and a 3-node stack."""
    started_at = datetime.now(UTC)
    load_before = os.getloadavg()
    chosen_stacks = []
    if stacks in ("1", "both"):
        chosen_stacks.append(_stack_settings("1 node", state_root, 1, ports[0], ports[1]))
    if stacks in ("3", "both"):
        chosen_stacks.append(_stack_settings("3 nodes", state_root, 3, ports[2], ports[3]))
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="bench-sizing-") as tmp:
        workdir = Path(tmp)
        log = workdir / "app.log"
        bench_indexer.generate(log, lines)
        console.print(f"generated {lines:,} lines ({log.stat().st_size / 2**20:.1f} MiB)")
        records = bench_indexer.shipper_records(log, log.read_bytes().splitlines(True), False)
        for stack in chosen_stacks:
            if not stack.running():
                console.print(f"{stack.name}: starting the stack in {stack.settings.state_dir} ...")
                stack.started_here = True
                stack.command("up")
            try:
                matrix = stack.name.startswith(matrix_on)
                rows += measure_stack(
                    stack, log, records, workdir, transform_workers, matrix, indexers, partitions
                )
            finally:
                if stack.started_here and not keep_stacks:
                    console.print(f"{stack.name}: stopping and purging the stack")
                    stack.command("down", "--purge")
    with contextlib.suppress(OSError):
        state_root.rmdir()  # when the stacks it started are purged, nothing is left in it
    console.print(table(rows))
    costs_stack = "3 nodes" if any(r.stack == "3 nodes" for r in rows) else "1 node"
    costs = costs_of(rows, costs_stack)
    plans = [plan(t, costs, node_cores=node_cores) for t in targets] if costs else []
    if costs is not None:
        console.print(plan_table(plans, costs_stack, node_cores))
    report = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "commit": _commit(),
        "cores": os.cpu_count(),
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "lines": lines,
        "rows": [r.as_dict() for r in rows],
        "costs_from": costs_stack,
        "costs_cpu_s_per_event": asdict(costs) if costs else None,
        "plans": [asdict(p) for p in plans],
    }
    if json_path is None:
        OUT.mkdir(exist_ok=True)
        json_path = OUT / f"sizing-{started_at:%Y%m%dT%H%M%SZ}.json"
    json_path.write_text(json.dumps(report, indent=2) + "\n")
    console.print(f"load average before {load_before}, after {report['loadavg_after']}")
    console.print(f"wrote {json_path}")


if __name__ == "__main__":
    main()
