"""Write -> searchable latency: how long after the application writes a line a search finds it.

A writer appends python-json-logger lines to a file at a steady rate; the real `shipper run`
tails it into Kafka and the real `shipper index` writes Elasticsearch. Probers pick the line
just written (each line by one prober only), note when, and search for it (by its
``log.offset``, without forcing a refresh: what a user's search sees) until it is found. Prints
the latency percentiles, and the first line apart (it waits for the day's index to be created);
the issue's target is p99 <= 2 s at 5,000 lines/s.

    python benchmarks/bench_latency.py --rate 5000 --seconds 60
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

import click
import orjson
from bench_indexer import _cleanup, _indexer_config, _start, _stop, _topic
from elasticsearch import ApiError, AsyncElasticsearch


class Writer(threading.Thread):
    """Appends lines at *rate* per second; remembers when each offset was written."""

    def __init__(self, path: Path, rate: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.path, self.rate, self.seconds = path, rate, seconds
        self.latest: tuple[int, float] | None = None  # (offset, monotonic time written)
        self.written = 0
        self.done = threading.Event()

    def run(self) -> None:
        tick = 0.01
        per_tick = max(1, round(self.rate * tick))
        started = time.monotonic()
        with self.path.open("ab", buffering=0) as out:
            offset = out.tell()
            while time.monotonic() - started < self.seconds:
                chunk = []
                for _ in range(per_tick):
                    line = orjson.dumps(
                        {
                            "asctime": time.strftime("%Y-%m-%d %H:%M:%S,000"),
                            "levelname": "INFO",
                            "name": "demo.http",
                            "message": f"GET /orders -> 200 #{self.written}",
                            "method": "GET",
                            "status": 200,
                            "duration_ms": 12.5,
                            "request_id": uuid.uuid4().hex,
                        }
                    )
                    chunk.append(line + b"\n")
                    self.written += 1
                data = b"".join(chunk)
                out.write(data)
                # The last line of the chunk: where it starts, and when it was written.
                self.latest = (offset + len(data) - len(chunk[-1]), time.monotonic())
                offset += len(data)
                next_tick = started + (self.written / self.rate)
                time.sleep(max(0.0, next_tick - time.monotonic()))
        self.done.set()


async def probe(
    es: AsyncElasticsearch,
    index: str,
    writer: Writer,
    samples: dict[int, float],
    timeout_s: float,
) -> None:
    """Until the writer stops: take the line just written, search until it is found.

    Each line is probed once: probers that took the same line would count its latency several
    times (at the start all of them take the first line, the one that creates the day's index)."""
    while not writer.done.is_set():
        if writer.latest is None or writer.latest[0] in samples:
            await asyncio.sleep(0.005)
            continue
        offset, written_at = writer.latest
        samples[offset] = float("inf")  # taken; not found in time unless replaced below
        while time.monotonic() - written_at < timeout_s:
            try:
                found = await es.count(
                    index=index,
                    query={"term": {"log.offset": offset}},
                    ignore_unavailable=True,
                    allow_no_indices=True,
                )
            except ApiError:  # a daily index being created: its shards are not searchable yet
                await asyncio.sleep(0.02)
                continue
            if found["count"]:
                samples[offset] = time.monotonic() - written_at
                break
            await asyncio.sleep(0.02)


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@click.command()
@click.option("--rate", default=5000, show_default=True, help="Lines written per second.")
@click.option("--seconds", default=60.0, show_default=True, help="How long to write.")
@click.option("--probers", default=4, show_default=True, help="Concurrent probes.")
@click.option("--kafka", default="127.0.0.1:9092", show_default=True, envvar="LOGFERRY_KAFKA")
@click.option("--elasticsearch", "es_url", default="http://127.0.0.1:9200", show_default=True)
@click.option(
    "--timeout", "timeout_s", default=30.0, show_default=True, help="Give up on one probe."
)
def main(
    rate: int, seconds: float, probers: int, kafka: str, es_url: str, timeout_s: float
) -> None:
    """Measure write -> searchable latency through shipper, Kafka, indexer and Elasticsearch."""
    asyncio.run(_run(rate, seconds, probers, kafka, es_url, timeout_s))


async def _run(
    rate: int, seconds: float, probers: int, kafka: str, es_url: str, timeout_s: float
) -> None:
    es = AsyncElasticsearch(es_url)
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        workdir = Path(tmp)
        log = workdir / "app.log"
        log.touch()
        prefix, topic = f"bench-{uuid.uuid4().hex[:8]}", f"bench-{uuid.uuid4().hex[:8]}"
        await _topic(kafka, topic, create=True)
        shipper_config = {
            "input": {"paths": [str(log)]},
            "output": {"url": f"kafka://{kafka}/{topic}"},
            "service": {"name": "orders"},
            "state_dir": str(workdir / "state"),
        }
        indexer, _ = _start(workdir, "index", _indexer_config(kafka, topic, es_url, prefix), "ix")
        shipper, _ = _start(workdir, "run", shipper_config, "shipper")
        samples: dict[int, float] = {}  # offset of a probed line -> its latency
        try:
            await asyncio.sleep(5)  # both connected, the templates installed
            writer = Writer(log, rate, seconds)
            click.echo(f"writing {rate:,} lines/s for {seconds:.0f} s ...", err=True)
            writer.start()
            index = f"{prefix}-orders-*"
            await asyncio.gather(
                *(probe(es, index, writer, samples, timeout_s) for _ in range(probers))
            )
        finally:
            _stop(shipper)
            _stop(indexer)
            await _cleanup(es, prefix)
            await _topic(kafka, topic, create=False)
            await es.close()
    if not samples:
        raise click.ClickException("no probe completed")
    _report(list(samples.values()), writer.written / seconds, timeout_s)


def _report(latencies: list[float], rate: float, timeout_s: float) -> None:
    """Percentiles over every probed line; the first one (it waits for the day's index to be
    created, once a day per service) is also shown alone, and the rest without it."""
    lost = sum(1 for s in latencies if s == float("inf"))
    found = [s for s in latencies if s != float("inf")]
    click.echo(
        f"{len(latencies)} probes at {rate:,.0f} lines/s: "
        f"p50 {_percentile(latencies, 0.5):.2f} s, p90 {_percentile(latencies, 0.9):.2f} s, "
        f"p99 {_percentile(latencies, 0.99):.2f} s, max {max(latencies):.2f} s"
        + (f", mean {statistics.fmean(found):.2f} s" if found else "")
        + (f", {lost} not found within {timeout_s:.0f} s" if lost else "")
    )
    if len(latencies) > 1:
        rest = latencies[1:]
        click.echo(
            f"  the first line (it creates the day's index): {latencies[0]:.2f} s; "
            f"the other {len(rest)}: p99 {_percentile(rest, 0.99):.2f} s, max {max(rest):.2f} s"
        )


if __name__ == "__main__":
    main()
