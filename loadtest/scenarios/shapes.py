"""The one load shape every scenario uses: its phases, scaled to the run's duration and users."""

from __future__ import annotations

from typing import ClassVar

from locust import LoadTestShape

from loadtest.scenarios.environment import LocustSettings
from loadtest.scenarios.spec import Scenario

__all__ = ["PhasedShape"]


class PhasedShape(LoadTestShape):
    """Users per phase of :attr:`scenario`; stops the run when the last phase ends."""

    abstract = True
    scenario: ClassVar[Scenario]

    def tick(self) -> tuple[int, float] | None:
        """Locust asks once a second: how many users now, and how fast to get there."""
        settings = LocustSettings.from_env(self.scenario)
        elapsed_s: float = self.get_run_time()  # type: ignore[no-untyped-call]
        timed = self.scenario.phase_at(settings.duration_s, elapsed_s)
        if timed is None:
            return None
        return max(1, round(settings.users * timed.phase.users)), settings.spawn_rate
