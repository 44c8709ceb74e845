"""Transform workers as child processes over pipes (:mod:`shipper.workers`): answers in the
order batches were given, a worker that dies fails what it held and stops the shipper, Ctrl-C is
the main process's alone, and nothing outlives a close. Real worker processes, file output (no
Kafka): about a second each."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import orjson
import psutil
import pytest

from pipelines.types import RawLine
from shipper.config import ShipperConfig, load_config
from shipper.workers import InlineTransformer, ProcessTransformer, WorkerDied


def _config(tmp_path: Path) -> ShipperConfig:
    return load_config(
        overrides={"transform_workers": 2, "output": {"url": f"file://{tmp_path}/out.ndjson"}},
        environ={},
    )


def _batch(first: int, size: int = 50) -> list[RawLine]:
    return [
        RawLine(b'{"message": "m%d", "status": 200}' % n, "/app.log", "f1", n * 100, (), n * 100)
        for n in range(first, first + size)
    ]


def _children() -> list[psutil.Process]:
    return psutil.Process().children()


def _messages(events: list[object]) -> list[str]:
    return [orjson.loads(event.value)["message"] for event in events]  # type: ignore[attr-defined]


async def test_answers_come_in_the_order_batches_were_given(tmp_path: Path) -> None:
    config = _config(tmp_path)
    lost: list[Exception] = []
    pool = ProcessTransformer(config, 2, lost.append)
    try:
        batches = [_batch(n * 50) for n in range(8)]
        answers = await asyncio.gather(*(pool.encode(batch) for batch in batches))
        assert len(_children()) == 2
    finally:
        await pool.close()
    inline = InlineTransformer(config)
    for batch, answer in zip(batches, answers, strict=True):
        assert _messages(answer.events) == _messages((await inline.encode(batch)).events)
        assert sum(answer.app.levels.values()) == len(batch)
    assert lost == []
    assert _children() == []  # closed: no worker left, none a zombie


async def test_a_worker_killed_fails_its_batches_and_every_later_one(tmp_path: Path) -> None:
    lost: list[Exception] = []
    pool = ProcessTransformer(_config(tmp_path), 2, lost.append)
    try:
        await pool.encode(_batch(0))
        victim = _children()[0]
        victim.send_signal(signal.SIGSTOP)  # holds the next batch it is given, unanswered
        batches = [asyncio.create_task(pool.encode(_batch(n * 50))) for n in range(1, 5)]
        await asyncio.sleep(0.5)
        victim.kill()
        outcomes = await asyncio.gather(*batches, return_exceptions=True)
        assert any(isinstance(outcome, WorkerDied) for outcome in outcomes), outcomes
        assert len(lost) == 1 and isinstance(lost[0], WorkerDied)
        assert f"transform worker {victim.pid} exited" in str(lost[0])
        with pytest.raises(WorkerDied):
            await pool.encode(_batch(1000))
    finally:
        await pool.close()
    assert _children() == []


async def test_ctrl_c_is_the_main_process_s_alone(tmp_path: Path) -> None:
    lost: list[Exception] = []
    pool = ProcessTransformer(_config(tmp_path), 2, lost.append)
    try:
        await asyncio.gather(pool.encode(_batch(0)), pool.encode(_batch(50)))
        for worker in _children():
            os.kill(worker.pid, signal.SIGINT)
        await asyncio.sleep(0.3)
        answers = await asyncio.gather(*(pool.encode(_batch(n * 50)) for n in range(2, 6)))
        assert [len(answer.events) for answer in answers] == [50] * 4
    finally:
        await pool.close()
    assert lost == []


async def test_batches_for_a_busy_worker_wait_as_lines_not_as_pickles(tmp_path: Path) -> None:
    """A worker holds the batch it encodes and the next; more would wait pickled in the main
    process (the pipe takes about one): a second copy of each, megabytes with real batches."""
    lost: list[Exception] = []
    config = load_config(
        overrides={"transform_workers": 1, "output": {"url": f"file://{tmp_path}/out.ndjson"}},
        environ={},
    )
    pool = ProcessTransformer(config, 1, lost.append)
    big = [_batch(n * 2000, size=2000) for n in range(6)]  # ~130 KB pickled each
    try:
        await pool.encode(_batch(0))
        (worker,) = _children()
        worker.send_signal(signal.SIGSTOP)
        waiting = [asyncio.create_task(pool.encode(batch)) for batch in big]
        await asyncio.sleep(0.5)
        (stdin,) = [each.process.stdin for each in pool._workers._workers]
        assert stdin is not None
        assert stdin.transport.get_write_buffer_size() == 0  # two batches fit in the pipe
        worker.send_signal(signal.SIGCONT)
        answers = await asyncio.gather(*waiting)
        assert [len(answer.events) for answer in answers] == [2000] * 6
    finally:
        await pool.close()
    assert lost == []


async def test_while_every_worker_is_busy_the_main_process_encodes_the_next_batch(
    tmp_path: Path,
) -> None:
    """Reading and handing out batches leave most of the main process's core idle: rather than
    wait for a worker, it encodes a batch itself, so one worker makes two encoders."""
    lost: list[Exception] = []
    config = load_config(
        overrides={"transform_workers": 1, "output": {"url": f"file://{tmp_path}/out.ndjson"}},
        environ={},
    )
    pool = ProcessTransformer(config, 1, lost.append)
    try:
        await pool.encode(_batch(0))
        (worker,) = _children()
        worker.send_signal(signal.SIGSTOP)  # it holds what it is given, unanswered
        held = [asyncio.create_task(pool.encode(_batch(n * 50))) for n in (1, 2)]
        await asyncio.sleep(0.3)
        assert not any(task.done() for task in held)
        # The worker holds the two batches it takes: the next is encoded here, at once.
        mine = await asyncio.wait_for(pool.encode(_batch(150)), timeout=5)
        assert _messages(mine.events) == [f"m{n}" for n in range(150, 200)]
        assert sum(mine.app.levels.values()) == 50
        assert (mine.encoded_in, mine.lines) == ("main", 50)  # logferry_shipper_lines_transformed
        assert not any(task.done() for task in held)
        worker.send_signal(signal.SIGCONT)
        answers = await asyncio.gather(*held)
        assert [_messages(a.events)[0] for a in answers] == ["m50", "m100"]
        assert [(a.encoded_in, a.lines) for a in answers] == [("worker", 50)] * 2
    finally:
        await pool.close()
    assert lost == []
