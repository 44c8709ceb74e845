"""The README's troubleshooting table quotes what the commands really print: a mistake's error
line, run for real, is found in the table (its fragments between the `…` of one quoted message).
About 15 s: two commands against an Elasticsearch nobody listens at."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.support import free_port

REPO = Path(__file__).resolve().parents[2]


def _quoted_messages() -> list[str]:
    readme = (REPO / "README.md").read_text()
    table = readme[readme.index("## Troubleshooting") :]
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    return [quote for row in rows for quote in re.findall(r"`([^`]+)`", row.split(" | ")[0])]


def _quotes(line: str, message: str) -> bool:
    parts = [part.strip() for part in message.split("…") if part.strip()]
    return bool(parts) and all(part in line for part in parts)


@pytest.mark.parametrize(
    "argv",
    [
        ["shipper", "setup", "--skip-kafka", "--es"],
        ["loadtest", "run", "--scenario", "baseline", "--elasticsearch"],
    ],
    ids=["shipper setup", "loadtest run"],
)
def test_an_unreachable_elasticsearch_is_in_the_troubleshooting_table(
    argv: list[str], tmp_path: Path
) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", *argv, f"http://127.0.0.1:{free_port()}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert completed.returncode != 0
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert errors, completed.stderr[-2000:]
    quoted = [m for m in _quoted_messages() if _quotes(errors[0], m)]
    assert quoted, f"the README's troubleshooting does not quote {errors[0]!r}"
