"""`loadtest demo`: set up, start the app, shipper and indexer, run a scenario, sum it up."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from datetime import datetime

import psutil
from rich.console import Console
from rich.table import Table

from loadtest.demo.config import DemoConfig
from loadtest.demo.services import (
    SERVICE,
    demo_processes,
    start_demo_processes,
    stop_demo_processes,
)
from loadtest.demo.summary import (
    LineKinds,
    PipelineCounts,
    line_kinds,
    rotated_files,
    wait_for_equal_counts,
)
from loadtest.errors import LoadTestError
from loadtest.harness.config import RunConfig
from loadtest.harness.report import RunReport
from loadtest.harness.runner import delete_topics, run_load_test
from shipper.indexer.config import KafkaInputConfig
from shipper.indexer.setup import setup_kafka
from shipper.masking import mask_urls
from shipper.process import Supervised

__all__ = ["run_demo", "topic_prefix"]

_TOPIC_PREFIX = "logferry-demo-"


async def run_demo(config: DemoConfig, console: Console) -> bool:
    """The whole demo; True when the counts are equal and every expectation held."""
    started = time.monotonic()
    _take_over(config, console)
    try:
        return await _run(config, console, started)
    finally:
        config.pid_file.unlink(missing_ok=True)


def _take_over(config: DemoConfig, console: Console) -> None:
    """Refuse to start beside a demo under way (unless --replace); record this one."""
    running = Supervised.from_pid_file(config.pid_file)
    if running is not None and running.pid != os.getpid():
        since = datetime.fromtimestamp(running.create_time).strftime("%H:%M:%S")
        if not config.replace:
            raise LoadTestError(
                f"a demo is already running (pid {running.pid}, since {since}; state dir "
                f"{config.state_dir}): wait for it to finish, or pass --replace to stop it and "
                "start anew"
            )
        # As Ctrl-C would: it stops what its load test started, then its processes stop below.
        running.send_signal(signal.SIGINT)
        try:
            running.wait(timeout_s=60)
        except TimeoutError:
            running.stop(timeout_s=10)
        console.print(f"--replace: stopped the demo that was running (pid {running.pid})")
    Supervised(psutil.Process(os.getpid())).write_pid_file(config.pid_file)
    stopped = stop_demo_processes(config)
    if stopped:
        console.print(f"stopped the previous demo's {', '.join(stopped)}")


async def _run(config: DemoConfig, console: Console, started: float) -> bool:
    run_id = f"{datetime.now():%Y%m%d-%H%M%S}"
    run_dir = (config.demo_dir / run_id).resolve()
    prefix = topic_prefix(config)
    topic = f"{prefix}{run_id}"
    # Earlier runs' topics of this state dir (a demo of another state dir may be running on the
    # same Kafka): each run counts its own events from an empty topic.
    await delete_topics(config.kafka, lambda name: name.startswith(prefix))
    _step(console, "1/4", "shipper setup: index templates and the Kafka topic")
    _shipper_setup(config)
    await setup_kafka(KafkaInputConfig(url=f"kafka://{config.kafka}/{topic}"))
    _step(console, "2/4", "starting the demo app, the indexer and the shipper")
    processes = demo_processes(config, run_dir, topic)
    await start_demo_processes(processes)
    for process in processes:
        console.print(f"  {process.name:8} {process.url}  (log {process.log_file})")
    _step(console, "3/4", f"loadtest run --scenario {config.scenario}")
    report = await run_load_test(
        RunConfig(
            scenario=config.scenario,
            host=processes[0].url,
            indexer=f"127.0.0.1:{config.indexer_port}",
            shipper=f"127.0.0.1:{config.shipper_port}",
            kafka=config.kafka,
            elasticsearch=config.elasticsearch,
            report=run_dir / "report",
            work_dir=run_dir / "loadtest",
        ),
        console,
    )
    _step(console, "4/4", "counting every line at every stage")
    counts = await wait_for_equal_counts(
        log_dir=run_dir / "logs",
        kafka=config.kafka,
        topic=topic,
        elasticsearch=config.elasticsearch,
        timeout_s=config.drain_timeout_s,
    )
    kinds = line_kinds(run_dir / "logs", report.run_id)
    rotations = rotated_files(run_dir / "logs")
    _summary(console, config, counts, kinds, rotations, report, time.monotonic() - started)
    return counts.equal and report.passed


def topic_prefix(config: DemoConfig) -> str:
    """``logferry-demo-<digest of the state dir>-``: the names of this state dir's demo topics."""
    digest = hashlib.sha256(str(config.state_dir.resolve()).encode()).hexdigest()[:8]
    return f"{_TOPIC_PREFIX}{digest}-"


