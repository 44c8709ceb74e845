"""Every PromQL expression of the Grafana dashboards and the alert rules, run against a real
Prometheus scraping real shippers and a real indexer.

A real pipeline: two services' log lines (the demo shop's shape: access lines with status,
duration and request id at INFO/WARNING/ERROR, business lines, one line that is not JSON) → a
`shipper run` sidecar each → a fresh Kafka topic → `shipper index` → Elasticsearch, and a
private Prometheus (Debian's binary, 1 s scrapes, the real alerts.yml) scraping all three and a
node exporter of its own (Debian's, as the local stack runs it).
Once it holds more than 15 s of data, each expr — Grafana's variables substituted the way
Grafana would with "All" selected — must evaluate without error, and return series unless the
test says why it may not. The alert rules must evaluate cleanly inside Prometheus too, stay
quiet under this healthy traffic, and their left-hand sides (the comparison stripped) must
return series.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import yaml
from elasticsearch import AsyncElasticsearch

from loadtest.harness.launch import free_port, start_prometheus
from loadtest.harness.processes import ManagedProcess
from shipper.process import debian_binary
from tests.integration.indexer.support import Names, delete_prefix
from tests.unit.dashboards.test_alert_rules import ALERTS, exprs
from tests.unit.dashboards.test_grafana import load_dashboards, query_panels, variable_query

pytestmark = pytest.mark.timeout(240)

HOST = "127.0.0.1"
SERVICE = "shop"
QUIET_SERVICE = "billing"
"""A second service that never answers 5xx: its error ratio must be 0, not a missing line."""
DATA_S = 16.0
"""Seconds of scraped data before querying: a 10 s rate() window must be full, with margin."""

# What Grafana puts in place of its built-in variables. At a 1 s scrape interval
# $__rate_interval would be max(4 x 1 s, $__interval + 1 s); 10 s holds ten samples. $__range is
# the dashboard's time range: here, about as long as the data there is.
GRAFANA_BUILTINS = {
    "__rate_interval": "10s",
    "__interval": "2s",
    "__range": "15s",
    "__range_s": "15",
}

# Queries that may rightly return nothing in a healthy pipeline: their series appear on the
# first event of the kind (labelled counters), and this traffic has none.
MAY_BE_EMPTY = {
    ("logferry-pipeline", "Document retries by reason"): "nothing was retried",
    ("logferry-pipeline", "Events filtered by reason"): "no filter is configured",
}
ALERT_LHS_MAY_BE_EMPTY = {
    "IndexerBulkRejections": 'no 429 happened, so no reason="429" series exists',
}
ALERT_MAY_FIRE = {
    "HostCpuHigh": "the machine is shared: its CPU load is not this pipeline's doing",
    "HostMemoryHigh": "the machine is shared: its memory use is not this pipeline's doing",
}
FIRES_WHEN_CLUSTER_IS = {
    "ElasticsearchNotGreen": {"yellow", "red"},
    "ElasticsearchRed": {"red"},
}
"""The shared cluster turns yellow whenever a test creates an index with a replica: these alerts
must then agree with what Elasticsearch says, instead of staying quiet."""
NODE_EXPORTER_MOUNTS_EXCLUDED = "^/.+"
"""Only / is watched: other tests mount small filesystems and fill them on purpose."""


# -- the app's log ------------------------------------------------------------------------------

ROUTES = (
    ("GET", "/api/products"),
    ("GET", "/api/products/42"),
    ("POST", "/api/cart/items"),
    ("POST", "/api/orders"),
    ("GET", "/health"),
)


def access_line(rng: random.Random, seq: int) -> dict[str, Any]:
    """A response line as the demo shop's access middleware logs it (loadtest/app/middleware.py).

    The mix stays below every alert threshold: one line in 50 is a 5xx (about 3% of the shop's
    requests; AppHighErrorRatio: 5%), one in 50 is slow (AppHighLatencyP95: p95 above 1 s), and
    the 5xx lines are the only errors: 0.4 a second (AppErrorLogBurst: 5/s).
    """
    method, path = rng.choice(ROUTES)
    status = 500 if seq % 50 == 7 else 404 if seq % 25 == 3 else 201 if method == "POST" else 200
    duration_ms = rng.uniform(1500.0, 2500.0) if seq % 50 == 19 else rng.lognormvariate(3.0, 0.8)
    level = "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO"
    line: dict[str, Any] = {
        "level": level,
        "logger": "shop.access",
        "message": f"{method} {path} {status}",
        "method": method,
        "path": path,
        "status": status,
        "duration_ms": round(duration_ms, 3),
        "request_id": uuid.uuid4().hex,
        "user_id": f"user-{rng.randrange(100)}",
        "client_ip": "127.0.0.1",
        "user_agent": "python-requests/2.32",
    }
    if status >= 500:
        line |= {
            "exc_type": "TimeoutError",
            "exc_message": "payment gateway did not answer within 2000 ms",
            "stack_trace": 'Traceback (most recent call last):\n  File "shop/payments.py", '
            "line 88, in charge\nTimeoutError: payment gateway did not answer within 2000 ms",
        }
    return line


def business_line(rng: random.Random, seq: int) -> dict[str, Any]:
    """A line without an HTTP status: counted in app_log_events_total only."""
    return {
        "level": "INFO",
        "logger": "shop.orders",
        "message": "order placed",
        "request_id": uuid.uuid4().hex,
        "order_id": f"o-{seq}",
        "amount_cents": rng.randrange(100, 50000),
    }


async def write_app_logs(
    paths: dict[str, Path], stop: asyncio.Event, lines_per_s: float = 20.0
) -> int:
    """Append lines to each service's log (service → path) until *stop* is set; how many."""
    rng = random.Random(1234)
    seq = 0
    with contextlib.ExitStack() as files:
        logs = {service: files.enter_context(path.open("ab")) for service, path in paths.items()}
        while not stop.is_set():
            for _ in range(max(1, int(lines_per_s / 10))):
                seq += 1
                record = business_line(rng, seq) if seq % 5 == 0 else access_line(rng, seq)
                # Never a 5xx line (seq % 50 == 7) nor a business one (seq % 5 == 0).
                service = QUIET_SERVICE if seq % 10 == 1 else SERVICE
                stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
                line = {"time": stamp.replace("+00:00", "Z"), "service": service, **record}
                logs[service].write(orjson.dumps(line) + b"\n")
                if seq == 3:  # a half-written line of another process: shipped, tagged
                    logs[service].write(b"Traceback (most recent call last): worker 3 killed\n")
            for log in logs.values():
                log.flush()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
    return seq


