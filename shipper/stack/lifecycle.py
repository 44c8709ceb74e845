"""Bring the local stack up, report on it, bring it down."""

from __future__ import annotations

import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from shipper.errors import ServiceStartError, StackError
from shipper.process import Supervised, check_free_disk, check_port_free, spawn, tail
from shipper.stack.services import Service, all_services
from shipper.stack.settings import StackSettings

__all__ = ["ServiceState", "chosen", "down", "status", "up"]

Progress = Callable[[str], None]


@dataclass
class ServiceState:
    """What `up` / `status` know of one service."""

    name: str
    url: str
    state: str
    """``started``, ``already running``, ``running``, ``unhealthy``, ``stopped`` or ``not installed``."""
    pid: int | None = None
    version: str | None = None
    seconds: float | None = None
    """Time from start to healthy, for services `up` started."""
    hint: str | None = None

    @property
    def healthy(self) -> bool:
        return self.version is not None


def _fail(service: Service, why: str) -> ServiceStartError:
    return ServiceStartError(
        f"{service.name} {why}. Last lines of {service.log_file}:\n{tail(service.log_file)}"
    )


def chosen(settings: StackSettings, only: Collection[str] | None) -> list[Service]:
    """The services *only* names, by kind (every node) or by node (``kafka-2``); all without it."""
    services = all_services(settings)
    if not only:
        return services
    known = {s.kind for s in services} | {s.name for s in services}
    if unknown := sorted(set(only) - known):
        raise StackError(
            f"no such service or node: {', '.join(unknown)} (this stack has: "
            f"{', '.join(sorted(known))}; nodes follow --kafka-brokers / --es-nodes)"
        )
    return [s for s in services if s.kind in only or s.name in only]


def up(
    settings: StackSettings,
    progress: Progress = lambda _: None,
    *,
    only: Collection[str] | None = None,
) -> list[ServiceState]:
    """Start every service (or those in *only*) that is not running, wait until healthy; idempotent."""
    check_free_disk(settings.state_dir.resolve(), settings.min_free_disk_mb)
    check_free_disk(settings.cache_dir, settings.min_free_disk_mb)
    states: list[ServiceState] = []
    starting: dict[str, tuple[Service, ServiceState, Supervised, float]] = {}
    for service in chosen(settings, only):
        state = ServiceState(service.name, service.url, "not installed")
        states.append(state)
        missing = service.missing()
        if missing:
            state.hint = missing
            progress(f"{service.name}: {missing}")
            continue
        running = Supervised.from_pid_file(service.pid_file)
        if running is not None:
            state.pid, state.state = running.pid, "already running"
            starting[service.name] = (service, state, running, time.monotonic())
            continue
        for port, setting in service.ports():
            check_port_free(settings.host, port, service.name, setting)
        progress(f"{service.name}: preparing")
        argv, env = service.prepare()
        process = spawn(
            argv, log_file=service.log_file, env=env, signal_group=True, pid_file=service.pid_file
        )
        state.pid, state.state = process.pid, "started"
        progress(f"{service.name}: started (pid {state.pid}), waiting until healthy")
        starting[service.name] = (service, state, process, time.monotonic())

    deadline = time.monotonic() + settings.start_timeout_s
    waiting_kinds = Counter(service.kind for service, *_ in starting.values())
    while starting:
        for name, (service, state, process, started_at) in list(starting.items()):
            version = service.probe()
            if version is not None:
                state.version, state.seconds = version, round(time.monotonic() - started_at, 1)
                progress(f"{name}: healthy ({version}) at {service.url}")
                del starting[name]
                waiting_kinds[service.kind] -= 1
                if not waiting_kinds[service.kind]:  # every node answers: a cluster to provision
                    type(service)(settings).after_healthy()
            elif not process.is_running():
                raise _fail(service, "exited while starting")
        if starting and time.monotonic() > deadline:
            service = next(iter(starting.values()))[0]
            raise _fail(service, f"did not become healthy within {settings.start_timeout_s:.0f}s")
        if starting:
            time.sleep(0.5)
    return states


def status(settings: StackSettings) -> list[ServiceState]:
    """The state of every service: running and healthy (with version), unhealthy, or stopped."""
    states = []
    for service in all_services(settings):
        state = ServiceState(service.name, service.url, "stopped")
        missing = service.missing()
        if missing:
            state.state, state.hint = "not installed", missing
        elif (process := Supervised.from_pid_file(service.pid_file)) is not None:
            state.pid = process.pid
            state.version = service.probe()
            state.state = "running" if state.version else "unhealthy"
        states.append(state)
    return states


def _stop(name: str, pid_file: Path, progress: Progress) -> None:
    process = Supervised.from_pid_file(pid_file)
    if process is not None:
        progress(f"{name}: stopping (pid {process.pid})")
        if process.stop():
            progress(f"{name}: did not stop in time, killed")
    pid_file.unlink(missing_ok=True)


def down(
    settings: StackSettings,
    *,
    purge: bool = False,
    progress: Progress = lambda _: None,
    only: Collection[str] | None = None,
) -> None:
    """Stop the processes `up` started (by pid file, nothing else); with *purge*, delete their data."""
    pid_files = [(s.name, s.pid_file) for s in reversed(chosen(settings, only))]
    if not only:
        # Nodes `up` started with other --kafka-brokers / --es-nodes than these settings name.
        known = {path for _, path in pid_files}
        pid_files += [(p.stem, p) for p in sorted(settings.run_dir.glob("*.pid")) if p not in known]
    groups: dict[str, list[tuple[str, Path]]] = {}
    for name, pid_file in pid_files:
        groups.setdefault(re.sub(r"-\d+$", "", name), []).append((name, pid_file))
    for group in groups.values():
        # The nodes of a cluster stop together: stopped one by one, the last Kafka node has
        # lost its controller quorum and waits for it until killed.
        with ThreadPoolExecutor(max_workers=len(group)) as pool:
            list(pool.map(lambda node: _stop(node[0], node[1], progress), group))
    if purge and only:
        for service in chosen(settings, only):
            shutil.rmtree(service.dir, ignore_errors=True)
            progress(f"purged {service.dir}")
    elif purge:
        state_dir = settings.state_dir.resolve()
        if state_dir == state_dir.parent or state_dir == settings.cache_dir.resolve():
            raise StackError(f"refusing to purge {state_dir}")
        shutil.rmtree(state_dir, ignore_errors=True)
        progress(f"purged {state_dir}")
