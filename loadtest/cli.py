"""The `loadtest` command line."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from loadtest.app.config import AppConfig
from loadtest.demo.config import DemoConfig
from loadtest.harness.config import RunConfig
from shipper.commandline import LogferryGroup, flag, model_from_options, model_options

__all__ = ["main"]


@click.group(
    cls=LogferryGroup,
    context_settings={"help_option_names": ["-h", "--help"], "show_default": True},
)
def main() -> None:
    """Drive real traffic at a demo application and prove the alert rules fire."""


@main.command("app")
@model_options(AppConfig, "LOADTEST_APP_")
def app(**values: Any) -> None:
    """Run the demo shop: an HTTP service writing one JSON log line per request.

    Faults are set at run time with PUT /admin/faults, or per request with the headers
    X-Fault-Error-Rate and X-Fault-Latency-Ms; X-Log-Extra-Lines: N adds N log lines to a
    request. SIGINT/SIGTERM drain the requests in flight and exit 0.
    """
    from loadtest.app.server import serve  # aiohttp only for this command

    serve(model_from_options(AppConfig, values))


def _scenario_names() -> list[str]:
    from loadtest.scenarios.catalog import SCENARIOS

    return list(SCENARIOS)


_RUN_FLAGS = {"scenario", "duration_s", "expect_firing", "expect_quiet"}


@main.command("run")
@model_options(
    RunConfig,
    "LOADTEST_RUN_",
    flags=[
        flag("scenario", type=click.Choice(_scenario_names())),
        flag(
            "duration_s",
            "--duration",
            type=str,
            help="Length of the load (90, 90s, 2m); the scenario's phases are scaled to it. "
            "Unset: the scenario's own.",
        ),
        flag(
            "expect_firing",
            metavar="ALERT",
            help="An alert that must fire, on top of the scenario's (repeatable).",
        ),
        flag(
            "expect_quiet",
            metavar="ALERT",
            help="An alert that must stay quiet, on top of the scenario's (repeatable).",
        ),
        *(name for name in RunConfig.model_fields if name not in _RUN_FLAGS),
    ],
)
def run(**values: Any) -> None:
    """Drive a scenario's traffic at the demo app and check the alerts it must (not) fire.

    Starts what is not given (demo app, shipper, indexer, a private Prometheus with the rules of
    --rules and a private Alertmanager delivering to a local webhook), runs Locust headless,
    then checks: each expected alert fired in Prometheus and reached the webhook; no other alert
    fired; every request Locust made is one log line in Elasticsearch. The report directory gets
    report.json and report.html (the run's charts and verdict on one page). Exit 0 only when all held,
    1 when an expectation failed, 3 when the run could not be carried out.
    """
    from rich.console import Console

    from loadtest.harness.processes import run_owning_children
    from loadtest.harness.runner import run_load_test

    config = model_from_options(RunConfig, values)
    report = run_owning_children(run_load_test(config, Console(highlight=False)))
    sys.exit(0 if report.passed else 1)


@main.command("scenarios")
def scenarios() -> None:
    """List the scenarios, their phases and the alerts each expects."""
    from loadtest.scenarios.catalog import SCENARIOS

    for scenario in SCENARIOS.values():
        phases = ", ".join(f"{p.name} {p.share:.0%}" for p in scenario.phases)
        click.echo(f"{scenario.name}: {scenario.summary}")
        click.echo(f"  {scenario.duration_s:.0f} s, {scenario.users} users; phases: {phases}")
        click.echo(f"  must fire: {', '.join(scenario.expect_firing) or '-'}")
        click.echo(
            f"  must stay quiet: {', '.join(scenario.expect_quiet) or '-'} (and every other)"
        )


@main.group("demo", invoke_without_command=True)
@model_options(
    DemoConfig,
    "LOADTEST_DEMO_",
    flags=[
        *(name for name in DemoConfig.model_fields if name != "replace"),
        flag("replace", is_flag=True),
    ],
)
@click.pass_context
def demo(ctx: click.Context, /, **values: Any) -> None:
    """The whole pipeline on this machine: setup, demo app, shipper, indexer, a scenario, a summary.

    Needs the local stack (`shipper stack up`); `make demo` does both. The app, shipper and
    indexer keep running for exploring; `loadtest demo down` (or `make down`) stops them.
    """
    ctx.obj = model_from_options(DemoConfig, values)
    if ctx.invoked_subcommand is None:
        from rich.console import Console

        from loadtest.demo.runner import run_demo
        from loadtest.harness.processes import run_owning_children

        sys.exit(0 if run_owning_children(run_demo(ctx.obj, Console(highlight=False))) else 1)


@demo.command("alerts")
@click.argument(
    "report", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.pass_obj
def demo_alerts(config: DemoConfig, report: Path | None) -> None:
    """The alerts the last demo proved: when each became pending, fired and was delivered.

    Read from the newest demo run's report.json under the state dir (or REPORT): the run's own
    Prometheus, which saw them, exits with the run.
    """
    from rich.console import Console

    from loadtest.demo.alerts import last_report, show_alerts

    show_alerts(report or last_report(config), Console(highlight=False))


@demo.command("down")
@click.pass_obj
def demo_down(config: DemoConfig) -> None:
    """Stop the demo's app, shipper and indexer, and what a killed demo left of its load test
    (the stack keeps running)."""
    from loadtest.demo.services import stop_demo_processes
    from loadtest.harness.processes import stop_recorded

    stopped = stop_demo_processes(config) + stop_recorded(config.demo_dir)
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "no demo process was running")


@main.command("down")
@click.option(
    "--work-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=RunConfig.model_fields["work_dir"].default,
    help="The work dir of the `loadtest run`s to clean up after.",
)
def down(work_dir: Path) -> None:
    """Stop every process a `loadtest run` left running (it was killed before it could stop
    them). `make down` runs it, and `loadtest demo down` for the demo's."""
    from loadtest.harness.processes import stop_recorded

    stopped = stop_recorded(work_dir)
    click.echo(f"stopped: {', '.join(stopped)}" if stopped else "no loadtest process was running")
