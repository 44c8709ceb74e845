"""`loadtest demo`: set up, start the app, shipper and indexer, run a scenario, sum it up."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import datetime

from rich.console import Console
from rich.table import Table

from loadtest.demo.config import DemoConfig
from loadtest.demo.services import (
    SERVICE,
    demo_processes,
    start_demo_processes,
    stop_demo_processes,
)
from loadtest.demo.summary import PipelineCounts, wait_for_equal_counts
from loadtest.errors import LoadTestError
from loadtest.harness.config import RunConfig
from loadtest.harness.report import RunReport
from loadtest.harness.runner import delete_topics, run_load_test
from shipper.indexer.config import KafkaInputConfig
from shipper.indexer.setup import setup_kafka

__all__ = ["run_demo"]

_TOPIC_PREFIX = "logferry-demo-"


async def run_demo(config: DemoConfig, console: Console) -> bool:
    """The whole demo; True when the counts are equal and every expectation held."""
    started = time.monotonic()
    stopped = stop_demo_processes(config)
    if stopped:
        console.print(f"stopped the previous demo's {', '.join(stopped)}")
    run_id = f"{datetime.now():%Y%m%d-%H%M%S}"
    run_dir = (config.demo_dir / run_id).resolve()
    topic = f"{_TOPIC_PREFIX}{run_id}"
    _step(console, "1/4", "shipper setup: index templates and the Kafka topic")
    _shipper_setup(config)
    # Earlier demo runs' topics: each run counts its own events from an empty topic.
    await delete_topics(config.kafka, lambda name: name.startswith(_TOPIC_PREFIX))
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
    _summary(console, config, counts, report, time.monotonic() - started)
    return counts.equal and report.passed


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
    console: Console, config: DemoConfig, counts: PipelineCounts, report: RunReport, took_s: float
) -> None:
    console.rule("[bold]summary", align="left")
    table = Table(show_header=False, box=None)
    equal = "[green]equal[/]" if counts.equal else "[red]NOT equal[/]"
    table.add_row("lines written by the app", f"{counts.lines_written:,}")
    table.add_row("events in Kafka", f"{counts.events_in_kafka:,}")
    table.add_row("documents in Elasticsearch", f"{counts.documents_in_elasticsearch:,}  ({equal})")
    for seen in report.alerts:
        if seen.firing_at is not None:
            after = seen.firing_at - report.origin
            table.add_row(f"alert {seen.name}", f"fired {after:.1f} s after the incident began")
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
        f"  Prometheus      {config.prometheus}/alerts  (rules of dashboards/prometheus/alerts.yml)\n"
        f"  Alertmanager    {config.alertmanager}\n"
        f"  Elasticsearch   {config.elasticsearch}/app-logs-*/_search\n"
        f"  the run report  {report.files.get('report', '-')}\n"
        "  shipper search --service shop 'http.response.status_code:>=500'\n"
        "  shipper trace <a request id from the search above>\n"
        "  make down        stops the demo and the stack"
    )
