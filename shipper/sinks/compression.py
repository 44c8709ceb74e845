"""The compression level of the Kafka output's record batches.

aiokafka takes a codec but no level, and since it moved to cramjam it compresses lz4 at level 9,
lz4's slow high-compression mode (aiokafka issue 1028, still open in 0.14). On the shipper's
records that costs ~3 µs of CPU an event on the event loop's thread, a tenth of the shipper's
CPU, where level 1 (lz4's fast mode, librdkafka's default) costs ~0.25 µs for batches ~30 %
larger. aiokafka's record builder looks its codec functions up at each batch, so the level is
set by giving it functions bound to a level; the level is per codec and per process (one
producer config per process: the shipper's, or its worker's).

``tests/unit/shipper/test_compression_level.py`` checks on aiokafka's real builder that a
batch is compressed at the level asked for, so an aiokafka release that changes this fails there.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Final

from aiokafka import codec
from aiokafka.record import default_records

__all__ = ["DEFAULT_LEVELS", "LEVELS", "use_level"]

LEVELS: Final = {"lz4": range(1, 13), "zstd": range(1, 23), "gzip": range(1, 10)}
"""The levels each codec takes (lz4 1-2 is its fast mode, 3-12 high compression)."""

DEFAULT_LEVELS: Final = {"lz4": 1, "zstd": 3, "gzip": 6}
"""Unset: lz4's fast mode (as librdkafka), Kafka's own default for zstd and gzip."""

_ENCODERS: Final[dict[str, tuple[str, Callable[..., bytes], str]]] = {
    "lz4": ("lz4_encode", codec.lz4_encode, "level"),
    "zstd": ("zstd_encode", codec.zstd_encode, "level"),
    "gzip": ("gzip_encode", codec.gzip_encode, "compresslevel"),
}


def _builder_modules() -> list[Any]:
    """aiokafka's record batch builders: the compiled one, and the pure one it falls back to."""
    modules: list[Any] = [default_records]
    try:
        from aiokafka.record._crecords import default_records as compiled
    except ImportError:  # a build without its extensions
        return modules
    return [*modules, compiled]


def use_level(codec_name: str | None, level: int | None) -> None:
    """Make this process's producers compress *codec_name* batches at *level* (unset: the
    default of :data:`DEFAULT_LEVELS`)."""
    if codec_name not in _ENCODERS:  # none, or a codec without levels
        return
    name, encode, keyword = _ENCODERS[codec_name]
    if level is None:
        level = DEFAULT_LEVELS[codec_name]
    if level not in LEVELS[codec_name]:  # the config checks it first, with the setting's name
        raise ValueError(f"{codec_name} takes no level {level}")
    bound = functools.partial(encode, **{keyword: level})
    for module in _builder_modules():
        setattr(module, name, bound)
