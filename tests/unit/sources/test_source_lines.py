"""Cutting bytes into lines, and file identity: pure logic, no files."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.types import RawLine
from shipper.sources.fingerprint import fingerprint_of, make_file_id, natural_fingerprint
from shipper.sources.lines import TAG_PARTIAL, TAG_TRUNCATED, LineCutter


def cutter(max_line_bytes: int = 1024, offset: int = 0, continuation: bool = False) -> LineCutter:
    return LineCutter(
        path="/logs/app.log",
        file_id="f",
        offset=offset,
        max_line_bytes=max_line_bytes,
        continuation=continuation,
    )


def cut(data: bytes, chunks: list[int] | None = None, max_line_bytes: int = 1024) -> list[RawLine]:
    c = cutter(max_line_bytes)
    out: list[RawLine] = []
    position = 0
    for size in chunks or [len(data)]:
        out += c.feed(data[position : position + size])
        position += size
    out += c.feed(data[position:])
    return out


def test_lines_offsets_and_terminators() -> None:
    lines = cut(b"a\nbb\r\n\n\r\nccc")
    assert [(ln.data, ln.offset, ln.end_offset, ln.tags) for ln in lines] == [
        (b"a", 0, 2, ()),
        (b"bb", 2, 6, ()),
        (b"", 6, 7, ()),
        (b"", 7, 9, ()),
    ]
    assert all(ln.path == "/logs/app.log" and ln.file_id == "f" for ln in lines)


def test_only_one_trailing_cr_is_stripped() -> None:
    assert [ln.data for ln in cut(b"a\r\r\nb\rc\n")] == [b"a\r", b"b\rc"]


def test_a_line_split_across_chunks() -> None:
    data = b"first line\nsecond line\nthird"
    lines = cut(data, chunks=[3, 5, 1, 7])
    assert [ln.data for ln in lines] == [b"first line", b"second line"]
    assert lines[1].offset == 11


def test_long_line_is_truncated_and_the_rest_skipped() -> None:
    c = cutter(max_line_bytes=10)
    out = c.feed(b"short\n" + b"x" * 25)
    assert [ln.data for ln in out] == [b"short"]
    assert not c.has_pending or c.offset == 6
    out = c.feed(b"y" * 1000)  # skipped, not held
    assert out == []
    out = c.feed(b"zz\nnext\n")
    assert [(ln.data, ln.offset, ln.end_offset, ln.tags) for ln in out] == [
        (b"x" * 10, 6, 6 + 25 + 1000 + 3, (TAG_TRUNCATED,)),
        (b"next", 1034, 1039, ()),
    ]


def test_line_of_exactly_the_limit_with_crlf_is_not_truncated() -> None:
    assert cut(b"x" * 10 + b"\r\n", chunks=[5, 6], max_line_bytes=10)[0].tags == ()
    assert cut(b"x" * 11 + b"\n", max_line_bytes=10)[0].tags == (TAG_TRUNCATED,)


def test_partial_flush_and_the_remainder_is_its_own_line() -> None:
    c = cutter()
    assert c.feed(b"done\nhalf") != []
    partial = c.flush()
    assert partial == RawLine(b"half", "/logs/app.log", "f", 5, (TAG_PARTIAL,), 9)
    assert c.flush() is None
    out = c.feed(b" more\nnext\n")
    assert [(ln.data, ln.offset, ln.end_offset, ln.tags) for ln in out] == [
        (b" more", 9, 15, (TAG_PARTIAL,)),
        (b"next", 15, 20, ()),
    ]


def test_an_empty_remainder_is_a_gap_not_a_line() -> None:
    c = cutter()
    c.feed(b"half\r")
    partial = c.flush()
    assert partial is not None and partial.data == b"half" and partial.end_offset == 5
    assert [ln.data for ln in c.feed(b"\nnext\n")] == [b"next"]
    assert c.gaps == [(5, 6)]


def test_resuming_inside_a_shipped_line_is_a_continuation() -> None:
    c = cutter(offset=100, continuation=True)
    out = c.feed(b"rest\nnext\n")
    assert [(ln.offset, ln.tags) for ln in out] == [(100, (TAG_PARTIAL,)), (105, ())]


def test_partial_of_a_line_being_skipped() -> None:
    c = cutter(max_line_bytes=4)
    c.feed(b"abcdefghij")
    line = c.flush()
    assert line is not None
    assert (line.data, line.offset, line.end_offset) == (b"abcd", 0, 10)
    assert set(line.tags) == {TAG_PARTIAL, TAG_TRUNCATED}


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(
        st.binary(max_size=40).map(lambda b: b.replace(b"\n", b"")), min_size=0, max_size=30
    ),
    terminators=st.lists(st.sampled_from([b"\n", b"\r\n"]), min_size=30, max_size=30),
    tail=st.binary(max_size=20).map(lambda b: b.replace(b"\n", b"")),
    cuts=st.lists(st.integers(min_value=1, max_value=50), max_size=40),
    max_line_bytes=st.integers(min_value=1, max_value=60),
)
def test_any_chunking_gives_the_same_lines(
    lines: list[bytes],
    terminators: list[bytes],
    tail: bytes,
    cuts: list[int],
    max_line_bytes: int,
) -> None:
    data = b"".join(line + end for line, end in zip(lines, terminators, strict=False)) + tail
    expected = []
    offset = 0
    for line, end in zip(lines, terminators, strict=False):
        stop = offset + len(line) + len(end)
        content = line + end[:-1]
        content = content[:-1] if content.endswith(b"\r") else content
        tags = (TAG_TRUNCATED,) if len(content) > max_line_bytes else ()
        expected.append((content[:max_line_bytes], offset, stop, tags))
        offset = stop
    got = cut(data, chunks=cuts, max_line_bytes=max_line_bytes)
    assert [(ln.data, ln.offset, ln.end_offset, ln.tags) for ln in got] == expected


@settings(max_examples=200, deadline=None)
@given(
    data=st.binary(max_size=300).map(lambda b: b.replace(b"\x00", b"\n")),
    steps=st.lists(st.tuples(st.integers(min_value=1, max_value=40), st.booleans()), max_size=40),
    max_line_bytes=st.integers(min_value=1, max_value=50),
)
def test_flushing_anywhere_loses_and_repeats_nothing(
    data: bytes, steps: list[tuple[int, bool]], max_line_bytes: int
) -> None:
    c = cutter(max_line_bytes)
    out: list[RawLine] = []
    position = 0
    for size, flush in [*steps, (len(data), True)]:
        out += c.feed(data[position : position + size])
        position = min(len(data), position + size)
        if flush:
            line = c.flush()
            if line is not None:
                out.append(line)
    # Every byte is covered exactly once, in order: lines and gaps tile the data.
    spans = sorted([(ln.offset, ln.end_offset) for ln in out] + c.gaps)
    assert spans == sorted(spans, key=lambda span: span[0])
    position = 0
    for start, stop in spans:
        assert start == position
        position = stop
    assert position == len(data)
    for line in out:
        raw = data[line.offset : line.end_offset]
        assert raw.rstrip(b"\n").rstrip(b"\r").startswith(line.data) or raw.startswith(line.data)
        assert len(line.data) <= max_line_bytes


def test_natural_fingerprint_is_the_first_line_capped() -> None:
    assert natural_fingerprint(b"abc", 1024) is None  # no newline, shorter than the cap
    assert natural_fingerprint(b"ab\ncd", 1024) == (fingerprint_of(b"ab\n"), 3)
    assert natural_fingerprint(b"abcdef", 4) == (fingerprint_of(b"abcd"), 4)
    assert natural_fingerprint(b"abcdef\n", 4) == (fingerprint_of(b"abcd"), 4)
    # Stable while the file grows.
    assert natural_fingerprint(b"ab\ncd\nef\n", 1024) == natural_fingerprint(b"ab\n", 1024)


def test_file_id_is_stable_and_differs_on_inode_reuse() -> None:
    first = make_file_id(2049, 1234, fingerprint_of(b"2025-01-01 started\n"))
    assert first == make_file_id(2049, 1234, fingerprint_of(b"2025-01-01 started\n"))
    # The inode is reused by a new file: another first line, another file_id.
    assert first != make_file_id(2049, 1234, fingerprint_of(b"2025-01-02 started\n"))
    # Same content elsewhere is another file too; a generation separates the rest.
    assert first != make_file_id(2049, 1235, fingerprint_of(b"2025-01-01 started\n"))
    assert first != make_file_id(2049, 1234, fingerprint_of(b"2025-01-01 started\n"), 1)
    assert len(first) == 32 and int(first, 16) >= 0
