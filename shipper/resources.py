"""Files logferry reads from its repository checkout (they are edited by operators, so they are
plain files beside the code, not package data)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = [
    "ALERTMANAGER_CONFIG",
    "ALERT_RULES",
    "INDEX_TEMPLATES",
    "KIBANA_OBJECTS",
    "REPOSITORY",
]

REPOSITORY: Final = Path(__file__).resolve().parents[1]
"""The checkout the editable install runs from (DESIGN.md's layout)."""

ALERT_RULES: Final = REPOSITORY / "dashboards" / "prometheus" / "alerts.yml"
"""Prometheus alert rules; the local stack's Prometheus loads them, `loadtest run` derives its
fast profile from them."""

ALERTMANAGER_CONFIG: Final = REPOSITORY / "dashboards" / "alertmanager" / "alertmanager.yml"
"""Alertmanager routing; `loadtest run` gives its private Alertmanager the same routes."""

INDEX_TEMPLATES: Final = REPOSITORY / "index-templates"
"""The Elasticsearch templates `shipper setup` and `shipper index` install."""

KIBANA_OBJECTS: Final = REPOSITORY / "dashboards" / "kibana"
"""The saved objects `shipper setup --kibana` imports."""
