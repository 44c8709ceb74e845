"""`loadtest run`: start what is missing, drive the load, watch the alerts, judge, report."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka.admin import AIOKafkaAdminClient
from rich.console import Console

from loadtest.errors import LoadTestError
from loadtest.harness import launch
from loadtest.harness.alerts import AlertLog, WebhookReceiver, poll_alertmanager, poll_prometheus
from loadtest.harness.config import RunConfig
from loadtest.harness.delivery import RequestMatch, match_requests, read_request_log
from loadtest.harness.incidents import Incident, make_incident
from loadtest.harness.load import LocustRun
from loadtest.harness.page import write_page
from loadtest.harness.preflight import check_dependencies
from loadtest.harness.processes import ManagedProcess
from loadtest.harness.report import RunReport
from loadtest.harness.rules import alert_exprs, alert_names, fast_alertmanager, fast_rules
from loadtest.harness.security import Credentials
from loadtest.harness.series import Expectation, RunSeries, WatchedAlert, collect_series
from loadtest.harness.verdict import Expectations, judge
from loadtest.scenarios import catalog
from loadtest.scenarios.environment import LocustSettings
from loadtest.scenarios.spec import Scenario
from shipper.indexer.config import ElasticsearchConfig, KafkaInputConfig
from shipper.indexer.es import build_client
from shipper.indexer.setup import setup_kafka

__all__ = ["delete_topics", "run_load_test"]

_SERVICE = "shop"  # service.name of the demo app's lines
_POLL_S = 1.0
_PROGRESS_EVERY_S = 5.0  # a line, not a live display: it reads the same in a terminal and in CI


@dataclass
class _Parts:
    """Where each part of the run is, and the processes the harness started."""

    app_url: str = ""
    shipper: str = ""
    indexer: str = ""
    prometheus: str = ""
    alertmanager: str = ""
    webhook: WebhookReceiver | None = None
    topic: str | None = None
    started: list[ManagedProcess] = field(default_factory=list)


async def run_load_test(config: RunConfig, console: Console) -> RunReport:
    """Run one scenario end to end; the report says whether every expectation held."""
    scenario = _scenario(config)
    # The files the run needs are read before anything is created: a wrong path leaves nothing.
    rules_text = _read(config.rules_file, "alert rules")
    known_alerts = frozenset(alert_names(rules_text))
    # What the run's Prometheus evaluates: a given one has its own rules, taken to be these.
    evaluated = (
        rules_text
        if config.prometheus or config.profile == "real"
        else fast_rules(rules_text, config.fast_factor)
    )
    routes_text = (
        None if config.alertmanager else _read(config.alertmanager_file, "Alertmanager config")
    )
    await check_dependencies(config)  # within seconds, naming each service that is missing
    credentials = Credentials.load(config.client_config)
    run_id = f"lt{datetime.now():%m%d%H%M%S}{secrets.token_hex(2)}"
    report_dir = config.report or Path("loadtest-reports") / f"{scenario.name}-{run_id}"
    work = (config.work_dir / run_id).resolve()
    work.mkdir(parents=True, exist_ok=True)
    report_dir.mkdir(parents=True, exist_ok=True)
    settings = LocustSettings(
        run_id=run_id,
        duration_s=config.duration_s or scenario.duration_s,
        users=config.users or scenario.users,
        spawn_rate=config.spawn_rate or scenario.spawn_rate,
        request_log=work / "requests.log",
    )
    firing = (*scenario.expect_firing, *config.expect_firing)
    # A cluster already yellow (another index's unassigned replica) is not this run's doing.
    unwell = await _unwell_before(
        credentials.elasticsearch_config(config.elasticsearch), firing, console
    )
    expectations = Expectations(
        firing=firing,
        quiet=(*scenario.expect_quiet, *config.expect_quiet),
        may_fire=(*scenario.may_fire, *unwell),
        known=known_alerts,
    )
    console.print(
        f"[bold]{scenario.name}[/]: {scenario.summary}\n"
        f"run {run_id}: {settings.duration_s:.0f} s, {settings.users} users, profile {config.profile}; "
        f"work dir {work}"
    )
    alerts = AlertLog()
    async with AsyncExitStack() as stack:
        parts = await stack.enter_async_context(
            _started_parts(
                config, work, evaluated, routes_text, alerts, console, scenario.watches_host
            )
        )
        incident = None
        if scenario.incident is not None:
            incident = await make_incident(
                scenario.incident,
                work,
                config.elasticsearch,
                _incident_length_s(scenario, settings.duration_s),
                console.print,
            )
            stack.push_async_callback(incident.stop)  # whatever happens, it is undone
        locust = LocustRun(
            scenario, settings, host=parts.app_url, report=report_dir, log=work / "locust.out"
        )
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            await _set_faults(http, parts.app_url, {})
            watcher = asyncio.create_task(_watch_alerts(http, parts, alerts))
            try:
                started_at, incident_at = await _drive(
                    http, locust, scenario, settings, parts, alerts, console, incident
                )
                totals = locust.totals()
                console.print(
                    f"load done: {totals.requests} requests; waiting for the request lines "
                    f"in Elasticsearch and for alert deliveries"
                )
                requests, _ = await asyncio.gather(
                    _match(config, run_id, settings, totals.requests),
                    _await_deliveries(alerts, expectations, config.delivery_grace_s),
                )
                series = await _collect_series(
                    http, config, parts, evaluated, expectations, alerts, locust, started_at
                )
            finally:
                await locust.process.stop(timeout_s=10)  # interrupted: no load on stopped parts
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher
                with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
                    await _set_faults(http, parts.app_url, {})
        checks = judge(
            expectations,
            alerts,
            requests,
            origin=incident_at or started_at,
        )
        report = RunReport(
            scenario=scenario.name,
            run_id=run_id,
            profile=config.profile,
            duration_s=settings.duration_s,
            users=settings.users,
            spawn_rate=settings.spawn_rate,
            started_at=started_at,
            incident_at=incident_at,
            alerts=sorted(alerts.alerts.values(), key=lambda seen: seen.name),
            checks=checks,
            requests=requests,
            locust_requests=totals.requests,
            locust_failures=totals.failures,
            endpoints={
                "app": parts.app_url,
                "shipper": parts.shipper,
                "indexer": parts.indexer,
                "prometheus": parts.prometheus,
                "alertmanager": parts.alertmanager,
            },
        )
    report.files = {
        "report": str(report_dir / "report.json"),
        "html": str(report_dir / "report.html"),
        "locust_html": str(report_dir / "locust.html"),
        "locust_csv": str(report_dir / "locust_stats.csv"),
        "work_dir": str(work),
    }
    report.write(report_dir)
    write_page(report_dir, report, series, scenario.timeline(settings.duration_s))
    report.show(console)
    return report


def _scenario(config: RunConfig) -> Scenario:
    try:
        return catalog.get(config.scenario)
    except KeyError as exc:
        raise LoadTestError(str(exc.args[0])) from None


def _read(path: Traversable, what: str) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise LoadTestError(f"cannot read the {what} at {path}: {exc.strerror}") from exc


@asynccontextmanager
async def _started_parts(
    config: RunConfig,
    work: Path,
    rules: str,
    routes_text: str | None,
    alerts: AlertLog,
    console: Console,
    watches_host: bool = False,
) -> AsyncIterator[_Parts]:
    """Start whatever the config does not name; stop (in reverse) what was started.

    *routes_text* is the Alertmanager config of a private Alertmanager (None: one is given);
    with *watches_host* a private Prometheus also scrapes the node exporter."""
    parts = _Parts()
    credentials = Credentials.load(config.client_config)

    async def started(what: str, launched: Any) -> str:
        process, address = await launched
        parts.started.append(process)
        console.print(f"  started {what} at {address}")
        return str(address)

    try:
        log_file = (config.app_log or work / "logs" / "app.log").resolve()
        parts.app_url = config.host or await started("demo app", launch.start_app(work, log_file))
        if config.shipper is None or config.indexer is None:
            parts.topic = f"logferry-{work.name}"
            await setup_kafka(
                KafkaInputConfig.model_validate(
                    {
                        "url": f"kafka://{config.kafka}/{parts.topic}",
                        "topic_retention_ms": 86_400_000,
                        **credentials.kafka,
                    }
                )
            )
        parts.indexer = config.indexer or await started(
            "indexer",
            launch.start_indexer(
                work,
                kafka=config.kafka,
                topic=str(parts.topic),
                elasticsearch=config.elasticsearch,
                credentials=credentials,
            ),
        )
        parts.shipper = config.shipper or await started(
            "shipper",
            launch.start_shipper(
                work,
                log_file,
                kafka=config.kafka,
                topic=str(parts.topic),
                service=_SERVICE,
                credentials=credentials,
            ),
        )
        if config.alertmanager:
            parts.alertmanager = config.alertmanager
        else:
            assert routes_text is not None  # read up front when no Alertmanager is given
            parts.webhook = WebhookReceiver(alerts)
            webhook_url = await parts.webhook.start()
            am_text = fast_alertmanager(routes_text, webhook_url)
            parts.alertmanager = await started(
                "alertmanager", launch.start_alertmanager(work, am_text)
            )
        if config.prometheus:
            parts.prometheus = config.prometheus
        else:
            parts.prometheus = await started(
                "prometheus",
                launch.start_prometheus(
                    work,
                    rules,
                    targets={
                        "shipper": [parts.shipper],
                        "indexer": [parts.indexer],
                        **({"node": [config.node_exporter]} if watches_host else {}),
                    },
                    alertmanager=parts.alertmanager,
                ),
            )
            await _targets_up(parts.prometheus)
        yield parts
    finally:
        for process in reversed(parts.started):
            await process.stop()
        if parts.webhook is not None:
            await parts.webhook.stop()
        if parts.topic is not None:
            await delete_topics(
                config.kafka, lambda topic: topic == parts.topic, credentials.kafka_options()
            )


async def _targets_up(prometheus: str, timeout_s: float = 30.0) -> None:
    """Wait until Prometheus has scraped every target successfully (no false ShipperDown)."""
    deadline = time.monotonic() + timeout_s
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while time.monotonic() < deadline:
            async with http.get(f"{prometheus}/api/v1/targets") as response:
                targets = (await response.json())["data"]["activeTargets"]
            if targets and all(target["health"] == "up" for target in targets):
                return
            await asyncio.sleep(0.5)
    raise LoadTestError(
        f"Prometheus at {prometheus} could not scrape every target (shipper, indexer, and the "
        "node exporter for a scenario about the host: `shipper stack up node-exporter`)"
    )


async def delete_topics(
    kafka: str, wanted: Callable[[str], bool], client_options: Mapping[str, Any] | None = None
) -> None:
    """Best effort: delete the topics *wanted* picks (a run's or a demo's, done with)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka, **(client_options or {}))
    with contextlib.suppress(Exception):
        await admin.start()
        doomed = [topic for topic in await admin.list_topics() if wanted(topic)]
        if doomed:
            await admin.delete_topics(doomed)
    with contextlib.suppress(Exception):
        await admin.close()


