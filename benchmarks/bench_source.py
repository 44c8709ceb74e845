"""Throughput of the file source against a plain ``for line in open(f, "rb")`` loop.

Writes a file of JSON log lines (default: 1,000,000 lines of ~300 bytes), warms the page cache,
then, in the same run, measures:

* baseline: ``for line in open(path, "rb")`` counting lines;
* FileSource: the real source (discovery, fingerprint, chunked reads, line cutting, RawLine
  construction, batching) with a no-op ``emit`` that acknowledges each batch.

Each is run ``--repeat`` times and the best run is reported, with the ratio source / baseline.

    python benchmarks/bench_source.py --lines 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from pipelines.types import RawLine
from shipper.sources import FileSource, FileSourceConfig

MIB = 1024 * 1024


def write_file(path: Path, lines: int, line_bytes: int) -> int:
    template = (
        '{"asctime": "2025-01-31 12:00:00,123", "levelname": "INFO", "name": "app.http",'
        ' "message": "GET /api/orders/%08d 200", "request_id": "%032x", "duration_ms": 12.5,'
        ' "pad": "'
    )
    with path.open("wb", buffering=4 * MIB) as f:
        for i in range(lines):
            head = (template % (i, i * 2654435761)).encode()
            pad = max(0, line_bytes - len(head) - 3)
            f.write(head + b"x" * pad + b'"}\n')
    return path.stat().st_size


def baseline(path: Path) -> tuple[float, int]:
    start = time.perf_counter()
    count = 0
    with path.open("rb") as f:
        for _line in f:
            count += 1
    return time.perf_counter() - start, count


async def source_run(path: Path, expected: int, chunk: int) -> tuple[float, int]:
    config = FileSourceConfig(
        paths=[str(path)], poll_interval_s=0.001, scan_interval_s=60, read_chunk_bytes=chunk
    )
    source = FileSource(config, {})
    count = 0

    async def emit(batch: list[RawLine]) -> None:
        nonlocal count
        count += len(batch)
        last = batch[-1]
        source.acknowledge({last.file_id: last.end_offset})
        if count >= expected:
            source.stop()

    start = time.perf_counter()
    await source.run(emit)
    return time.perf_counter() - start, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=1_000_000, help="lines in the test file")
    parser.add_argument("--line-bytes", type=int, default=300, help="approximate bytes a line")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each; the best is kept")
    parser.add_argument(
        "--chunk-bytes", type=int, default=256 * 1024, help="FileSource read_chunk_bytes"
    )
    parser.add_argument("--dir", type=Path, default=None, help="where to write the file")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "app.log"
        size = write_file(path, args.lines, args.line_bytes)
        print(f"file: {args.lines:,} lines, {size / MIB:.1f} MiB, {os.cpu_count()} CPUs")
        baseline(path)  # warm the page cache
        base = min(baseline(path)[0] for _ in range(args.repeat))
        runs = [
            asyncio.run(source_run(path, args.lines, args.chunk_bytes)) for _ in range(args.repeat)
        ]
        assert all(count == args.lines for _, count in runs), runs
        best = min(elapsed for elapsed, _ in runs)

    def report(name: str, elapsed: float) -> None:
        print(
            f"{name:<28} {args.lines / elapsed:>12,.0f} lines/s {size / MIB / elapsed:>9.1f} MiB/s"
            f" {elapsed * 1e9 / args.lines:>8.0f} ns/line"
        )

    report("baseline for line in open()", base)
    report("FileSource", best)
    print(f"ratio (FileSource / baseline throughput): {base / best:.2f}")


if __name__ == "__main__":
    main()
