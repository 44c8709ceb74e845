"""A corpus of bad input: every line is shipped, with a tag naming what was wrong; the shipper lives."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.support import ShipperProcess, read_topic, wait_for

FIVE_MIB = 5 * 1024 * 1024

# (line bytes without its newline, tags the event must carry, a check on the message)
CORPUS: list[tuple[bytes, set[str], str | None]] = [
    (b'{"message": "caf\xe9 au lait"}', {"_invalid_utf8"}, "caf\ufffd au lait"),
    (bytes(b for b in range(256) if b != 0x0A), {"_jsonparsefailure", "_invalid_utf8"}, None),
    (b'{"message": "' + b"x" * FIVE_MIB + b'"}', {"_truncated"}, None),
    (b"[" * 10_000 + b"]" * 10_000, {"_too_deep"}, None),
    (b"[1, 2, 3]", {"_not_object"}, "[1, 2, 3]"),
    (b"42", {"_not_object"}, "42"),
    (b'"just a string"', {"_not_object"}, "just a string"),
    # Issue 11, item 12: the last value counts, the line is kept whole; big integers as digits.
    (b'{"message": "first", "message": "second"}', {"_duplicate_keys"}, "second"),
    (b'{"message": "big", "n": 123456789012345678901234567890}', {"_integer_out_of_range"}, "big"),
    (b'{"message": "not a number", "value": NaN}', {"_jsonparsefailure"}, None),
    (b'{"message": "windows line"}\r', set(), "windows line"),
    (b"", {"_empty"}, None),
    (b"plain text, not JSON at all", {"_jsonparsefailure"}, "plain text, not JSON at all"),
    # Issue 11, item 6: times far from the read time keep it as @timestamp, tagged.
    (b'{"ts": 0, "message": "epoch zero"}', {"_timestamp_out_of_range"}, "epoch zero"),
    (b'{"time": "0", "message": "text zero"}', {"_timestamp_out_of_range"}, "text zero"),
    (b'{"@timestamp": 12, "message": "twelve"}', {"_timestamp_out_of_range"}, "twelve"),
    (b'{"ts": "5138-01-01T00:00:00Z", "message": "far"}', {"_timestamp_out_of_range"}, "far"),
]
OUT_OF_RANGE = 4
TAIL_WITHOUT_NEWLINE = b'{"message": "the last line has no newline"}'


async def test_every_bad_line_is_shipped_with_its_tag(
    logs_dir: Path,
    shipper_factory: Callable[..., ShipperProcess],
    kafka_bootstrap: str,
    kafka_topic: str,
) -> None:
    log = logs_dir / "app.log"
    log.write_bytes(b"".join(line + b"\n" for line, _, _ in CORPUS) + TAIL_WITHOUT_NEWLINE)
    shipper = shipper_factory()
    shipper.start()
    expected = len(CORPUS) + 1
    wait_for(
        lambda: shipper.metric("logferry_shipper_events_published_total") >= expected, timeout_s=60
    )

    records = await read_topic(kafka_bootstrap, kafka_topic, expect=expected)
    assert len(records) == expected
    by_offset = {int(r.value["log"]["offset"]): r.value for r in records}
    offset = 0
    for line, tags, message in CORPUS:
        event = by_offset[offset]
        # No line of the corpus has a time of its own; that tag is expected everywhere.
        found = set(event.get("tags", [])) - {"_timestamp_missing"}
        assert tags <= found, (line[:60], found)
        if not tags:
            assert not found, found
        if message is not None:
            assert event["message"] == message
        if "_duplicate_keys" in tags:
            assert event["event"]["original"] == line.decode()
        if "_integer_out_of_range" in tags:
            assert event["app"]["n"] == "123456789012345678901234567890"
        if "_timestamp_out_of_range" in tags:  # the read time, the original kept
            assert event["@timestamp"] == event["event"]["created"]
            assert len(event["app"]) == 1
        offset += len(line) + 1
    last = by_offset[offset]
    assert "_partial" in last["tags"]
    assert last["message"] == "the last line has no newline"

    truncated = by_offset[sum(len(line) + 1 for line, _, _ in CORPUS[:2])]
    assert len(truncated["message"]) <= 1024 * 1024
    assert shipper.proc is not None and shipper.proc.poll() is None
    assert shipper.metric("logferry_shipper_parse_problems_total", tag="_jsonparsefailure") >= 2
    out_of_range = shipper.metric(
        "logferry_shipper_parse_problems_total", tag="_timestamp_out_of_range"
    )
    assert out_of_range == OUT_OF_RANGE
