"""What the shipper benchmarks share: the input file, how a process is measured, Kafka topics.

A measured run is a child process of the benchmark. `reap` waits for it with wait4 for its CPU
(user + sys, including the children it waited for itself). Its peak RSS comes from /proc instead
(`ProcessTree`, sampled while it runs): wait4's ru_maxrss is no use here, since Linux counts in
it the memory the child had before exec, i.e. the benchmark's own peak RSS at the time it spawned
the child. VmHWM, the high-water mark of the program the child runs, starts afresh at exec.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import click
import orjson

__all__ = [
    "ProcessTree",
    "TreeSample",
    "baseline_name",
    "busy_seconds",
    "cpu_seconds",
    "create_topic",
    "delete_topics",
    "find_process",
    "generate",
    "high_water_mark",
    "proportional_set_size",
    "reap",
    "run_ceiling",
]

_LEVELS = ["INFO"] * 8 + ["WARNING", "ERROR"]
_PATHS = ["/orders", "/orders/search", "/checkout", "/health", "/orders/{id}"]


def generate(path: Path, lines: int, seed: int = 7) -> int:
    """Write *lines* python-json-logger lines (~245 B each); returns the file size."""
    rng = random.Random(seed)
    with path.open("wb") as out:
        chunk: list[bytes] = []
        for n in range(lines):
            level = rng.choice(_LEVELS)
            status = 500 if level == "ERROR" else rng.choice([200, 200, 200, 201, 404])
            record = {
                "asctime": f"2026-11-23 08:{n // 60000 % 60:02d}:{n // 1000 % 60:02d},{n % 1000:03d}",
                "levelname": level,
                "name": "demo.http",
                "message": f"{rng.choice(['GET', 'POST'])} {rng.choice(_PATHS)} -> {status}",
                "method": rng.choice(["GET", "POST"]),
                "path": rng.choice(_PATHS),
                "status": status,
                "duration_ms": round(rng.expovariate(1 / 40), 2),
                "request_id": uuid.UUID(int=rng.getrandbits(128)).hex,
                "user_id": f"u-{rng.randrange(5000)}",
            }
            chunk.append(orjson.dumps(record) + b"\n")
            if len(chunk) == 10_000:
                out.write(b"".join(chunk))
                chunk.clear()
        out.write(b"".join(chunk))
    return path.stat().st_size


def reap(proc: subprocess.Popen[bytes]) -> float:
    """Wait for *proc*; the CPU seconds (user + sys) it and its reaped children used, from wait4."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


@dataclass
class TreeSample:
    rss_bytes: int
    """RSS of the process and all its descendants, added up."""
    cpu_seconds: float
    """CPU (user + sys) used so far by the process and its live descendants."""
    processes: int


_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(ppid, cpu seconds, rss bytes) of *pid* from /proc, or None when it is gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2 :].split()  # after "pid (comm) "; comm may hold spaces
    ppid, utime, stime, rss = int(fields[1]), int(fields[11]), int(fields[12]), int(fields[21])
    return ppid, (utime + stime) / _TICK, rss * _PAGE


def high_water_mark(pid: int | str = "self") -> int:
    """VmHWM of *pid*: the peak RSS of the program it runs, in bytes (0 when it is gone)."""
    return _kib_field(f"/proc/{pid}/status", b"VmHWM:")


def proportional_set_size(pid: int) -> int:
    """PSS of *pid* in bytes (0 when it is gone): its private pages, and each page it shares
    with n processes as 1/n. Added up over processes, a page counts once, as it does in the
    memory a container is charged; RSS counts a shared page (the interpreter's and the
    libraries' code, say) in every process that maps it."""
    return _kib_field(f"/proc/{pid}/smaps_rollup", b"Pss:")


