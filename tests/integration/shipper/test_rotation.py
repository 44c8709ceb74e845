"""Every rotation style, with writes racing it: every line reaches Kafka exactly once."""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.support import LogWriter, ShipperProcess, read_topic, wait_for


def _seqs(records: list) -> Counter[int]:
    return Counter(int(r.value["app"]["seq"]) for r in records)


def _assert_exactly_once(seen: Counter[int], total: int) -> None:
    missing = sorted(set(range(total)) - set(seen))
    repeated = sorted(n for n, count in seen.items() if count > 1)
    assert not missing, f"{len(missing)} lines lost, e.g. {missing[:10]}"
    assert not repeated, f"{len(repeated)} lines shipped twice, e.g. {repeated[:10]}"
    assert set(seen) == set(range(total))


def _caught_up(shipper: ShipperProcess, total: int) -> bool:
    return shipper.metric("logferry_shipper_events_published_total") >= total


def _rename_create(log: Path, writer: LogWriter) -> None:
    os.rename(log, log.with_name("app.log.1"))  # racing: no lock, bursts may land on either file


def _copytruncate(log: Path, writer: LogWriter) -> None:
    # logrotate's copytruncate loses what is written between copy and truncate by itself;
    # holding the writer's lock keeps that window closed so only the shipper is under test.
    with writer.lock:
        shutil.copyfile(log, log.with_name("app.log.1"))
        with log.open("r+b") as handle:
            handle.truncate(0)


def _delete_while_open(log: Path, writer: LogWriter) -> None:
    os.unlink(log)


@pytest.mark.parametrize(
    "rotate",
    [_rename_create, _copytruncate, _delete_while_open],
    ids=["rename-create", "copytruncate", "delete-while-open"],
)
async def test_rotation_while_writing_ships_every_line_once(
    rotate: Callable[[Path, LogWriter], None],
    logs_dir: Path,
    shipper_factory: Callable[..., ShipperProcess],
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    log = logs_dir / "app.log"
    writer = LogWriter(log, rate_per_s=3000)
    writer.write(500)
    shipper = shipper_factory()
    shipper.start()
    writer.start()
    for _ in range(3):
        time.sleep(0.7)
        if rotate is _delete_while_open:
            # Deleting unread data is lossless only while the shipper holds the file open.
            wait_for(lambda: shipper.metric("logferry_shipper_open_files") >= 1)
        rotate(log, writer)
        time.sleep(0.5)
        for old in logs_dir.glob("app.log.1"):
            # The next rotation renames again; keep older generations under names still matched.
            old.rename(logs_dir / f"app.log.{time.monotonic_ns()}")
    total = writer.stop()
    wait_for(lambda: _caught_up(shipper, total), timeout_s=60)

    records = await read_topic(kafka_bootstrap, kafka_topic, expect=total)
    _assert_exactly_once(_seqs(records), total)


async def test_truncation_restarts_the_file_from_zero(
    logs_dir: Path,
    shipper_factory: Callable[..., ShipperProcess],
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    log = logs_dir / "app.log"
    writer = LogWriter(log)
    writer.write(1000)
    shipper = shipper_factory()
    shipper.start()
    wait_for(lambda: _caught_up(shipper, 1000))
    # Truncate in place (no copy): what was read stays shipped once, what follows is read from 0.
    with writer.lock, log.open("r+b") as handle:
        handle.truncate(0)
    writer.write(300)  # shorter than before: size < offset tells the shipper it was truncated
    writer.start()
    time.sleep(1.5)
    total = writer.stop()
    wait_for(lambda: _caught_up(shipper, total), timeout_s=60)

    records = await read_topic(kafka_bootstrap, kafka_topic, expect=total)
    _assert_exactly_once(_seqs(records), total)
    first_after = next(r for r in records if r.value["app"]["seq"] == 1000)
    assert first_after.value["log"]["offset"] == 0
