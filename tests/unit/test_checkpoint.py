"""The checkpoint store: atomic saves, and never a crash on what it finds on disk."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from shipper.checkpoint import CheckpointStore, FileCheckpoint
from shipper.errors import ConfigError


def checkpoint(file_id: str = "a" * 32, offset: int = 1234) -> FileCheckpoint:
    return FileCheckpoint(
        file_id=file_id,
        path="/var/log/app/app.log",
        dev=2049,
        inode=1835017,
        fingerprint="f" * 32,
        fingerprint_len=118,
        offset=offset,
        updated_at=1_738_324_800.123456,
    )


def test_round_trip(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path / "state" / "nested")  # created on save
    saved = {"a" * 32: checkpoint(), "b" * 32: checkpoint("b" * 32, 0)}
    store.save(saved)
    assert store.load() == saved
    store.save({})
    assert store.load() == {}


def test_the_file_is_versioned_and_readable(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    store.save({"a" * 32: checkpoint()})
    text = store.path.read_text()
    assert text.startswith("{\n  ")  # indented, for people inspecting it
    document = orjson.loads(text)
    assert document["version"] == 1
    assert document["files"]["a" * 32] == {
        "path": "/var/log/app/app.log",
        "dev": 2049,
        "inode": 1835017,
        "fingerprint": "f" * 32,
        "fingerprint_len": 118,
        "offset": 1234,
        "updated_at": "2025-01-31T12:00:00.123456+00:00",
    }


def test_the_sample_round_trips_and_is_optional(tmp_path: Path) -> None:
    store = CheckpointStore(tmp_path)
    sampled = dataclasses.replace(
        checkpoint(), sample_end=1234, sample_len=64, sample_hash="c" * 32
    )
    store.save({"a" * 32: sampled, "b" * 32: checkpoint("b" * 32)})
    document = orjson.loads(store.path.read_bytes())
    assert document["files"]["a" * 32]["sample"] == {"end": 1234, "length": 64, "hash": "c" * 32}
    assert "sample" not in document["files"]["b" * 32]
    assert store.load() == {"a" * 32: sampled, "b" * 32: checkpoint("b" * 32)}


def test_missing_file_is_an_empty_state(tmp_path: Path) -> None:
    assert CheckpointStore(tmp_path / "nowhere").load() == {}


@pytest.mark.parametrize(
    "content",
    [
        b"{ not json",
        b"",
        b"[1, 2]",
        b'{"version": 99, "files": {}}',
        b'{"files": {}}',
        b'{"version": 1, "files": []}',
        b"\xff\xfe garbage",
    ],
    ids=["truncated", "empty", "array", "future-version", "no-version", "files-array", "binary"],
)
def test_unreadable_file_is_set_aside_with_a_warning(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store = CheckpointStore(tmp_path)
    store.path.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        assert store.load() == {}
    assert "unreadable" in caplog.text
    assert not store.path.exists()
    (aside,) = tmp_path.glob("checkpoints.json.corrupt-*")
    assert aside.read_bytes() == content
    store.save({"a" * 32: checkpoint()})  # and the next save works
    assert len(store.load()) == 1


def test_a_malformed_entry_is_skipped_the_others_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = CheckpointStore(tmp_path)
    store.save({"a" * 32: checkpoint()})
    document = orjson.loads(store.path.read_bytes())
    good = document["files"]["a" * 32]
    document["files"].update(
        {
            "no-offset": {k: v for k, v in good.items() if k != "offset"},
            "negative": {**good, "offset": -1},
            "string-inode": {**good, "inode": "12"},
            "bool-dev": {**good, "dev": True},
            "bad-time": {**good, "updated_at": "yesterday"},
            "not-an-object": 5,
            "epoch-time": {**good, "updated_at": 1.5},
            "bad-sample": {**good, "sample": {"end": 1, "length": 64, "hash": "x"}},
            "sample-no-hash": {**good, "sample": {"end": 64, "length": 64}},
        }
    )
    store.path.write_bytes(orjson.dumps(document))
    with caplog.at_level(logging.WARNING):
        loaded = store.load()
    assert sorted(loaded) == ["a" * 32, "epoch-time"]
    assert loaded["epoch-time"].updated_at == 1.5
    assert caplog.text.count("is malformed") == 8


def test_save_is_atomic_and_leaves_no_temp_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = CheckpointStore(tmp_path)
    store.save({"a" * 32: checkpoint(offset=1)})
    before = store.path.read_bytes()

    def crash(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="No space"):
        store.save({"a" * 32: checkpoint(offset=2)})
    monkeypatch.undo()
    assert store.path.read_bytes() == before  # the old state is intact
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoints.json"]


def test_save_fsyncs_the_file_and_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd) or real_fsync(fd))
    CheckpointStore(tmp_path).save({"a" * 32: checkpoint()})
    assert len(synced) == 2


def test_a_state_dir_has_one_shipper_at_a_time(tmp_path: Path) -> None:
    first = CheckpointStore(tmp_path / "state")
    first.lock()
    second = CheckpointStore(tmp_path / "state")
    with pytest.raises(ConfigError, match=rf"in use by another shipper \(pid {os.getpid()}\)"):
        second.lock()
    first.unlock()
    second.lock()  # free again once the first lets go
    second.unlock()


def test_the_lock_is_released_when_its_process_dies(tmp_path: Path) -> None:
    script = (
        "import sys, time; from pathlib import Path; from shipper.checkpoint import CheckpointStore;"
        f"store = CheckpointStore(Path({str(tmp_path)!r})); store.lock(); print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match=str(holder.pid)):
            CheckpointStore(tmp_path).lock()
    finally:
        holder.kill()
        holder.wait()
    store = CheckpointStore(tmp_path)
    store.lock()  # kill -9 released it
    store.unlock()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("updated_at", 1e30),
        ("updated_at", -1e15),
        ("updated_at", -1),
        ("updated_at", 10**300),
        ("updated_at", "0001-01-01T00:00:00+00:00"),  # before the epoch
        ("offset", 2**63),  # past what lseek takes
        ("fingerprint_len", 2**63),
    ],
)
def test_issue11_item8_an_out_of_range_value_sets_the_entry_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, key: str, value: object
) -> None:
    # Issue 11, item 8: `updated_at: 1e30` passed validation, then every save (hence every start)
    # crashed with OverflowError.
    store = CheckpointStore(tmp_path)
    store.save({"a" * 32: checkpoint(), "b" * 32: checkpoint("b" * 32)})
    document = orjson.loads(store.path.read_bytes())
    document["files"]["b" * 32][key] = value
    store.path.write_text(json.dumps(document))  # orjson writes no int beyond 64 bits
    with caplog.at_level(logging.WARNING):
        loaded = store.load()
    assert sorted(loaded) == ["a" * 32]
    assert f"{'b' * 32!r}" in caplog.text and "is malformed" in caplog.text
    store.save(loaded)  # what crashed every restart
    assert sorted(store.load()) == ["a" * 32]
