"""Issue 11 items 4 and 5 through the real shipper and Kafka: a log replaced by a symbolic link
to a private file is not shipped, and a file that reports size 0 (``/proc/version``) is shipped
once, not at every poll. Cost: ~10 s."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from tests.integration.support import ShipperProcess, read_topic, wait_for

PSEUDO = "/proc/version"
SECRET = "root:secret-hash:19000:0:99999:7:::"


def _is_sizeless(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return os.fstat(f.fileno()).st_size == 0 and bool(f.read(1))
    except OSError:
        return False


@pytest.mark.skipif(not _is_sizeless(PSEUDO), reason=f"no sizeless {PSEUDO} here")
async def test_a_link_to_a_private_file_and_a_procfs_file(
    tmp_path: Path,
    logs_dir: Path,
    shipper_factory: Callable[..., ShipperProcess],
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    shadow = private / "shadow"
    shadow.write_text(SECRET + "\n")
    shadow.chmod(0o600)
    (logs_dir / "app.log").write_bytes(
        b"".join(orjson.dumps({"message": f"line {n}"}) + b"\n" for n in range(3))
    )
    (logs_dir / "audit.log").symlink_to(shadow)  # whoever can write in logs/ did this

    shipper = shipper_factory(paths=[str(logs_dir / "*.log"), PSEUDO])
    shipper.start()
    wait_for(lambda: shipper.metric("logferry_shipper_events_published_total") >= 4, timeout_s=60)
    time.sleep(2.0)  # 40 polls and 10 scans: time enough for repeats to show

    records = await read_topic(kafka_bootstrap, kafka_topic, expect=4)
    by_path: dict[str, list[str]] = {}
    for record in records:
        by_path.setdefault(record.value["log"]["file"]["path"], []).append(record.value["message"])
    assert not any(SECRET in message for messages in by_path.values() for message in messages)
    assert sorted(by_path) == sorted([str(logs_dir / "app.log"), PSEUDO])
    assert by_path[str(logs_dir / "app.log")] == ["line 0", "line 1", "line 2"]
    assert len(by_path[PSEUDO]) == 1, f"{len(by_path[PSEUDO])} copies of {PSEUDO}"
    assert shipper.metric("logferry_shipper_events_published_total") == 4
    assert shipper.stop() == 0
    log = shipper.log_path.read_text()
    assert log.count("audit.log is a symbolic link, not followed") == 1
