"""The demo shop the load tests drive: an aiohttp service writing the JSON log logferry ships.

``build_app`` gives the application (for tests and embedding), ``serve`` runs it, ``AppConfig``
holds its settings, and ``FaultTable`` / ``Fault`` describe the failures it is told to inject.
"""

from __future__ import annotations

from loadtest.app.config import AppConfig
from loadtest.app.faults import Fault, FaultTable
from loadtest.app.server import build_app, serve

__all__ = ["AppConfig", "Fault", "FaultTable", "build_app", "serve"]
