"""What a scenario does to the machine under the pipeline during its incident phase.

A scenario's traffic and the demo app's faults are Locust's and the app's business; these are the
incidents outside them (:attr:`loadtest.scenarios.spec.Scenario.incident`), each started when the
incident phase begins and stopped when it ends — and always stopped when the run ends, however it
ends: the harness calls :meth:`Incident.stop` from a ``finally``. What a killed harness cannot
undo, the next run undoes first (:meth:`Incident.sweep`).

* ``disk-fill`` — a size-limited tmpfs (needs root, or CAP_SYS_ADMIN), mounted under the run's
  work dir where the node exporter sees it, filled to 97 %; unmounted at the end.
* ``cpu-burn`` — one busy process per CPU, niced so the pipeline keeps its share; each exits by
  itself after the incident's length even if the harness dies.
* ``es-flood-stage`` — Elasticsearch's disk watermarks lowered (transient cluster settings) just
  under the node's free space, so the flood stage turns its indices read-only while traffic
  flows; the settings are restored at the end and the block lifts by itself (Elasticsearch ≥ 7.4
  removes it once the disk is below the high watermark again).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Final

import aiohttp

from loadtest.errors import LoadTestError

__all__ = ["INCIDENTS", "CpuBurn", "DiskFill", "FloodStage", "Incident", "make_incident"]


class Incident(ABC):
    """One kind of trouble; ``start`` and ``stop`` are idempotent, ``stop`` never raises."""

    name: ClassVar[str]

    def __init__(self, work: Path, elasticsearch: str, length_s: float, say: Any) -> None:
        self.work = work
        self.elasticsearch = elasticsearch.rstrip("/")
        self.length_s = length_s
        self.say = say
        self.started = False

    async def sweep(self) -> None:  # noqa: B027 - most incidents leave nothing behind
        """Undo what a run that was killed (SIGKILL, power) left behind."""

    @abstractmethod
    async def start(self) -> None:
        """Begin the incident."""

    @abstractmethod
    async def stop(self) -> None:
        """End it and put everything back."""


# -- disk-fill ------------------------------------------------------------------------------------

_FILL_SOURCE: Final = "logferry-disk-fill"
"""The tmpfs's source name in /proc/mounts: how a later run finds a mount a killed run left."""


def _mounts_of(source: str) -> list[str]:
    try:
        lines = Path("/proc/mounts").read_text().splitlines()
    except OSError:
        return []
    # /proc/mounts escapes a space as \040.
    return [line.split()[1].replace("\\040", " ") for line in lines if line.split()[0] == source]


def _umount(mountpoint: str) -> None:
    # Lazy: a file still open in it (the filler, cancelled mid-write) must not keep it.
    subprocess.run(["umount", "-l", mountpoint], capture_output=True, check=False)
    with contextlib.suppress(OSError):
        Path(mountpoint).rmdir()