def _step(console: Console, number: str, what: str) -> None:
    console.rule(f"[bold]{number}[/] {what}", align="left")


def _shipper_setup(config: DemoConfig) -> None:
    argv = [sys.executable, "-m", "shipper", "setup", "--es", config.elasticsearch]
    argv += ["--kafka", f"kafka://{config.kafka}/app-logs"]
    if config.kibana:
        argv += ["--kibana", config.kibana]
    if subprocess.run(argv, stdin=subprocess.DEVNULL, check=False).returncode != 0:
        raise LoadTestError("shipper setup failed (see above); is the stack up? `shipper stack up`")


def _summary(
    console: Console,
    config: DemoConfig,
    counts: PipelineCounts,
    kinds: LineKinds,
    rotations: int,
    report: RunReport,
    took_s: float,
) -> None:
    console.rule("[bold]summary", align="left")
    table = Table(show_header=False, box=None)
    equal = "[green]equal[/]" if counts.equal else "[red]NOT equal[/]"
    table.add_row("lines written by the app", f"{counts.lines_written:,}  ({kinds.explained()})")
    mib = config.app_rotate_bytes / (1024 * 1024)
    table.add_row(
        "log rotations", f"{rotations}  (rename + create every {mib:g} MiB, while shipped)"
    )
    table.add_row("events in Kafka", f"{counts.events_in_kafka:,}")
    table.add_row("documents in Elasticsearch", f"{counts.documents_in_elasticsearch:,}  ({equal})")
    for seen in report.alerts:
        if seen.firing_at is not None:
            after = seen.firing_at - report.origin
            table.add_row(f"alert {seen.name}", f"fired {after:.1f} s after the incident began")
    table.add_row("the alerts again", "loadtest demo alerts")
    table.add_row(
        "scenario expectations", "[green]all held[/]" if report.passed else "[red]failed[/]"
    )
    table.add_row("demo took", f"{took_s:.0f} s")
    console.print(table)
    console.print("\n[bold]three errors, as `shipper search` shows them:[/]")
    subprocess.run(
        [sys.executable, "-m", "shipper", "search", "--es", config.elasticsearch,
         "--service", SERVICE, "--limit", "3", "log.level:error"],
        stdin=subprocess.DEVNULL, check=False,
    )  # fmt: skip
    console.print(
        "\n[bold]where to look next[/]\n"
        f"  demo app        http://127.0.0.1:{config.app_port}/orders\n"
        f"  shipper         http://127.0.0.1:{config.shipper_port}/metrics\n"
        f"  indexer         http://127.0.0.1:{config.indexer_port}/metrics\n"
        f"  Prometheus      {config.prometheus}/classic/alerts  (the stack's: alerts.yml as "
        "written, over this shipper and indexer; its windows take minutes)\n"
        f"  Alertmanager    {config.alertmanager}/api/v2/alerts  (Debian's has no web UI; or "
        f"amtool alert query --alertmanager.url={config.alertmanager})\n"
        f"  Elasticsearch   {mask_urls(config.elasticsearch)}/app-logs-{SERVICE}-*/_search?q=log.level:error\n"
        f"  the run report  {report.files.get('report', '-')}\n"
        "  loadtest demo alerts   the alerts this demo proved, when each fired, who got it\n"
        f"  shipper search --service {SERVICE} 'http.response.status_code:>=500'\n"
        "  shipper trace ID       ID: one from the search's `trace / request id` column\n"
        "  make down        stops the demo and the stack"
    )