async def _set_faults(http: aiohttp.ClientSession, app_url: str, faults: dict[str, Any]) -> None:
    async with http.put(f"{app_url}/admin/faults", json=faults) as response:
        if response.status != 200:
            raise LoadTestError(
                f"the demo app at {app_url} refused the faults ({response.status}): "
                f"{(await response.text())[:300]}"
            )


async def _watch_alerts(http: aiohttp.ClientSession, parts: _Parts, alerts: AlertLog) -> None:
    """Poll Prometheus (and a given Alertmanager) once a second for the whole run."""
    while True:
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError, ValueError):
            await poll_prometheus(http, parts.prometheus, alerts)
            await poll_alertmanager(
                http, parts.alertmanager, alerts, active_is_delivered=parts.webhook is None
            )
        await asyncio.sleep(_POLL_S)


async def _drive(
    http: aiohttp.ClientSession,
    locust: LocustRun,
    scenario: Scenario,
    settings: LocustSettings,
    parts: _Parts,
    alerts: AlertLog,
    console: Console,
    incident: Incident | None = None,
) -> tuple[float, float | None]:
    """Run Locust, switching the app's faults (and the scenario's incident) at each phase;
    (load start, incident start)."""
    await locust.start()
    # The shape's clock starts when Locust starts its test, which is when its CSV appears.
    while not locust.history_file.exists():
        if locust.process.returncode is not None:
            raise LoadTestError(
                f"Locust exited with {locust.process.returncode}:\n{locust.process.log_tail()}"
            )
        await asyncio.sleep(0.1)
    started_at = time.time()
    incident_at: float | None = None
    last_note = 0.0
    timeline = scenario.timeline(settings.duration_s)
    upcoming = list(timeline)
    phase_name = ""
    while locust.process.returncode is None:
        elapsed = time.time() - started_at
        while upcoming and upcoming[0].start_s <= elapsed:
            timed = upcoming.pop(0)
            phase_name = timed.phase.name
            await _set_faults(
                http, parts.app_url, {route: f.as_json() for route, f in timed.phase.faults.items()}
            )
            console.print(f"  {elapsed:3.0f} s  phase {phase_name}")
            if timed.phase.incident and incident_at is None:
                incident_at = time.time()
                if incident is not None:
                    await incident.start()
            elif not timed.phase.incident and incident is not None and incident_at is not None:
                await incident.stop()
        if time.monotonic() - last_note >= _PROGRESS_EVERY_S:
            last_note = time.monotonic()
            console.print(_progress_line(elapsed, settings.duration_s, locust, alerts))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(locust.process.wait(), _POLL_S)
    if locust.process.returncode != 0:
        raise LoadTestError(
            f"Locust exited with {locust.process.returncode} (log: {locust.process.log_path}):\n"
            f"{locust.process.log_tail()}"
        )
    return started_at, incident_at


