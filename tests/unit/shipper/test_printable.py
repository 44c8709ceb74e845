"""Issue 11, item 11: what the commands print for people shows control characters escaped."""

from __future__ import annotations

import pytest

from shipper.cli.output import printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("hello \x1b]0;pwned\x07world", "hello \\x1b]0;pwned\\x07world"),
        ("\x1b[2Jcleared", "\\x1b[2Jcleared"),
        ("c1 \x9b31m csi", "c1 \\x9b31m csi"),
        ("bell\x07 del\x7f nul\x00 cr\r", "bell\\x07 del\\x7f nul\\x00 cr\\x0d"),
        ("rtl \u202egnp.exe", "rtl \\u202egnp.exe"),
        ("one\ntwo", "one\\x0atwo"),
        ("tab\tkept, ünïcödé kept", "tab\tkept, ünïcödé kept"),
    ],
)
def test_issue11_11_printable(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_issue11_11_printable_keeps_newlines_when_asked() -> None:
    assert printable("Traceback:\n  x\x1b[2J\n", newlines=True) == "Traceback:\n  x\\x1b[2J\n"
