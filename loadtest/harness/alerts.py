"""What happened to each alert during a run: pending and firing in Prometheus, delivered by
Alertmanager (to the harness's webhook receiver, or active in a given Alertmanager)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import web

__all__ = ["AlertLog", "AlertSeen", "WebhookReceiver", "poll_alertmanager", "poll_prometheus"]


@dataclass
class AlertSeen:
    """The first time (Unix seconds) an alert was seen in each state."""

    name: str
    pending_at: float | None = None
    firing_at: float | None = None
    delivered_at: float | None = None
    delivered_to: str | None = None
    inhibited_at: float | None = None
    """Alertmanager held it back because a critical of the same scope fired (by design)."""
    labels: dict[str, str] = field(default_factory=dict)


class AlertLog:
    """Alerts by name; only first sightings are kept, which is what time-to-fire needs."""

    def __init__(self) -> None:
        self.alerts: dict[str, AlertSeen] = {}

    def _get(self, name: str) -> AlertSeen:
        return self.alerts.setdefault(name, AlertSeen(name))

    def saw(self, name: str, state: str, labels: dict[str, str], at: float) -> None:
        """Prometheus reported *name* in *state* (``pending`` or ``firing``)."""
        seen = self._get(name)
        if state == "pending" and seen.pending_at is None:
            seen.pending_at = at
        elif state == "firing" and seen.firing_at is None:
            seen.firing_at = at
            seen.labels = labels
            seen.pending_at = seen.pending_at or at  # `for: 0s` skips pending

    def delivered(self, name: str, receiver: str, at: float) -> None:
        """Alertmanager handed *name* over as firing (to *receiver*)."""
        seen = self._get(name)
        if seen.delivered_at is None:
            seen.delivered_at = at
            seen.delivered_to = receiver

    def inhibited(self, name: str, at: float) -> None:
        """Alertmanager reported *name* as suppressed by an inhibit rule."""
        seen = self._get(name)
        if seen.inhibited_at is None:
            seen.inhibited_at = at

    def firing(self) -> list[str]:
        """Names of the alerts that reached firing."""
        return sorted(name for name, seen in self.alerts.items() if seen.firing_at is not None)


async def poll_prometheus(session: aiohttp.ClientSession, url: str, log: AlertLog) -> None:
    """One look at Prometheus's active alerts."""
    async with session.get(f"{url}/api/v1/alerts") as response:
        response.raise_for_status()
        body: dict[str, Any] = await response.json()
    now = time.time()
    for alert in body.get("data", {}).get("alerts", []):
        labels = alert.get("labels", {})
        log.saw(labels.get("alertname", "?"), alert.get("state", ""), labels, now)


async def poll_alertmanager(
    session: aiohttp.ClientSession, url: str, log: AlertLog, *, active_is_delivered: bool
) -> None:
    """One look at Alertmanager's alerts: note the inhibited ones, and with
    *active_is_delivered* (an Alertmanager whose receivers the harness cannot see) count an
    active alert as delivered to it."""
    async with session.get(
        f"{url}/api/v2/alerts", params={"active": "true", "inhibited": "true"}
    ) as response:
        response.raise_for_status()
        alerts: list[dict[str, Any]] = await response.json()
    now = time.time()
    for alert in alerts:
        name = alert.get("labels", {}).get("alertname", "?")
        status = alert.get("status", {})
        if status.get("inhibitedBy"):
            log.inhibited(name, now)
        elif active_is_delivered and status.get("state") == "active":
            log.delivered(name, "alertmanager", now)


class WebhookReceiver:
    """An Alertmanager webhook endpoint: ``POST /<receiver>`` with Alertmanager's JSON payload."""

    def __init__(self, log: AlertLog, host: str = "127.0.0.1") -> None:
        self.log = log
        self.host = host
        self.payloads: list[dict[str, Any]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def start(self) -> str:
        """Listen on a free port; the base URL receivers append their name to."""
        app = web.Application()
        app.router.add_post("/{receiver}", self._receive)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{self.host}:{port}"
        return self.url

    async def _receive(self, request: web.Request) -> web.Response:
        payload: dict[str, Any] = await request.json()
        self.payloads.append(payload)
        receiver = request.match_info["receiver"]
        now = time.time()
        for alert in payload.get("alerts", []):
            if alert.get("status") == "firing":
                self.log.delivered(alert.get("labels", {}).get("alertname", "?"), receiver, now)
        return web.Response(text="ok")

    async def stop(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            await self._runner.cleanup()
