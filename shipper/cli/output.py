"""Terminal output shared by the commands: tables on stdout, progress on stderr."""

from __future__ import annotations

import sys
import time

from rich.console import Console

from shipper.masking import mask_urls

__all__ = ["err_console", "out_console", "progress"]

# Piped output (CI logs) gets a fixed width instead of rich's 80 columns, so tables stay readable.
out_console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


def progress(message: str) -> None:
    """One timestamped progress line on stderr (URL credentials masked)."""
    err_console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {mask_urls(message)}", highlight=False)