# -- the pipeline -------------------------------------------------------------------------------


def require_debian_binary(package: str, *names: str) -> str:
    """A binary of Debian's *package*; skip without it, but fail on CI, where a skip would pass
    unnoticed."""
    found = debian_binary(*names)
    if found is None:
        message = f"{package} is not installed (apt-get install {package})"
        if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return found


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


async def start(process: ManagedProcess, ready_url: str, timeout_s: float) -> None:
    await process.start()
    await process.wait_ready(ready_url, timeout_s=timeout_s)


@pytest.fixture
async def names(es: AsyncElasticsearch) -> AsyncIterator[Names]:
    """This test's own indices and templates (so the indexer never touches anybody else's)."""
    result = Names(f"lf-{uuid.uuid4().hex[:10]}")
    yield result
    await delete_prefix(es, result.prefix)


# -- querying -----------------------------------------------------------------------------------


def substitute(expr: str) -> str:
    """*expr* as Grafana would send it with "All" selected in every variable (allValue .*)."""

    def value(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return GRAFANA_BUILTINS.get(name, ".*")

    result = re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]", value, expr)
    assert "$" not in result, result
    return result


def strip_comparisons(expr: str) -> str:
    """An alert's expr without its threshold comparisons (``> 0.05``, ``== 0``)."""
    return re.sub(
        r"\s*(?:==|!=|>=|<=|>|<)\s*-?\d+(?:\.\d+)?(?=\s*(?:$|\bor\b|\band\b|\bunless\b))",
        "",
        expr.strip(),
    )


async def query(session: aiohttp.ClientSession, prometheus: str, expr: str) -> dict[str, Any]:
    """Prometheus's whole answer to an instant query (errors included, never raised)."""
    async with session.post(f"{prometheus}/api/v1/query", data={"query": expr}) as response:
        answer: dict[str, Any] = await response.json(content_type=None)
        return answer


def problem(expr: str, answer: dict[str, Any], *, want_series: bool) -> str | None:
    """What is wrong with *answer*, or None."""
    if answer.get("status") != "success":
        return f"{answer.get('errorType')}: {answer.get('error')}\n    {expr}"
    if answer.get("warnings"):
        return f"warnings {answer['warnings']}\n    {expr}"
    if want_series and not answer["data"]["result"]:
        return f"no series\n    {expr}"
    return None


