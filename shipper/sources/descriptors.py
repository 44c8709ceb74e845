"""How many files the source may hold open: the process's descriptor limit, less a reserve.

Every descriptor the source holds is one the process cannot use for its sockets (Kafka, the
metrics server), its checkpoint writes or its output. With more files matched than descriptors
available, a source that opened all it could left none for those: nothing was published, the
checkpoint could not be saved and ``/healthz`` stopped answering. So the source never holds more
than ``RLIMIT_NOFILE`` minus what the rest of the process holds minus ``reserved_descriptors``;
files beyond that take turns (see :mod:`shipper.sources.files`).
"""

from __future__ import annotations

import errno
import logging
import os

try:
    import resource
except ImportError:  # not a POSIX system: no limit to read or raise
    resource = None  # type: ignore[assignment]

__all__ = ["OUT_OF_DESCRIPTORS", "descriptors_open", "open_file_limit", "raise_open_file_limit"]

logger = logging.getLogger(__name__)

OUT_OF_DESCRIPTORS = frozenset({errno.EMFILE, errno.ENFILE})
"""``errno`` values of an ``open`` that failed for want of a descriptor, not because of the file."""

_UNLIMITED = 1 << 30  # stands for RLIM_INFINITY in arithmetic


def raise_open_file_limit() -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit where allowed; the soft limit in force.

    Systemd and most shells start services with a soft limit of 1024 and a far higher hard one,
    which an unprivileged process may raise itself to. A refusal (some platforms cap the soft
    limit below an unlimited hard one) leaves the limit as it was.
    """
    if resource is None:
        return _UNLIMITED
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard and soft != resource.RLIM_INFINITY:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        except (ValueError, OSError) as exc:
            logger.info("cannot raise the open file limit from %d to %d: %s", soft, hard, exc)
        else:
            logger.info("open file limit raised from %d to %s", soft, _text(hard))
    return open_file_limit()


def open_file_limit() -> int:
    """The soft ``RLIMIT_NOFILE`` (a large number if unlimited)."""
    if resource is None:
        return _UNLIMITED
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return _UNLIMITED if soft == resource.RLIM_INFINITY else min(soft, _UNLIMITED)


def descriptors_open() -> int | None:
    """How many descriptors the process holds now, or None where that cannot be listed."""
    for directory in ("/proc/self/fd", "/dev/fd"):
        try:
            # listdir's own descriptor on the directory is listed too
            return max(0, len(os.listdir(directory)) - 1)
        except OSError:
            continue
    return None


def _text(limit: int) -> str:
    if resource is not None and limit == resource.RLIM_INFINITY:
        return "unlimited"
    return str(limit)