class DiskFill(Incident):
    """Fill a 64 MiB tmpfs at 8 MiB/s to 97 %, so the node exporter reports a filesystem filling
    and then nearly full."""

    name = "disk-fill"
    size_mib: ClassVar[int] = 64
    fill_ratio: ClassVar[float] = 0.97
    rate_mib_s: ClassVar[float] = 8.0

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.mountpoint = self.work / "disk-fill"
        self._filler: asyncio.Task[None] | None = None

    async def sweep(self) -> None:
        for mountpoint in _mounts_of(_FILL_SOURCE):
            await asyncio.to_thread(_umount, mountpoint)

    async def start(self) -> None:
        if os.geteuid() != 0:
            raise LoadTestError(
                "disk-fill mounts a small tmpfs and needs root (or CAP_SYS_ADMIN); "
                "run it as root, e.g. in CI"
            )
        self.mountpoint.mkdir(parents=True, exist_ok=True)
        argv = ["mount", "-t", "tmpfs", "-o", f"size={self.size_mib}m,mode=700", _FILL_SOURCE,
                str(self.mountpoint)]  # fmt: skip
        result = await asyncio.to_thread(
            subprocess.run, argv, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise LoadTestError(f"disk-fill: mounting a tmpfs failed: {result.stderr.strip()}")
        self.started = True
        self.say(f"  disk-fill: {self.size_mib} MiB tmpfs at {self.mountpoint}, filling")
        self._filler = asyncio.create_task(self._fill())

    async def _fill(self) -> None:
        chunk = b"\0" * (1 << 20)
        target = int(self.size_mib * self.fill_ratio)
        with (self.mountpoint / "fill").open("wb") as out:
            for _ in range(target):
                await asyncio.to_thread(out.write, chunk)
                await asyncio.to_thread(out.flush)
                await asyncio.sleep(1 / self.rate_mib_s)

    async def stop(self) -> None:
        if self._filler is not None:
            self._filler.cancel()
            with contextlib.suppress(asyncio.CancelledError, OSError):
                await self._filler
            self._filler = None
        if self.started:
            await asyncio.to_thread(_umount, str(self.mountpoint))
            self.started = False
            self.say("  disk-fill: tmpfs unmounted")


# -- cpu-burn -------------------------------------------------------------------------------------


class CpuBurn(Incident):
    """One busy loop per CPU at nice 19: every CPU busy, the pipeline still served first."""

    name = "cpu-burn"

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._burners: list[asyncio.subprocess.Process] = []

    async def start(self) -> None:
        # Bounded: a burner outliving a killed harness stops by itself.
        deadline_s = self.length_s + 30
        code = f"import os,time\nos.nice(19)\nend=time.monotonic()+{deadline_s}\nwhile time.monotonic()<end: pass\n"
        for _ in range(os.cpu_count() or 1):
            self._burners.append(
                await asyncio.create_subprocess_exec(
                    sys.executable, "-c", code, stdin=asyncio.subprocess.DEVNULL
                )
            )
        self.started = True
        self.say(f"  cpu-burn: {len(self._burners)} busy processes (nice 19)")

    async def stop(self) -> None:
        for burner in self._burners:
            with contextlib.suppress(ProcessLookupError):
                burner.kill()
            with contextlib.suppress(ProcessLookupError):
                await burner.wait()
        if self._burners:
            self.say("  cpu-burn: stopped")
        self._burners = []
        self.started = False


# -- es-flood-stage -------------------------------------------------------------------------------

_DISK: Final = "cluster.routing.allocation.disk."
_FLOOD_SETTINGS: Final = (
    f"{_DISK}threshold_enabled",
    f"{_DISK}watermark.low",
    f"{_DISK}watermark.high",
    f"{_DISK}watermark.flood_stage",
    "cluster.info.update.interval",
)
_GIB: Final = 1 << 30


class FloodStage(Incident):
    """Lower the watermarks (as free space: low 3 GiB, high 2 GiB, flood stage 1 GiB more than
    the node has free) so the disk check blocks writes; restore them at the end."""

    name = "es-flood-stage"
    check_interval: ClassVar[str] = "10s"
    """How often Elasticsearch checks disk usage meanwhile (default 30s, least 10s)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.blocked_at: float | None = None
        self.restored_at: float | None = None
        self.lifted_at: float | None = None
        self._watcher: asyncio.Task[None] | None = None

    async def sweep(self) -> None:
        # Ours, left by a killed run: the check interval no operator sets, with byte watermarks.
        answer = await self._request("GET", "/_cluster/settings?flat_settings=true")
        transient = answer.get("transient", {})
        if transient.get("cluster.info.update.interval") == self.check_interval:
            await self._request(
                "PUT", "/_cluster/settings", {"transient": dict.fromkeys(_FLOOD_SETTINGS)}
            )
            self.say("  es-flood-stage: removed the watermarks a killed run left")

    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
            http.request(method, f"{self.elasticsearch}{path}", json=body) as response,
        ):
            answer = await response.json(content_type=None)
            if response.status != 200:
                raise LoadTestError(f"es-flood-stage: {method} {path}: {response.status} {answer}")
            return answer

    async def _free_bytes(self) -> int:
        stats = await self._request("GET", "/_nodes/_local/stats/fs")
        (node,) = stats["nodes"].values()
        return int(node["fs"]["total"]["available_in_bytes"])

    async def _blocked(self) -> int:
        answer = await self._request(
            "GET", "/_all/_settings/index.blocks.read_only_allow_delete?expand_wildcards=all"
        )
        return sum(
            1
            for body in answer.values()
            if body["settings"]["index"]["blocks"]["read_only_allow_delete"] == "true"
        )

    async def start(self) -> None:
        free = await self._free_bytes()
        settings = dict(
            zip(
                _FLOOD_SETTINGS,
                ("true", f"{free + 3 * _GIB}b", f"{free + 2 * _GIB}b", f"{free + _GIB}b",
                 self.check_interval),
                strict=True,
            )
        )  # fmt: skip
        self.started = True
        await self._request("PUT", "/_cluster/settings", {"transient": settings})
        self.say(
            f"  es-flood-stage: watermarks lowered to flood stage below "
            f"{(free + _GIB) / _GIB:.1f} GiB free ({free / _GIB:.1f} GiB free now)"
        )
        self._watcher = asyncio.create_task(self._watch_block(lifted=False))

    async def _watch_block(self, *, lifted: bool) -> None:
        """Note when the block appears (or, after the restore, when it is gone)."""
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            with contextlib.suppress(LoadTestError, aiohttp.ClientError, OSError, TimeoutError):
                count = await self._blocked()
                if not lifted and count:
                    self.blocked_at = time.time()
                    self.say(f"  es-flood-stage: {count} indices read-only (flood stage)")
                    return
                if lifted and not count:
                    self.lifted_at = time.time()
                    assert self.restored_at is not None
                    self.say(
                        f"  es-flood-stage: block lifted by Elasticsearch itself "
                        f"{self.lifted_at - self.restored_at:.0f} s after the restore"
                    )
                    return
            await asyncio.sleep(1)

    async def stop(self) -> None:
        if self._watcher is not None and not self.started:
            self._watcher.cancel()  # the run is over: stop watching for the lift
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            return
        if not self.started:
            return
        if self._watcher is not None:
            self._watcher.cancel()
        with contextlib.suppress(LoadTestError, aiohttp.ClientError, OSError, TimeoutError):
            await self._request(
                "PUT", "/_cluster/settings", {"transient": dict.fromkeys(_FLOOD_SETTINGS)}
            )
            self.started = False
            self.restored_at = time.time()
            self.say("  es-flood-stage: watermarks restored")
            self._watcher = asyncio.create_task(self._watch_block(lifted=True))


INCIDENTS: Final[dict[str, type[Incident]]] = {
    cls.name: cls for cls in (DiskFill, CpuBurn, FloodStage)
}


async def make_incident(
    name: str, work: Path, elasticsearch: str, length_s: float, say: Any
) -> Incident:
    """The incident called *name*, after undoing what a killed earlier run of it left."""
    incident = INCIDENTS[name](work, elasticsearch, length_s, say)
    await incident.sweep()
    return incident
