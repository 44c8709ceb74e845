"""docs/metrics.md is generated from the metric definitions and must match them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_metrics_reference_is_up_to_date() -> None:
    result = subprocess.run(
        [sys.executable, "scripts/metrics_reference.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
