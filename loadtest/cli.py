"""The `loadtest` command line."""

from __future__ import annotations

import click

__all__ = ["main"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
def main() -> None:
    """Drive real traffic at a demo application and prove the alert rules fire."""
