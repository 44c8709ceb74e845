"""Issue 11 item 4: symbolic links are not followed by default (``follow_symlinks: false``);
when they are, the target must itself be matched by the globs."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from pathlib import Path

import pytest

from shipper.sources import FileSourceConfig
from shipper.sources.watcher import open_file

SECRET = b"root:secret-hash:19000:0:99999:7:::\n"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file outside the watched directory (think /etc/shadow)."""
    path = tmp_path / "private" / "shadow"
    path.parent.mkdir()
    path.write_bytes(SECRET)
    path.chmod(0o600)
    return path


def shipped(lines: list) -> bytes:
    return b"".join(line.data + b"\n" for line in lines)


async def test_a_log_replaced_by_a_link_to_another_file_is_not_read(
    logs: Path, secret: Path, make_config, make_harness, caplog: pytest.LogCaptureFixture
) -> None:
    (logs / "other.log").write_bytes(b"line 00000000\n")
    (logs / "app.log").symlink_to(secret)
    caplog.set_level(logging.WARNING, logger="shipper.sources.files")
    async with make_harness(make_config(paths=[str(logs / "*.log")])) as h:
        await h.wait_for_lines(1)
        await asyncio.sleep(0.3)  # several scans
    assert SECRET.strip() not in shipped(h.lines)
    assert [line.path for line in h.lines] == [str(logs / "other.log")]
    warnings = [r.getMessage() for r in caplog.records if "symbolic link" in r.getMessage()]
    assert len(warnings) == 1 and str(logs / "app.log") in warnings[0]  # once, not per scan


async def test_a_directory_link_below_the_glob_is_not_followed(
    logs: Path, tmp_path: Path, make_config, make_harness
) -> None:
    """``logs/*/app.log`` with ``logs/evil`` a link to a directory elsewhere."""
    (logs / "good").mkdir()
    (logs / "good" / "app.log").write_bytes(b"line 00000000\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "app.log").write_bytes(SECRET)
    (logs / "evil").symlink_to(elsewhere, target_is_directory=True)
    async with make_harness(make_config(paths=[str(logs / "*" / "app.log")])) as h:
        await h.wait_for_lines(1)
        await asyncio.sleep(0.3)
    assert SECRET.strip() not in shipped(h.lines)
    assert len(h.lines) == 1


async def test_a_link_in_the_fixed_part_of_a_glob_is_the_operators_own(
    tmp_path: Path, make_config, make_harness
) -> None:
    real = tmp_path / "real-logs"
    real.mkdir()
    (real / "app.log").write_bytes(b"line 00000000\n")
    (tmp_path / "var-log").symlink_to(real, target_is_directory=True)
    async with make_harness(make_config(paths=[str(tmp_path / "var-log" / "*.log")])) as h:
        await h.wait_for_lines(1)
    assert len(h.lines) == 1


def test_a_link_swapped_in_after_the_scan_is_not_opened(logs: Path, secret: Path) -> None:
    link = logs / "app.log"
    link.symlink_to(secret)
    with pytest.raises(OSError) as raised:
        open_file(str(link), follow_symlinks=False)
    assert raised.value.errno in (errno.ELOOP, errno.EMLINK)  # O_NOFOLLOW (EMLINK: BSDs)
    fd = open_file(str(link), follow_symlinks=True)
    os.close(fd)


async def test_followed_links_must_point_at_a_file_the_globs_match(
    logs: Path, secret: Path, make_config, make_harness, caplog: pytest.LogCaptureFixture
) -> None:
    """With ``follow_symlinks: true`` a link to a matched file adds a name, read once; a link
    to anything else is still not followed."""
    (logs / "app-2026.log").write_bytes(b"line 00000000\nline 00000001\n")
    (logs / "app.log").symlink_to(logs / "app-2026.log")
    (logs / "shadow.log").symlink_to(secret)
    config = make_config(paths=[str(logs / "*.log")], follow_symlinks=True)
    async with make_harness(config) as h:
        await h.wait_for_lines(2)
        await asyncio.sleep(0.3)
    assert SECRET.strip() not in shipped(h.lines)
    h.assert_each_once(2)
    assert "shadow.log is a symbolic link, not followed: its target is not matched" in caplog.text


def test_links_are_not_followed_by_default_and_it_is_documented() -> None:
    assert FileSourceConfig().follow_symlinks is False
    docs = Path(__file__).parents[3] / "docs" / "configuration.md"
    assert "`input.follow_symlinks` | `False`" in docs.read_text()
