"""Terminal output shared by the commands: tables on stdout, progress on stderr."""

from __future__ import annotations

import re
import sys
import time

from rich.console import Console

from shipper.masking import mask_urls

__all__ = ["err_console", "out_console", "printable", "progress"]

# Piped output (CI logs) gets a fixed width instead of rich's 80 columns, so tables stay readable.
out_console = Console(width=None if sys.stdout.isatty() else 120)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 120)


# What a terminal would act on instead of showing: C0 controls (ESC starts the sequences that
# retitle or clear it) but tab and newline, DEL, C1 controls (U+009B is a one-character CSI), and
# the bidirectional overrides that make text read other than it is stored.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_OR_NEWLINE = re.compile(_CONTROL.pattern[:-1] + r"\n]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match[0])
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, newlines: bool = False) -> str:
    """*text* safe to print to a terminal: control characters shown escaped (``\\x1b]0;``);
    newlines kept only if *newlines* (a stack trace), tabs always."""
    return (_CONTROL if newlines else _CONTROL_OR_NEWLINE).sub(_escape, text)


def progress(message: str) -> None:
    """One timestamped progress line on stderr (URL credentials masked, control characters
    escaped)."""
    err_console.print(
        f"[dim]{time.strftime('%H:%M:%S')}[/] {printable(mask_urls(message))}", highlight=False
    )
