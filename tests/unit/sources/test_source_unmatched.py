"""A glob that matches no file is loud: a warning naming it, and the source says which globs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from tests.unit.sources.conftest import wait_until


async def test_a_glob_matching_nothing_is_named_until_a_file_appears(
    logs: Path, make_config, make_harness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="shipper.sources.files")
    missing = str(logs / "nonexistent" / "app.log")
    present = logs / "app.log"
    present.write_bytes(b"line 00000000\n")
    config = make_config(paths=[str(present), missing])
    async with make_harness(config) as h:
        await h.wait_for_lines(1)
        assert h.source.unmatched_globs == (missing,)
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("no file matches" in text and repr(missing) in text for text in warnings)
        Path(missing).parent.mkdir()
        Path(missing).write_bytes(b"line 00000001\n")
        await wait_until(lambda: h.source.unmatched_globs == ())
        await h.wait_for_lines(2)
    assert f"input: {missing!r} matches a file now" in caplog.text


async def test_a_glob_matching_only_a_directory_or_an_excluded_file_is_unmatched(
    logs: Path, make_config, make_harness
) -> None:
    (logs / "dir.log").mkdir()
    (logs / "old.log.gz").write_bytes(b"x\n")
    config = make_config(paths=[str(logs / "dir.log"), str(logs / "old.log*")])
    async with make_harness(config) as h:
        await wait_until(lambda: len(h.source.unmatched_globs) == 2)
