"""Error grouping: one bug, one key, whatever IDs, numbers or names its messages carry."""

from __future__ import annotations

import re
from typing import Final

import xxhash

__all__ = ["grouping_key", "mask_variables"]

# Order matters: the specific shapes first, so a UUID is not first eaten as numbers. Each mask
# names substrings one of which every match contains: a regex whose substrings are all absent is
# not run (no placeholder brings one in), which spares most of them on most messages.
_MASKS: Final[tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...]] = (
    (
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        "<uuid>",
        ("-",),
    ),
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>", ("0x",)),  # memory addresses: <Foo at 0x7f...>
    (re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+"), "<email>", ("@",)),
    (re.compile(r"\[REDACTED(?::\w+)?\]"), "<redacted>", ("[REDACTED",)),
    # Hashes and hex IDs share the numbers' placeholder: the same ID field holds "12345678" one
    # time and "1a2b3c4d" the next, and both must land in one group.
    (re.compile(r"\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"), "<num>", ()),
    (re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`"), "<str>", ("'", '"', "`")),  # 'alice'
    (re.compile(r"\d+(?:[.,:]\d+)*"), "<num>", ()),  # also IPs, times, versions, decimals
)
_MAX_CHARS: Final = 2048  # the gist of a message is at its start; bounds the regex work


def mask_variables(message: str) -> str:
    """``"order 42 for 'bob' failed"`` → ``"order <num> for <str> failed"``."""
    text = message[:_MAX_CHARS]
    for pattern, placeholder, needles in _MASKS:
        if _may_match(text, needles):
            text = pattern.sub(placeholder, text)
    return text


def _may_match(text: str, needles: tuple[str, ...]) -> bool:
    """One of ``needles`` is in ``text`` (no needles: anything may match)."""
    for needle in needles:
        if needle in text:
            return True
    return not needles


def grouping_key(error_type: str | None, message: str | None) -> str:
    """xxh3-64 hex (16 chars) of the type and the masked message."""
    masked = mask_variables(message) if message else ""
    data = f"{error_type or ''}\x00{masked}".encode("utf-8", "surrogatepass")
    return str(xxhash.xxh3_64_hexdigest(data))
