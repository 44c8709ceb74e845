"""`kill -9` at random moments while lines are written: every line arrives; repeats restart
exactly at the checkpoint the killed process had written, and carry the same event.id."""

from __future__ import annotations

import random
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from tests.integration.support import LogWriter, ShipperProcess, read_topic, wait_for


async def test_kill9_and_restart_loses_nothing_and_repeats_only_after_the_checkpoint(
    logs_dir: Path,
    shipper_factory: Callable[..., ShipperProcess],
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    rng = random.Random(20261123)
    # Without request ids every event is keyed by its file, so the topic keeps file order in one
    # partition and each restart shows up as the offsets stepping back.
    writer = LogWriter(logs_dir / "app.log", rate_per_s=4000, request_ids=False)
    shipper = shipper_factory(paths=[str(logs_dir / "app.log")])
    shipper.start()
    writer.start()
    pauses = [rng.uniform(0.5, 2.5) for _ in range(4)]
    checkpoints_at_kill, total = _kill_while_writing(shipper, writer, pauses)

    records = await read_topic(kafka_bootstrap, kafka_topic, expect=total)
    seqs = {int(r.value["app"]["seq"]) for r in records}
    assert seqs == set(range(total)), f"lost: {sorted(set(range(total)) - seqs)[:10]}"

    ids_by_seq: dict[int, set[str]] = defaultdict(set)
    for record in records:
        ids_by_seq[int(record.value["app"]["seq"])].add(record.value["event"]["id"])
        assert record.headers["event.id"].decode() == record.value["event"]["id"]
    assert all(len(ids) == 1 for ids in ids_by_seq.values()), "a repeated line got a new event.id"

    assert len({r.partition for r in records}) == 1
    offsets = [int(r.value["log"]["offset"]) for r in sorted(records, key=lambda r: r.offset)]
    restarts = [offsets[i] for i in range(1, len(offsets)) if offsets[i] <= offsets[i - 1]]
    # Each restart resumes exactly at the offset the killed process had checkpointed. A step
    # back that matches no checkpoint (a batch the producer sent twice within one run) must not
    # reach back before the checkpoint of the latest restart: repeats only after the checkpoint.
    floor = 0
    for offset in restarts:
        if offset in checkpoints_at_kill:
            floor = offset
        else:
            assert offset >= floor, (restarts, checkpoints_at_kill)
    assert sum(offset in checkpoints_at_kill for offset in restarts) <= len(checkpoints_at_kill)


def _kill_while_writing(
    shipper: ShipperProcess,
    writer: LogWriter,
    pauses: list[float],
    *,
    publishing_first: bool = False,
) -> tuple[list[int], int]:
    """Kill -9 and restart *shipper* after each pause (once it publishes, if asked), stop the
    writer, wait for the checkpoint to reach the end; the checkpoints on disk at each kill, and
    how many lines were written."""
    checkpoints_at_kill: list[int] = []
    for pause in pauses:
        if publishing_first:
            wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") > 0)
        time.sleep(pause)
        shipper.kill9()
        checkpoints_at_kill.append(_checkpointed(shipper))  # exactly what was on disk at the kill
        shipper.start()
    time.sleep(1)
    total = writer.stop()
    size = writer.path.stat().st_size
    wait_for(lambda: _checkpointed(shipper) == size, timeout_s=60)
    return checkpoints_at_kill, total


def _checkpointed(shipper: ShipperProcess) -> int:
    if not shipper.checkpoint_path.exists():  # killed before its first checkpoint
        return 0
    (entry,) = shipper.checkpoint()["files"].values()
    return int(entry["offset"])


async def test_kill9_with_publishing_workers_loses_nothing_and_repeats_only_after_the_checkpoint(
    logs_dir: Path,
    shipper_factory: Callable[..., ShipperProcess],
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    """Workers publish what they encode; the main process settles batches in order, so the
    checkpoint still never passes a line whose batch (or a batch before it) is unacknowledged."""
    rng = random.Random(20261202)
    writer = LogWriter(logs_dir / "app.log", rate_per_s=4000)
    shipper = shipper_factory(paths=[str(logs_dir / "app.log")], transform_workers=2)
    shipper.start()
    writer.start()
    pauses = [rng.uniform(0.5, 2.0) for _ in range(3)]
    # Each run must get going (its workers take a moment to start) before it is killed.
    checkpoints_at_kill, total = _kill_while_writing(shipper, writer, pauses, publishing_first=True)

    records = await read_topic(kafka_bootstrap, kafka_topic, expect=total)
    seqs = {int(r.value["app"]["seq"]) for r in records}
    assert seqs == set(range(total)), f"lost: {sorted(set(range(total)) - seqs)[:10]}"
    ids_by_seq: dict[int, set[str]] = defaultdict(set)
    copies: dict[int, int] = defaultdict(int)
    for record in records:
        ids_by_seq[int(record.value["app"]["seq"])].add(record.value["event"]["id"])
        copies[int(record.value["log"]["offset"])] += 1
    assert all(len(ids) == 1 for ids in ids_by_seq.values()), "a repeated line got a new event.id"
    # Before the first kill's checkpoint, every line was acknowledged once and never re-read.
    first = min(checkpoints_at_kill)
    assert first > 0, "the first kill came before any checkpoint: the test proves nothing"
    repeated_early = [offset for offset, n in copies.items() if n > 1 and offset < first]
    assert not repeated_early, f"lines before the checkpoint sent twice: {repeated_early[:10]}"