def _kib_field(path: str, name: bytes) -> int:
    """The ``name  N kB`` line of a /proc file, in bytes (0 when the process is gone)."""
    try:
        with open(path, "rb") as lines:
            for line in lines:
                if line.startswith(name):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class ProcessTree:
    """Samples a running process and its descendants: CPU so far, RSS, PSS, each one's VmHWM."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak_rss_sum_bytes = 0
        """The largest sampled sum of their RSS: a lower bound of their peak together."""
        self.peak_pss_sum_bytes = 0
        """The largest sampled sum of their PSS: the most memory they held together, each page
        once (a sample's lower bound, like ``peak_rss_sum_bytes``)."""
        self.high_water: dict[int, int] = {}
        self.last: TreeSample | None = None

    @property
    def peak_rss_bytes(self) -> int:
        """Each process's peak RSS (VmHWM), added up: exact for one process, and an upper
        bound of the peak of several together (their peaks need not coincide)."""
        return sum(self.high_water.values())

    def _pids(self) -> Iterable[int]:
        parents: dict[int, list[int]] = {}
        for entry in os.scandir("/proc"):
            if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
                parents.setdefault(stat[0], []).append(int(entry.name))
        todo = [self.pid]
        while todo:
            pid = todo.pop()
            yield pid
            todo.extend(parents.get(pid, ()))

    def sample(self) -> TreeSample:
        rss, pss, cpu, count = 0, 0, 0.0, 0
        for pid in self._pids():
            if (stat := _stat(pid)) is not None:
                cpu += stat[1]
                rss += stat[2]
                pss += proportional_set_size(pid)
                count += 1
                self.high_water[pid] = max(self.high_water.get(pid, 0), high_water_mark(pid))
        self.last = TreeSample(rss, cpu, count)
        self.peak_rss_sum_bytes = max(self.peak_rss_sum_bytes, rss)
        self.peak_pss_sum_bytes = max(self.peak_pss_sum_bytes, pss)
        return self.last


def busy_seconds() -> float:
    """CPU time the whole machine (all cores) has spent busy since boot, from /proc/stat."""
    with open("/proc/stat", "rb") as stat:
        fields = [int(f) for f in stat.readline().split()[1:8]]
    user, nice, system, _idle, _iowait, irq, softirq = fields
    return (user + nice + system + irq + softirq) / _TICK


def cpu_seconds(pid: int) -> float | None:
    """CPU (user + sys) used so far by *pid*, or None when it is gone."""
    stat = _stat(pid)
    return None if stat is None else stat[1]


def find_process(argument: str) -> int | None:
    """A running process with *argument* among its arguments (e.g. `kafka.Kafka`, the broker)."""
    wanted = argument.encode()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            arguments = Path(f"/proc/{entry.name}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in arguments:
            return int(entry.name)
    return None


_CEILING = """
import sys, orjson
count = 0
with open(sys.argv[1], "rb") as handle:
    for line in handle:
        orjson.loads(line)
        count += 1
with open("/proc/self/status", "rb") as status:
    hwm = next(int(l.split()[1]) * 1024 for l in status if l.startswith(b"VmHWM:"))
print(count, hwm)
"""


def run_ceiling(log: Path) -> tuple[float, float, int]:
    """A plain `orjson.loads` loop over *log* in its own process: (seconds, CPU seconds, peak RSS)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _CEILING, str(log)], stdout=subprocess.PIPE, stderr=None
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    cpu = reap(proc)
    seconds = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"the orjson.loads loop exited with {proc.returncode}")
    return seconds, cpu, int(out.split()[1])


async def create_topic(
    bootstrap: str, topic: str, partitions: int = 3, replication_factor: int = 1
) -> None:
    """A new topic (replication 1, as on the local stack; on a cluster of 3+ brokers, replication
    3 with `min.insync.replicas=2`, as `shipper setup` makes it there)."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    configs = {"min.insync.replicas": "2"} if replication_factor >= 3 else {}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [NewTopic(topic, partitions, replication_factor, topic_configs=configs)]
        )
    finally:
        await admin.close()


async def delete_topics(bootstrap: str, topics: list[str]) -> None:
    """Delete *topics*; the benchmarks leave nothing behind on the broker."""
    from aiokafka.admin import AIOKafkaAdminClient

    if not topics:
        return
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.delete_topics(topics)
    finally:
        await admin.close()


def baseline_name(name: str, checkout: Path) -> str:
    """*name* of a run of logferry from another checkout (``--baseline``), with its commit."""
    done = subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
    )
    return name.replace("logferry", f"logferry@{done.stdout.strip() or checkout.name}", 1)


def describe_interpreter(python: str, repo: Path) -> dict[str, str]:
    """The interpreter logferry runs on: its version and build (a CPython built without PGO and
    LTO, as pyenv builds by default, spends more CPU per event than a distribution's or the
    image's). Refuses one that cannot import logferry (from *repo*) with the way out."""
    probe = (
        "import json, platform, sys, sysconfig, aiokafka, pipelines, shipper;"
        " print(json.dumps({'version': platform.python_version(), 'build': sys.version,"
        " 'configure': sysconfig.get_config_var('CONFIG_ARGS') or ''}))"
    )
    done = subprocess.run(
        [python, "-c", probe], capture_output=True, text=True, cwd=repo, check=False
    )
    if done.returncode != 0:
        raise click.ClickException(
            f"{python} cannot run logferry ({_tail_text(done.stderr)}); give it a virtualenv:"
            f" {python} -m venv DIR && DIR/bin/pip install -e {repo}, then --python DIR/bin/python"
        )
    found: dict[str, str] = orjson.loads(done.stdout)
    return {
        "path": python,
        **found,
        "summary": f"Python {found['version']} ({python})",
    }


def _tail_text(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "no output"
