"""Issue 11 item 1: more files than descriptors. The source keeps a reserve for the rest of the
process, never holds more than the remainder, and lets waiting files take turns."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from shipper.sources import FileSource

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX descriptor limits")


def numbered(start: int, stop: int) -> bytes:
    return b"".join(b"line %08d\n" % i for i in range(start, stop))


async def test_files_beyond_the_cap_take_turns_instead_of_starving(
    logs: Path, make_config, make_harness, until, caplog: pytest.LogCaptureFixture
) -> None:
    """12 files, 3 descriptors, close_inactive_s far away: every file is read, and read again
    when it grows, long before close_inactive_s (the old source left 9 files unread until then)."""
    files = [logs / f"{i:02d}.log" for i in range(12)]
    for i, path in enumerate(files):
        path.write_bytes(numbered(i * 100, i * 100 + 5))
    config = make_config(paths=[str(logs / "*.log")], max_open_files=3, close_inactive_s=300)
    most_open = 0
    waiting_seen = 0

    def watch() -> bool:
        nonlocal most_open, waiting_seen
        stats = h.source.stats()
        most_open = max(most_open, stats.open_files)
        waiting_seen = max(waiting_seen, getattr(stats, "files_waiting", 0))
        return len(h.lines) >= 60

    async with make_harness(config) as h:
        await until(watch, 10)
        for i, path in enumerate(files):
            with path.open("ab") as f:
                f.write(numbered(i * 100 + 5, i * 100 + 10))
        await until(lambda: watch() and len(h.lines) >= 120, 10)
        await asyncio.sleep(0.1)
        stats = h.source.stats()
    assert sorted(h.numbers()) == [i * 100 + j for i in range(12) for j in range(10)]
    h.assert_in_file_order()
    assert most_open <= 3
    assert stats.open_files_limit == 3
    assert waiting_seen > 0  # the shortage was visible while it lasted
    assert caplog.text.count("max_open_files (3) reached") == 1  # once, not per scan


def test_the_descriptor_limit_is_raised_and_a_reserve_kept(tmp_path: Path) -> None:
    """In a child process with a soft limit of 128 under a hard one of 256: the source raises
    the soft limit to 256, then holds at most 256 - reserve - the rest of the process, so the
    output can still open its sockets while 400 files wait their turn; every line arrives."""
    script = textwrap.dedent(
        """
        import asyncio, json, os, resource, socket, sys

        from shipper.sources import FileSource, FileSourceConfig

        resource.setrlimit(resource.RLIMIT_NOFILE, (128, 256))
        logs = sys.argv[1]
        for i in range(400):
            with open(os.path.join(logs, "%03d.log" % i), "wb") as f:
                f.write(b"line %08d\\n" % i)
        config = FileSourceConfig(
            paths=[os.path.join(logs, "*.log")], scan_interval_s=0.05, poll_interval_s=0.005,
            close_inactive_s=300, max_open_files=100000,
        )
        source = FileSource(config, {})
        seen, most_open, socket_failures = set(), 0, 0

        async def emit(batch):
            global most_open, socket_failures
            # The output needs descriptors of its own while the files are held.
            try:
                sockets = [socket.socket() for _ in range(32)]
            except OSError:
                socket_failures += 1
            else:
                for s in sockets:
                    s.close()
            most_open = max(most_open, source.stats().open_files)
            seen.update(line.data for line in batch)
            source.acknowledge({line.file_id: line.end_offset for line in batch})
            if len(seen) == 400:
                source.stop()

        async def main():
            task = asyncio.create_task(source.run(emit))
            await asyncio.wait_for(task, 30)

        asyncio.run(main())
        stats = source.stats()
        print(json.dumps({
            "soft": resource.getrlimit(resource.RLIMIT_NOFILE)[0],
            "lines": len(seen),
            "most_open": most_open,
            "limit": getattr(stats, "open_files_limit", None),
            "socket_failures": socket_failures,
        }))
        """
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    done = subprocess.run(
        [sys.executable, "-c", script, str(logs)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["soft"] == 256  # raised from soft to hard
    assert result["lines"] == 400
    assert result["socket_failures"] == 0
    assert result["limit"] is not None
    assert 0 < result["most_open"] <= result["limit"] <= 256 - 64
    assert "descriptor limit reached: " in done.stderr
    assert done.stderr.count("descriptor limit reached: ") == 1


async def test_out_of_descriptors_all_the_same_makes_files_wait_not_fail(
    logs: Path, make_config, make_harness, until, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    """Something else in the process took the reserve: an open failing with EMFILE puts the
    file back in the queue (it is read later), instead of a 'cannot open' per file."""
    import errno

    from shipper.sources import files as files_module

    for i in range(6):
        (logs / f"{i}.log").write_bytes(numbered(i * 10, i * 10 + 3))
    real_open = files_module.open_file
    failures = {"left": 3}

    def flaky_open(path: str, **options: bool) -> int:
        if path.endswith("3.log") and failures["left"] > 0:
            failures["left"] -= 1
            raise OSError(errno.EMFILE, os.strerror(errno.EMFILE), path)
        return real_open(path, **options)

    monkeypatch.setattr(files_module, "open_file", flaky_open)
    caplog.set_level(logging.WARNING, logger="shipper.sources.files")
    config = make_config(paths=[str(logs / "*.log")], close_inactive_s=300)
    async with make_harness(config) as h:
        await until(lambda: len(h.lines) >= 18, 10)
    assert sorted(h.numbers()) == [i * 10 + j for i in range(6) for j in range(3)]
    assert "cannot open" not in caplog.text
    assert "out of descriptors" in caplog.text


def test_source_stats_report_the_limit_before_the_first_scan() -> None:
    from shipper.sources import FileSourceConfig

    stats = FileSource(FileSourceConfig(max_open_files=7), {}).stats()
    assert stats.open_files_limit == 7 and stats.files_waiting == 0
