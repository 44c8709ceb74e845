"""Cost of the transform chain per event, next to a bare ``orjson.loads`` of the same lines.

Generates realistic python-json-logger lines (about 300 bytes: request logs with method, path,
status, duration and a request id; some warnings; a few errors with a traceback), then times

* ``orjson.loads`` over every line (the floor: decoding alone), and
* the default pipeline (``Pipeline.from_config(None, …)``) over the same lines,

and prints µs/event for both and their ratio. ``--stages`` also shows what each default stage
adds, twice: with every line run through the stages' generic ``__call__`` (``compiled=False``),
and with the chain compiled per key set (:mod:`pipelines.pipeline`), as the shipper runs it (the
last ``compiled`` row is the default chain without ``route``, which is not per event).
Run: ``python benchmarks/bench_pipeline.py [--stages]``.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from pipelines import DEFAULT_STAGES, Pipeline, PipelineContext, RawLine

_PATHS = (
    "/api/orders",
    "/api/orders/{id}",
    "/api/users/{id}",
    "/api/cart",
    "/healthz",
    "/api/search",
)
_METHODS = ("GET", "GET", "GET", "POST", "PUT", "DELETE")
_STATUSES = (200, 200, 200, 200, 201, 204, 301, 400, 404, 500, 503)


def make_lines(count: int, seed: int = 1) -> list[bytes]:
    """``count`` python-json-logger-shaped lines, deterministic for a seed."""
    rng = random.Random(seed)
    start = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
    lines = []
    for index in range(count):
        moment = start + timedelta(milliseconds=index * 3)
        record: dict[str, Any] = {
            "asctime": moment.strftime("%Y-%m-%d %H:%M:%S,") + f"{moment.microsecond // 1000:03d}",
            "levelname": "INFO",
            "name": "shop.web",
            "message": "",
            "filename": "views.py",
            "funcName": "handle",
            "lineno": rng.randint(20, 400),
            "process": 4242,
            "processName": "MainProcess",
            "thread": 140528895302528,
            "threadName": "MainThread",
        }
        roll = rng.random()
        method = rng.choice(_METHODS)
        path = rng.choice(_PATHS).replace("{id}", str(rng.randint(1, 99999)))
        status = rng.choice(_STATUSES)
        if roll < 0.9:
            record["message"] = f"{method} {path} {status}"
            record.update(
                method=method,
                path=path,
                status=status,
                duration_ms=round(rng.expovariate(1 / 40), 3),
                request_id=f"{rng.getrandbits(64):016x}",
                user_id=rng.randint(1, 50000),
            )
        elif roll < 0.98:
            record["levelname"] = "WARNING"
            record["message"] = f"slow query on orders took {rng.randint(200, 3000)} ms"
            record["request_id"] = f"{rng.getrandbits(64):016x}"
        else:
            record["levelname"] = "ERROR"
            record["message"] = "payment failed"
            record["exc_info"] = (
                "Traceback (most recent call last):\n"
                '  File "/app/shop/payments.py", line 88, in charge\n'
                "    resp = client.post(url, json=body)\n"
                f"TimeoutError: upstream timed out after {rng.randint(1, 30)}s"
            )
        lines.append(orjson.dumps(record))
    return lines


def _time_per_item(func: Callable[[Any], Any], items: Sequence[Any]) -> float:
    """µs per item of one pass."""
    begin = time.perf_counter()
    for item in items:
        func(item)
    return (time.perf_counter() - begin) / len(items) * 1e6


def _best_of(
    runs: dict[str, Callable[[Any], Any]], items: dict[str, Sequence[Any]], repeat: int
) -> dict[str, float]:
    """Best-of-``repeat`` µs/item for each run, interleaved so a noisy moment hits all alike."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, func in runs.items():
            gc.collect()
            best[name] = min(best[name], _time_per_item(func, items[name]))
    return best


def main(argv: Sequence[str] | None = None) -> int:
    """Parse arguments, run the loops, print the table."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("-n", "--events", type=int, default=20_000, help="lines per run")
    parser.add_argument("-r", "--repeat", type=int, default=7, help="runs; the best is reported")
    parser.add_argument("--seed", type=int, default=1, help="random seed for the lines")
    parser.add_argument(
        "--stages", action="store_true", help="also show the cost each default stage adds"
    )
    args = parser.parse_args(argv)

    lines = make_lines(args.events, args.seed)
    offsets = itertools.accumulate((len(line) + 1 for line in lines), initial=0)
    raws = [
        RawLine(line, "/var/log/app/app.log", "fp:1234:5678", offset)
        for line, offset in zip(lines, offsets, strict=False)
    ]
    clock = itertools.count()
    context = PipelineContext(
        service_name="shop",
        host_name="pod-1",
        agent_version="0.1.0",
        now=lambda: 1714564800.0 + next(clock) * 1e-4,
    )
    runs: dict[str, Callable[[Any], Any]] = {"orjson.loads (baseline)": orjson.loads}
    items: dict[str, Sequence[Any]] = {"orjson.loads (baseline)": lines}
    if args.stages:
        for compiled, kind in ((False, "generic"), (True, "compiled")):
            for end in range(1, len(DEFAULT_STAGES)):
                name = f"+ {DEFAULT_STAGES[end - 1].type} ({kind})"
                stages = list(DEFAULT_STAGES[:end])
                runs[name] = Pipeline.from_config(stages, context, compiled=compiled)
                items[name] = raws
    runs["default pipeline"] = Pipeline.from_config(None, context)
    items["default pipeline"] = raws
    best = _best_of(runs, items, args.repeat)

    baseline = best["orjson.loads (baseline)"]
    mean_bytes = statistics.fmean(len(line) for line in lines)
    print(
        f"python {sys.version.split()[0]}, {args.events} lines, mean {mean_bytes:.0f} bytes, "
        f"best of {args.repeat}"
    )
    previous = 0.0
    for name, micros in best.items():
        extra = ""
        if name.startswith("+ parse"):
            previous = 0.0
        if name.startswith("+ "):
            extra = f"  (stage: +{micros - previous:.2f}, {micros / baseline:.1f}x baseline)"
            previous = micros
        elif name == "default pipeline":
            extra = (
                f"  ({micros / baseline:.1f}x baseline, {1e6 / micros:,.0f} events/s on one core)"
            )
        print(f"{name:<34}{micros:8.2f} µs/event{extra}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
