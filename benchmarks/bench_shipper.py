"""Shipper throughput on a generated file of realistic python-json-logger lines.

Three runs over the same file, each a separate process measured (CPU: wait4; peak RSS: /proc):
  (a) tail -> transforms -> Kafka      (the real `shipper run`)
  (b) tail -> transforms -> file sink  (the real `shipper run`, output file://)
  (c) a plain `orjson.loads` loop over the lines: the ceiling, measured in the same run
Figures are reported as ratios against (c), since machines are noisy.

    python benchmarks/bench_shipper.py --lines 1000000
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import benchlib
import click
import yaml
from benchlib import ProcessTree, create_topic, generate, reap

from loadtest.harness.launch import free_port


@dataclass
class Result:
    name: str
    seconds: float
    cpu_seconds: float
    peak_rss_bytes: int
    events: int
    size_bytes: int

    @property
    def events_per_s(self) -> float:
        return self.events / self.seconds

    @property
    def mib_per_s(self) -> float:
        return self.size_bytes / self.seconds / 2**20

    @property
    def cpu_per_100k(self) -> float:
        return self.cpu_seconds / self.events * 100_000


def _published(port: int) -> float:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as response:
            for line in response.read().decode().splitlines():
                if line.startswith("logferry_shipper_events_published_total "):
                    return float(line.split()[1])
    except OSError:
        pass
    return 0.0


def run_shipper(
    name: str, log: Path, output: str, events: int, workdir: Path, transform_workers: int
) -> Result:
    port = free_port()
    state = workdir / f"state-{port}"
    config = {
        "transform_workers": transform_workers,
        "input": {"paths": [str(log)]},
        "output": {"url": output},
        "state_dir": str(state),
        "metrics_addr": f"127.0.0.1:{port}",
        "log_level": "warning",
    }
    config_path = workdir / f"shipper-{port}.yml"
    config_path.write_text(yaml.safe_dump(config))
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "shipper", "run", "--config", str(config_path)])
    tree = ProcessTree(proc.pid)
    with click.progressbar(length=events, label=f"{name:<28}") as bar:
        done = 0.0
        while done < events:
            time.sleep(0.25)
            tree.sample()
            now = _published(port)
            bar.update(int(now - done))
            done = now
            if proc.poll() is not None:
                raise click.ClickException(f"{name}: shipper exited with {proc.returncode}")
    elapsed = time.perf_counter() - started
    tree.sample()
    proc.send_signal(signal.SIGTERM)
    cpu = reap(proc)
    return Result(name, elapsed, cpu, tree.peak_rss_bytes, events, log.stat().st_size)


def run_ceiling(log: Path, events: int) -> Result:
    seconds, cpu, rss = benchlib.run_ceiling(log)
    return Result("(c) orjson.loads loop", seconds, cpu, rss, events, log.stat().st_size)


@click.command()
@click.option("--lines", default=1_000_000, show_default=True, help="Lines in the generated file.")
@click.option(
    "--kafka",
    default="127.0.0.1:9092",
    show_default=True,
    envvar="LOGFERRY_KAFKA",
    help="Bootstrap servers.",
)
@click.option("--skip-kafka", is_flag=True, help="Only (b) and (c), for machines without Kafka.")
@click.option(
    "--transform-workers",
    "workers",
    multiple=True,
    type=int,
    default=(0, 1),
    show_default=True,
    help="transform_workers settings to measure (repeatable).",
)
def main(lines: int, kafka: str, skip_kafka: bool, workers: tuple[int, ...]) -> None:
    """Measure (a) tail->transforms->Kafka, (b) tail->transforms->file, (c) an orjson.loads loop."""
    with tempfile.TemporaryDirectory(prefix="bench-shipper-") as tmp:
        workdir = Path(tmp)
        log = workdir / "app.log"
        click.echo(f"generating {lines:,} lines ...", err=True)
        size = generate(log, lines)
        click.echo(f"{size / 2**20:.0f} MiB, {size / lines:.0f} B/line", err=True)
        results = [run_ceiling(log, lines)]
        for count in workers:
            suffix = f", {count} worker{'s' if count != 1 else ''}"
            sink = f"file://{workdir / f'out-{count}.ndjson'}"
            results.append(run_shipper(f"(b) ->file{suffix}", log, sink, lines, workdir, count))
            if not skip_kafka:
                topic = f"bench-{uuid.uuid4().hex[:8]}"
                asyncio.run(create_topic(kafka, topic))
                target = f"kafka://{kafka}/{topic}"
                results.append(
                    run_shipper(f"(a) ->Kafka{suffix}", log, target, lines, workdir, count)
                )
        ceiling = results[0].events_per_s
        click.echo(
            f"\n{'run':<30}{'events/s':>12}{'MiB/s':>8}{'CPU s/100k':>12}{'peak RSS MiB':>14}{'vs (c)':>8}"
        )
        for r in results:
            click.echo(
                f"{r.name:<30}{r.events_per_s:>12,.0f}{r.mib_per_s:>8.1f}{r.cpu_per_100k:>12.2f}"
                f"{r.peak_rss_bytes / 2**20:>14.0f}{r.events_per_s / ceiling:>8.1%}"
            )


if __name__ == "__main__":
    main()
