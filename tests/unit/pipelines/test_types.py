"""`raw_lines` builds RawLines column by column: exactly the lines the constructor makes."""

from __future__ import annotations

import dataclasses
from itertools import repeat

import pytest

from pipelines.types import RawLine, raw_lines


def test_the_same_lines_as_the_constructor_makes() -> None:
    data = [b'{"a": 1}', b"", b"\xff not utf-8"]
    tags: list[tuple[str, ...]] = [(), ("_partial",), ("_partial", "_truncated")]
    made = raw_lines(data, repeat("/app.log"), ["f1", "f2", "f3"], [0, 9, 10], tags, [9, 10, 23])
    assert made == list(
        map(RawLine, data, repeat("/app.log"), ["f1", "f2", "f3"], [0, 9, 10], tags, [9, 10, 23])
    )
    assert [line.tags for line in made] == tags
    assert {field.name for field in dataclasses.fields(RawLine)} == {
        "data",
        "path",
        "file_id",
        "offset",
        "tags",
        "end_offset",
    }, "a new field of RawLine needs its column in raw_lines"


def test_the_lines_stay_frozen_and_hash_alike() -> None:
    (line,) = raw_lines([b"x"], ["/a"], ["f"], [0], [()], [2])
    assert hash(line) == hash(RawLine(b"x", "/a", "f", 0, (), 2))
    with pytest.raises(dataclasses.FrozenInstanceError):
        line.offset = 1  # type: ignore[misc]


def test_no_lines_from_no_data() -> None:
    assert raw_lines([], repeat("/a"), repeat("f"), [], repeat(()), []) == []
