"""logferry next to rsyslog, doing the same job on the same broker.

The job, the same for every tool: tail a fresh file of N python-json-logger lines (~245 B) from
its start, parse each line's JSON, add to it, publish it to a new 3-partition Kafka topic with
acks=all, an idempotent producer and lz4 compression. Tools, each its own child process:

  rsyslog             rsyslogd -n with a generated config: imfile (inotify) -> mmjsonparse ->
                      `set $!added` -> omkafka (librdkafka); skipped when not installed
  logferry, inline    the real `shipper run`, transform_workers: 0 (one process), with the
                      default transform chain (parse, timestamp, redact, ECS, correlate, derive)
  logferry, W workers the real `shipper run`, transform_workers: W
  parse only          the same two with `pipeline: [{type: parse}]`: decode the line and add the
                      event's skeleton (@timestamp, event.id and .created, log.file.path,
                      log.offset), i.e. the job rsyslog does here, without the enrichment
                      (skipped with --no-parse-only). The targets are judged on the full chain.
  ceiling             a plain `orjson.loads` loop over the lines (no Kafka), as in bench_shipper

A Kafka run is over when the topic's end offsets add up to N; the tool is then stopped (SIGTERM)
and reaped with wait4 for its CPU (user + sys, its reaped children included). Its peak RSS is the
VmHWM of each of its processes (logferry's workers too), added up, sampled from /proc every 0.1 s
(see benchlib: wait4's ru_maxrss would include the benchmark's own memory). Added up, RSS counts
the pages processes share (the interpreter, the libraries) once per process; the PSS column is
the largest sampled sum of their PSS, each page once: what the processes hold together, as a
container's memory counts them. Each topic is then read back: exactly N records, N distinct
request ids, every record enriched.

Rounds interleave the tools (each round rotates their order); the table shows each tool's median.
logferry runs on this interpreter, or on `--python`'s (its build matters: see docs/sizing.md).

    python benchmarks/bench_peers.py --lines 300000 --rounds 3 --json peers.json
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import os
import platform
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiokafka
import click
import orjson
import yaml
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from benchlib import (
    ProcessTree,
    baseline_name,
    busy_seconds,
    cpu_seconds,
    create_topic,
    delete_topics,
    describe_interpreter,
    find_process,
    generate,
    reap,
    run_ceiling,
)
from rich.console import Console
from rich.table import Table

from loadtest.harness.launch import free_port

PARTITIONS = 3
COMPRESSION = "lz4"
LINGER_MS = 5
BATCH_BYTES = 1024 * 1024
RSYSLOG = "rsyslog"
INLINE = "logferry, inline"
PARSE_ONLY = "parse only"
CEILING = "ceiling: orjson.loads loop"
INSTALL_RSYSLOG = "apt-get install -y rsyslog rsyslog-kafka"
TARGET_CPU_RATIO = 0.8
TARGET_RATE_RATIO = 1.6
TARGET_RSS_MB = 150.0
BUSY_PCT = 10.0


def workers_name(workers: int) -> str:
    return f"logferry, {workers} worker{'s' if workers != 1 else ''}"


def parse_only_name(workers: int) -> str:
    return f"{INLINE if workers == 0 else workers_name(workers)}, {PARSE_ONLY}"


@dataclass
class Run:
    tool: str
    round: int
    events: int
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    """Each of the tool's processes' peak RSS (VmHWM), added up."""
    rss_sum_bytes: int = 0
    """The largest RSS of all its processes together seen in /proc, sampled every 0.1 s."""
    pss_sum_bytes: int = 0
    """The largest PSS of all its processes together (shared pages once), sampled alike."""
    first_event_s: float | None = None
    """From start to the first record in the topic: the tool's start-up, inside `seconds`."""
    delivered: int | None = None
    """Records in the topic once the tool stopped (end offsets added up)."""
    verified: dict[str, Any] | None = None
    processes: int = 1
    broker_cpu_seconds: float | None = None
    """CPU the local Kafka broker used during the run."""
    load_before_pct: float | None = None
    """The machine's CPU load (% of all cores) just before the run, while the tool was not running."""
    rest_cpu_seconds: float | None = None
    """CPU the rest of the machine used during the run: not the tool, the broker or this script
    (other programs, and the kernel's own work such as loopback networking)."""

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def cpu_per_100k(self) -> float:
        return self.cpu_seconds / self.events * 100_000

    @property
    def rss_mb(self) -> float:
        return self.peak_rss_bytes / 1e6

    @property
    def pss_mb(self) -> float:
        return self.pss_sum_bytes / 1e6

    @property
    def broker_cpu_per_100k(self) -> float | None:
        if self.broker_cpu_seconds is None:
            return None
        return self.broker_cpu_seconds / self.events * 100_000

    @property
    def rest_load_pct(self) -> float | None:
        """The rest of the machine's CPU during the run, in % of all its cores."""
        if self.rest_cpu_seconds is None:
            return None
        return self.rest_cpu_seconds / (self.seconds * (os.cpu_count() or 1)) * 100


