"""Sources: where lines come from. The one source is :class:`FileSource`, tailing files."""

from __future__ import annotations

from shipper.sources.config import FileSourceConfig
from shipper.sources.files import Emit, FileSource
from shipper.sources.lines import TAG_PARTIAL, TAG_TRUNCATED
from shipper.sources.stats import FileStats, SourceStats

__all__ = [
    "TAG_PARTIAL",
    "TAG_TRUNCATED",
    "Emit",
    "FileSource",
    "FileSourceConfig",
    "FileStats",
    "SourceStats",
]
