"""The Kafka output compresses its record batches at the level configured (aiokafka takes none)."""

from __future__ import annotations

from collections.abc import Iterator

import cramjam
import pytest
from aiokafka.record._crecords import default_records as compiled_records
from aiokafka.record.default_records import DefaultRecordBatchBuilder

from shipper.sinks.compression import DEFAULT_LEVELS, use_level
from shipper.sinks.kafka import KafkaSinkConfig

_CODECS = {"gzip": 1, "lz4": 3, "zstd": 4}  # the batch header's codec ids
_HEADER = 61  # a v2 record batch's header; the records follow it, compressed as a whole
_LINE = (
    b'{"asctime": "2026-11-23 08:00:01,123", "levelname": "INFO", "name": "demo.http", '
    b'"message": "GET /orders -> 200", "status": 200, "duration_ms": 12.5}'
)


@pytest.fixture(autouse=True)
def _restore_defaults() -> Iterator[None]:
    yield
    for codec in DEFAULT_LEVELS:
        use_level(codec, None)


def _batch(codec: str | None) -> bytes:
    builder = DefaultRecordBatchBuilder(
        magic=2,
        compression_type=_CODECS[codec] if codec else 0,
        is_transactional=False,
        producer_id=-1,
        producer_epoch=-1,
        base_sequence=-1,
        batch_size=1 << 20,
    )
    for offset in range(500):
        builder.append(offset, timestamp=1_764_000_000_000, key=b"k", value=_LINE, headers=[])
    return bytes(builder.build())


def _lz4(data: bytes, level: int) -> bytes:
    compressor = cramjam.lz4.Compressor(level=level, content_checksum=False, block_linked=False)
    compressor.compress(data)
    return bytes(compressor.finish())


def test_lz4_batches_use_the_fast_mode_unless_a_level_is_set() -> None:
    records = _batch(None)[_HEADER:]
    use_level(KafkaSinkConfig(compression="lz4").compression_type(), None)
    assert _batch("lz4")[_HEADER:] == _lz4(records, 1)
    assert _lz4(records, 1) != _lz4(records, 9)  # so the comparison tells the levels apart

    config = KafkaSinkConfig(compression="lz4", compression_level=9)
    use_level(config.compression_type(), config.compression_level)
    assert _batch("lz4")[_HEADER:] == _lz4(records, 9)


def test_zstd_keeps_kafkas_default_level_unless_one_is_set() -> None:
    records = _batch(None)[_HEADER:]
    use_level("zstd", None)
    assert _batch("zstd")[_HEADER:] == bytes(cramjam.zstd.compress(records, level=3))
    use_level("zstd", 19)
    assert _batch("zstd")[_HEADER:] == bytes(cramjam.zstd.compress(records, level=19))


def test_the_compiled_builder_is_the_one_configured() -> None:
    # The shipper runs aiokafka's compiled builder; its codec functions are what use_level sets.
    assert DefaultRecordBatchBuilder.__module__.endswith("_crecords.default_records")
    use_level("lz4", 5)
    assert compiled_records.lz4_encode.keywords == {"level": 5}  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"compression_level": 3}, "needs an explicit compression"),
        ({"compression": "none", "compression_level": 3}, "needs an explicit compression"),
        ({"compression": "gzip", "compression_level": 12}, "gzip takes 1-9, not 12"),
        ({"compression": "lz4", "compression_level": 0}, "lz4 takes 1-12, not 0"),
    ],
)
def test_a_level_the_codec_does_not_take_is_refused_by_name(
    settings: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        KafkaSinkConfig(**settings)  # type: ignore[arg-type]
