"""External tools the tests call (promtool, amtool): found on PATH, or the test cannot run."""

from __future__ import annotations

import os
import shutil

import pytest

__all__ = ["tool"]


def tool(name: str) -> str:
    """The path of a Prometheus tool; skip the test without it (fail on CI)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} is not installed (apt-get install prometheus prometheus-alertmanager)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message}; CI must run this check")
        pytest.skip(message)
    return path
