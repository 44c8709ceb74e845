"""What the harness tells a Locust subprocess, through environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from loadtest.scenarios.spec import Scenario

__all__ = ["LocustSettings"]

_PREFIX = "LOADTEST_LOCUST_"


@dataclass(frozen=True, slots=True)
class LocustSettings:
    """One run's knobs, as the locustfiles read them."""

    run_id: str
    duration_s: float
    users: int
    spawn_rate: float
    request_log: Path | None = None
    """Where each user appends ``<request id> <status>`` per request (0: no response)."""

    def to_env(self) -> dict[str, str]:
        """The environment variables that carry these settings."""
        env = {
            f"{_PREFIX}RUN_ID": self.run_id,
            f"{_PREFIX}DURATION_S": str(self.duration_s),
            f"{_PREFIX}USERS": str(self.users),
            f"{_PREFIX}SPAWN_RATE": str(self.spawn_rate),
        }
        if self.request_log is not None:
            env[f"{_PREFIX}REQUEST_LOG"] = str(self.request_log)
        return env

    @classmethod
    def from_env(cls, scenario: Scenario, env: Mapping[str, str] = os.environ) -> LocustSettings:
        """The settings the harness passed, or the scenario's defaults (a bare `locust -f`)."""
        log = env.get(f"{_PREFIX}REQUEST_LOG")
        return cls(
            run_id=env.get(f"{_PREFIX}RUN_ID", "manual"),
            duration_s=float(env.get(f"{_PREFIX}DURATION_S", scenario.duration_s)),
            users=int(env.get(f"{_PREFIX}USERS", scenario.users)),
            spawn_rate=float(env.get(f"{_PREFIX}SPAWN_RATE", scenario.spawn_rate)),
            request_log=Path(log) if log else None,
        )