async def _unwell_before(
    elasticsearch: ElasticsearchConfig, firing: tuple[str, ...], console: Console
) -> tuple[str, ...]:
    """The Elasticsearch health alerts the cluster's state before the run may set off."""
    client = build_client(elasticsearch, timeout_s=10)
    try:
        status = str((await client.cluster.health()).get("status"))
    except Exception:  # unreachable: the run fails on its own, with a better message
        return ()
    finally:
        await client.close()
    names = {
        "yellow": ("ElasticsearchNotGreen",),
        "red": ("ElasticsearchNotGreen", "ElasticsearchRed"),
    }
    unwell = tuple(name for name in names.get(status, ()) if name not in firing)
    if unwell:
        console.print(
            f"[yellow]Elasticsearch is {status} before the run: {', '.join(unwell)} may fire[/]"
        )
    return unwell


def _incident_length_s(scenario: Scenario, duration_s: float) -> float:
    return sum(t.end_s - t.start_s for t in scenario.timeline(duration_s) if t.phase.incident)


def _progress_line(elapsed: float, duration: float, locust: LocustRun, alerts: AlertLog) -> str:
    progress = locust.progress()
    load = (
        f"{progress.users} users {progress.requests_per_s:.0f} req/s "
        f"{progress.requests} req {progress.failures} failed"
        if progress
        else "starting"
    )
    return f"  {elapsed:3.0f}/{duration:.0f} s  {load}  firing: {', '.join(alerts.firing()) or '-'}"