async def wait_for(
    check: Callable[[], Awaitable[bool]],
    what: str,
    timeout_s: float,
    processes: list[ManagedProcess],
) -> None:
    """Poll *check* until true; fail naming *what*, with the end of every process's log."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for process in processes:
            assert process.returncode is None, f"{process.name} exited:\n{process.log_tail()}"
        if await check():
            return
        await asyncio.sleep(0.5)
    logs = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in processes)
    pytest.fail(f"timed out waiting for {what}\n{logs}")


# -- the test -----------------------------------------------------------------------------------


async def test_every_dashboard_and_alert_expr_runs_against_real_metrics(
    tmp_path: Path,
    kafka_bootstrap: str,
    kafka_topic: str,
    elasticsearch_url: str,
    names: Names,
) -> None:
    require_debian_binary("prometheus", "prometheus")
    node_exporter_binary = require_debian_binary(
        "prometheus-node-exporter", "prometheus-node-exporter", "node_exporter"
    )
    # One shipper per service, as sidecars run: the configured service.name is the label.
    log_files: dict[str, Path] = {}
    shippers: dict[str, tuple[ManagedProcess, str]] = {}
    for service in (SERVICE, QUIET_SERVICE):
        log_files[service] = tmp_path / service / "app.log"
        log_files[service].parent.mkdir()
        log_files[service].touch()
        address = f"{HOST}:{free_port()}"
        config = write_yaml(
            tmp_path / service / "shipper.yml",
            {
                "state_dir": str(tmp_path / service / "state"),
                "metrics_addr": address,
                "service": {"name": service},
                "input": {"paths": [str(log_files[service])], "scan_interval_s": 0.5},
                "output": {"url": f"kafka://{kafka_bootstrap}/{kafka_topic}"},
            },
        )
        process = ManagedProcess(
            f"shipper of {service}",
            [sys.executable, "-m", "shipper", "run", "--config", str(config)],
            tmp_path / service / "shipper.out",
        )
        shippers[service] = (process, address)
    indexer_addr = f"{HOST}:{free_port()}"
    indexer_config = write_yaml(
        tmp_path / "indexer.yml",
        {
            # Never sweep: the cluster is shared.
            **names.config(
                kafka_bootstrap, kafka_topic, elasticsearch_url, retention={"interval_s": 0}
            ),
            "metrics_addr": indexer_addr,
            "health_interval_s": 1,  # the cluster's status as fresh as the alerts compare it
        },
    )
    indexer = ManagedProcess(
        "indexer",
        [sys.executable, "-m", "shipper", "index", "--config", str(indexer_config)],
        tmp_path / "indexer.out",
    )
    node_exporter_addr = f"{HOST}:{free_port()}"
    node_exporter = ManagedProcess(
        "node exporter",
        [
            node_exporter_binary,
            f"--web.listen-address={node_exporter_addr}",
            f"--collector.filesystem.mount-points-exclude={NODE_EXPORTER_MOUNTS_EXCLUDED}",
        ],
        tmp_path / "node-exporter.out",
    )
    processes = [*(process for process, _ in shippers.values()), indexer, node_exporter]
    stop_writing = asyncio.Event()
    writer: asyncio.Task[int] | None = None
    try:
        await asyncio.gather(
            start(indexer, f"http://{indexer_addr}/readyz", 90),
            start(node_exporter, f"http://{node_exporter_addr}/metrics", 30),
            *(start(p, f"http://{address}/readyz", 60) for p, address in shippers.values()),
        )
        # No Alertmanager: nothing should fire, and if something did it must not reach the
        # local stack's shared one.
        prometheus_process, prometheus = await start_prometheus(
            tmp_path,
            ALERTS.read_text(encoding="utf-8"),
            targets={
                "shipper": [a for _, a in shippers.values()],
                "indexer": [indexer_addr],
                "node": [node_exporter_addr],
            },
            alertmanager=None,
        )
        processes.append(prometheus_process)
        writer = asyncio.create_task(write_app_logs(log_files, stop_writing))

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:

            async def value(expr: str) -> float:
                answer = await query(session, prometheus, expr)
                result = answer.get("data", {}).get("result", [])
                return float(result[0]["value"][1]) if result else 0.0

            async def enough_data() -> bool:
                # Samples of `up` per target over the last minute (one a second), every target
                # up, and documents through the whole pipeline into Elasticsearch.
                scrapes = await value('min(count_over_time(up{job=~"shipper|indexer|node"}[1m]))')
                targets = await value('count(up{job=~"shipper|indexer|node"} == 1)')
                indexed = await value("sum(logferry_indexer_documents_indexed_total)")
                return scrapes >= DATA_S and targets == len(shippers) + 2 and indexed > 0

            await wait_for(
                enough_data, f"{DATA_S:.0f}s of scrapes and indexed documents", 60, processes
            )

            problems: list[str] = []
            checked = 0

            # The dashboards' queries and their template variables.
            for dashboard in load_dashboards().values():
                uid = dashboard["uid"]
                for variable in dashboard["templating"]["list"]:
                    metric, label = re.fullmatch(
                        r"label_values\((.+),\s*(\w+)\)", variable_query(variable)
                    ).groups()  # type: ignore[union-attr]  # the unit tests hold the form
                    async with session.get(
                        f"{prometheus}/api/v1/label/{label}/values", params={"match[]": metric}
                    ) as response:
                        answer = await response.json(content_type=None)
                    if answer.get("status") != "success" or not answer["data"]:
                        problems.append(f"{uid} variable {variable['name']}: {answer}")
                    checked += 1
                for panel in query_panels(dashboard):
                    for target in panel["targets"]:
                        expr = substitute(target["expr"])
                        want = (uid, panel["title"]) not in MAY_BE_EMPTY
                        found = problem(
                            expr, await query(session, prometheus, expr), want_series=want
                        )
                        if found:
                            problems.append(
                                f"{uid} / {panel['title']} / {target['refId']}: {found}"
                            )
                        checked += 1

            # A service without any 5xx has an error ratio of 0, not a missing line.
            (ratio,) = [
                target["expr"]
                for dashboard in load_dashboards().values()
                for panel in query_panels(dashboard)
                if panel["title"] == "Error ratio (5xx share)"
                for target in panel["targets"]
            ]
            answer = await query(session, prometheus, substitute(ratio))
            ratios = {
                series["metric"]["service"]: float(series["value"][1])
                for series in answer["data"]["result"]
            }
            if not (ratios.get(QUIET_SERVICE) == 0.0 and 0.0 < ratios.get(SERVICE, 0.0) < 0.05):
                problems.append(f"error ratio by service: {ratios}, want {QUIET_SERVICE} 0")
            checked += 1

            # The alert rules: as written (quiet: this pipeline is healthy and its traffic is
            # below every threshold), and their left-hand sides (there is something to watch).
            async with session.get(f"{elasticsearch_url}/_cluster/health") as response:
                cluster_status = (await response.json())["status"]
            for name, expr in exprs().items():
                answer = await query(session, prometheus, expr)
                found = problem(expr, answer, want_series=False)
                fires = bool(found is None and answer["data"]["result"])
                if name in FIRES_WHEN_CLUSTER_IS:
                    if fires != (cluster_status in FIRES_WHEN_CLUSTER_IS[name]):
                        found = f"fires {fires} on a {cluster_status} cluster\n    {expr}"
                elif fires and name not in ALERT_MAY_FIRE:
                    found = f"fires in a healthy pipeline: {answer['data']['result']}\n    {expr}"
                if found:
                    problems.append(f"alert {name}: {found}")
                lhs = strip_comparisons(expr)
                assert lhs != expr.strip(), f"{name}: no comparison found to strip"
                found = problem(
                    lhs,
                    await query(session, prometheus, lhs),
                    want_series=name not in ALERT_LHS_MAY_BE_EMPTY,
                )
                if found:
                    problems.append(f"alert {name} without its threshold: {found}")
                checked += 2

            # Prometheus evaluated the rules itself every second: each must be healthy.
            async with session.get(f"{prometheus}/api/v1/rules") as response:
                rules = (await response.json(content_type=None))["data"]["groups"]
            evaluated = {rule["name"]: rule for group in rules for rule in group["rules"]}
            assert evaluated.keys() == exprs().keys()
            for name, rule in evaluated.items():
                if rule["health"] != "ok" or rule.get("lastError"):
                    problems.append(f"rule {name}: {rule['health']} {rule.get('lastError')}")

        assert not problems, f"{len(problems)} of {checked} checks failed:\n" + "\n".join(problems)
    finally:
        stop_writing.set()
        if writer is not None:
            await writer
        for process in reversed(processes):
            await process.stop(timeout_s=20)
