"""File identity: a fingerprint of the first line, and the ``file_id`` derived from it.

A file is known by ``(dev, inode, fingerprint)``:

* the **fingerprint** is the xxh3-128 hash of the file's first bytes, up to and including the first
  newline, capped at ``fingerprint_bytes`` (so it is stable as soon as the first line is complete,
  and never changes while the file only grows). A file that has no newline yet and is shorter than
  the cap is *not identified yet*: nothing is read from it until it is (there is no complete line
  to ship anyway). If it stays like that for ``partial_timeout_s``, it is identified by the bytes it
  holds, and that incomplete first line is shipped tagged ``_partial`` (see
  :mod:`shipper.sources.watcher`). The number of bytes hashed is kept beside the hash, so a file is
  re-checked with exactly the bytes it was identified by, whatever the cap is today.
* device and inode tell a renamed file (same inode, new path) from a new file at the old path, and
  two files with the same first line apart.
* the **file_id** is a hex hash of ``(dev, inode, fingerprint)``, computed once, when a file is
  first seen, and then carried: by the checkpoint across restarts, and to the copy of a file
  rotated with ``copytruncate``. It is the stable half of ``event.id``. A new file that reuses an
  inode has another first line, hence another fingerprint and another ``file_id``; when a
  ``file_id`` would collide with one still known (same inode *and* same first line, e.g. a file
  truncated and rewritten with the same header), a generation number is mixed in.
"""

from __future__ import annotations

import xxhash

__all__ = ["Fingerprint", "fingerprint_of", "make_file_id", "natural_fingerprint"]

Fingerprint = tuple[str, int]
"""``(hex hash, number of bytes hashed)``."""


def fingerprint_of(data: bytes) -> str:
    """The hex hash of exactly ``data`` (the bytes a fingerprint covers)."""
    return xxhash.xxh3_128_hexdigest(data)


def natural_fingerprint(prefix: bytes, max_bytes: int) -> Fingerprint | None:
    """The fingerprint of a file whose first bytes are ``prefix``, or None if not identifiable yet.

    ``prefix`` must hold at least ``max_bytes`` bytes of the file, or all of it if shorter.
    """
    newline = prefix.find(b"\n", 0, max_bytes)
    if newline >= 0:
        length = newline + 1
    elif len(prefix) >= max_bytes:
        length = max_bytes
    else:
        return None
    return fingerprint_of(prefix[:length]), length


def make_file_id(dev: int, inode: int, fingerprint: str, generation: int = 0) -> str:
    """The ``file_id`` of a file first seen with this identity (32 hex characters)."""
    key = f"{dev}:{inode}:{fingerprint}"
    if generation:
        key = f"{key}:{generation}"
    return xxhash.xxh3_128_hexdigest(key.encode())