async def _match(
    config: RunConfig, run_id: str, settings: LocustSettings, locust_requests: int
) -> RequestMatch:
    assert settings.request_log is not None
    return await match_requests(
        elasticsearch_url=config.elasticsearch,
        index=config.index,
        run_id=run_id,
        sent=read_request_log(settings.request_log),
        locust_requests=locust_requests,
        timeout_s=config.drain_timeout_s,
        credentials=Credentials.load(config.client_config).elasticsearch,
    )


async def _collect_series(
    http: aiohttp.ClientSession,
    config: RunConfig,
    parts: _Parts,
    rules: str,
    expectations: Expectations,
    alerts: AlertLog,
    locust: LocustRun,
    started_at: float,
) -> RunSeries:
    """The report's charts: each alert named by the scenario or seen pending, over the run."""
    exprs = alert_exprs(rules)
    fired = sorted(name for name, seen in alerts.alerts.items() if seen.firing_at is not None)
    names = dict.fromkeys([*expectations.firing, *expectations.quiet, *fired])
    watched = [
        WatchedAlert(name, exprs[name], _expectation(name, expectations))
        for name in names
        if name in exprs
    ]
    return await collect_series(
        http,
        parts.prometheus,
        start=started_at - 5,
        end=time.time(),
        alerts=watched,
        shipper=parts.shipper,
        indexer=parts.indexer,
        scrape_s=15.0 if config.prometheus else 1.0,  # a private Prometheus scrapes every second
        locust_history=locust.history_file,
    )


def _expectation(name: str, expectations: Expectations) -> Expectation:
    if name in expectations.firing:
        return "must fire"
    if name in expectations.quiet:
        return "must stay quiet"
    return "may fire" if name in expectations.may_fire else "fired unexpectedly"


async def _await_deliveries(alerts: AlertLog, expectations: Expectations, grace_s: float) -> None:
    """Give Alertmanager time to deliver expected alerts that fired late in the run."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        pending = [
            name
            for name in expectations.firing
            if (seen := alerts.alerts.get(name)) is None
            or (seen.delivered_at is None and seen.inhibited_at is None)
        ]
        if not pending:
            return
        await asyncio.sleep(_POLL_S)
