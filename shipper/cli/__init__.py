"""The `shipper` command line: it parses, builds a config object and calls the runtime.

This module stays light: the `shipper` console script imports :func:`main` from it, and a
transform worker, started by spawning, re-runs that script (multiprocessing re-imports the
parent's main module), so whatever this imports, every worker imports too. The commands are in
:mod:`shipper.cli.group`, imported when the command line runs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cli", "main"]


def main() -> None:
    """Console-script entry point (errors become one line and an exit code: LogferryGroup)."""
    from shipper.cli.group import cli

    cli()


def __getattr__(name: str) -> Any:
    if name == "cli":  # the click group, for tests and tools that drive it
        from shipper.cli.group import cli

        return cli
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