class Neighbours:
    """What else used CPU during a run: the broker, and the rest of the machine."""

    def __init__(self, broker_pid: int | None) -> None:
        self.broker_pid = broker_pid
        self._start = self._now()

    def _now(self) -> tuple[float, float, float | None]:
        own = resource.getrusage(resource.RUSAGE_SELF)
        broker = cpu_seconds(self.broker_pid) if self.broker_pid else None
        return busy_seconds(), own.ru_utime + own.ru_stime, broker

    def stop(self, tool_cpu: float) -> tuple[float | None, float]:
        """(broker CPU, rest-of-machine CPU) since start, given the tool's CPU meanwhile."""
        (busy0, own0, broker0), (busy1, own1, broker1) = self._start, self._now()
        broker = None if broker0 is None or broker1 is None else broker1 - broker0
        rest = (busy1 - busy0) - (own1 - own0) - tool_cpu - (broker or 0.0)
        return broker, max(0.0, rest)


@dataclass
class Tool:
    name: str
    start: Callable[[Path, str], list[str]]
    """(run directory, topic) -> the command; writes whatever config it needs."""
    record_id: Callable[[dict[str, Any]], str]
    enriched: Callable[[dict[str, Any]], bool]
    env: dict[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    """Where the command runs (a baseline checkout: ``-m shipper`` imports from there)."""


# ---------------------------------------------------------------------------------------------
# rsyslog


@dataclass(frozen=True)
class RsyslogQueue:
    """rsyslog's main queue: where imfile puts lines and its worker threads take them from."""

    threads: int
    """Worker threads; each runs mmjsonparse, the `set` and omkafka on a batch."""
    batch: int
    """Dequeue batch size: messages a worker takes (and hands to librdkafka) at once."""
    size: int
    """Messages the queue holds; imfile waits when it is full (files tolerate waiting)."""


def rsyslog_config(log: Path, work: Path, bootstrap: str, topic: str, queue: RsyslogQueue) -> str:
    """A private rsyslogd config: only this file in, only this topic out, no system logging.

    The main queue is an in-memory LinkedList (allocated as it fills) with large dequeue batches;
    mmjsonparse and omkafka run on its workers (omkafka's action queue stays Direct), so librdkafka
    gets messages a batch at a time. Internal messages of rsyslogd (start, stop, errors) go to a
    file in *work*, never to syslog.
    """
    conf = [
        f'global(workDirectory="{work}" maxMessageSize="64k")',
        f'main_queue(queue.type="LinkedList" queue.size="{queue.size}"'
        f' queue.dequeueBatchSize="{queue.batch}" queue.workerThreads="{queue.threads}")',
        'module(load="imfile" mode="inotify")',
        'module(load="mmjsonparse")',
        'module(load="omkafka")',
        'template(name="parsed_json" type="string" string="%$!%")',
        'ruleset(name="ship") {',
        '  action(type="mmjsonparse" cookie="")',
        '  set $!added = "x";',
        f'  action(type="omkafka" broker=["{bootstrap}"] topic="{topic}" template="parsed_json"',
        '         partitions.auto="on"',
        f'         confParam=["compression.codec={COMPRESSION}", "acks=all",',
        '                    "enable.idempotence=true",',
        f'                    "linger.ms={LINGER_MS}", "batch.size={BATCH_BYTES}"])',
        "}",
        f'input(type="imfile" file="{log}" tag="app" ruleset="ship")',
        f'*.* action(type="omfile" file="{work / "rsyslogd.log"}")',
    ]
    return "\n".join(conf) + "\n"


def rsyslog_tool(log: Path, bootstrap: str, queue: RsyslogQueue) -> Tool:
    def start(run_dir: Path, topic: str) -> list[str]:
        conf = run_dir / "rsyslog.conf"
        conf.write_text(rsyslog_config(log, run_dir, bootstrap, topic, queue))
        return ["rsyslogd", "-n", "-f", str(conf), "-i", str(run_dir / "rsyslogd.pid")]

    return Tool(
        RSYSLOG,
        start,
        record_id=lambda doc: doc["request_id"],
        enriched=lambda doc: doc.get("added") == "x" and "levelname" in doc,
    )


def rsyslog_problem(log: Path, workdir: Path, bootstrap: str, queue: RsyslogQueue) -> str:
    """Why rsyslog cannot run here, or "" when its config validates (`rsyslogd -N1`)."""
    if shutil.which("rsyslogd") is None:
        return f"rsyslogd is not installed (Debian: {INSTALL_RSYSLOG})"
    check = workdir / "rsyslog-check"
    check.mkdir()
    conf = check / "rsyslog.conf"
    conf.write_text(rsyslog_config(log, check, bootstrap, "check", queue))
    done = subprocess.run(
        ["rsyslogd", "-N1", "-f", str(conf)], capture_output=True, text=True, check=False
    )
    if done.returncode == 0:
        return ""
    output = (done.stdout + done.stderr).strip()
    if "omkafka" in output or "mmjsonparse" in output or "imfile" in output:
        return f"an rsyslog module is missing (Debian: {INSTALL_RSYSLOG}): {output}"
    raise click.ClickException(f"the generated rsyslog config does not validate:\n{output}")


def rsyslog_version() -> str:
    if shutil.which("rsyslogd") is None:
        return ""
    done = subprocess.run(["rsyslogd", "-v"], capture_output=True, text=True, check=False)
    return done.stdout.splitlines()[0].removesuffix("compiled with:").strip() if done.stdout else ""


# ---------------------------------------------------------------------------------------------
# logferry


def shipper_tool(
    name: str,
    log: Path,
    bootstrap: str,
    workers: int,
    checkout: Path | None = None,
    parse_only: bool = False,
    python: str = sys.executable,
) -> Tool:
    def start(run_dir: Path, topic: str) -> list[str]:
        config: dict[str, Any] = {
            "transform_workers": workers,
            "input": {"paths": [str(log)]},
            "output": {
                "url": f"kafka://{bootstrap}/{topic}",
                "kafka": {
                    "compression": COMPRESSION,
                    "linger_ms": LINGER_MS,
                    "max_batch_bytes": BATCH_BYTES,
                },
            },
            "state_dir": str(run_dir / "state"),
            "metrics_addr": f"127.0.0.1:{free_port()}",
            "log_level": "warning",
        }
        if parse_only:
            config["pipeline"] = [{"type": "parse"}]
        path = run_dir / "shipper.yml"
        path.write_text(yaml.safe_dump(config))
        return [python, "-m", "shipper", "run", "--config", str(path)]

    def record_id(doc: dict[str, Any]) -> str:
        return str(doc["app"]["request_id"] if parse_only else doc["http"]["request"]["id"])

    def enriched(doc: dict[str, Any]) -> bool:
        if parse_only:  # the skeleton parse adds
            return "@timestamp" in doc and bool(doc.get("event", {}).get("id"))
        return "@timestamp" in doc and doc.get("ecs", {}).get("version") is not None

    return Tool(
        name,
        start,
        record_id=record_id,
        enriched=enriched,
        env={"PYTHONPATH": str(checkout)} if checkout else {},
        cwd=checkout,
    )


# ---------------------------------------------------------------------------------------------
# a Kafka run


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def _consumer(bootstrap: str) -> AIOKafkaConsumer:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    return consumer


async def _end_offsets(consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> int:
    ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
    return sum(ends.values())


async def read_back(bootstrap: str, topic: str, tool: Tool) -> dict[str, Any]:
    """Every record of *topic*: how many, how many distinct ids, how many not enriched."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        records, size, ids, bare = 0, 0, set(), 0
        while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
            batches = await consumer.getmany(timeout_ms=2000, max_records=20_000)
            for batch in batches.values():
                for record in batch:
                    doc = orjson.loads(record.value)
                    records += 1
                    size += len(record.value)
                    ids.add(tool.record_id(doc))
                    bare += not tool.enriched(doc)
        return {
            "records": records,
            "distinct_ids": len(ids),
            "not_enriched": bare,
            "mean_record_bytes": round(size / max(1, records)),
        }
    finally:
        await consumer.stop()


def run_kafka(
    tool: Tool,
    run_dir: Path,
    bootstrap: str,
    topic: str,
    lines: int,
    round_: int,
    stall_s: float,
    broker_pid: int | None,
) -> Run:
    """One run of *tool* into the new *topic*, until the topic holds *lines* records."""
    run_dir.mkdir(parents=True)
    command = tool.start(run_dir, topic)
    partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
    output = run_dir / "output.txt"
    with asyncio.Runner() as runner:
        runner.run(create_topic(bootstrap, topic, PARTITIONS))
        consumer = runner.run(_consumer(bootstrap))
        proc: subprocess.Popen[bytes] | None = None
        try:
            with output.open("wb") as sink:
                neighbours = Neighbours(broker_pid)
                started = time.perf_counter()
                proc = subprocess.Popen(
                    command,
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **tool.env},
                    cwd=tool.cwd,
                )
            tree = ProcessTree(proc.pid)
            first: float | None = None
            done, progressed = 0, time.perf_counter()
            with click.progressbar(
                length=lines, label=f"round {round_ + 1}  {tool.name:<22}", file=sys.stderr
            ) as bar:
                while done < lines:
                    time.sleep(0.1)
                    tree.sample()
                    now = runner.run(_end_offsets(consumer, partitions))
                    if now > done:
                        if first is None:
                            first = time.perf_counter() - started
                        bar.update(now - done)
                        done, progressed = now, time.perf_counter()
                    if proc.poll() is not None:
                        raise click.ClickException(
                            f"{tool.name} exited with {proc.returncode}:\n{_tail(output)}"
                            f"\n{_tail(run_dir / 'rsyslogd.log')}"
                        )
                    if time.perf_counter() - progressed > stall_s:
                        raise click.ClickException(
                            f"{tool.name}: no progress for {stall_s:.0f} s at {done:,}/{lines:,}:"
                            f"\n{_tail(output)}\n{_tail(run_dir / 'rsyslogd.log')}"
                        )
            seconds = time.perf_counter() - started
            last = tree.sample()
            broker_cpu, rest_cpu = neighbours.stop(last.cpu_seconds)
            proc.send_signal(signal.SIGTERM)
            cpu = reap(proc)
            proc = None
            if last.cpu_seconds > cpu * 1.02 + 0.05:
                click.echo(
                    f"  note: {tool.name}: wait4 saw {cpu:.2f} CPU-s, /proc {last.cpu_seconds:.2f}"
                    " (a child it did not reap): using /proc's",
                    err=True,
                )
                cpu = last.cpu_seconds
            delivered = runner.run(_end_offsets(consumer, partitions))
        finally:
            runner.run(consumer.stop())
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    run = Run(
        tool.name,
        round_,
        lines,
        seconds,
        cpu,
        tree.peak_rss_bytes,
        rss_sum_bytes=tree.peak_rss_sum_bytes,
        pss_sum_bytes=tree.peak_pss_sum_bytes,
        first_event_s=first,
        delivered=delivered,
        processes=max(1, last.processes),
        broker_cpu_seconds=broker_cpu,
        rest_cpu_seconds=rest_cpu,
    )
    return run


# ---------------------------------------------------------------------------------------------
# the report


def _median(runs: list[Run], key: Callable[[Run], float]) -> float:
    return statistics.median(key(r) for r in runs)


def summarise(runs: list[Run], order: list[str]) -> dict[str, dict[str, Any]]:
    by_tool: dict[str, list[Run]] = {}
    for run in runs:
        by_tool.setdefault(run.tool, []).append(run)
    summary: dict[str, dict[str, Any]] = {}
    for name in order:
        mine = by_tool.get(name)
        if not mine:
            continue
        firsts = [r.first_event_s for r in mine if r.first_event_s is not None]
        brokers = [b for r in mine if (b := r.broker_cpu_per_100k) is not None]
        rests = [x for r in mine if (x := r.rest_load_pct) is not None]
        summary[name] = {
            "runs": len(mine),
            "events_per_s": _median(mine, lambda r: r.events_per_s),
            "cpu_s_per_100k": _median(mine, lambda r: r.cpu_per_100k),
            "peak_rss_mb": _median(mine, lambda r: r.rss_mb),
            "peak_pss_mb": _median(mine, lambda r: r.pss_mb),
            "processes": max(r.processes for r in mine),
            "first_event_s": statistics.median(firsts) if firsts else None,
            "broker_cpu_s_per_100k": statistics.median(brokers) if brokers else None,
            "rest_of_machine_load_pct": statistics.median(rests) if rests else None,
            "all_delivered_exactly": all(
                r.delivered is None or r.delivered == r.events for r in mine
            ),
        }
    base = summary.get(RSYSLOG)
    for entry in summary.values():
        entry["cpu_per_event_vs_rsyslog"] = (
            entry["cpu_s_per_100k"] / base["cpu_s_per_100k"] if base else None
        )
        entry["events_per_s_vs_rsyslog"] = (
            entry["events_per_s"] / base["events_per_s"] if base else None
        )
    return summary


def targets(summary: dict[str, dict[str, Any]], workers: tuple[int, ...]) -> list[dict[str, Any]]:
    """The goals in benchmarks/README.md, judged on the medians."""
    found: list[dict[str, Any]] = []
    inline = summary.get(INLINE)
    if inline and inline["cpu_per_event_vs_rsyslog"] is not None:
        value = inline["cpu_per_event_vs_rsyslog"]
        found.append(
            {
                "target": f"{INLINE}: CPU per event <= {TARGET_CPU_RATIO}x rsyslog's",
                "value": round(value, 3),
                "met": value <= TARGET_CPU_RATIO,
            }
        )
    for count in workers:
        entry = summary.get(workers_name(count))
        if not entry:
            continue
        if entry["events_per_s_vs_rsyslog"] is not None:
            value = entry["events_per_s_vs_rsyslog"]
            found.append(
                {
                    "target": f"{workers_name(count)}: events/s >= {TARGET_RATE_RATIO}x rsyslog's",
                    "value": round(value, 3),
                    "met": value >= TARGET_RATE_RATIO,
                }
            )
        found.append(
            {
                "target": f"{workers_name(count)}: peak RSS <= {TARGET_RSS_MB:.0f} MB",
                "value": round(entry["peak_rss_mb"], 1),
                "met": entry["peak_rss_mb"] <= TARGET_RSS_MB,
                "reference": {"peak_pss_mb": round(entry["peak_pss_mb"], 1)},
            }
        )
    return found


def same_job(summary: dict[str, dict[str, Any]]) -> list[str]:
    """The parse-only runs against rsyslog: logferry doing rsyslog's job here, for reference."""
    return [
        f"{name}: CPU per event {entry['cpu_per_event_vs_rsyslog']:.2f}x rsyslog's,"
        f" events/s {entry['events_per_s_vs_rsyslog']:.2f}x"
        for name, entry in summary.items()
        if name.endswith(PARSE_ONLY) and entry["cpu_per_event_vs_rsyslog"] is not None
    ]


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def _number(value: float | None, form: str) -> str:
    return "—" if value is None else form.format(value)


def print_table(
    summary: dict[str, dict[str, Any]], goals: list[dict[str, Any]], title: str
) -> None:
    table = Table(title=title)
    table.add_column("tool")
    for heading in (
        "events/s",
        "CPU s / 100k",
        "peak RSS MB",
        "PSS MB",
        "procs",
        "first event s",
        "CPU/event vs rsyslog",
        "events/s vs rsyslog",
        "broker CPU s / 100k",
        "rest of machine %",
    ):
        table.add_column(heading, justify="right")
    for name, entry in summary.items():
        first = entry["first_event_s"]
        table.add_row(
            name,
            f"{entry['events_per_s']:,.0f}",
            f"{entry['cpu_s_per_100k']:.2f}",
            f"{entry['peak_rss_mb']:.0f}",
            _number(entry["peak_pss_mb"] or None, "{:.0f}"),
            str(entry["processes"]),
            _number(first, "{:.2f}"),
            _ratio(entry["cpu_per_event_vs_rsyslog"]),
            _ratio(entry["events_per_s_vs_rsyslog"]),
            _number(entry["broker_cpu_s_per_100k"], "{:.2f}"),
            _number(entry["rest_of_machine_load_pct"], "{:.0f}"),
        )
    console = Console(width=None if sys.stdout.isatty() else 180)
    console.print(table)
    busy = [
        name
        for name, entry in summary.items()
        if (entry["rest_of_machine_load_pct"] or 0) > BUSY_PCT
    ]
    if busy:
        console.print(
            f"[yellow]the rest of the machine used over {BUSY_PCT:.0f}% of its CPU during:"
            f" {', '.join(busy)}: other programs were running, figures are less comparable[/]"
        )
    for goal in goals:
        mark = "[green]met[/]" if goal["met"] else "[red]not met[/]"
        reference = goal.get("reference", {}).get("peak_pss_mb")
        also = "" if reference is None else f" (PSS, shared pages once: {reference} MB)"
        console.print(f"  {mark}  {goal['target']}: {goal['value']}{also}")
    for line in same_job(summary):
        console.print(f"  [dim]same job as rsyslog[/]  {line}")


# ---------------------------------------------------------------------------------------------


@click.command()
@click.option("--lines", default=300_000, show_default=True, help="Lines in the generated file.")
@click.option("--rounds", default=3, show_default=True, help="Interleaved rounds; medians shown.")
@click.option(
    "--kafka",
    default="127.0.0.1:9092",
    show_default=True,
    envvar="LOGFERRY_KAFKA",
    help="Bootstrap server (all tools use the same broker).",
)
@click.option(
    "--workers",
    multiple=True,
    type=int,
    default=(1,),
    show_default=True,
    help="transform_workers settings to measure besides 0 (repeatable).",
)
@click.option(
    "--rsyslog-threads",
    default=2,
    show_default=True,
    help="rsyslog main queue worker threads (they run mmjsonparse and omkafka).",
)
@click.option(
    "--rsyslog-batch",
    default=1024,
    show_default=True,
    help="rsyslog main queue dequeue batch size.",
)
@click.option(
    "--rsyslog-queue",
    default=20_000,
    show_default=True,
    help="rsyslog main queue size in messages (logferry reads up to 16,000 lines ahead).",
)
@click.option("--skip-rsyslog", is_flag=True, help="Measure logferry and the ceiling only.")
@click.option(
    "--parse-only/--no-parse-only",
    default=True,
    show_default=True,
    help="Also run logferry with only the parse stage: rsyslog's job here, without enrichment.",
)
@click.option(
    "--verify/--no-verify",
    default=True,
    show_default=True,
    help="Read every topic back: exactly N records, N distinct ids, all enriched.",
)
@click.option("--keep-topics", is_flag=True, help="Leave the benchmark's topics on the broker.")
@click.option(
    "--max-idle-load",
    default=25.0,
    show_default=True,
    help="Before each run, wait until the machine's CPU load is at most this % of all cores.",
)
@click.option(
    "--settle-timeout",
    default=120.0,
    show_default=True,
    help="Longest wait for --max-idle-load before running anyway (with a warning).",
)
@click.option(
    "--retries",
    default=2,
    show_default=True,
    help="Runs again a run during which Kafka failed (a shared broker may be restarted).",
)
@click.option(
    "--stall-timeout",
    default=60.0,
    show_default=True,
    help="Give up on a run after this many seconds without a new record.",
)
@click.option(
    "--baseline",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help=(
        "Another logferry checkout (say `git worktree add /tmp/base <commit>`) measured in the"
        " same rounds, with the same settings: a before/after from one run."
    ),
)
@click.option(
    "--python",
    "python",
    type=click.Path(exists=True, dir_okay=False),
    help=(
        "The interpreter logferry's rows run on (default: this one), e.g. a virtualenv made with"
        " another CPython build; it must import logferry and its dependencies."
    ),
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write every run, the medians and the targets here as JSON.",
)
def main(
    lines: int,
    rounds: int,
    kafka: str,
    workers: tuple[int, ...],
    rsyslog_threads: int,
    rsyslog_batch: int,
    rsyslog_queue: int,
    skip_rsyslog: bool,
    parse_only: bool,
    verify: bool,
    keep_topics: bool,
    max_idle_load: float,
    settle_timeout: float,
    retries: int,
    stall_timeout: float,
    baseline: Path | None,
    python: str | None,
    json_path: Path | None,
) -> None:
    """Side by side: rsyslog and logferry tailing the same file into Kafka, and an orjson ceiling."""
    workers = tuple(dict.fromkeys(w for w in workers if w > 0))
    python = python or sys.executable
    interpreter = describe_interpreter(python, _REPO)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # a failure raises; no log flood
    queue = RsyslogQueue(rsyslog_threads, rsyslog_batch, rsyslog_queue)
    with tempfile.TemporaryDirectory(prefix="bench-peers-") as tmp:
        workdir = Path(tmp)
        log = workdir / "app.log"
        click.echo(f"generating {lines:,} lines ...", err=True)
        size = generate(log, lines)
        click.echo(f"{size / 2**20:.0f} MiB, {size / lines:.0f} B/line", err=True)

        tools: list[Tool | None] = []  # None: the ceiling
        rsyslog_skipped = "skipped (--skip-rsyslog)" if skip_rsyslog else ""
        if not skip_rsyslog:
            rsyslog_skipped = rsyslog_problem(log, workdir, kafka, queue)
        if rsyslog_skipped:
            click.secho(f"rsyslog: {rsyslog_skipped}; measuring without it", fg="yellow", err=True)
        else:
            tools.append(rsyslog_tool(log, kafka, queue))
        tools.append(shipper_tool(INLINE, log, kafka, 0, python=python))
        tools.extend(shipper_tool(workers_name(w), log, kafka, w, python=python) for w in workers)
        if parse_only:
            tools.extend(
                shipper_tool(parse_only_name(w), log, kafka, w, parse_only=True, python=python)
                for w in (0, *workers)
            )
        if baseline is not None:
            tools.extend(
                shipper_tool(baseline_name(name, baseline), log, kafka, w, baseline, python=python)
                for name, w in [(INLINE, 0), *((workers_name(w), w) for w in workers)]
            )
        tools.append(None)
        order = [t.name if t else CEILING for t in tools]
        if _is_local(kafka) and find_process("kafka.Kafka") is None:
            click.echo("no local Kafka broker process found: its CPU is not measured", err=True)

        runs: list[Run] = []
        topics: list[str] = []
        source_before = source_state()
        try:
            for round_ in range(rounds):
                shift = round_ % len(tools)
                for n, tool in enumerate(tools[shift:] + tools[:shift]):
                    load = settle(max_idle_load, settle_timeout)
                    if tool is None:
                        seconds, cpu, rss = run_ceiling(log)
                        runs.append(Run(CEILING, round_, lines, seconds, cpu, rss))
                        runs[-1].load_before_pct = load
                        click.echo(f"round {round_ + 1}  {CEILING}: {seconds:.2f} s", err=True)
                        continue
                    for attempt in itertools.count(1):
                        wait_for_broker(kafka, timeout_s=300)
                        topic = f"bench-peers-{uuid.uuid4().hex[:10]}"
                        topics.append(topic)
                        try:
                            run = run_kafka(
                                tool,
                                workdir / f"r{round_}-{n}-{attempt}",
                                kafka,
                                topic,
                                lines,
                                round_,
                                stall_timeout,
                                find_process("kafka.Kafka") if _is_local(kafka) else None,
                            )
                            if verify:
                                run.verified = asyncio.run(read_back(kafka, topic, tool))
                            break
                        except (KafkaError, OSError) as exc:
                            # A run the broker was not there for measures nothing: do it again.
                            if attempt > retries:
                                raise click.ClickException(
                                    f"{tool.name}: Kafka at {kafka} failed: {exc!r}"
                                ) from exc
                            click.secho(
                                f"{tool.name}: Kafka failed during the run ({exc!r});"
                                " running it again once the broker answers",
                                fg="yellow",
                                err=True,
                            )
                    run.load_before_pct = load
                    runs.append(run)
                    _report_run(run)
        finally:
            if not keep_topics:
                try:
                    asyncio.run(delete_topics(kafka, topics))
                except (KafkaError, OSError) as exc:
                    click.echo(f"could not delete the topics {topics}: {exc!r}", err=True)

        source_after = source_state()
        if source_after["sources_sha256"] != source_before["sources_sha256"]:
            click.secho(
                "logferry's sources (shipper/, pipelines/) changed during the benchmark:"
                " its rounds may have measured different code",
                fg="yellow",
                err=True,
            )
        summary = summarise(runs, order)
        goals = targets(summary, workers)
        print_table(
            summary,
            goals,
            f"{lines:,} lines x {rounds} rounds, medians; Kafka {PARTITIONS} partitions, acks=all,"
            f" idempotent, {COMPRESSION}; logferry on {interpreter['summary']}",
        )
        problems = [
            r for r in runs if r.delivered not in (None, r.events) or not _verified_ok(r, lines)
        ]
        if problems:
            for run in problems:
                click.secho(f"LOSS OR DUPLICATES: {run.tool} round {run.round + 1}", fg="red")
        if json_path is not None:
            report = {
                "job": {
                    "lines": lines,
                    "bytes": size,
                    "rounds": rounds,
                    "kafka": kafka,
                    "partitions": PARTITIONS,
                    "acks": "all",
                    "idempotent": True,
                    "compression": COMPRESSION,
                    "linger_ms": LINGER_MS,
                    "batch_bytes": BATCH_BYTES,
                    "transform_workers": [0, *workers],
                    "rsyslog_main_queue": asdict(queue),
                    "rsyslog": rsyslog_skipped or rsyslog_version(),
                },
                "logferry": {
                    "at_start": source_before,
                    "at_end": source_after,
                    "changed_during_benchmark": source_after != source_before,
                },
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "logferry_python": interpreter,
                    "aiokafka": aiokafka.__version__,
                    "librdkafka": _debian_version("librdkafka1"),
                },
                "median": summary,
                "targets": goals,
                "runs": [
                    {**asdict(r), "events_per_s": r.events_per_s, "cpu_s_per_100k": r.cpu_per_100k}
                    for r in runs
                ],
                "all_delivered_exactly_once": not problems,
            }
            json_path.write_text(json.dumps(report, indent=2) + "\n")
            click.echo(f"wrote {json_path}", err=True)
        if problems:
            sys.exit(1)


def wait_for_broker(bootstrap: str, timeout_s: float) -> None:
    """Return once a client can bootstrap from *bootstrap* again."""

    async def bootstrap_once() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        await admin.start()  # a failed start closes what it opened
        try:
            await admin.list_topics()
        finally:
            await admin.close()

    deadline = time.monotonic() + timeout_s
    for attempt in itertools.count():
        try:
            asyncio.run(bootstrap_once())
        except (KafkaError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
        else:
            if attempt:
                time.sleep(5)  # it was away: let it settle (leaders elected, metadata complete)
            return


def settle(max_pct: float, timeout_s: float) -> float:
    """Wait until the machine's CPU load, over 2 s, is at most *max_pct* % of all its cores
    (the stack's idle services count in it), or *timeout_s* passed; returns the last load."""
    deadline = time.monotonic() + timeout_s
    cores = os.cpu_count() or 1
    while True:
        before = busy_seconds()
        time.sleep(2)
        load = (busy_seconds() - before) / (2 * cores) * 100
        if load <= max_pct:
            return load
        if time.monotonic() > deadline:
            click.secho(
                f"  the machine is still {load:.0f}% busy after {timeout_s:.0f} s: running anyway",
                fg="yellow",
                err=True,
            )
            return load


_REPO = Path(__file__).resolve().parent.parent


def source_state() -> dict[str, str]:
    """Which logferry is measured: HEAD, and a digest of shipper/ and pipelines/ as they are on
    disk (a shared work tree may change under a long benchmark)."""
    digest = hashlib.sha256()
    for path in sorted([*_REPO.glob("shipper/**/*.py"), *_REPO.glob("pipelines/**/*.py")]):
        digest.update(str(path.relative_to(_REPO)).encode() + b"\0" + path.read_bytes())
    head = subprocess.run(
        ["git", "-C", str(_REPO), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {"head": head, "sources_sha256": digest.hexdigest()[:16]}


def _is_local(bootstrap: str) -> bool:
    host = bootstrap.split(",")[0].rpartition(":")[0].strip("[]")
    return host in ("127.0.0.1", "localhost", "::1")


def _verified_ok(run: Run, lines: int) -> bool:
    v = run.verified
    return v is None or (
        v["records"] == lines and v["distinct_ids"] == lines and v["not_enriched"] == 0
    )


def _report_run(run: Run) -> None:
    v = run.verified
    checked = (
        ""
        if v is None
        else f", read back {v['records']:,} records / {v['distinct_ids']:,} distinct ids"
        f" / {v['not_enriched']} not enriched, {v['mean_record_bytes']} B each"
    )
    broker = run.broker_cpu_per_100k
    rest = run.rest_load_pct
    click.echo(
        f"  {run.events_per_s:,.0f} events/s, {run.cpu_per_100k:.2f} CPU-s/100k,"
        f" {run.rss_mb:.0f} MB RSS, {run.pss_mb:.0f} MB PSS (broker {_number(broker, '{:.2f}')} CPU-s/100k,"
        f" rest of machine {_number(rest, '{:.0f}')}%, {_number(run.load_before_pct, '{:.0f}')}%"
        f" before); topic holds {run.delivered:,}{checked}",
        err=True,
    )


def _debian_version(package: str) -> str:
    if shutil.which("dpkg-query") is None:
        return ""
    done = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", package],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip()


if __name__ == "__main__":
    main()
