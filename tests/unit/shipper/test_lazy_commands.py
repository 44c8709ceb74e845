"""`shipper run` starts without importing what only other commands need."""

from __future__ import annotations

import subprocess
import sys

from click.testing import CliRunner

from shipper.cli import cli

_PROBE = """
import sys
from shipper.cli import cli
try:
    cli.main(["run", "--help"], standalone_mode=False)
except SystemExit:
    pass
print("loaded:" + ",".join(sorted(m for m in ("elasticsearch", "shipper.indexer.runner", "shipper.stack.services", "rich.table") if m in sys.modules)))
"""


def test_run_does_not_import_the_other_commands_modules() -> None:
    result = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, check=True
    )
    assert "Usage:" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "loaded:", result.stdout


def test_help_lists_every_command() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in (
        "run",
        "check-config",
        "stack",
        "setup",
        "index",
        "retention",
        "search",
        "trace",
        "top",
    ):
        assert f"  {name} " in result.output
